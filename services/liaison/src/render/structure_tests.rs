//! No free text changes a letter's structure: a letter rendered with hostile text in every field
//! that reaches it has the same Markdown blocks, emphasis, links and HTML as the letter rendered
//! with plain words. Fixed cases for what was seen, and property tests (docs/fuzzing.md) for the
//! rest, including what validation at input would refuse (older stored data is not re-validated).

use std::collections::BTreeMap;

use proptest::prelude::*;
use pulldown_cmark::{Event, Options, Parser, Tag};
use time::macros::datetime;

use super::*;

/// Text that Markdown or HTML would read as markup, or that ends a line.
const HOSTILE: &[&str] = &[
    "# heading",
    "\r# heading",
    "x\r===",
    "x\n---",
    "x\r\n***",
    "```\ncode",
    "\r~~~",
    "    indented",
    "\n    indented",
    "\t\tindented",
    "<script>alert(1)</script>",
    "\r<div>",
    "<!-- comment",
    "| a | b |\n|---|---|",
    "[link](javascript:alert(1))",
    "![img](https://x.example/i.png)",
    "*emph* _e_ **strong** ~~gone~~",
    "> quote",
    "\r> quote",
    "- item",
    "\n1. item",
    "+ item",
    "\r\n\r\n",
    "&lt;script&gt; &#10; &amp;",
    "\\",
    "x\\",
    "x  ",
    "<https://evil.example>",
    "`code`",
    "\u{0}\u{1b}[31m",
    "\u{2028}# x",
    "\u{85}# x",
    "[ref]: https://evil.example",
    "[ref]",
    "*",
    "_",
];

fn notice(legal_basis: &str) -> Notice {
    let now = datetime!(2019-11-01 02:00 UTC);
    Notice {
        id: NoticeId::new(),
        reference: "NTC-2019-000001".to_owned(),
        platform: PlatformRef::new(),
        kind: NoticeKind::RemovalRequest,
        items: (0..2)
            .map(|_| Item { link: LinkRef::new(), action: NoticeAction::Remove, replies: Vec::new() })
            .collect(),
        cases: Vec::new(),
        channel: None,
        legal_basis: legal_basis.to_owned(),
        deadline_override: None,
        follows: None,
        reminds_kind: None,
        service: Some(Service {
            served_at: now,
            method: ServiceMethod::Email,
            deadline: now + time::Duration::days(14),
            record_time: now,
        }),
        replies: Vec::new(),
        closure: None,
        created_by: "officer".to_owned(),
        create_time: now,
        update_time: now,
    }
}

fn contact(legal_entity: &str, email: &str, postal_address: &str) -> PlatformContact {
    PlatformContact {
        platform: PlatformRef::new(),
        legal_entity: legal_entity.to_owned(),
        jurisdiction: "hk".to_owned(),
        email: email.to_owned(),
        postal_address: postal_address.to_owned(),
        web_form_url: String::new(),
        in_app: String::new(),
        language: Language::English,
        accepted_service_before: false,
        notes: String::new(),
        update_time: datetime!(2019-11-01 02:00 UTC),
        updated_by: "officer".to_owned(),
    }
}

/// Where free text can reach a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    PlatformName,
    LegalEntity,
    Email,
    PostalAddress,
    LegalBasis,
}

const FIELDS: [Field; 5] =
    [Field::PlatformName, Field::LegalEntity, Field::Email, Field::PostalAddress, Field::LegalBasis];

/// The letter with `text` in `field` (and plain words everywhere else), both notices' items
/// at `urls`, and the channel at `channel`.
fn letter(field: Field, text: &str, urls: [&str; 2], channel: &str, language: Language) -> String {
    let plain = "Example";
    let pick = |f: Field| if f == field { text } else { plain };
    let n = notice(pick(Field::LegalBasis));
    let with_contact = !matches!(field, Field::PlatformName);
    let c = contact(pick(Field::LegalEntity), pick(Field::Email), pick(Field::PostalAddress));
    let by_link: BTreeMap<String, String> =
        n.items.iter().zip(urls).map(|(i, u)| (i.link.name(), u.to_owned())).collect();
    let ctx = LetterContext {
        contact: with_contact.then_some(&c),
        platform_name: pick(Field::PlatformName),
        urls: &by_link,
        channel_url: Some(channel),
        follows: None,
        zone: &jiff::tz::TimeZone::UTC,
    };
    markdown(&n, language, &ctx).expect("renders")
}

const URLS: [&str; 2] = ["https://t.me/doxchan/1", "https://t.me/doxchan/2"];
const CHANNEL: &str = "https://t.me/doxchan";

/// What a reader sees of a document's structure: every event but the words themselves (a link
/// by its target's scheme only, so that the structure of letters to other URLs can be compared).
fn structure(markdown: &str) -> Vec<String> {
    Parser::new_ext(markdown, Options::ENABLE_TABLES)
        .filter_map(|event| match event {
            Event::Text(_) | Event::SoftBreak => None,
            Event::Start(Tag::Link { dest_url, .. }) => {
                Some(format!("link to {}", dest_url.split(':').next().unwrap_or_default()))
            }
            other => Some(format!("{other:?}")),
        })
        .collect()
}

