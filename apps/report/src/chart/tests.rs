//! The charts drawn from a synthetic series: both image formats, the refusals, the moments, the
//! order of platforms and the bars.

use std::{collections::BTreeMap, path::Path};

use time::{Duration, macros::datetime};

use super::*;

/// Nine weeks of a small operation on three platforms, one of them written to late.
fn synthetic() -> Series {
    let from = datetime!(2019-06-14 00:00 +08:00);
    let to = datetime!(2019-08-16 12:00 +08:00);
    let step = Duration::days(7);
    let snapshots = moments(from, to, step)
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(i, at)| {
            let i = i as i64;
            let mut by_platform = BTreeMap::new();
            by_platform.insert("telegram".to_owned(), Removals { requested: 4 * i, removed: 3 * i - i.min(3) });
            by_platform.insert("lihkg".to_owned(), Removals { requested: 2 * i, removed: i });
            by_platform.insert("youtube".to_owned(), Removals { requested: (i - 4).max(0), removed: (i - 5).max(0) });
            by_platform.insert("pastebin".to_owned(), Removals::default());
            let removals = by_platform.values().fold(Removals::default(), |a, r| Removals {
                requested: a.requested + r.requested,
                removed: a.removed + r.removed,
            });
            Snapshot {
                at,
                cases: CaseCounts {
                    complaints: 9 * i,
                    patrol_discoveries: 4 * i + i % 2,
                    agency_referrals: i / 3,
                    enquiries: i,
                },
                removals,
                by_platform,
            }
        })
        .collect();
    let platform_names =
        [("telegram", "Telegram"), ("lihkg", "LIHKG"), ("youtube", "YouTube"), ("pastebin", "Pastebin")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    Series { step, snapshots, platform_names }
}

/// An SVG document whose root is <svg> and that names every panel.
fn assert_svg(path: &Path, titles: &[String]) {
    let text = std::fs::read_to_string(path).unwrap();
    let body = text.trim_start();
    let body = if body.starts_with("<?xml") { body[body.find("?>").unwrap() + 2..].trim_start() } else { body };
    assert!(body.starts_with("<svg"), "{}", &body[..body.len().min(80)]);
    assert!(body.trim_end().ends_with("</svg>"));
    for title in titles {
        assert!(text.contains(title.as_str()), "{title} is not in the SVG");
    }
}

/// A PNG of the chart's size, from its signature and header chunk.
fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), SIZE);
    assert_eq!(&bytes[bytes.len() - 8..bytes.len() - 4], b"IEND");
}

#[test]
fn a_series_is_drawn_as_svg_and_as_png() {
    let series = synthetic();
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("chart.svg");
    let png = dir.path().join("chart.PNG");
    draw(&series, &svg).unwrap();
    draw(&series, &png).unwrap();
    let titles = panel_titles(&series);
    assert_eq!(titles[0], "Cases received per week, by kind");
    assert_svg(&svg, &titles);
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    for legend in [
        "Complaints",
        "Patrol discoveries",
        "Agency referrals",
        "Enquiries",
        "Telegram",
        "LIHKG",
        "YouTube",
        "All platforms",
        "2019-07-",
    ] {
        assert!(svg_text.contains(legend), "{legend} is not in the SVG");
    }
    assert!(!svg_text.contains("Pastebin"), "a platform asked for nothing has no line");
    assert_png(&png);
}

#[test]
fn other_formats_are_refused_and_nothing_is_written() {
    let series = synthetic();
    let dir = tempfile::tempdir().unwrap();
    for name in ["chart.jpg", "chart", "chart.svg.txt"] {
        let path = dir.path().join(name);
        let error = draw(&series, &path).unwrap_err();
        assert!(matches!(error, ChartError::Format(_)), "{error}");
        assert!(error.to_string().contains("*.svg or *.png"), "{error}");
        assert!(!path.exists());
    }
}

#[test]
fn one_moment_is_not_a_chart() {
    let mut series = synthetic();
    series.snapshots.truncate(1);
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(draw(&series, &dir.path().join("c.svg")), Err(ChartError::TooFewMoments(1))));
}

#[test]
fn moments_run_a_step_apart_and_end_at_the_end() {
    let from = datetime!(2019-06-14 00:00 +08:00);
    let at = moments(from, from + Duration::days(15), Duration::days(7)).unwrap();
    assert_eq!(at, vec![from, from + Duration::days(7), from + Duration::days(14), from + Duration::days(15)]);
    let at = moments(from, from + Duration::days(14), Duration::days(7)).unwrap();
    assert_eq!(at.len(), 3);
    assert!(moments(from, from, Duration::days(7)).is_err());
    assert!(moments(from, from + Duration::days(1), Duration::minutes(5)).is_err());
    assert!(moments(from, from + Duration::days(5000), Duration::days(1)).is_err());
}

#[test]
fn platforms_are_listed_by_links_requested_by_the_end() {
    let series = synthetic();
    assert_eq!(series.platforms(), vec![("telegram", "Telegram"), ("lihkg", "LIHKG"), ("youtube", "YouTube")]);
}

#[test]
fn bars_count_the_cases_received_within_each_step() {
    let earlier = CaseCounts { complaints: 5, patrol_discoveries: 2, agency_referrals: 1, enquiries: 3 };
    let later = CaseCounts { complaints: 9, patrol_discoveries: 2, agency_referrals: 0, enquiries: 4 };
    assert_eq!(
        later.since(&earlier),
        CaseCounts { complaints: 4, patrol_discoveries: 0, agency_referrals: 0, enquiries: 1 }
    );
}
