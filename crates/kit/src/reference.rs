//! Reference numbers people can say on the phone: `DOX-2019-004122`, a prefix, the year and a
//! number counted from 1 each year. A service gives one to each record it creates, taken in the
//! record's own write transaction from a counter row in its store, so replicas sharing a store
//! never hand out the same number twice (the counter's row lock on PostgreSQL, the one writer on
//! SQLite; a unique index on the record's columns holds it besides).
//!
//! The year is the year of the record's business time in the office's zone (`time_zone`), so a
//! complaint received at 00:30 on 1 January in Hong Kong is numbered in the new year. A record
//! keeps its reference as written when it was given: one quoted on the phone never changes, even
//! if the prefix is configured differently later.

use time::OffsetDateTime;

use crate::{
    config::{Layers, ServiceConfig},
    db::Tx,
    on_tx,
};

/// The widest number shown with leading zeros; larger numbers are shown in full.
const WIDTH: usize = 6;

/// The configuration keys of references (besides `time_zone`).
pub const KEYS: &[&str] = &["reference_prefix"];

/// How one service writes and reads its references.
#[derive(Debug, Clone)]
pub struct ReferenceScheme {
    prefix: String,
    zone: jiff::tz::TimeZone,
}

/// Checks a configured prefix: 1 to 8 ASCII capital letters or digits, starting with a letter.
pub fn check_prefix(prefix: &str) -> Result<String, String> {
    let prefix = prefix.trim();
    let ok = (1..=8).contains(&prefix.len())
        && prefix.starts_with(|c: char| c.is_ascii_uppercase())
        && prefix.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(prefix.to_owned())
    } else {
        Err(format!("expected 1 to 8 capital letters or digits, starting with a letter, such as DOX; found {prefix:?}"))
    }
}

/// Reads an IANA time zone name (`Asia/Hong_Kong`).
pub fn parse_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(name.trim())
        .map_err(|_| format!("expected an IANA time zone name such as Asia/Hong_Kong, found {name:?}"))
}

/// The office's time zone (`time_zone`); the machine's zone when none is configured.
pub fn zone_from_layers(layers: &mut Layers) -> jiff::tz::TimeZone {
    layers.get_with("time_zone", jiff::tz::TimeZone::system(), parse_zone)
}

impl ReferenceScheme {
    pub fn new(prefix: &str, zone: jiff::tz::TimeZone) -> Result<Self, String> {
        Ok(Self { prefix: check_prefix(prefix)?, zone })
    }

    /// A service's scheme: its `reference_prefix` (checked as the configuration was read) or else
    /// its own `default_prefix`, in the office's `time_zone`.
    pub fn configured(config: &ServiceConfig, default_prefix: &str) -> Self {
        let prefix = config.reference_prefix.as_deref().unwrap_or(default_prefix);
        Self { prefix: prefix.to_owned(), zone: config.time_zone.clone() }
    }

    /// The office's zone, in which dates are written.
    pub fn zone(&self) -> &jiff::tz::TimeZone {
        &self.zone
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The year a record with this business time is numbered in.
    pub fn year_of(&self, at: OffsetDateTime) -> i32 {
        jiff::Timestamp::from_second(at.unix_timestamp())
            .map(|t| i32::from(t.to_zoned(self.zone.clone()).year()))
            .unwrap_or_else(|_| at.year())
    }

    /// The reference as people write it: `DOX-2019-004122`.
    pub fn render(&self, year: i32, number: i64) -> String {
        format!("{}-{year}-{number:0WIDTH$}", self.prefix)
    }
}

/// A reference as the store keeps it, from one typed in any case and with or without the leading
/// zeros (`dox-2019-4122` is `DOX-2019-004122`), whatever its prefix; `None` for text that is not
/// a reference.
pub fn normalize(text: &str) -> Option<String> {
    let mut parts = text.trim().split('-');
    let (prefix, year, number) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || year.len() != 4 || !digits(year) || !digits(number) {
        return None;
    }
    let prefix = check_prefix(&prefix.to_ascii_uppercase()).ok()?;
    let number: i64 = number.parse().ok()?;
    (number > 0).then(|| format!("{prefix}-{year}-{number:0WIDTH$}"))
}

/// Takes the next number of `series` in `year`, in the caller's transaction.
///
/// The service's migrations create the counter table (and count the records they numbered):
/// `reference_counters (series TEXT, year INTEGER, last_number BIGINT, PRIMARY KEY (series, year))`.
pub async fn next_number(tx: &mut Tx, series: &str, year: i32) -> Result<i64, sqlx::Error> {
    // After its first number of a series and year, a transaction counts on in memory: the row
    // is its own (locked on PostgreSQL, SQLite has one writer) until it commits.
    if let Some(held) = tx.held.counters.iter_mut().find(|c| c.series == series && c.year == year) {
        held.last = held.last.checked_add(1).ok_or_else(|| exhausted(series, year))?;
        return Ok(held.last);
    }
    let number: i64 = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO reference_counters (series, year, last_number) VALUES ($1, $2, $3) \
             ON CONFLICT (series, year) DO UPDATE SET last_number = reference_counters.last_number + 1 \
             RETURNING last_number",
        )
        .bind(series)
        .bind(year)
        .bind(1i64)
        .fetch_one(&mut *c)
        .await?
    });
    tx.held.counters.push(HeldCounter { series: series.to_owned(), year, written: number, last: number });
    Ok(number)
}

