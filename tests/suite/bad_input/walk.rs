//! The walk: each row is one bad input sent to one RPC with the error it must get. Every outcome
//! is kept, every mismatch reported at once at the end, and the outcomes summed up into the table
//! that `docs/bad-input.md` holds, so that the document says what the services answer.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
};

use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::store::Stores;

/// The tables of the audit log, which records reads as well as writes.
const AUDIT_TABLES: &[&str] = &["audit_head", "audit_records", "audit_resources"];

/// The classes of bad input, in the order the document lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Missing,
    Empty,
    OverLong,
    TooMany,
    Duplicate,
    UnknownEnum,
    BeforeEarliest,
    FarFuture,
    NanosOutOfRange,
    MalformedName,
    ForeignName,
    UnknownName,
    ForgedPageToken,
    ForeignPageToken,
    NegativePageSize,
    ZeroPageSize,
    HugePageSize,
    ReusedRequestId,
    ControlInLine,
    ControlInNote,
    BidiInLine,
    SqlInFilter,
    SqlInText,
    Oversized,
    HostileUrl,
    HostileDomain,
    Backdated,
    OutOfOrder,
}

impl Class {
    pub const ALL: [Class; 28] = [
        Class::Missing,
        Class::Empty,
        Class::OverLong,
        Class::TooMany,
        Class::Duplicate,
        Class::UnknownEnum,
        Class::BeforeEarliest,
        Class::FarFuture,
        Class::NanosOutOfRange,
        Class::MalformedName,
        Class::ForeignName,
        Class::UnknownName,
        Class::ForgedPageToken,
        Class::ForeignPageToken,
        Class::NegativePageSize,
        Class::ZeroPageSize,
        Class::HugePageSize,
        Class::ReusedRequestId,
        Class::ControlInLine,
        Class::ControlInNote,
        Class::BidiInLine,
        Class::SqlInFilter,
        Class::SqlInText,
        Class::Oversized,
        Class::HostileUrl,
        Class::HostileDomain,
        Class::Backdated,
        Class::OutOfOrder,
    ];

    /// The class as the document names it, and an example of it.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Class::Missing => ("missing", "no `case`, no `name`, no `served_at`"),
            Class::Empty => ("empty", "`\"\"` or only spaces where text is required"),
            Class::OverLong => ("over-long by one", "a summary of 4,001 characters, a `request_id` of 129"),
            Class::TooMany => ("one item too many", "101 reported URLs (at most 100), 1,001 observations"),
            Class::Duplicate => ("an item given twice", "the same link twice in one notice, a field mask path twice"),
            Class::UnknownEnum => ("unknown enum value", "`kind: 99`"),
            Class::BeforeEarliest => ("time before `earliest_business_time`", "1999-12-31T23:59:59Z"),
            Class::FarFuture => ("time in the far future", "3000-01-01T00:00:00Z"),
            Class::NanosOutOfRange => ("timestamp nanos out of range", "`nanos: 1000000000`, `nanos: -1`"),
            Class::MalformedName => ("malformed resource name", "`cases/not-a-uuid`, `cases/`"),
            Class::ForeignName => ("foreign resource name", "`links/{id}` where `cases/{id}` is wanted"),
            Class::UnknownName => {
                ("well-formed name of nothing stored", "`cases/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b`")
            }
            Class::ForgedPageToken => ("forged page token", "`not a token!`"),
            Class::ForeignPageToken => ("page token of another listing", "a ListCaseEvents token given to ListNotices"),
            Class::NegativePageSize => ("negative page size", "`page_size: -1`"),
            Class::ZeroPageSize => ("zero page size (the default page)", "`page_size: 0`"),
            Class::HugePageSize => ("huge page size (capped)", "`page_size: 2147483647`"),
            Class::ReusedRequestId => {
                ("reused `request_id`, another request", "the id of an earlier call, another payload")
            }
            Class::ControlInLine => ("control character in a one-line field", "NUL, CR, ESC in a name or `request_id`"),
            Class::ControlInNote => ("control character in free text", "NUL, ESC, a CR not followed by LF in a note"),
            Class::BidiInLine => ("bidirectional override in a one-line field", "U+202E in a name or `request_id`"),
            Class::SqlInFilter => {
                ("SQL metacharacters in a filter (data, not syntax)", "`'; DROP TABLE cases; --`, `Tes%`, `T_st`")
            }
            Class::SqlInText => {
                ("SQL metacharacters in stored text (kept verbatim)", "`Forum %_'); DROP TABLE platforms; --`")
            }
            Class::Oversized => ("oversized message", "a 5 MiB request (limit 4 MiB)"),
            Class::HostileUrl => {
                ("hostile URL", "`javascript:alert(1)`, `https:///path`, port 0, a 300-character host")
            }
            Class::HostileDomain => {
                ("hostile platform domain", "`127.0.0.1`, `*.example.com`, `exa_mple.com`, `abc.com\\r\\nx`")
            }
            Class::Backdated => ("backdated history", "an observation dated before its link was first seen"),
            Class::OutOfOrder => ("out-of-order history", "an outcome before the referral is acknowledged"),
        }
    }
}

