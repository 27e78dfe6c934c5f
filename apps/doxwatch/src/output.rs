//! How the CLI speaks: errors with their causes and field violations, tables, JSON, and the enum
//! values, times and durations officers write and read.

use std::fmt;

use doxwatch_proto::{intake, liaison, links, referral};

/// What a command can fail with.
#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Config(String),
    /// A service answered with an error.
    Status(tonic::Status),
    /// A service could not be reached.
    Connect {
        url: String,
        cause: String,
    },
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
                write!(f, "{}", doxwatch_kit::error::StatusText(status))?;
                if status.code() == tonic::Code::Unauthenticated {
                    write!(f, " (doxwatch whoami shows which profile and token this command used)")?;
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

/// Prints one resource as FIELD/VALUE rows.
pub fn print_fields(fields: Vec<(&str, String)>) {
    let rows: Vec<Vec<String>> = fields.into_iter().map(|(field, value)| vec![field.to_owned(), value]).collect();
    print_table(&["FIELD", "VALUE"], &rows);
}

/// Tells the officer that a listing stopped at the first page.
pub fn print_more_hint(next_page_token: &str, what: &str) {
    if !next_page_token.is_empty() {
        println!("(more {what}: --page-token {next_page_token} for the next page, or --all)");
    }
}

/// A protobuf enum as officers write and read it: `PLATFORM_KIND_SOCIAL_NETWORK` is
/// `social-network` on the command line and `SOCIAL_NETWORK` in output. Every enum's zero value is
/// `<PREFIX>UNSPECIFIED` (the contracts' rule), which is where the prefix is read from.
pub trait Vocabulary: Sized + Copy + Into<i32> + TryFrom<i32> + Send + Sync + 'static {
    fn from_str_name(name: &str) -> Option<Self>;
    fn as_str_name(self) -> &'static str;

    fn prefix() -> &'static str {
        Self::try_from(0).ok().and_then(|zero| zero.as_str_name().strip_suffix("UNSPECIFIED")).unwrap_or("")
    }
}

/// Forwards to the methods prost generates on each enum (they are inherent, not a trait).
macro_rules! vocabulary {
    ($($ty:ty),* $(,)?) => {$(
        impl Vocabulary for $ty {
            fn from_str_name(name: &str) -> Option<Self> {
                <$ty>::from_str_name(name)
            }
            fn as_str_name(self) -> &'static str {
                <$ty>::as_str_name(&self)
            }
        }
    )*};
}

vocabulary!(
    intake::CaseKind,
    intake::IntakeChannel,
    intake::CaseStatus,
    intake::ClosureReason,
    intake::DataSubjectCategory,
    intake::HongKongNexus,
    intake::DisclosedDataType,
    intake::Harm,
    intake::ComplainantRelationship,
    intake::CaseEventKind,
    intake::VictimGroup,
    links::PlatformKind,
    links::ChannelStatus,
    links::LinkStatus,
    links::RegistrationOutcome,
    links::ObservationSource,
    links::Vantage,
    liaison::Language,
    liaison::NoticeKind,
    liaison::NoticeAction,
    liaison::NoticeStatus,
    liaison::ServiceMethod,
    liaison::ReplyOutcome,
    liaison::NoticeEventKind,
    liaison::RenderFormat,
    referral::IntentOrRecklessness,
    referral::Discloser,
    referral::LegalBasis,
    referral::Decision,
    referral::ReferralStatus,
    referral::FeedEntryKind,
);

/// A count with its noun, singular or plural as the number needs: "1 URL", "2 URLs", "0 cases".
/// `noun` is the singular; the plural adds an "s", or `noun` may give both as "entry/entries".
pub fn counted(n: impl TryInto<i128>, noun: &str) -> String {
    let n = n.try_into().unwrap_or(i128::MAX);
    let (one, many) = match noun.split_once('/') {
        Some((one, many)) => (one.to_owned(), many.to_owned()),
        None => (noun.to_owned(), format!("{noun}s")),
    };
    let number = group_digits(n);
    if n == 1 { format!("{number} {one}") } else { format!("{number} {many}") }
}

