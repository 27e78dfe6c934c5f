//! The canonicalization table shared by the integration tests: each row is an input, the
//! canonical URL it must become and, for platform links, what the URL says about the post.

/// One row: `input` must canonicalize to `url`; `platform`, `channel` and `message` must equal
/// `Canonical::platform_key`, `::channel` and `::message_id`.
pub struct Case {
    pub input: &'static str,
    pub url: &'static str,
    pub platform: Option<&'static str>,
    pub channel: Option<&'static str>,
    pub message: Option<&'static str>,
}

/// A row for a site no platform rule knows.
const fn g(input: &'static str, url: &'static str) -> Case {
    Case { input, url, platform: None, channel: None, message: None }
}

/// A row for a platform link.
const fn p(
    input: &'static str,
    url: &'static str,
    platform: &'static str,
    channel: Option<&'static str>,
    message: Option<&'static str>,
) -> Case {
    Case { input, url, platform: Some(platform), channel, message }
}

const TG: &str = "https://t.me/somechannel/123";
const FB_GROUP: &str = "https://www.facebook.com/groups/123456/posts/789";
const FB_STORY: &str = "https://www.facebook.com/1000123/posts/789";
const TWEET: &str = "https://x.com/jack/status/20";
const YT: &str = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
const IG: &str = "https://www.instagram.com/p/CxYz123AbC/";
const RD: &str = "https://www.reddit.com/r/hongkong/comments/abc123";
const RD_COMMENT: &str = "https://www.reddit.com/r/hongkong/comments/abc123/comment/def456";
const LIHKG: &str = "https://lihkg.com/thread/3456789/page/1";
const HKG: &str = "https://forum.hkgolden.com/thread/7654321/page/1";

