//! The platforms the generator can put links on: those of the default registry, each with its
//! registry key, its kind, and the shape of a post's URL on it.

/// A platform the generator can put links on: its registry key, kind, and the URL of a post.
pub struct PlatformSpec {
    pub key: &'static str,
    pub kind: &'static str,
    pub url: fn(channel: u32, n: u32) -> String,
}

/// The platforms of the default registry, in the order the generator involves them.
pub const PLATFORMS: &[PlatformSpec] = &[
    PlatformSpec {
        key: "telegram",
        kind: "INSTANT_MESSAGING",
        url: |c, n| format!("https://t.me/doxchannel{c}example/{n}"),
    },
    PlatformSpec {
        key: "facebook",
        kind: "SOCIAL_NETWORK",
        url: |c, n| format!("https://www.facebook.com/groups/9000{c}/posts/{n}/"),
    },
    PlatformSpec {
        key: "lihkg",
        kind: "FORUM",
        url: |_, n| format!("https://lihkg.com/thread/{}/page/1", 1_000_000 + n),
    },
    PlatformSpec {
        key: "instagram",
        kind: "SOCIAL_NETWORK",
        url: |_, n| format!("https://www.instagram.com/p/examplepost{n}/"),
    },
    PlatformSpec {
        key: "x",
        kind: "SOCIAL_NETWORK",
        url: |c, n| format!("https://x.com/exampleuser{c}/status/{}", 1_100_000_000_000_000_000u64 + u64::from(n)),
    },
    PlatformSpec {
        key: "youtube",
        kind: "VIDEO_SHARING",
        url: |_, n| format!("https://www.youtube.com/watch?v=ex{n:09}"),
    },
    PlatformSpec {
        key: "hkgolden",
        kind: "FORUM",
        url: |_, n| format!("https://forum.hkgolden.com/thread/{}/page/1", 7_000_000 + n),
    },
    PlatformSpec {
        key: "reddit",
        kind: "FORUM",
        url: |c, n| format!("https://www.reddit.com/r/examplesub{c}/comments/ex{n}"),
    },
    PlatformSpec {
        key: "discord",
        kind: "INSTANT_MESSAGING",
        url: |c, n| format!("https://discord.com/channels/800{c}/900{c}/{}", 10_000 + n),
    },
    PlatformSpec {
        key: "weibo",
        kind: "SOCIAL_NETWORK",
        url: |c, n| format!("https://weibo.com/55{c}/ExamplePost{n}"),
    },
    PlatformSpec {
        key: "google-drive",
        kind: "FILE_SHARING",
        url: |_, n| format!("https://drive.google.com/file/d/examplefile{n}/view"),
    },
    PlatformSpec { key: "pastebin", kind: "PASTE_SITE", url: |_, n| format!("https://pastebin.com/expaste{n}") },
    PlatformSpec {
        key: "baidu-tieba",
        kind: "FORUM",
        url: |_, n| format!("https://tieba.baidu.com/p/{}", 6_000_000_000u64 + u64::from(n)),
    },
    PlatformSpec {
        key: "threads",
        kind: "SOCIAL_NETWORK",
        url: |c, n| format!("https://www.threads.net/@exampleuser{c}/post/expost{n}"),
    },
    PlatformSpec {
        key: "whatsapp",
        kind: "INSTANT_MESSAGING",
        url: |_, n| format!("https://chat.whatsapp.com/exampleinvite{n}"),
    },
    PlatformSpec {
        key: "wechat",
        kind: "INSTANT_MESSAGING",
        url: |_, n| format!("https://mp.weixin.qq.com/s/examplearticle{n}"),
    },
    PlatformSpec {
        key: "tiktok",
        kind: "VIDEO_SHARING",
        url: |c, n| {
            format!("https://www.tiktok.com/@exampleuser{c}/video/{}", 7_000_000_000_000_000_000u64 + u64::from(n))
        },
    },
    PlatformSpec {
        key: "linkedin",
        kind: "SOCIAL_NETWORK",
        url: |_, n| format!("https://www.linkedin.com/posts/example-post-{n}"),
    },
];

/// The first registry platform of a kind.
pub fn platform_of_kind(kind: &str) -> Option<usize> {
    PLATFORMS.iter().position(|p| p.kind == kind)
}