/// The HTML element names of a document, in order.
fn elements(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .map(|s| s.split(|c: char| !c.is_ascii_alphanumeric() && c != '/').next().unwrap_or("").to_owned())
        .collect()
}

/// The plain words to compare a letter with `text` in `field` with: none when the text shows
/// nothing (an optional line without words is left out of a letter, as it should be).
fn plain_for(field: Field, text: &str) -> &'static str {
    let shown = if field == Field::PostalAddress { escape::lines(text) } else { escape::text(text) };
    if shown.is_empty() { "" } else { "Example" }
}

fn assert_same_structure(field: Field, text: &str, language: Language) {
    let plain = letter(field, plain_for(field, text), URLS, CHANNEL, language);
    let hostile = letter(field, text, URLS, CHANNEL, language);
    assert_eq!(structure(&hostile), structure(&plain), "{field:?} = {text:?} changed the letter:\n{hostile}");
    let (plain_html, hostile_html) = (html(&plain, language, "t"), html(&hostile, language, "t"));
    assert_eq!(
        elements(&hostile_html),
        elements(&plain_html),
        "{field:?} = {text:?} changed the HTML:\n{hostile_html}"
    );
}

#[test]
fn hostile_text_in_any_field_keeps_the_letter_as_it_is() {
    for language in [Language::English, Language::TraditionalChinese] {
        for field in FIELDS {
            for text in HOSTILE {
                assert_same_structure(field, text, language);
            }
        }
    }
}

#[test]
fn a_carriage_return_no_longer_makes_a_heading_or_a_code_block() {
    let heading = letter(Field::PlatformName, "Example\r===", URLS, CHANNEL, Language::English);
    assert_eq!(structure(&heading).iter().filter(|e| e.starts_with("Start(Heading")).count(), 1, "{heading}");
    let code = letter(Field::LegalBasis, "s64\r~~~", URLS, CHANNEL, Language::English);
    assert!(!structure(&code).iter().any(|e| e.contains("CodeBlock")), "{code}");
    assert!(code.contains("Yours faithfully"));
}

/// A URL is a link only when it is an http(s) URL; the letter keeps its structure otherwise.
fn assert_urls_keep_structure(urls: [&str; 2], channel: &str) {
    let strip = |s: Vec<String>| -> Vec<String> {
        s.into_iter().filter(|e| !e.starts_with("link to") && !e.starts_with("End(Link")).collect()
    };
    let plain_channel = if escape::url(channel).is_empty() { "" } else { CHANNEL };
    let plain = letter(Field::LegalBasis, "Example", URLS, plain_channel, Language::English);
    let hostile = letter(Field::LegalBasis, "Example", urls, channel, Language::English);
    let links: Vec<String> = structure(&hostile).into_iter().filter(|e| e.starts_with("link to")).collect();
    assert!(links.iter().all(|l| l == "link to https" || l == "link to http"), "{links:?}:\n{hostile}");
    assert_eq!(strip(structure(&hostile)), strip(structure(&plain)), "{urls:?} {channel:?}:\n{hostile}");
}

#[test]
fn hostile_urls_never_break_the_table_or_become_other_links() {
    for text in HOSTILE {
        assert_urls_keep_structure([text, "https://x.example/a|b"], text);
    }
    assert_urls_keep_structure(["javascript:alert(1)", "https://x.example/<b>"], "data:text/html,<script>");
    assert_urls_keep_structure(["links/0190", "https://x.example/`a`|*b*"], "https://x.example/_c_");
}

/// Text with markup characters, line breaks and control characters in every position.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(HOSTILE).prop_map(str::to_owned),
        4 => proptest::sample::select(&[
            "#", "=", "-", "*", "_", "`", "~", ">", "<", "|", "[", "]", "(", ")", "!", "&", ";", "\\", ":", "/",
            "\r", "\n", "\t", " ", "    ", "1.", "+", "\u{0}", "\u{2028}", "\u{85}", "\u{b}", "\u{c}",
        ])
        .prop_map(str::to_owned),
        2 => "[a-z]{1,6}",
        1 => any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

fn any_field() -> impl Strategy<Value = Field> {
    proptest::sample::select(&FIELDS)
}

proptest! {
    #[test]
    fn no_text_changes_the_structure_of_a_letter(field in any_field(), text in hostile_text()) {
        assert_same_structure(field, &text, Language::English);
    }

    #[test]
    fn no_unicode_text_changes_the_structure_of_a_letter(field in any_field(), text in any::<String>()) {
        assert_same_structure(field, &text, Language::TraditionalChinese);
    }

    #[test]
    fn no_url_changes_the_structure_of_a_letter(
        url in prop_oneof![hostile_text(), hostile_text().prop_map(|t| format!("https://x.example/{t}"))],
    ) {
        assert_urls_keep_structure([&url, "https://t.me/doxchan/2"], &url);
    }
}