/// The last number of `series` in `year` as the caller's transaction sees it: the last it took
/// itself, or the last committed; `None` before the first.
pub async fn last_number(tx: &mut Tx, series: &str, year: i32) -> Result<Option<i64>, sqlx::Error> {
    if let Some(held) = tx.held.counters.iter().find(|c| c.series == series && c.year == year) {
        return Ok(Some(held.last));
    }
    Ok(on_tx!(tx, c => {
        sqlx::query_scalar("SELECT last_number FROM reference_counters WHERE series = $1 AND year = $2")
            .bind(series)
            .bind(year)
            .fetch_optional(c)
            .await?
    }))
}

fn exhausted(series: &str, year: i32) -> sqlx::Error {
    sqlx::Error::Protocol(format!("the {series} numbers of {year} are exhausted"))
}

/// A counter a transaction has numbered from: what it wrote, and the last number it gave.
pub(crate) struct HeldCounter {
    series: String,
    year: i32,
    written: i64,
    last: i64,
}

/// Writes the last number of each counter in `held` that counted on in memory.
pub(crate) async fn write_held(tx: &mut Tx, held: Vec<HeldCounter>) -> Result<(), sqlx::Error> {
    for counter in held.iter().filter(|c| c.last > c.written) {
        on_tx!(tx, c => {
            sqlx::query("UPDATE reference_counters SET last_number = $1 WHERE series = $2 AND year = $3")
                .bind(counter.last)
                .bind(&counter.series)
                .bind(counter.year)
                .execute(c)
                .await?;
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme(zone: &str) -> ReferenceScheme {
        ReferenceScheme::new("DOX", jiff::tz::TimeZone::get(zone).expect("zone")).expect("scheme")
    }

    #[test]
    fn renders_and_reads_back() {
        let s = scheme("Asia/Hong_Kong");
        assert_eq!(s.render(2019, 4122), "DOX-2019-004122");
        assert_eq!(normalize("DOX-2019-004122").as_deref(), Some("DOX-2019-004122"));
        assert_eq!(normalize(" dox-2019-4122 ").as_deref(), Some("DOX-2019-004122"));
        assert_eq!(normalize("NTC-2019-7").as_deref(), Some("NTC-2019-000007"));
        assert_eq!(s.render(2019, 1_234_567), "DOX-2019-1234567");
        assert_eq!(normalize(&s.render(2019, 1_234_567)).as_deref(), Some("DOX-2019-1234567"));
        for bad in ["", "DOX", "DOX-2019", "DOX-19-1", "DOX-2019-0", "DOX-2019-1-2", "DOX-2019-x1", "D X-2019-1"] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
        assert_eq!(normalize("DOX-2019-9999999999999"), None, "too many digits");
        assert_eq!(normalize("0190a6f0-0000-7000-8000-000000000000"), None, "a UUID is not a reference");
    }

    #[test]
    fn the_year_is_the_offices() {
        // 31 December 2019 16:30 UTC is 1 January 2020 00:30 in Hong Kong.
        let at = time::macros::datetime!(2019-12-31 16:30 UTC);
        assert_eq!(scheme("Asia/Hong_Kong").year_of(at), 2020);
        assert_eq!(scheme("UTC").year_of(at), 2019);
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("DOX").is_ok());
        assert!(check_prefix("PCPD2").is_ok());
        for bad in ["", "dox", "1DOX", "DO-X", "TOOLONGPREFIX"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
