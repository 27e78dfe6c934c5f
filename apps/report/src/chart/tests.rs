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
    Series { step, snapshots, platform_names, zone_abbreviation: "HKT".to_owned() }
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

#[test]
fn a_short_last_week_is_left_out_and_a_longer_one_drawn_pale_and_both_are_said() {
    // The synthetic series ends 12 hours into its last week: not drawn, and the legend says so.
    let series = synthetic();
    assert_eq!(series.partial_last_step(), Some(Duration::hours(12)));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.svg");
    draw(&series, &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("Not drawn: the last 12 hours,") && svg.contains("a partial week (counted above)"));
    // Four days into the last week: drawn, pale, and said.
    let mut longer = synthetic();
    let last = longer.snapshots.len() - 1;
    longer.snapshots[last].at = longer.snapshots[last - 1].at + Duration::days(4);
    assert_eq!(longer.partial_last_step(), Some(Duration::days(4)));
    draw(&longer, &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.contains("Pale: the last week, partial (4 days)") && !svg.contains("Not drawn"));
    // Whole weeks: nothing to say.
    let mut whole = synthetic();
    whole.snapshots.pop();
    assert_eq!(whole.partial_last_step(), None);
}

#[test]
fn every_chart_says_as_at_when_and_from_where() {
    let series = synthetic();
    assert_eq!(
        footnote(&series),
        "As at noon, 16 August 2019 (HKT). Source: the regulator's case system (doxwatch), intake and link-tracking statistics."
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.svg");
    draw(&series, &path).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("As at noon, 16 August 2019 (HKT). Source:"));
    assert!(svg(&series).unwrap().contains("As at noon, 16 August 2019 (HKT). Source:"));
}

#[test]
fn the_largest_platforms_have_lines_and_the_others_share_one() {
    let mut series = synthetic();
    for (i, name) in ["Alpha", "Beta", "Gamma"].iter().enumerate() {
        let key = name.to_lowercase();
        series.platform_names.insert(key.clone(), (*name).to_owned());
        for (j, s) in series.snapshots.iter_mut().enumerate() {
            let j = j as i64;
            s.by_platform.insert(key.clone(), Removals { requested: j * (i as i64 + 1), removed: j });
        }
    }
    let lines = rates::lines(&series);
    let names: Vec<&str> = lines.iter().map(|(n, _)| n.as_str()).collect();
    // By links requested at the end: Telegram 40, Gamma 30, Beta and LIHKG 20 (by name), then
    // Alpha 10 and YouTube 6 together.
    assert_eq!(names, vec!["Telegram", "Gamma", "Beta", "LIHKG", "2 other platforms"]);
    let others = lines[4].1.last().unwrap();
    let last = series.snapshots.last().unwrap();
    assert_eq!(others.requested, last.by_platform["alpha"].requested + last.by_platform["youtube"].requested);
}

#[test]
fn png_text_keeps_each_glyph_s_left_side_bearing() {
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    register_font().unwrap();
    // The first inked column of "l" set at x = 10: the bearing puts it to the right of the pen.
    let first_inked = |bearing: bool| -> usize {
        let (w, h) = (80u32, 60u32);
        let mut buffer = vec![255u8; (w * h * 3) as usize];
        {
            let bitmap = BitMapBackend::with_buffer(&mut buffer, (w, h));
            let style = TextStyle::from((FAMILY, 48).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
            let text = Text::new("l", (10, 5), style);
            if bearing {
                let root = glyphs::Glyphs::new(bitmap, FONT).unwrap().into_drawing_area();
                root.draw(&text).unwrap();
                root.present().unwrap();
            } else {
                let root = bitmap.into_drawing_area();
                root.draw(&text).unwrap();
                root.present().unwrap();
            }
        }
        (0..w as usize).find(|x| (0..h as usize).any(|y| buffer[(y * w as usize + x) * 3] < 128)).expect("some ink")
    };
    let font = ab_glyph::FontRef::try_from_slice(FONT).unwrap();
    let scaled = ab_glyph::Font::as_scaled(&font, 48.0);
    let bearing = ab_glyph::ScaleFont::h_side_bearing(&scaled, ab_glyph::Font::glyph_id(&font, 'l'));
    assert!(bearing >= 3.0, "DejaVu Sans sets 'l' a few pixels right of the pen: {bearing}");
    // Antialiasing may leave the outline's first column too faint to count: a pixel either way.
    assert!(first_inked(false) <= 11, "plotters' own rasterizer drops the bearing: {}", first_inked(false));
    let ours = first_inked(true) as f32;
    assert!((ours - (10.0 + bearing)).abs() <= 1.5, "{ours} against {}", 10.0 + bearing);
}