/// What a row must get: a status code, its `ErrorInfo.reason`, and for INVALID_ARGUMENT the one
/// field its `BadRequest` names. `Code::Ok` is an input that is data, not an error.
#[derive(Debug, Clone)]
pub struct Expect {
    pub code: Code,
    pub reason: &'static str,
    pub field: Option<String>,
}

/// INVALID_ARGUMENT naming `field`.
pub fn bad(field: &str) -> Expect {
    Expect { code: Code::InvalidArgument, reason: "INVALID_ARGUMENT", field: Some(field.to_owned()) }
}

/// Refused with `code` and `reason`.
pub fn refused(code: Code, reason: &'static str) -> Expect {
    Expect { code, reason, field: None }
}

/// Accepted: the input is data.
pub fn accepted() -> Expect {
    Expect { code: Code::Ok, reason: "", field: None }
}

/// A bad input: how a valid request is spoilt, and what the spoilt one must get.
pub struct Row<R> {
    pub class: Class,
    pub expect: Expect,
    pub spoil: Box<dyn Fn(&mut R) + Send + Sync>,
}

pub fn row<R>(class: Class, expect: Expect, spoil: impl Fn(&mut R) + Send + Sync + 'static) -> Row<R> {
    Row { class, expect, spoil: Box::new(spoil) }
}

/// The fields named and the RPCs walked of one line of the table.
type Answered<'a> = (BTreeSet<String>, BTreeSet<&'a str>);

/// What one call got.
struct Seen {
    class: Class,
    rpc: &'static str,
    code: Code,
    reason: String,
    field: Option<String>,
}

pub struct Walk {
    stores: Stores,
    seen: Vec<Seen>,
    failures: Vec<String>,
}

impl Walk {
    pub fn new(stores: Stores) -> Self {
        Self { stores, seen: Vec::new(), failures: Vec::new() }
    }