/// A number with its thousands grouped: 4,122.
fn group_digits(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if n < 0 { format!("-{grouped}") } else { grouped }
}

/// The enum value an officer wrote (`social-network`, also `SOCIAL_NETWORK`); a clap value parser.
pub fn word<E: Vocabulary>(text: &str) -> Result<E, String> {
    let name = format!("{}{}", E::prefix(), text.trim().to_ascii_uppercase().replace('-', "_"));
    E::from_str_name(&name)
        .filter(|value| (*value).into() != 0)
        .ok_or_else(|| format!("{text:?} is not one of {}", words::<E>().join(", ")))
}

/// Every value an officer may write, in the contract's order.
pub fn words<E: Vocabulary>() -> Vec<String> {
    (1..=255)
        .filter_map(|code| E::try_from(code).ok())
        .map(|value| value.as_str_name()[E::prefix().len()..].to_ascii_lowercase().replace('_', "-"))
        .collect()
}

/// An enum value as output shows it: `SOCIAL_NETWORK`; a value this client does not know, as its
/// number.
pub fn label<E: Vocabulary>(code: i32) -> String {
    match E::try_from(code) {
        Ok(value) => value.as_str_name()[E::prefix().len()..].to_owned(),
        Err(_) => code.to_string(),
    }
}

/// The variable naming the zone times are shown and read in.
pub const TIME_ZONE_VARIABLE: &str = "DOXWATCH_TIME_ZONE";

/// The zone `DOXWATCH_TIME_ZONE` names (an IANA name such as `Asia/Hong_Kong`), or else the
/// machine's own; an unknown name is an error.
pub fn configured_zone() -> Result<jiff::tz::TimeZone, String> {
    match std::env::var(TIME_ZONE_VARIABLE) {
        Ok(name) if !name.trim().is_empty() => jiff::tz::TimeZone::get(name.trim()).map_err(|e| {
            format!("{TIME_ZONE_VARIABLE}={name} is not a time zone (an IANA name such as Asia/Hong_Kong): {e}")
        }),
        _ => Ok(jiff::tz::TimeZone::system()),
    }
}

/// The zone every time is shown in, and a time typed without an offset is read in. `main` checks
/// the variable before anything else, so the fallback to the machine's zone is never taken on a
/// bad name.
pub fn display_zone() -> &'static jiff::tz::TimeZone {
    static ZONE: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();
    ZONE.get_or_init(|| configured_zone().unwrap_or_else(|_| jiff::tz::TimeZone::system()))
}

/// A protobuf timestamp as RFC 3339 in the display zone, with its offset
/// (`2019-11-08T12:00:00+08:00`), or empty.
pub fn time_text(ts: Option<&prost_types::Timestamp>) -> String {
    time_text_in(ts, display_zone())
}

fn time_text_in(ts: Option<&prost_types::Timestamp>, zone: &jiff::tz::TimeZone) -> String {
    ts.and_then(|ts| jiff::Timestamp::new(ts.seconds, ts.nanos).ok())
        .map(|t| t.display_with_offset(zone.to_offset(t)).to_string())
        .unwrap_or_default()
}

/// Parses a time given on the command line; a clap value parser. RFC 3339 with its offset
/// (`2019-11-08T12:00:00+08:00`), or a date and time without one (`2019-11-08 12:00`,
/// `2019-11-08T12:00:00`, or a date alone for its midnight), read in the display zone.
pub fn parse_time(s: &str) -> Result<prost_types::Timestamp, String> {
    parse_time_in(s, display_zone())
}

