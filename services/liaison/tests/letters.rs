//! Letters keep their structure whatever the free text in them: the platform's name, the legal
//! basis, the addressee and a multi-line postal address, all accepted at input, are shown as
//! written and never become headings, code, tables, links or HTML.

mod common;

use common::*;
use doxwatch_proto::{liaison as pb, links as links_pb};
use pb::NoticeKind as K;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

backend_tests!(markup_in_free_text_stays_text);

const PLATFORM_NAME: &str = "# Evil | Forum <script>alert(1)</script>";
const LEGAL_BASIS: &str = "s64 | ``` ~~~ # x <script>alert(1)</script> [link](javascript:alert(1)) ***";
const LEGAL_ENTITY: &str = "# Evil Corp | <b>x</b> [y](javascript:alert(1))";
// Lines as a browser's form sends them (LF or CR LF: a CR alone is refused at input); the renderer's
// own tests cover the lone CR and the other breaks that older stored text may hold.
const POSTAL_ADDRESS: &str = "# Floor 1\n```\n    indented\n<script>alert(1)</script>\n| table |\n\
                              [link](javascript:alert(1))\r\n> quoted\n- listed\r\n===\r\n~~~\nHong Kong";

/// What a reader of the letter sees: its blocks and links, and its words.
struct Reading {
    headings: usize,
    blocks: Vec<String>,
    table_rows: usize,
    links: Vec<String>,
    words: String,
}

fn read(markdown: &str) -> Reading {
    let mut r = Reading { headings: 0, blocks: Vec::new(), table_rows: 0, links: Vec::new(), words: String::new() };
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => r.headings += 1,
            Event::Start(Tag::Link { dest_url, .. }) => r.links.push(dest_url.to_string()),
            Event::Start(Tag::TableRow) => r.table_rows += 1,
            Event::Start(Tag::Paragraph | Tag::Strong | Tag::TableHead | Tag::TableCell | Tag::Table(_)) => {}
            Event::Start(other) => r.blocks.push(format!("{other:?}")),
            Event::End(TagEnd::Paragraph) => r.words.push('\n'),
            Event::Text(t) => r.words.push_str(&t),
            Event::SoftBreak => r.words.push(' '),
            Event::End(_) => {}
            other => r.blocks.push(format!("{other:?}")),
        }
    }
    r
}

/// The checks every letter of this test must pass: one heading (the title), a table with a row
/// per link, links only to the links' own URLs, nothing else, and the free text shown as written.
fn assert_intact(markdown: &str, shown: &[&str]) {
    let r = read(markdown);
    assert_eq!(r.headings, 1, "only the title is a heading:\n{markdown}");
    assert!(r.blocks.is_empty(), "no code, quote, list, rule or HTML: {:?}\n{markdown}", r.blocks);
    assert_eq!(r.table_rows, 2, "one row per link:\n{markdown}");
    assert_eq!(r.links, ["https://evil.example/1", "https://evil.example/2"], "{markdown}");
    for text in shown {
        assert!(r.words.contains(text), "{text:?} shown as written:\n{}", r.words);
    }
    assert!(r.words.contains("Yours faithfully"), "the signature is still text:\n{markdown}");
}

async fn render(s: &mut Suite, notice: &str, format: pb::RenderFormat) -> String {
    let request = pb::RenderNoticeRequest {
        name: notice.to_owned(),
        language: pb::Language::English as i32,
        format: format as i32,
    };
    s.liaison.render_notice(request).await.expect("rendered").into_inner().content
}

async fn markup_in_free_text_stays_text(stores: Stores) {
    let mut s = start(&stores).await;
    let platform = s
        .links
        .create_platform(links_pb::CreatePlatformRequest {
            platform: Some(links_pb::Platform {
                display_name: PLATFORM_NAME.into(),
                kind: links_pb::PlatformKind::Forum as i32,
                domains: vec!["evil.example".into()],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a name with markup is accepted")
        .into_inner()
        .name;
    let links = s.links(&["https://evil.example/1", "https://evil.example/2"]).await;
    let mut notice = s.draft(K::RemovalRequest, &platform, &links).await;
    notice.legal_basis = LEGAL_BASIS.into();
    let update = pb::UpdateNoticeRequest {
        notice: Some(notice.clone()),
        update_mask: Some(prost_types::FieldMask { paths: vec!["legal_basis".into()] }),
        request_id: String::new(),
    };
    s.liaison.update_notice(update).await.expect("a legal basis with markup is accepted");
    s.serve(&notice.name, "2019-11-01T10:00:00+08:00").await;

    // Without a contact, the letter is addressed to the platform by its name.
    let letter = render(&mut s, &notice.name, pb::RenderFormat::Markdown).await;
    assert_intact(&letter, &[PLATFORM_NAME, LEGAL_BASIS]);

    s.liaison
        .set_platform_contact(pb::SetPlatformContactRequest {
            contact: Some(pb::PlatformContact {
                platform: platform.clone(),
                legal_entity: LEGAL_ENTITY.into(),
                jurisdiction: "hk".into(),
                email: "legal@evil.example".into(),
                postal_address: POSTAL_ADDRESS.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a multi-line address with markup is accepted");
    let letter = render(&mut s, &notice.name, pb::RenderFormat::Markdown).await;
    assert_intact(
        &letter,
        &[LEGAL_ENTITY, "# Floor 1, ```, indented, <script>alert(1)</script>, | table |", LEGAL_BASIS],
    );

    let html = render(&mut s, &notice.name, pb::RenderFormat::Html).await;
    for markup in ["<script", "<b>", "javascript:alert(1)\"", "<pre", "<h2", "<blockquote", "<ul", "<hr"] {
        assert!(!html.contains(markup), "{markup} in the HTML:\n{html}");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the text is shown, escaped:\n{html}");
    assert_eq!(html.matches("<h1>").count(), 1, "{html}");
    assert_eq!(html.matches("<tr>").count(), 3, "{html}");
    s.stop().await;
}