    /// Sends each row's spoilt copy of `base` to `rpc`, then checks that the stores are unchanged.
    pub async fn rpc<R, F, Fut>(&mut self, rpc: &'static str, base: &R, call: F, rows: Vec<Row<R>>)
    where
        R: Clone,
        F: Fn(R) -> Fut,
        Fut: Future<Output = Result<(), Status>>,
    {
        self.send(rpc, base, call, rows).await;
        self.unchanged(rpc).await;
    }

    async fn send<R, F, Fut>(&mut self, rpc: &'static str, base: &R, call: F, rows: Vec<Row<R>>)
    where
        R: Clone,
        F: Fn(R) -> Fut,
        Fut: Future<Output = Result<(), Status>>,
    {
        for row in rows {
            let mut request = base.clone();
            (row.spoil)(&mut request);
            let outcome = call(request).await;
            self.record(row.class, rpc, &row.expect, outcome);
        }
    }

    /// Compares each call's outcome with what its row expects, and keeps it for the table.
    pub fn record(&mut self, class: Class, rpc: &'static str, expect: &Expect, outcome: Result<(), Status>) {
        let (code, reason, fields, message) = match &outcome {
            Ok(()) => (Code::Ok, String::new(), Vec::new(), String::new()),
            Err(status) => {
                let reason = status.get_details_error_info().map(|i| i.reason).unwrap_or_default();
                let fields = status
                    .get_details_bad_request()
                    .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
                    .unwrap_or_default();
                (status.code(), reason, fields, status.message().to_owned())
            }
        };
        let field_ok = match &expect.field {
            Some(field) => fields == [field.clone()],
            None => true,
        };
        if code != expect.code || reason != expect.reason || !field_ok {
            self.failures.push(format!(
                "{rpc} ({class:?}): expected {:?} {} {:?}, got {code:?} {reason:?} fields {fields:?}: {message}",
                expect.code, expect.reason, expect.field
            ));
        }
        self.seen.push(Seen { class, rpc, code, reason, field: fields.into_iter().next() });
    }

    /// Checks that no store changed since the last check, naming `rpc` when one did. The audit
    /// log is not compared: every read of personal data is recorded, by design, also the reads a
    /// refused call made before it was refused (and every List is such a read).
    pub async fn unchanged(&mut self, rpc: &str) {
        if let Some(diff) = self.stores.changed(AUDIT_TABLES).await {
            self.failures.push(format!("the store changed after the bad inputs of {rpc}: {diff}"));
        }
    }

    /// Whether the stores changed since the last check: for the control, a good call that must
    /// show, so that a comparison that sees nothing cannot pass for one that found nothing.
    pub async fn store_changed(&mut self) -> bool {
        self.stores.changed(AUDIT_TABLES).await.is_some()
    }

    /// Takes the stores as they are now as the state nothing may change.
    pub async fn settle(&mut self) {
        self.stores.changed(&[]).await;
    }

    /// The outcomes as the document's table: one line per class and answer.
    pub fn table(&self) -> String {
        // One line per class, code and reason: the fields named and the RPCs that answered so.
        let mut lines: BTreeMap<(Class, String, String), Answered> = BTreeMap::new();
        for s in &self.seen {
            let code = if s.code == Code::Ok { "OK".to_owned() } else { format!("`{}`", code_name(s.code)) };
            let reason = if s.reason.is_empty() { "—".to_owned() } else { format!("`{}`", s.reason) };
            let entry = lines.entry((s.class, code, reason)).or_default();
            if let Some(field) = &s.field {
                entry.0.insert(format!("`{}`", generic(field)));
            }
            entry.1.insert(s.rpc);
        }
        let mut table = String::from(
            "| input class | example | code | `ErrorInfo.reason` | field named in `BadRequest` | RPCs walked |\n\
             |---|---|---|---|---|---|\n",
        );
        for ((class, code, reason), (fields, rpcs)) in lines {
            let (name, example) = class.describe();
            let fields =
                if fields.is_empty() { "—".to_owned() } else { fields.into_iter().collect::<Vec<_>>().join(", ") };
            let rpcs = rpcs.into_iter().collect::<Vec<_>>().join(", ");
            table.push_str(&format!("| {name} | {example} | {code} | {reason} | {fields} | {rpcs} |\n"));
        }
        table
    }

    /// Every class walked, and the document's table the one these outcomes make; then every
    /// mismatch at once.
    pub fn finish(mut self, document: &str) {
        for class in Class::ALL {
            if !self.seen.iter().any(|s| s.class == class) {
                self.failures.push(format!("the class {class:?} was not walked"));
            }
        }
        let table = self.table();
        match between(document, "<!-- walked:begin -->", "<!-- walked:end -->") {
            Some(held) if held.trim() == table.trim() => {}
            _ => self.failures.push(format!(
                "docs/bad-input.md does not hold the table of what was walked; it should read:\n{table}"
            )),
        }
        assert!(
            self.failures.is_empty(),
            "{} of {} bad inputs went wrong:\n{}",
            self.failures.len(),
            self.seen.len(),
            self.failures.join("\n")
        );
    }

    pub fn calls(&self) -> usize {
        self.seen.len()
    }
}

/// A field path with its indexes as `[i]`, so that rows of one list read as one field.
fn generic(field: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[i");
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

fn between<'a>(text: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let start = text.find(begin)? + begin.len();
    let stop = text[start..].find(end)? + start;
    Some(&text[start..stop])
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::NotFound => "NOT_FOUND",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::Unavailable => "UNAVAILABLE",
        Code::Internal => "INTERNAL",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        _ => "OTHER",
    }
}
