//! Moments and dates as a published statement phrases them ("noon, 8 November 2019 (HKT)",
//! "3 pm", "7 November 2019"), taken in the zone the report is read in: a date in the report's
//! sentences is the reader's date, which in Hong Kong is often not the UTC one.

use jiff::tz::TimeZone;
use time::{Date, OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339, macros::format_description};

/// The zone a report is stated in: named as people name it (an IANA name, or its offset).
pub fn zone_name(zone: &TimeZone, at: OffsetDateTime) -> String {
    zone.iana_name().map(str::to_owned).unwrap_or_else(|| offset_in(zone, at).to_string())
}

/// The zone's abbreviation at `at` ("HKT", "UTC", "BST"), or its offset where it has none.
pub fn abbreviation(zone: &TimeZone, at: OffsetDateTime) -> String {
    match jiff::Timestamp::from_second(at.unix_timestamp()) {
        Ok(t) => zone.to_offset_info(t).abbreviation().to_owned(),
        Err(_) => offset_in(zone, at).to_string(),
    }
}

/// The zone's offset at `at`.
fn offset_in(zone: &TimeZone, at: OffsetDateTime) -> UtcOffset {
    jiff::Timestamp::from_second(at.unix_timestamp())
        .ok()
        .and_then(|t| UtcOffset::from_whole_seconds(zone.to_offset(t).seconds()).ok())
        .unwrap_or(UtcOffset::UTC)
}

/// `at` at the zone's offset at that moment.
pub fn in_zone(at: OffsetDateTime, zone: &TimeZone) -> OffsetDateTime {
    at.to_offset(offset_in(zone, at))
}

/// The date of `at` in the zone, as `YYYY-MM-DD`.
pub fn date_in(at: OffsetDateTime, zone: &TimeZone) -> String {
    in_zone(at, zone).format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

/// `2019-06-14` -> "14 June 2019"; anything else as it is.
pub fn long_date(date: &str) -> String {
    Date::parse(date, format_description!("[year]-[month]-[day]"))
        .map(|d| format!("{} {} {}", d.day(), d.month(), d.year()))
        .unwrap_or_else(|_| date.to_owned())
}

/// The time of day as statements say it: "noon", "midnight", "3 pm", "9:30 am".
pub fn time_of_day(hour: u8, minute: u8) -> String {
    match (hour, minute) {
        (12, 0) => "noon".to_owned(),
        (0, 0) => "midnight".to_owned(),
        (h, m) => {
            let (h12, half) = match h {
                0 => (12, "am"),
                1..=11 => (h, "am"),
                12 => (12, "pm"),
                _ => (h - 12, "pm"),
            };
            if m == 0 { format!("{h12} {half}") } else { format!("{h12}:{m:02} {half}") }
        }
    }
}

/// An RFC 3339 moment, stated at its own offset with the zone's abbreviation:
/// ("2019-11-08T12:00:00+08:00", "HKT") -> "noon, 8 November 2019 (HKT)".
pub fn phrase(rfc3339: &str, abbreviation: &str) -> String {
    match OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => {
            let zone = if abbreviation.is_empty() { String::new() } else { format!(" ({abbreviation})") };
            format!("{}, {} {} {}{zone}", time_of_day(t.hour(), t.minute()), t.day(), t.month(), t.year())
        }
        Err(_) => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn hong_kong() -> TimeZone {
        TimeZone::get("Asia/Hong_Kong").expect("a bundled zone")
    }

    #[test]
    fn times_of_day_are_said_as_statements_say_them() {
        assert_eq!(time_of_day(12, 0), "noon");
        assert_eq!(time_of_day(0, 0), "midnight");
        assert_eq!(time_of_day(15, 0), "3 pm");
        assert_eq!(time_of_day(4, 0), "4 am");
        assert_eq!(time_of_day(9, 30), "9:30 am");
        assert_eq!(time_of_day(0, 5), "12:05 am");
        assert_eq!(time_of_day(12, 45), "12:45 pm");
    }

    #[test]
    fn a_moment_is_stated_in_the_zone_with_its_abbreviation() {
        let noon = datetime!(2019-11-08 12:00 +08:00);
        for (zone, expected) in
            [(hong_kong(), "noon, 8 November 2019 (HKT)"), (TimeZone::UTC, "4 am, 8 November 2019 (UTC)")]
        {
            let at = in_zone(noon, &zone);
            let rfc = at.format(&Rfc3339).unwrap();
            assert_eq!(phrase(&rfc, &abbreviation(&zone, noon)), expected);
        }
        assert_eq!(zone_name(&hong_kong(), noon), "Asia/Hong_Kong");
        // A summer moment in a zone with daylight saving takes that day's abbreviation.
        let london = TimeZone::get("Europe/London").unwrap();
        assert_eq!(abbreviation(&london, datetime!(2019-07-01 12:00 UTC)), "BST");
        assert_eq!(abbreviation(&london, noon), "GMT");
    }

    #[test]
    fn a_date_is_the_zone_s_date() {
        // Early on 7 November in Hong Kong is still 6 November in UTC.
        let early = datetime!(2019-11-07 03:00 +08:00);
        assert_eq!(date_in(early, &hong_kong()), "2019-11-07");
        assert_eq!(date_in(early, &TimeZone::UTC), "2019-11-06");
        assert_eq!(long_date("2019-06-14"), "14 June 2019");
    }
}
