//! Business time on the wire: conversions between `google.protobuf.Timestamp` and
//! `OffsetDateTime`, truncated to the microsecond that the stores keep, and the rule that a
//! business time may be in the past but not in the future.

use std::time::Duration;

use time::OffsetDateTime;

/// How far into the future a client's clock may run ahead of the server's.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// A protobuf timestamp as a UTC time truncated to microseconds.
pub fn from_proto(ts: &prost_types::Timestamp) -> Result<OffsetDateTime, String> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err("nanos must be between 0 and 999,999,999".to_owned());
    }
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos / 1000 * 1000);
    let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| "is out of range".to_owned())?;
    if t.year() < 1900 || t.year() > 9999 {
        return Err("must be between the years 1900 and 9999".to_owned());
    }
    Ok(t)
}

pub fn to_proto(t: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.unix_timestamp(), nanos: t.nanosecond() as i32 }
}

/// `t` as RFC 3339 text, for messages.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Now, truncated to microseconds.
pub fn now() -> OffsetDateTime {
    truncate(OffsetDateTime::now_utc())
}

pub fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}

/// The earliest business time accepted unless configured otherwise: 2000-01-01T00:00:00Z.
pub const DEFAULT_EARLIEST_BUSINESS_TIME: OffsetDateTime = time::macros::datetime!(2000-01-01 0:00 UTC);

static EARLIEST_BUSINESS_TIME: std::sync::atomic::AtomicI64 =
    std::sync::atomic::AtomicI64::new(DEFAULT_EARLIEST_BUSINESS_TIME.unix_timestamp());

/// Sets the earliest business time this process accepts (the `earliest_business_time` key; every
/// service of one process has the same).
pub fn set_earliest_business_time(t: OffsetDateTime) {
    EARLIEST_BUSINESS_TIME.store(t.unix_timestamp(), std::sync::atomic::Ordering::Relaxed);
}

/// The earliest business time this process accepts.
pub fn earliest_business_time() -> OffsetDateTime {
    let seconds = EARLIEST_BUSINESS_TIME.load(std::sync::atomic::Ordering::Relaxed);
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(DEFAULT_EARLIEST_BUSINESS_TIME)
}

/// A business time: given or now, never in the future beyond [`CLOCK_SKEW`], and never before
/// [`earliest_business_time`] (a typo such as 1019 for 2019, or a zero timestamp, is refused
/// rather than rewriting history).
pub fn business_time(given: Option<&prost_types::Timestamp>, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    match given {
        None => Ok(now),
        Some(ts) => {
            let t = from_proto(ts)?;
            if t > now + CLOCK_SKEW {
                return Err("must not be in the future".to_owned());
            }
            let earliest = earliest_business_time();
            if t < earliest {
                return Err(format!("must not be before {} (earliest_business_time)", rfc3339(earliest)));
            }
            Ok(t)
        }
    }
}