fn parse_time_in(s: &str, zone: &jiff::tz::TimeZone) -> Result<prost_types::Timestamp, String> {
    let text = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Ok(doxwatch_kit::timestamp::to_proto(t));
    }
    let civil = text
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| text.parse::<jiff::civil::Date>().map(|d| d.to_datetime(jiff::civil::Time::midnight())))
        .map_err(|_| {
            format!(
                "{s:?} is not a time: write 2019-11-08T12:00:00+08:00, or 2019-11-08 12:00 for that time in {}",
                zone_name(zone)
            )
        })?;
    let zoned = civil.to_zoned(zone.clone()).map_err(|e| format!("{s:?}: {e}"))?;
    let t = zoned.timestamp();
    Ok(prost_types::Timestamp { seconds: t.as_second(), nanos: t.subsec_nanosecond() })
}

/// A zone as people name it: its IANA name, or its offset now.
pub fn zone_name(zone: &jiff::tz::TimeZone) -> String {
    zone.iana_name().map(str::to_owned).unwrap_or_else(|| zone.to_offset(jiff::Timestamp::now()).to_string())
}

/// A span of time for people: `3d 4h`, `2h 5m`, `40s`.
pub fn duration_text(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m {}s", s % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// A share as a percentage with one decimal: `0.4567` -> `45.7%`.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_the_noun_their_number_needs() {
        assert_eq!(counted(1, "URL"), "1 URL");
        assert_eq!(counted(0, "URL"), "0 URLs");
        assert_eq!(counted(4122_i64, "case"), "4,122 cases");
        assert_eq!(counted(1_000_000_u32, "entry/entries"), "1,000,000 entries");
        assert_eq!(counted(1, "entry/entries"), "1 entry");
        assert_eq!(counted(-1234_i64, "day"), "-1,234 days");
    }

    #[test]
    fn officers_write_enum_values_in_lower_case_with_dashes_and_read_them_without_prefix() {
        assert_eq!(word::<links::PlatformKind>("social-network"), Ok(links::PlatformKind::SocialNetwork));
        assert_eq!(word::<links::PlatformKind>(" SOCIAL_NETWORK "), Ok(links::PlatformKind::SocialNetwork));
        assert_eq!(word::<intake::CaseKind>("patrol-discovery"), Ok(intake::CaseKind::PatrolDiscovery));
        assert_eq!(
            word::<links::Vantage>("unspecified"),
            Err("\"unspecified\" is not one of inside-hk, outside-hk, unknown".to_owned())
        );
        assert_eq!(label::<links::LinkStatus>(links::LinkStatus::ChannelRemoved as i32), "CHANNEL_REMOVED");
        assert_eq!(label::<links::LinkStatus>(99), "99");
    }

    #[test]
    fn spans_of_time_read_as_people_say_them() {
        assert_eq!(duration_text(42.4), "42s");
        assert_eq!(duration_text(125.0), "2m 5s");
        assert_eq!(duration_text(7_500.0), "2h 5m");
        assert_eq!(duration_text(266_400.0), "3d 2h");
        assert_eq!(percent(0.4567), "45.7%");
    }

    #[test]
    fn times_are_shown_and_read_in_the_display_zone() {
        let hong_kong = jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("a bundled zone");
        let noon = prost_types::Timestamp { seconds: 1_573_185_600, nanos: 0 }; // 2019-11-08T04:00:00Z
        assert_eq!(time_text_in(Some(&noon), &hong_kong), "2019-11-08T12:00:00+08:00");
        assert_eq!(time_text_in(Some(&noon), &jiff::tz::TimeZone::UTC), "2019-11-08T04:00:00+00:00");
        for typed in ["2019-11-08 12:00", "2019-11-08T12:00:00", "2019-11-08T12:00:00+08:00", "2019-11-08T04:00:00Z"] {
            assert_eq!(parse_time_in(typed, &hong_kong), Ok(noon), "{typed}");
        }
        let midnight = parse_time_in("2019-11-08", &hong_kong).expect("a date alone");
        assert_eq!(midnight.seconds, 1_573_185_600 - 12 * 3600);
        let refused = parse_time_in("noon on Friday", &hong_kong).unwrap_err();
        assert!(refused.contains("Asia/Hong_Kong"), "{refused}");
    }
}
