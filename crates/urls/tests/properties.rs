//! Property tests of canonicalization (docs/fuzzing.md): on any string, and on URL-like strings
//! built from the platforms' hosts and paths, awkward hosts, percent-escapes, dot segments,
//! tracking parameters and fragments, `canonicalize` never panics; what it accepts has a
//! canonical form that canonicalizes to itself and that `parse` reads back unchanged.

use doxwatch_urls::{MAX_URL_LEN, canonicalize, parse};
use proptest::prelude::*;
use proptest::sample::select;

/// Every host of the platform rules, and hosts that have tripped parsers.
const HOSTS: &[&str] = &[
    "t.me",
    "www.t.me",
    "telegram.me",
    "telegram.dog",
    "facebook.com",
    "www.facebook.com",
    "m.facebook.com",
    "mbasic.facebook.com",
    "fb.com",
    "x.com",
    "mobile.x.com",
    "twitter.com",
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "youtube-nocookie.com",
    "youtu.be",
    "instagram.com",
    "instagr.am",
    "reddit.com",
    "old.reddit.com",
    "redd.it",
    "lihkg.com",
    "forum.hkgolden.com",
    "open.spotify.com",
    "example.com",
    "EXAMPLE.com.",
    "T.ME",
    "t.me.",
    "t.me..",
    "例子.香港",
    "xn--fsqu00a.xn--j6w193g",
    "127.0.0.1",
    "0x7f.1",
    "[::1]",
    "[0:0::1]",
    "a..b",
    "%41.com",
    "exa_mple.com",
    "localhost",
    "com",
    "co.uk",
    "blogspot.com",
    "a.blogspot.com",
];

/// Path segments the platform rules look for, and segments that normalisation rewrites.
const SEGMENTS: &[&str] = &[
    "s",
    "c",
    "groups",
    "posts",
    "permalink",
    "permalink.php",
    "story.php",
    "photo.php",
    "profile.php",
    "watch",
    "reel",
    "reels",
    "videos",
    "status",
    "statuses",
    "i",
    "web",
    "photo",
    "video",
    "shorts",
    "embed",
    "live",
    "v",
    "@Handle",
    "channel",
    "p",
    "tv",
    "stories",
    "r",
    "comments",
    "comment",
    "u",
    "user",
    "thread",
    "page",
    "..",
    ".",
    "",
    "%2e",
    "%2E%2e",
    "%41",
    "%7e",
    "%7E",
    "%zz",
    "%",
    "%2F",
    "~",
    "ä",
    "%E4%BE%8B",
    "A+B",
    "a;b",
    "*",
    "'",
    "\"",
    "<",
    ">",
    "\\",
    "|",
    "^",
    "`",
    "{",
    "}",
];

/// Query keys the rules keep or drop.
const KEYS: &[&str] = &[
    "utm_source",
    "utm_medium",
    "fbclid",
    "gclid",
    "v",
    "id",
    "story_fbid",
    "fbid",
    "comment",
    "thread",
    "comment_id",
    "s",
    "t",
    "sk",
    "a",
    "",
];

fn url_like() -> impl Strategy<Value = String> {
    let scheme =
        prop_oneof![8 => select(&["https", "http"][..]), 1 => select(&["HTTPS", "Http", "ftp", "javascript", ""][..])];
    let separator = prop_oneof![8 => Just("://"), 1 => select(&[":/", ":///", ":\\\\", ":", "://user@"][..])];
    let host = prop_oneof![4 => select(HOSTS).prop_map(str::to_owned), 1 => "[a-z0-9-]{1,12}(\\.[a-z0-9-]{1,12}){0,3}"];
    let port = select(&["", "", "", ":0", ":80", ":443", ":8080", ":65535", ":65536"][..]);
    let segment =
        prop_oneof![3 => select(SEGMENTS).prop_map(str::to_owned), 2 => "[a-zA-Z0-9_.-]{1,10}", 1 => "[0-9]{1,20}"];
    let path = proptest::collection::vec(segment, 0..7).prop_map(|s| s.join("/"));
    let pair = (select(KEYS), "[a-zA-Z0-9%._-]{0,8}").prop_map(|(k, v)| format!("{k}={v}"));
    let query = proptest::collection::vec(pair, 0..5)
        .prop_map(|q| if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) });
    let fragment = select(&["", "", "#", "#top", "#a/b?c"][..]);
    let slash = select(&["/", "/", "", "//"][..]);
    (scheme, separator, host, port, slash, path, query, fragment)
        .prop_map(|(s, sep, h, p, sl, pa, q, f)| format!("{s}{sep}{h}{p}{sl}{pa}{q}{f}"))
}

/// The properties of one input: no panic (the test would fail), and an accepted input's canonical
/// form is a fixed point that `parse` reads back as it is.
fn check(input: &str) -> Result<(), TestCaseError> {
    let Ok(first) = canonicalize(input) else { return Ok(()) };
    if first.url.len() > MAX_URL_LEN {
        // Percent-encoding can lengthen a URL past the limit; the canonical form is then not
        // input that `parse` takes (documented on `canonicalize`).
        return Ok(());
    }
    let reparsed = parse(&first.url).map_err(|e| TestCaseError::fail(format!("{input:?} -> {}: {e}", first.url)))?;
    prop_assert_eq!(reparsed.as_str(), first.url.as_str(), "the canonical form of {:?} re-parses to itself", input);
    let once = canonicalize(&first.url).map_err(|e| TestCaseError::fail(format!("{input:?} -> {}: {e}", first.url)))?;
    prop_assert_eq!(&once.url, &first.url, "canonicalizing {:?} again changed it", input);
    prop_assert_eq!((once.platform_key, &once.message_id), (first.platform_key, &first.message_id), "{:?}", input);
    // The canonical URL may leave out a channel that the input spelled out, never name another.
    prop_assert!(once.channel.is_none() || once.channel == first.channel, "{:?}: {:?}", input, once);
    prop_assert_eq!(canonicalize(&once.url).ok(), Some(once), "{:?}", input);
    Ok(())
}

proptest! {
    #[test]
    fn any_string_canonicalizes_or_is_refused(input in any::<String>()) {
        check(&input)?;
    }

    #[test]
    fn url_like_strings_canonicalize_to_fixed_points(input in url_like()) {
        check(&input)?;
    }

    #[test]
    fn url_like_strings_with_any_characters_inserted(input in url_like(), at in any::<prop::sample::Index>(), extra in any::<char>()) {
        let mut chars: Vec<char> = input.chars().collect();
        chars.insert(at.index(chars.len() + 1), extra);
        check(&chars.into_iter().collect::<String>())?;
    }
}
