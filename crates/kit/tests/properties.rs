//! Property tests of what every service does with client input before anything else
//! (docs/fuzzing.md): page tokens and page sizes, request-field validation and timestamps. Any
//! string, any bytes, any number: never a panic; every refusal names its field; control
//! characters are always refused where the kit promises it; a number that reaches arithmetic or
//! SQL is bounded.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use doxwatch_kit::{
    error::FieldViolations,
    idempotency::MAX_REQUEST_ID_LEN,
    page::{self, MAX_OFFSET},
    timestamp, validate,
};
use proptest::prelude::*;

/// A token as a client could forge it: base64 of any JSON the token format could hold.
fn forged_token() -> impl Strategy<Value = String> {
    let version = prop_oneof![Just("1".to_owned()), any::<i64>().prop_map(|v| v.to_string()), Just("\"1\"".to_owned())];
    let fingerprint = prop_oneof![Just("f".to_owned()), "[a-zA-Z0-9_-]{0,16}"];
    let position = prop_oneof![
        any::<u64>().prop_map(|p| p.to_string()),
        any::<i64>().prop_map(|p| p.to_string()),
        any::<f64>().prop_map(|p| format!("{p:?}")),
        Just("18446744073709551616".to_owned()),
        Just("1e400".to_owned()),
        Just("null".to_owned()),
        "\"[0-9a-f-]{0,36}\"",
        Just("[1,2]".to_owned()),
    ];
    (version, fingerprint, position)
        .prop_map(|(v, f, p)| URL_SAFE_NO_PAD.encode(format!(r#"{{"v":{v},"f":"{f}","p":{p}}}"#)))
}

fn any_token() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        forged_token(),
    ]
}

/// What a one-line field and a request id never hold: control characters, the line and paragraph
/// separators, and bidirectional embeddings, overrides and isolates.
fn not_in_one_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text with control characters, line breaks and ordinary characters in any position.
fn any_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        (0u32..0x20).prop_map(|c| char::from_u32(c).map(String::from).unwrap_or_default()),
        Just("\u{7f}".to_owned()),
        Just("\u{85}".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("\u{2029}".to_owned()),
        Just("\u{202E}".to_owned()),
        Just("\u{2066}".to_owned()),
        Just(" ".to_owned()),
        "[a-z]{1,5}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn an_offset_token_is_refused_or_bounded(token in any_token(), fingerprint in prop_oneof![Just("f".to_owned()), any::<String>()]) {
        if let Ok(offset) = page::decode_offset(&token, &fingerprint) {
            prop_assert!(offset <= MAX_OFFSET);
            if !token.is_empty() {
                // What was accepted is a token this code could have made.
                prop_assert_eq!(page::decode_offset(&page::encode_token(&fingerprint, &offset), &fingerprint), Ok(offset));
            }
        }
    }

    #[test]
    fn a_keyset_token_is_refused_or_re_encodes(token in any_token()) {
        if let Ok(Some(after)) = page::decode_token::<uuid::Uuid>(&token, "f") {
            prop_assert_eq!(page::decode_token::<uuid::Uuid>(&page::encode_token("f", &after), "f"), Ok(Some(after)));
        }
        if let Ok(Some(after)) = page::decode_token::<(i64, String)>(&token, "f") {
            let again = page::decode_token::<(i64, String)>(&page::encode_token("f", &after), "f");
            prop_assert_eq!(again, Ok(Some(after)));
        }
    }

    #[test]
    fn the_next_page_never_overflows(offset in any::<u64>(), limit in any::<u32>(), more in any::<bool>()) {
        let token = page::next_offset_token("f", offset, limit, more);
        if !token.is_empty() {
            let next = page::decode_offset(&token, "f");
            prop_assert_eq!(next, Ok(offset + u64::from(limit)));
            prop_assert!(offset + u64::from(limit) <= MAX_OFFSET);
        }
    }

    #[test]
    fn page_sizes_are_bounded(requested in any::<i32>(), default in 1u32..1000, max in 1u32..10_000) {
        match page::page_size(requested, default, max) {
            Ok(size) => prop_assert!(requested >= 0 && size <= max.max(default)),
            Err(_) => prop_assert!(requested < 0),
        }
    }

    #[test]
    fn one_line_fields_refuse_every_control_character(value in any_text(), max in 0usize..64, required in any::<bool>()) {
        let mut v = FieldViolations::new();
        let kept = validate::line(&mut v, "contact.legal_entity", &value, max, required);
        let refused = !v.is_empty();
        prop_assert!(v.iter().all(|violation| violation.field == "contact.legal_entity"));
        if value.trim().chars().any(not_in_one_line) {
            prop_assert!(refused, "{:?} accepted", value);
        }
        if !refused {
            prop_assert!(kept.chars().count() <= max && !kept.chars().any(not_in_one_line));
            prop_assert!(!required || !kept.is_empty());
        }
    }

    #[test]
    fn free_text_refuses_control_characters_but_line_breaks_and_tabs(value in any_text(), max in 0usize..64) {
        let mut v = FieldViolations::new();
        let kept = validate::text(&mut v, "note", &value, max, false);
        let refused = !v.is_empty();
        let forbidden = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t');
        if value.trim().chars().any(forbidden) {
            prop_assert!(refused, "{:?} accepted", value);
        }
        if !refused {
            prop_assert!(kept.chars().count() <= max && !kept.chars().any(forbidden));
        }
    }

    #[test]
    fn request_ids_are_short_identifiers(request_id in prop_oneof![any_text(), "[a-z0-9-]{120,140}"]) {
        let problem = validate::request_id_problem(&request_id);
        let bad = request_id.chars().count() > MAX_REQUEST_ID_LEN || request_id.chars().any(not_in_one_line);
        prop_assert_eq!(problem.is_some(), bad, "{:?}", request_id);
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "Method", &request_id, &prost_types::Duration::default(), |_| {});
        if bad {
            prop_assert!(key.is_none() && !v.is_empty(), "{:?} accepted", request_id);
        } else {
            prop_assert!(v.is_empty());
        }
        prop_assert!(v.iter().all(|violation| violation.field == "request_id"));
    }

    #[test]
    fn enum_codes_are_known_or_refused(code in any::<i32>()) {
        let known = |c: i32| (1..=3).contains(&c).then_some(c);
        let mut v = FieldViolations::new();
        let required = validate::required(&mut v, "kind", code, known);
        prop_assert_eq!(required.is_some(), v.is_empty());
        let mut v = FieldViolations::new();
        let filter = validate::filter(&mut v, "kind", code, known);
        prop_assert_eq!(v.is_empty(), code == 0 || filter.is_some());
    }

    #[test]
    fn any_timestamp_is_a_time_or_refused(seconds in any::<i64>(), nanos in any::<i32>()) {
        let ts = prost_types::Timestamp { seconds, nanos };
        if let Ok(t) = timestamp::from_proto(&ts) {
            prop_assert_eq!(timestamp::to_proto(t), ts);
        }
        let now = timestamp::now();
        if let Ok(t) = timestamp::business_time(Some(&ts), now) {
            prop_assert!(t <= now && t >= timestamp::earliest_business_time());
        }
        let mut v = FieldViolations::new();
        let _ = validate::optional_time(&mut v, "served_at", Some(&ts));
        prop_assert!(v.iter().all(|violation| violation.field == "served_at"));
    }
}
