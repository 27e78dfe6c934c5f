//! How the CLI speaks: errors with their causes and field violations, tables, and JSON.

use std::fmt;

use tonic_types::StatusExt;

/// What a command can fail with.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Config(String),
    /// A service answered with an error.
    Status(tonic::Status),
    /// A service could not be reached.
    Connect { url: String, cause: String },
    Other(String),
}

impl CliError {
    /// An error with its whole cause chain.
    pub fn chain(e: &dyn std::error::Error) -> Self {
        CliError::Other(doxwatch_kit::error::CauseChain(e).to_string())
    }
}

impl From<tonic::Status> for CliError {
    fn from(s: tonic::Status) -> Self {
        CliError::Status(s)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Config(m) | CliError::Other(m) => f.write_str(m),
            CliError::Connect { url, cause } => write!(f, "cannot reach {url}: {cause}"),
            CliError::Status(status) => {
                write!(f, "{:?}: {}", status.code(), status.message())?;
                if status.code() == tonic::Code::Unauthenticated {
                    write!(f, " (name the acting officer with --officer or DOXWATCH_OFFICER)")?;
                }
                if let Some(bad) = status.get_details_bad_request() {
                    for v in bad.field_violations {
                        write!(f, "\n  {}: {}", v.field, v.description)?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

pub fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// An enum's name without its type prefix: `CASE_KIND_COMPLAINT` -> `COMPLAINT`.
pub fn enum_label(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix).unwrap_or(full).to_owned()
}

/// A protobuf timestamp as RFC 3339, or empty.
pub fn time_text(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|ts| time::OffsetDateTime::from_unix_timestamp(ts.seconds).ok().map(|t| (t, ts.nanos)))
        .and_then(|(t, nanos)| t.replace_nanosecond(nanos as u32).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses an RFC 3339 time given on the command line.
pub fn parse_time(s: &str) -> Result<prost_types::Timestamp, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time (e.g. 2019-11-08T12:00:00+08:00): {e}"))?;
    Ok(doxwatch_kit::timestamp::to_proto(t))
}
