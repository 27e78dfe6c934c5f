//! Rows that every RPC with a field of a kind gets: a resource name, a one-line text, a free text,
//! a business time, a `request_id`. Each takes the field's path and how to set it.

use prost_types::Timestamp;
use tonic::Code;

use super::{
    fixture::{bad_nanos, before_earliest, far_future, long_request_id},
    walk::{Class, Expect, Row, bad, refused, row},
};

/// The name of the resource an RPC acts on, of `wanted` (`cases`, `links`, ...): empty,
/// malformed, without its id, `foreign` (a real name from another collection), and a well-formed
/// name of nothing stored (NOT_FOUND).
pub fn name<R: 'static>(
    field: &str,
    wanted: &'static str,
    foreign: &str,
    set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    names(field, wanted, foreign, Some(refused(Code::NotFound, "NOT_FOUND")), set)
}

/// A name a request refers to (the case of an assessment, the links of a notice): as [`name`],
/// but a name of nothing stored is a bad argument, naming the field.
pub fn reference<R: 'static>(
    field: &str,
    wanted: &'static str,
    foreign: &str,
    set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    names(field, wanted, foreign, Some(bad(field)), set)
}

/// A name a peer service sends of a resource it owns (intake's cases, liaison's notices): as
/// [`name`], but the receiver takes the owner's word that it exists, so no unknown name is sent.
pub fn owned_by_peer<R: 'static>(
    field: &str,
    wanted: &'static str,
    foreign: &str,
    set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    names(field, wanted, foreign, None, set)
}

/// The rows of a name, with `unknown` the answer to a well-formed name of nothing stored (`None`:
/// not sent).
pub fn names<R: 'static>(
    field: &str,
    wanted: &'static str,
    foreign: &str,
    unknown: Option<Expect>,
    set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    let foreign = foreign.to_owned();
    let mut rows = vec![
        row(Class::Missing, bad(field), move |r| set(r, String::new())),
        row(Class::MalformedName, bad(field), move |r| set(r, format!("{wanted}/not-a-uuid"))),
        row(Class::MalformedName, bad(field), move |r| set(r, format!("{wanted}/"))),
        row(Class::ForeignName, bad(field), move |r| set(r, foreign.clone())),
    ];
    if let Some(expect) = unknown {
        rows.push(row(Class::UnknownName, expect, move |r| {
            set(r, format!("{wanted}/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"))
        }));
    }
    rows
}

/// A one-line text of at most `max` characters: one over, and NUL, CR and ESC in it.
pub fn line<R: 'static>(
    field: &str,
    max: usize,
    set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    vec![
        row(Class::OverLong, bad(field), move |r| set(r, "a".repeat(max + 1))),
        row(Class::ControlInLine, bad(field), move |r| set(r, "nul\0here".into())),
        row(Class::ControlInLine, bad(field), move |r| set(r, "carriage\rreturn".into())),
        row(Class::ControlInLine, bad(field), move |r| set(r, "escape\u{1b}[31m".into())),
        row(Class::BidiInLine, bad(field), move |r| set(r, "Chan \u{202E}gnp.exe".into())),
    ]
}

/// A free text of at most `max` characters (tabs and line breaks allowed): one over, NUL, ESC.
pub fn text<R: 'static>(
    field: &str,
    max: usize,
    set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    vec![
        row(Class::OverLong, bad(field), move |r| set(r, "a".repeat(max + 1))),
        row(Class::ControlInNote, bad(field), move |r| set(r, "nul\0here".into())),
        row(Class::ControlInNote, bad(field), move |r| set(r, "escape\u{1b}[31m".into())),
        row(Class::ControlInNote, bad(field), move |r| set(r, "paid in full\rnot paid".into())),
    ]
}

/// [`text`], when it is required: empty too.
pub fn required_text<R: 'static>(
    field: &str,
    max: usize,
    set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    let mut rows = vec![row(Class::Empty, bad(field), move |r| set(r, "  ".into()))];
    rows.extend(text(field, max, set));
    rows
}

/// A business time: before the earliest, far in the future, nanos out of range.
pub fn time<R: 'static>(
    field: &str,
    set: impl Fn(&mut R, Option<Timestamp>) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    vec![
        row(Class::BeforeEarliest, bad(field), move |r| set(r, before_earliest())),
        row(Class::FarFuture, bad(field), move |r| set(r, far_future())),
        row(Class::BeforeEarliest, bad(field), move |r| set(r, Some(Timestamp { seconds: i64::MIN, nanos: 0 }))),
        row(Class::FarFuture, bad(field), move |r| set(r, Some(Timestamp { seconds: i64::MAX, nanos: 999_999_999 }))),
        row(Class::NanosOutOfRange, bad(field), move |r| set(r, bad_nanos())),
        row(Class::NanosOutOfRange, bad(field), move |r| set(r, Some(Timestamp { seconds: 1_562_000_000, nanos: -1 }))),
    ]
}

/// `request_id`: one character too long, and a NUL in it.
pub fn request_id<R: 'static>(set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static) -> Vec<Row<R>> {
    vec![
        row(Class::OverLong, bad("request_id"), move |r| set(r, long_request_id())),
        row(Class::ControlInLine, bad("request_id"), move |r| set(r, "id\0with nul".into())),
        row(Class::BidiInLine, bad("request_id"), move |r| set(r, "id\u{2066}isolated".into())),
    ]
}

/// EraseCaseData, which intake (or referral) sends every peer: a case name and a required
/// erase time.
pub fn erase<R: 'static>(
    foreign: &str,
    set_case: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
    set_time: impl Fn(&mut R, Option<Timestamp>) + Copy + Send + Sync + 'static,
    set_id: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    let mut rows = vec![row(Class::Missing, bad("erase_time"), move |r: &mut R| set_time(r, None))];
    // Erasure reaches a service from the case's owner: a case it never heard of is erased too
    // (nothing of it may arrive later), so no unknown name is sent.
    rows.extend(owned_by_peer("case", "cases", foreign, set_case));
    rows.extend(time("erase_time", set_time));
    rows.extend(request_id(set_id));
    rows
}
