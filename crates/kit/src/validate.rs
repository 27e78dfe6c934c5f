//! Checks of request fields that every service makes the same way, each recording a violation
//! under the field's path and returning what it could make of the value.

use prost::Message;
use time::OffsetDateTime;

use crate::{
    error::FieldViolations,
    idempotency::{MAX_REQUEST_ID_LEN, RequestKey},
    timestamp,
};

/// A required enum: unspecified (0) and unknown numbers are refused.
pub fn required<T>(v: &mut FieldViolations, field: &str, code: i32, from: fn(i32) -> Option<T>) -> Option<T> {
    let value = from(code);
    if value.is_none() {
        if code == 0 {
            v.add(field, "is required");
        } else {
            v.add(field, format!("{code} is not a known value"));
        }
    }
    value
}

/// An optional enum filter: 0 is "any", unknown numbers are refused.
pub fn filter<T>(v: &mut FieldViolations, field: &str, code: i32, from: fn(i32) -> Option<T>) -> Option<T> {
    if code == 0 {
        return None;
    }
    let value = from(code);
    if value.is_none() {
        v.add(field, format!("{code} is not a known value"));
    }
    value
}

/// A one-line text (a name, a reference, a legal basis) of at most `max` characters (after
/// trimming), required or not, without any control character: a line break in a name would change
/// the structure of a letter or a table it is written into.
pub fn line(v: &mut FieldViolations, field: &str, value: &str, max: usize, required: bool) -> String {
    let trimmed = value.trim();
    if !is_one_line(trimmed) {
        v.add(field, "must be one line, without control characters, line separators or bidirectional overrides");
        return trimmed.to_owned();
    }
    text(v, field, value, max, required)
}

/// Whether `text` is one plain line: no control character, no line or paragraph separator
/// (U+2028, U+2029: line breaks that are not control characters), and no explicit bidirectional
/// embedding, override or isolate (U+202A–U+202E, U+2066–U+2069), which would make a name or a
/// reference read differently in a letter or a list than it is stored.
pub fn is_one_line(text: &str) -> bool {
    !text.chars().any(|c| {
        c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

/// A text of at most `max` characters (after trimming), required or not, without control
/// characters other than line breaks (LF, or CR LF as browsers send them) and tabs. A CR on its
/// own is refused: printed to a terminal it returns to the start of the line, and what follows
/// hides what came before it.
pub fn text(v: &mut FieldViolations, field: &str, value: &str, max: usize, required: bool) -> String {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        v.add(field, "is required");
    } else if trimmed.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    } else if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        v.add(field, "must not contain control characters");
    } else if trimmed.replace("\r\n", "\n").contains('\r') {
        v.add(field, "must not contain a carriage return that does not end a line (CR LF)");
    }
    trimmed.to_owned()
}

/// An optional timestamp.
pub fn optional_time(
    v: &mut FieldViolations,
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Option<OffsetDateTime> {
    ts.and_then(|ts| v.check(field, timestamp::from_proto(ts)))
}

/// An optional time that may lie ahead (a deadline) but not before `earliest_business_time`: a
/// deadline a typo set in 1999 would make a notice overdue in every figure since.
pub fn optional_deadline(
    v: &mut FieldViolations,
    field: &str,
    ts: Option<&prost_types::Timestamp>,
) -> Option<OffsetDateTime> {
    let t = optional_time(v, field, ts)?;
    let earliest = timestamp::earliest_business_time();
    if t < earliest {
        v.add(field, format!("must not be before {} (earliest_business_time)", timestamp::rfc3339(earliest)));
        return None;
    }
    Some(t)
}

/// A business time: given (not in the future) or now.
pub fn business_time(
    v: &mut FieldViolations,
    field: &str,
    ts: Option<&prost_types::Timestamp>,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    v.check(field, timestamp::business_time(ts, now))
}

/// A business time that must be given (not in the future).
pub fn required_business_time(
    v: &mut FieldViolations,
    field: &str,
    ts: Option<&prost_types::Timestamp>,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    match ts {
        None => {
            v.add(field, "is required");
            None
        }
        some => business_time(v, field, some, now),
    }
}

/// What is wrong with a `request_id`, if anything: too long, or holding a control character (it
/// is an identifier; NUL in particular never reaches a store).
pub fn request_id_problem(request_id: &str) -> Option<String> {
    if request_id.chars().count() > MAX_REQUEST_ID_LEN {
        return Some(format!("must be at most {MAX_REQUEST_ID_LEN} characters"));
    }
    if !is_one_line(request_id) {
        return Some("must not contain control characters or bidirectional overrides".to_owned());
    }
    None
}

/// The request's idempotency key, if it has a `request_id`. The hash is of the request with the
/// id cleared by `clear`.
pub fn request_key<M: Message + Clone>(
    v: &mut FieldViolations,
    method: &str,
    request_id: &str,
    request: &M,
    clear: impl FnOnce(&mut M),
) -> Option<RequestKey> {
    if let Some(why) = request_id_problem(request_id) {
        v.add("request_id", why);
        return None;
    }
    let mut payload = request.clone();
    clear(&mut payload);
    RequestKey::new(method, request_id, &payload)
}

/// Ends validation: the value when every field was good, else INVALID_ARGUMENT naming them all.
pub fn checked<T>(v: FieldViolations, value: Option<T>) -> Result<T, tonic::Status> {
    match value {
        Some(value) if v.is_empty() => Ok(value),
        _ => Err(crate::error::invalid_argument(&v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_refuses_control_characters_and_bidirectional_overrides() {
        assert!(is_one_line("Chan Tai Man 陳大文"));
        for bad in [
            "a\nb",
            "a\rb",
            "nul\0",
            "esc\u{1b}",
            "Chan \u{202E}gnp.exe",
            "id\u{2066}x",
            "x\u{2069}",
            "a\u{2028}b",
            "a\u{2029}b",
        ] {
            assert!(!is_one_line(bad), "{bad:?}");
        }
        let mut v = FieldViolations::new();
        line(&mut v, "name", "Chan \u{202E}nahC", 200, true);
        assert!(!v.is_empty(), "a bidirectional override in a name is refused");
        assert!(request_id_problem("id\u{202D}x").is_some());
    }

    #[test]
    fn free_text_takes_line_breaks_but_not_a_lone_carriage_return() {
        let mut v = FieldViolations::new();
        text(&mut v, "note", "one\ntwo\r\nthree\tfour", 100, true);
        assert!(v.is_empty(), "LF, CR LF and tab are text");
        text(&mut v, "note", "paid in full\rnot paid", 100, true);
        assert_eq!(v.iter().count(), 1, "a CR on its own is refused");
    }

    #[test]
    fn a_deadline_may_be_ahead_but_not_before_the_earliest_business_time() {
        let at = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
        let mut v = FieldViolations::new();
        assert!(optional_deadline(&mut v, "deadline", Some(&at(4_102_444_800))).is_some(), "2100 is a deadline");
        assert!(optional_deadline(&mut v, "deadline", None).is_none());
        assert!(v.is_empty());
        assert!(optional_deadline(&mut v, "deadline", Some(&at(946_684_799))).is_none(), "1999 is refused");
        assert!(optional_deadline(&mut v, "deadline", Some(&at(i64::MAX))).is_none(), "out of range");
        assert_eq!(v.iter().count(), 2);
    }
}
