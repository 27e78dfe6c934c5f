//! Integration tests of `canonicalize` through the public API: the table in `common`, the
//! properties every canonical URL must have, registrable domains and hostile input.

mod common;

use common::CASES;
use doxwatch_urls::{MAX_URL_LEN, UrlError, canonicalize, parse};

#[test]
fn the_table_has_enough_rows() {
    assert!(CASES.len() >= 60, "{} rows", CASES.len());
}

#[test]
fn every_row_canonicalizes_as_the_table_says() {
    let mut failures = Vec::new();
    for case in CASES {
        match canonicalize(case.input) {
            Ok(c) => {
                let got = (c.url.as_str(), c.platform_key, c.channel.as_deref(), c.message_id.as_deref());
                let want = (case.url, case.platform, case.channel, case.message);
                if got != want {
                    failures.push(format!("{:?}\n   got {got:?}\n  want {want:?}", case.input));
                }
            }
            Err(e) => failures.push(format!("{:?}: refused: {e}", case.input)),
        }
    }
    assert!(failures.is_empty(), "{} rows failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn canonicalizing_is_idempotent() {
    for case in CASES {
        let first = canonicalize(case.input).expect("canonicalizes");
        let once = canonicalize(case.url).unwrap_or_else(|e| panic!("{}: {e}", case.url));
        if once.channel == first.channel {
            assert_eq!(once.channel_url, first.channel_url, "{}", case.input);
        }
        assert_eq!(once.url, case.url, "canonical form of a canonical URL changed");
        assert_eq!((once.platform_key, once.message_id.as_deref()), (case.platform, case.message), "{}", case.url);
        // The canonical URL may leave out a channel that the input spelled out (Instagram's
        // `/<user>/p/<code>/` becomes `/p/<code>/`), but it never names a different one.
        assert!(once.channel.is_none() || once.channel.as_deref() == case.channel, "{}", case.url);
        let twice = canonicalize(&once.url).expect("still canonicalizes");
        assert_eq!(twice, once);
    }
}

#[test]
fn noise_does_not_change_the_canonical_form() {
    // Tracking parameters, a fragment and an upper-case scheme and host are all dropped or
    // normalised, whatever else the URL contains.
    for case in CASES {
        let input = case.input.trim();
        let (base, _) = input.split_once('#').unwrap_or((input, ""));
        let sep = if base.contains('?') { '&' } else { '?' };
        let noisy = format!("{base}{sep}utm_source=noise&fbclid=IwAR0x&gclid=1#noise");
        let got = canonicalize(&noisy).unwrap_or_else(|e| panic!("{noisy}: {e}"));
        assert_eq!(got.url, case.url, "{noisy}");
        if let Some((scheme, rest)) = base.split_once("://") {
            let (host, path) = rest.split_at(rest.find(['/', '?', '\\']).unwrap_or(rest.len()));
            let shouted = format!("{}://{}{path}", scheme.to_uppercase(), host.to_uppercase());
            let got = canonicalize(&shouted).unwrap_or_else(|e| panic!("{shouted}: {e}"));
            assert_eq!(got.url, case.url, "{shouted}");
        }
    }
}

#[test]
fn idempotent_over_generated_combinations() {
    // Every combination of awkward hosts, paths and queries: whatever `parse` accepts must
    // canonicalize, and the result must be a fixed point.
    let hosts = [
        "example.com",
        "EXAMPLE.com.",
        "例子.香港",
        "0x7f.1",
        "[0:0::1]",
        "example.com:8080",
        "t.me",
        "www.facebook.com",
        "twitter.com",
        "youtu.be",
        "www.instagram.com",
        "old.reddit.com",
        "redd.it",
        "lihkg.com",
        "open.spotify.com",
    ];
    let paths = [
        "",
        "/",
        "/a/",
        "/a//",
        "/Some_Channel/123/",
        "/s/Chan/1",
        "/c/1/2/3",
        "/a/./b/../c",
        "/%7e%2f%41",
        "/%zz%",
        "/%7%65",
        "/groups/X/permalink/9/",
        "/i/web/status/5",
        "/@Handle",
        "/r/Sub/comments/ab/slug/cd/",
        "/thread/1",
        "/p/AbC/",
        "/watch",
        "/你好",
        "/a%2e%2E/b",
    ];
    let queries = [
        "",
        "?",
        "?&&",
        "?v=abc&utm_source=x",
        "?b=2&a=1&a=0",
        "?s=1&t=2&si=3",
        "?single",
        "?story_fbid=1&id=2",
        "?fbid=3&set=a.1",
        "?q=%41%2b+x&%5fga=1",
    ];
    let mut checked = 0;
    for scheme in ["http", "https"] {
        for host in hosts {
            for path in paths {
                for query in queries {
                    for fragment in ["", "#frag"] {
                        let input = format!("{scheme}://{host}{path}{query}{fragment}");
                        if parse(&input).is_err() {
                            continue;
                        }
                        let once = canonicalize(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
                        let twice = canonicalize(&once.url).unwrap_or_else(|e| panic!("{input} -> {}: {e}", once.url));
                        assert_eq!(twice.url, once.url, "from {input}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 5000, "only {checked} combinations parsed");
}

#[test]
fn whatever_parse_accepts_canonicalizes() {
    // Intake validates with `parse` and link-tracking canonicalizes: they must agree.
    for case in CASES {
        assert!(parse(case.input).is_ok(), "{}", case.input);
        let c = canonicalize(case.input).expect("canonicalizes");
        assert!(parse(&c.url).is_ok(), "canonical {} must itself be valid", c.url);
    }
}

#[test]
fn the_whole_result_for_a_telegram_post() {
    let c = canonicalize("https://telegram.me/s/Some_Channel/42/?single#x").expect("valid");
    assert_eq!(
        c,
        doxwatch_urls::Canonical {
            url: "https://t.me/some_channel/42".into(),
            host: "t.me".into(),
            registrable_domain: Some("t.me".into()),
            platform_key: Some("telegram"),
            platform_rule: Some("telegram-post"),
            channel: Some("some_channel".into()),
            channel_url: Some("https://t.me/some_channel".into()),
            message_id: Some("42".into()),
        }
    );
}

#[test]
fn rules_are_named_and_host_only_matches_say_so() {
    for (input, rule) in [
        ("https://m.facebook.com/groups/1/permalink/2/", "facebook-group-post"),
        ("https://m.facebook.com/marketplace/item/3", "facebook-host"),
        ("https://twitter.com/i/web/status/20", "x-status-anonymous"),
        ("https://youtu.be/dQw4w9WgXcQ", "youtube-short-link"),
        ("https://redd.it/abc", "reddit-short-link"),
        ("https://lihkg.com/thread/1", "lihkg-thread"),
        ("https://t.me/c/1/2", "telegram-private-post"),
    ] {
        let c = canonicalize(input).expect("valid");
        assert_eq!(c.platform_rule, Some(rule), "{input}");
    }
    let plain = canonicalize("https://example.com/a").expect("valid");
    assert_eq!((plain.platform_key, plain.platform_rule), (None, None));
}

#[test]
fn channels_have_urls_of_their_own() {
    for (input, channel_url) in [
        ("https://t.me/s/SomeChannel/1", Some("https://t.me/somechannel")),
        ("https://t.me/c/1234567890/42", None),
        ("https://m.facebook.com/groups/HKFoo/permalink/9/", Some("https://www.facebook.com/groups/hkfoo")),
        ("https://m.facebook.com/story.php?story_fbid=9&id=100", Some("https://www.facebook.com/100")),
        ("https://www.facebook.com/SomePage/posts/9", Some("https://www.facebook.com/somepage")),
        ("https://twitter.com/Jack/status/20", Some("https://x.com/jack")),
        ("https://twitter.com/i/web/status/20", None),
        ("https://youtu.be/dQw4w9WgXcQ", None),
        ("https://www.youtube.com/@SomeHandle", Some("https://www.youtube.com/@somehandle")),
        ("https://www.instagram.com/SomeUser/reel/CxYz/", Some("https://www.instagram.com/someuser/")),
        ("https://www.instagram.com/p/CxYz/", None),
        ("https://old.reddit.com/r/HongKong/comments/abc/t/", Some("https://www.reddit.com/r/hongkong")),
        ("https://redd.it/abc", None),
        ("https://lihkg.com/thread/3456789/page/7", Some("https://lihkg.com/thread/3456789/page/1")),
        ("https://forum.hkgolden.com/thread/7654321/page/3", Some("https://forum.hkgolden.com/thread/7654321/page/1")),
        ("https://example.com/r/x", None),
    ] {
        let c = canonicalize(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(c.channel_url.as_deref(), channel_url, "{input}");
        if let Some(url) = channel_url {
            // The channel URL is itself canonical and names the same channel.
            let again = canonicalize(url).expect("valid");
            assert_eq!((again.url.as_str(), again.channel), (url, c.channel), "{input}");
        }
    }
}

#[test]
fn registrable_domains_follow_the_public_suffix_list() {
    for (input, host, domain) in [
        ("https://a.blogspot.com/x", "a.blogspot.com", Some("a.blogspot.com")),
        ("https://b.github.io/", "b.github.io", Some("b.github.io")),
        ("https://www.bbc.co.uk./news", "www.bbc.co.uk", Some("bbc.co.uk")),
        ("https://x.y.example.com/", "x.y.example.com", Some("example.com")),
        ("https://foo.bar.s3.amazonaws.com/", "foo.bar.s3.amazonaws.com", Some("bar.s3.amazonaws.com")),
        ("https://例子.香港/", "xn--fsqu00a.xn--j6w193g", Some("xn--fsqu00a.xn--j6w193g")),
        ("https://m.facebook.com/groups/1", "www.facebook.com", Some("facebook.com")),
        ("https://youtu.be/dQw4w9WgXcQ", "www.youtube.com", Some("youtube.com")),
        ("https://t.me/abcde", "t.me", Some("t.me")),
        ("https://github.io/", "github.io", None),
        ("https://co.uk/", "co.uk", None),
        ("https://localhost/", "localhost", None),
        ("https://a..b/", "a..b", None),
        ("http://0x7f.1/", "127.0.0.1", None),
        ("http://[::1]:8080/", "[::1]", None),
    ] {
        let c = canonicalize(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!((c.host.as_str(), c.registrable_domain.as_deref()), (host, domain), "{input}");
    }
}

#[test]
fn hostile_input_is_refused() {
    let long = format!("https://example.com/{}", "a".repeat(3000));
    type Expect = fn(&UrlError) -> bool;
    let cases: [(&str, Expect); 20] = [
        ("javascript:alert(1)", |e| *e == UrlError::Scheme("javascript".into())),
        ("JavaScript:alert(document.cookie)", |e| *e == UrlError::Scheme("javascript".into())),
        ("data:text/html,<script>alert(1)</script>", |e| *e == UrlError::Scheme("data".into())),
        ("blob:https://example.com/uuid", |e| *e == UrlError::Scheme("blob".into())),
        ("file:///etc/passwd", |e| *e == UrlError::Scheme("file".into())),
        ("https://user:pw@example.com/", |e| *e == UrlError::UserInfo),
        ("https://user@t.me/somechannel/1", |e| *e == UrlError::UserInfo),
        ("https://:pw@example.com/", |e| *e == UrlError::UserInfo),
        (&long, |e| *e == UrlError::TooLong),
        ("https://exa\0mple.com/", |e| *e == UrlError::Whitespace),
        ("https://example.com/a\nb", |e| *e == UrlError::Whitespace),
        ("https://example.com/a\r\nSet-Cookie:x", |e| *e == UrlError::Whitespace),
        ("https://exa mple.com/", |e| *e == UrlError::Whitespace),
        ("http://[::1]:99999/", |e| matches!(e, UrlError::Unparsable(_))),
        ("https://example.com:65536/", |e| matches!(e, UrlError::Unparsable(_))),
        ("http://", |e| matches!(e, UrlError::Unparsable(_))),
        ("http:///", |e| matches!(e, UrlError::Unparsable(_))),
        ("https://./", |e| *e == UrlError::NoHost),
        ("//example.com/a", |e| matches!(e, UrlError::Unparsable(_))),
        ("", |e| *e == UrlError::Empty),
    ];
    for (input, expected) in cases {
        match canonicalize(input) {
            Ok(c) => panic!("{input:?} was accepted as {}", c.url),
            Err(e) => assert!(expected(&e), "{input:?}: unexpected {e:?}"),
        }
    }
    assert!(long.len() > MAX_URL_LEN);
}

#[test]
fn percent_encoded_names_do_not_reach_templates() {
    // A reserved character smuggled into a capture must not match a rule, or the canonical URL
    // could point somewhere else.
    let c = canonicalize("https://t.me/evil%2Fpath/1").expect("valid");
    assert_eq!(c.url, "https://t.me/evil%2Fpath/1");
    assert_eq!((c.channel, c.message_id), (None, None));
    let c = canonicalize("https://www.youtube.com/watch?v=abc%26list%3Dx").expect("valid");
    assert_eq!(c.platform_rule, Some("youtube-host"));
}