// One row per line, however long, so that the table reads as a table.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    // Hosts: IDNA, case, numeric IPv4 forms, IPv6, trailing dots.
    g("https://例子.香港/", "https://xn--fsqu00a.xn--j6w193g/"),
    g("https://xn--fsqu00a.xn--j6w193g/", "https://xn--fsqu00a.xn--j6w193g/"),
    g("https://BÜCHER.example/", "https://xn--bcher-kva.example/"),
    g("HTTPS://Example.COM/Path", "https://example.com/Path"),
    g("http://0x7f.1/", "http://127.0.0.1/"),
    g("http://2130706433/", "http://127.0.0.1/"),
    g("http://0177.0.0.1/", "http://127.0.0.1/"),
    g("http://[0:0:0:0:0:0:0:1]/", "http://[::1]/"),
    g("https://example.com./a", "https://example.com/a"),
    g("https://www.example.com../", "https://www.example.com/"),
    g("http://127.0.0.1./", "http://127.0.0.1/"),
    // Ports, fragments, backslashes, surrounding blanks.
    g("http://example.com:80/", "http://example.com/"),
    g("https://example.com:443", "https://example.com/"),
    g("https://example.com:8443/a", "https://example.com:8443/a"),
    g("http://192.168.0.1:8080/x", "http://192.168.0.1:8080/x"),
    g("https://example.com/a#section", "https://example.com/a"),
    g("https://example.com/#", "https://example.com/"),
    g("https://example.com/a?x=1#f?y", "https://example.com/a?x=1"),
    g("https:\\\\example.com\\a\\b", "https://example.com/a/b"),
    g("  https://example.com/trimmed  ", "https://example.com/trimmed"),
    // Dot segments.
    g("https://example.com/a/./b/../c", "https://example.com/a/c"),
    g("https://example.com/a/%2e%2E/b", "https://example.com/b"),
    g("https://example.com/../../x", "https://example.com/x"),
    // Percent-encoding.
    g("https://example.com/%7e%7Euser", "https://example.com/~~user"),
    g("https://example.com/a%2fb", "https://example.com/a%2Fb"),
    g("https://example.com/%e4%bd%a0", "https://example.com/%E4%BD%A0"),
    g("https://example.com/你", "https://example.com/%E4%BD%A0"),
    g("https://example.com/?q=%41%2b", "https://example.com/?q=A%2B"),
    g("https://example.com/a%7%65", "https://example.com/a%257e"),
    g("https://example.com/?q='x'", "https://example.com/?q=%27x%27"),
    // Tracking parameters, sorting, empty queries.
    g("https://example.com/a?utm_source=x&utm_medium=y&id=3", "https://example.com/a?id=3"),
    g("https://example.com/?fbclid=1&gclid=2&dclid=3&msclkid=4&igshid=5&igsh=6&mc_cid=7&mc_eid=8&_ga=9&ref_src=10", "https://example.com/"),
    g("https://example.com/?UTM_Source=x&k=v", "https://example.com/?k=v"),
    g("https://example.com/?s=1&t=2&si=3", "https://example.com/?s=1&si=3&t=2"),
    g("https://example.com/?b=2&a=1&c=3", "https://example.com/?a=1&b=2&c=3"),
    g("https://example.com/?a=2&b=1&a=1", "https://example.com/?a=2&a=1&b=1"),
    g("https://example.com/p?", "https://example.com/p"),
    g("https://example.com/p?&&", "https://example.com/p"),
    // Paths: one trailing slash goes, root and `//` stay; www, scheme and unknown hosts stay.
    g("https://example.com/a/b/", "https://example.com/a/b"),
    g("https://example.com/a//", "https://example.com/a//"),
    g("https://example.com", "https://example.com/"),
    g("https://www.example.com/a", "https://www.example.com/a"),
    g("http://example.com/a", "http://example.com/a"),
    g("https://t.me:8443/foo/1", "https://t.me:8443/foo/1"),
    // Telegram.
    p("https://t.me/SomeChannel/123", TG, "telegram", Some("somechannel"), Some("123")),
    p("http://t.me/somechannel/123/", TG, "telegram", Some("somechannel"), Some("123")),
    p("https://telegram.me/somechannel/123", TG, "telegram", Some("somechannel"), Some("123")),
    p("https://telegram.dog/SOMECHANNEL/123?single", TG, "telegram", Some("somechannel"), Some("123")),
    p("https://www.t.me/s/somechannel/123", TG, "telegram", Some("somechannel"), Some("123")),
    p("https://t.me/s/SomeChannel/123?embed=1&mode=tme", TG, "telegram", Some("somechannel"), Some("123")),
    p("https://t.me/somechannel/123?comment=45&single", "https://t.me/somechannel/123?comment=45", "telegram", Some("somechannel"), Some("123")),
    p("https://t.me/SomeChannel", "https://t.me/somechannel", "telegram", Some("somechannel"), None),
    p("https://t.me/s/somechannel?before=100", "https://t.me/somechannel", "telegram", Some("somechannel"), None),
    p("https://t.me/c/1234567890/42", "https://t.me/c/1234567890/42", "telegram", Some("1234567890"), Some("42")),
    p("https://t.me/SomeGroup/5/77?comment=3&single", "https://t.me/somegroup/5/77?comment=3", "telegram", Some("somegroup"), Some("77")),
    p("https://t.me/c/1234567890/7/42?single", "https://t.me/c/1234567890/7/42", "telegram", Some("1234567890"), Some("42")),
    p("https://t.me/+AbCdEf123", "https://t.me/+AbCdEf123", "telegram", None, None),
    p("https://t.me/joinchat/AbCdEf", "https://t.me/joinchat/AbCdEf", "telegram", None, None),
    p("https://t.me/share/url?url=https%3A%2F%2Fexample.com", "https://t.me/share/url?url=https%3A%2F%2Fexample.com", "telegram", None, None),
    // Facebook.
    p("https://www.facebook.com/groups/123456/posts/789/", FB_GROUP, "facebook", Some("123456"), Some("789")),
    p("https://m.facebook.com/groups/123456/permalink/789/?mibextid=x&__cft__[0]=y", FB_GROUP, "facebook", Some("123456"), Some("789")),
    p("https://mbasic.facebook.com/groups/123456/permalink/789/", FB_GROUP, "facebook", Some("123456"), Some("789")),
    p("https://web.facebook.com/groups/123456/posts/789?__tn__=R", FB_GROUP, "facebook", Some("123456"), Some("789")),
    p("https://facebook.com/groups/123456/posts/789", FB_GROUP, "facebook", Some("123456"), Some("789")),
    p("https://fb.com/groups/123456/posts/789", FB_GROUP, "facebook", Some("123456"), Some("789")),
    p("https://www.fb.com/groups/123456/posts/789/#comments", FB_GROUP, "facebook", Some("123456"), Some("789")),
    p("https://www.facebook.com/groups/HKFoo/posts/789", "https://www.facebook.com/groups/hkfoo/posts/789", "facebook", Some("hkfoo"), Some("789")),
    p("https://www.facebook.com/permalink.php?story_fbid=789&id=1000123", FB_STORY, "facebook", Some("1000123"), Some("789")),
    p("https://m.facebook.com/story.php?id=1000123&story_fbid=789&refid=52", FB_STORY, "facebook", Some("1000123"), Some("789")),
    p("https://www.facebook.com/1000123/posts/789/", FB_STORY, "facebook", Some("1000123"), Some("789")),
    p("https://www.facebook.com/1000123/posts/789/?comment_id=5&__cft__=x", "https://www.facebook.com/1000123/posts/789?comment_id=5", "facebook", Some("1000123"), Some("789")),
    p("https://www.facebook.com/SomePage/posts/pfbid02AbC", "https://www.facebook.com/somepage/posts/pfbid02AbC", "facebook", Some("somepage"), Some("pfbid02AbC")),
    p("https://www.facebook.com/photo.php?fbid=111&set=a.222&type=3", "https://www.facebook.com/photo.php?fbid=111", "facebook", None, Some("111")),
    p("https://www.facebook.com/photo/?fbid=111&set=a.222", "https://www.facebook.com/photo.php?fbid=111", "facebook", None, Some("111")),
    p("https://www.facebook.com/watch/?v=333&ref=sharing", "https://www.facebook.com/watch/?v=333", "facebook", None, Some("333")),
    p("https://m.facebook.com/profile.php?id=1000123&mibextid=x", "https://www.facebook.com/profile.php?id=1000123", "facebook", Some("1000123"), None),
    p("https://www.facebook.com/groups/123456/?ref=share", "https://www.facebook.com/groups/123456", "facebook", Some("123456"), None),
    p("https://m.facebook.com/reel/555/?s=1", "https://www.facebook.com/reel/555", "facebook", None, Some("555")),
    p("https://www.facebook.com/SomePage/videos/some-title/444/", "https://www.facebook.com/somepage/videos/444", "facebook", Some("somepage"), Some("444")),
    p("https://m.facebook.com/SomePage?__tn__=x&sk=about", "https://www.facebook.com/somepage?sk=about", "facebook", Some("somepage"), None),
    p("https://www.facebook.com/share/p/AbCdEf/?mibextid=x", "https://www.facebook.com/share/p/AbCdEf", "facebook", None, None),
    // X / Twitter.
    p("https://twitter.com/Jack/status/20", TWEET, "x", Some("jack"), Some("20")),
    p("https://www.twitter.com/jack/status/20?s=20&t=abc", TWEET, "x", Some("jack"), Some("20")),
    p("https://mobile.twitter.com/jack/status/20", TWEET, "x", Some("jack"), Some("20")),
    p("https://x.com/jack/status/20?ref_src=twsrc%5Etfw", TWEET, "x", Some("jack"), Some("20")),
    p("https://www.x.com/JACK/status/20/photo/1", TWEET, "x", Some("jack"), Some("20")),
    p("https://mobile.x.com/jack/status/20/", TWEET, "x", Some("jack"), Some("20")),
    p("https://twitter.com/i/web/status/20", "https://x.com/i/status/20", "x", None, Some("20")),
    p("https://x.com/i/status/20?s=46", "https://x.com/i/status/20", "x", None, Some("20")),
    p("https://twitter.com/Jack?s=09", "https://x.com/jack", "x", Some("jack"), None),
    p("https://x.com/search?src=typed_query&q=doxx", "https://x.com/search?q=doxx&src=typed_query", "x", None, None),
    // YouTube.
    p("https://youtu.be/dQw4w9WgXcQ", YT, "youtube", None, Some("dQw4w9WgXcQ")),
    p("https://youtu.be/dQw4w9WgXcQ?si=abc&t=42", YT, "youtube", None, Some("dQw4w9WgXcQ")),
    p("https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL123&index=2&t=1s&feature=share", YT, "youtube", None, Some("dQw4w9WgXcQ")),
    p("https://m.youtube.com/watch?feature=youtu.be&v=dQw4w9WgXcQ", YT, "youtube", None, Some("dQw4w9WgXcQ")),
    p("https://youtube.com/shorts/dQw4w9WgXcQ?feature=share", YT, "youtube", None, Some("dQw4w9WgXcQ")),
    p("https://www.youtube.com/embed/dQw4w9WgXcQ?start=10", YT, "youtube", None, Some("dQw4w9WgXcQ")),
    p("https://www.youtube.com/live/dQw4w9WgXcQ?si=x", YT, "youtube", None, Some("dQw4w9WgXcQ")),
    p("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", YT, "youtube", None, Some("dQw4w9WgXcQ")),
    p("https://www.youtube.com/@SomeHandle?si=x", "https://www.youtube.com/@somehandle", "youtube", Some("somehandle"), None),
    p("https://youtube.com/channel/UCabcDEF/?si=x", "https://www.youtube.com/channel/UCabcDEF", "youtube", Some("UCabcDEF"), None),
    p("https://www.youtube.com/playlist?list=PL123&si=x", "https://www.youtube.com/playlist?list=PL123", "youtube", None, None),
    // Instagram: /reel/ and /tv/ unified with /p/ (one shortcode space), with Instagram's slash.
    p("https://www.instagram.com/p/CxYz123AbC/", IG, "instagram", None, Some("CxYz123AbC")),
    p("https://instagram.com/p/CxYz123AbC/?igshid=abc", IG, "instagram", None, Some("CxYz123AbC")),
    p("https://instagr.am/p/CxYz123AbC", IG, "instagram", None, Some("CxYz123AbC")),
    p("https://www.instagram.com/reel/CxYz123AbC/?igsh=xyz", IG, "instagram", None, Some("CxYz123AbC")),
    p("https://www.instagram.com/tv/CxYz123AbC", IG, "instagram", None, Some("CxYz123AbC")),
    p("https://www.instagram.com/SomeUser/p/CxYz123AbC/?img_index=2", IG, "instagram", Some("someuser"), Some("CxYz123AbC")),
    p("https://www.instagram.com/SomeUser/?hl=en", "https://www.instagram.com/someuser/", "instagram", Some("someuser"), None),
    p("https://www.instagram.com/stories/SomeUser/3123456789/", "https://www.instagram.com/stories/someuser/3123456789/", "instagram", Some("someuser"), Some("3123456789")),
    p("https://www.instagram.com/explore/tags/foo/", "https://www.instagram.com/explore/tags/foo", "instagram", None, None),
    // Reddit.
    p("https://www.reddit.com/r/HongKong/comments/abc123/some_title/", RD, "reddit", Some("hongkong"), Some("abc123")),
    p("https://old.reddit.com/r/hongkong/comments/abc123/", RD, "reddit", Some("hongkong"), Some("abc123")),
    p("https://new.reddit.com/r/hongkong/comments/abc123/some_title/?utm_source=share&utm_medium=web2x&context=3", RD, "reddit", Some("hongkong"), Some("abc123")),
    p("https://m.reddit.com/r/hongkong/comments/abc123/some_title", RD, "reddit", Some("hongkong"), Some("abc123")),
    p("https://np.reddit.com/r/HONGKONG/comments/abc123", RD, "reddit", Some("hongkong"), Some("abc123")),
    p("https://reddit.com/r/hongkong/comments/abc123/%E9%A6%99/?share_id=x", RD, "reddit", Some("hongkong"), Some("abc123")),
    p("https://redd.it/abc123", "https://www.reddit.com/comments/abc123", "reddit", None, Some("abc123")),
    p("https://www.reddit.com/comments/abc123/some_title/", "https://www.reddit.com/comments/abc123", "reddit", None, Some("abc123")),
    p("https://www.reddit.com/r/hongkong/comments/abc123/some_title/def456/?context=3", RD_COMMENT, "reddit", Some("hongkong"), Some("abc123")),
    p("https://www.reddit.com/r/HongKong/comments/abc123/comment/def456/", RD_COMMENT, "reddit", Some("hongkong"), Some("abc123")),
    p("https://www.reddit.com/r/HongKong/s/AbC123?share_id=x", "https://www.reddit.com/r/hongkong/s/AbC123", "reddit", Some("hongkong"), None),
    p("https://old.reddit.com/r/HongKong/", "https://www.reddit.com/r/hongkong", "reddit", Some("hongkong"), None),
    p("https://www.reddit.com/u/SomeOne", "https://www.reddit.com/user/someone", "reddit", None, None),
    // LIHKG and HKGolden: a bare thread link is its first page.
    p("https://lihkg.com/thread/3456789/page/2", "https://lihkg.com/thread/3456789/page/2", "lihkg", Some("3456789"), None),
    p("https://lihkg.com/thread/3456789/page/1?utm_source=x", LIHKG, "lihkg", Some("3456789"), None),
    p("https://lihkg.com/thread/3456789", LIHKG, "lihkg", Some("3456789"), None),
    p("http://www.lihkg.com/thread/3456789/page/1/", LIHKG, "lihkg", Some("3456789"), None),
    p("https://forum.hkgolden.com/thread/7654321/page/1", HKG, "hkgolden", Some("7654321"), None),
    p("https://forum.hkgolden.com/thread/7654321/", HKG, "hkgolden", Some("7654321"), None),
    // Spotify: `si` goes here, and only here (see the generic row keeping `si` above).
    p("https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC?si=abc123", "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC", "spotify", None, None),
];
