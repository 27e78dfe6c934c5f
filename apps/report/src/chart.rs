//! Charts of the figures over time, for people who would rather look at a removal-rate curve than
//! read it: the statistics of intake and link-tracking asked as at successive moments, drawn as one
//! image of three panels (cases per step by kind, links requested vs removed, the removal rate per
//! platform), as SVG or PNG. The font is bundled, so drawing needs no system font or image library.

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use doxwatch_kit::timestamp::to_proto;
use doxwatch_proto::{
    intake::{self as intake_pb, intake_service_client::IntakeServiceClient},
    links::{self as links_pb, links_service_client::LinksServiceClient},
};
use futures::{StreamExt, TryStreamExt, stream};
use plotters::{
    coord::Shift,
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};
use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

use crate::{
    Endpoints,
    report::{ReportError, failed, open},
};

/// DejaVu Sans, unmodified; its licence is `fonts/LICENSE-DejaVu.txt` beside it.
const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// The family every text of a chart is set in; plotters' own defaults ask for it too.
const FAMILY: &str = "sans-serif";
/// The whole image: three panels stacked, each with its legend on the right.
const SIZE: (u32, u32) = (1200, 1500);
const LEGEND_WIDTH: u32 = 280;
/// Moments one chart may ask about; each costs two statistics calls.
const MAX_MOMENTS: usize = 1000;
/// Statistics calls in flight at once.
const CONCURRENCY: usize = 4;

/// Cases received up to a moment, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaseCounts {
    pub complaints: i64,
    pub patrol_discoveries: i64,
    pub agency_referrals: i64,
    pub enquiries: i64,
}

impl CaseCounts {
    pub fn total(&self) -> i64 {
        self.complaints + self.patrol_discoveries + self.agency_referrals + self.enquiries
    }

    /// The cases received since `earlier`. A case deleted in between would make a count fall;
    /// a bar cannot go below zero, so it shows none.
    pub fn since(&self, earlier: &CaseCounts) -> CaseCounts {
        CaseCounts {
            complaints: (self.complaints - earlier.complaints).max(0),
            patrol_discoveries: (self.patrol_discoveries - earlier.patrol_discoveries).max(0),
            agency_referrals: (self.agency_referrals - earlier.agency_referrals).max(0),
            enquiries: (self.enquiries - earlier.enquiries).max(0),
        }
    }

    fn by_kind(&self) -> [(&'static str, i64, RGBColor); 4] {
        [
            ("Complaints", self.complaints, RGBColor(31, 119, 180)),
            ("Patrol discoveries", self.patrol_discoveries, RGBColor(255, 127, 14)),
            ("Agency referrals", self.agency_referrals, RGBColor(44, 160, 44)),
            ("Enquiries", self.enquiries, RGBColor(148, 103, 189)),
        ]
    }
}

/// Links whose removal had been requested, and those of them removed, as at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removals {
    pub requested: i64,
    pub removed: i64,
}

impl Removals {
    /// The share removed, in percent; none before any removal is requested.
    pub fn rate_pct(&self) -> Option<f64> {
        (self.requested > 0).then(|| 100.0 * self.removed as f64 / self.requested as f64)
    }
}

/// The figures as at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub at: OffsetDateTime,
    pub cases: CaseCounts,
    pub removals: Removals,
    /// By platform key (e.g. `telegram`), every platform with a link involved.
    pub by_platform: BTreeMap<String, Removals>,
}

/// The figures as at successive moments, `step` apart from the first to the last (which may be
/// nearer to the one before it).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub step: Duration,
    pub snapshots: Vec<Snapshot>,
    /// Platform key to the name people know it by.
    pub platform_names: BTreeMap<String, String>,
}

impl Series {
    /// Platforms asked to remove at least one link within the span, most links requested by the
    /// end first, as (key, name).
    pub fn platforms(&self) -> Vec<(&str, &str)> {
        let last = self.snapshots.last();
        let requested = |key: &str| last.and_then(|s| s.by_platform.get(key)).map_or(0, |r| r.requested);
        let mut keys: Vec<&str> = self
            .platform_names
            .keys()
            .map(String::as_str)
            .filter(|key| self.snapshots.iter().any(|s| s.by_platform.get(*key).is_some_and(|r| r.requested > 0)))
            .collect();
        keys.sort_by_key(|key| (std::cmp::Reverse(requested(key)), *key));
        keys.into_iter().map(|key| (key, self.platform_names.get(key).map_or(key, String::as_str))).collect()
    }

    /// What one bar of the first panel counts: "week", "day", "3 days".
    fn step_name(&self) -> String {
        match (self.step.whole_days(), self.step.whole_seconds() % 86_400 == 0) {
            (7, true) => "week".to_owned(),
            (1, true) => "day".to_owned(),
            (n, true) => format!("{n} days"),
            _ => format!("{} hours", self.step.whole_hours()),
        }
    }
}

/// The moments a series asks about: `from`, every `step` after it, and `to`.
pub fn moments(from: OffsetDateTime, to: OffsetDateTime, step: Duration) -> Result<Vec<OffsetDateTime>, ReportError> {
    if to <= from {
        return Err(ReportError::Span(format!(
            "the span must end after it starts ({} to {})",
            rfc3339(from),
            rfc3339(to)
        )));
    }
    if step < Duration::hours(1) {
        return Err(ReportError::Span(format!("a step of {step} is too short; the shortest is an hour")));
    }
    let count = ((to - from).whole_seconds() / step.whole_seconds()) as usize + 2;
    if count > MAX_MOMENTS {
        return Err(ReportError::Span(format!(
            "{count} moments from {} to {}; at most {MAX_MOMENTS}: take longer steps",
            rfc3339(from),
            rfc3339(to)
        )));
    }
    let mut moments: Vec<OffsetDateTime> = (0..).map(|i| from + step * i).take_while(|t| *t < to).collect();
    moments.push(to);
    Ok(moments)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Asks intake and link-tracking for their figures as at every moment from `from` to `to`.
pub async fn series(
    endpoints: &Endpoints,
    from: OffsetDateTime,
    to: OffsetDateTime,
    step: Duration,
) -> Result<Series, ReportError> {
    let moments = moments(from, to, step)?;
    let intake = IntakeServiceClient::new(open("intake", &endpoints.intake).await?);
    let links = LinksServiceClient::new(open("links", &endpoints.links).await?);
    let answers: Vec<(Snapshot, links_pb::LinkStatistics)> = stream::iter(moments)
        .map(|at| {
            let (mut intake, mut links) = (intake.clone(), links.clone());
            async move {
                let cases = intake
                    .get_intake_statistics(intake_pb::GetIntakeStatisticsRequest {
                        as_of: Some(to_proto(at)),
                        recorded_before: None,
                    })
                    .await
                    .map_err(failed("intake", &endpoints.intake, "GetIntakeStatistics"))?
                    .into_inner();
                let removals = links
                    .get_link_statistics(links_pb::GetLinkStatisticsRequest {
                        as_of: Some(to_proto(at)),
                        recorded_before: None,
                    })
                    .await
                    .map_err(failed("links", &endpoints.links, "GetLinkStatistics"))?
                    .into_inner();
                Ok::<_, ReportError>((snapshot(at, &cases, &removals), removals))
            }
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let platform_names = answers
        .iter()
        .flat_map(|(_, l)| l.by_platform.iter().map(|p| (p.platform.clone(), p.display_name.clone())))
        .collect();
    Ok(Series { step, snapshots: answers.into_iter().map(|(s, _)| s).collect(), platform_names })
}

fn snapshot(at: OffsetDateTime, intake: &intake_pb::IntakeStatistics, links: &links_pb::LinkStatistics) -> Snapshot {
    use intake_pb::CaseKind as K;
    let kind = |k: K| intake.by_kind.iter().find(|c| c.kind == k as i32).map_or(0, |c| c.cases);
    let removals = |f: Option<&links_pb::RemovalFigures>| {
        f.map_or_else(Removals::default, |f| Removals { requested: f.links_requested, removed: f.links_removed })
    };
    Snapshot {
        at,
        cases: CaseCounts {
            complaints: kind(K::Complaint),
            patrol_discoveries: kind(K::PatrolDiscovery),
            agency_referrals: kind(K::AgencyReferral),
            enquiries: kind(K::Enquiry),
        },
        removals: removals(links.total.as_ref()),
        by_platform: links.by_platform.iter().map(|p| (p.platform.clone(), removals(p.figures.as_ref()))).collect(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("{}: a chart is drawn as SVG or PNG; name the file *.svg or *.png", .0.display())]
    Format(PathBuf),
    #[error("a chart needs the figures as at two moments at least; the series has {0}")]
    TooFewMoments(usize),
    #[error("the bundled font could not be read")]
    Font,
    #[error("cannot draw {}: {cause}", .path.display())]
    Drawing { path: PathBuf, cause: String },
}

/// The titles of the three panels, in order.
pub fn panel_titles(series: &Series) -> [String; 3] {
    [
        format!("Cases received per {}, by kind", series.step_name()),
        "Links whose removal was requested, and links removed".to_owned(),
        "Removal rate per platform".to_owned(),
    ]
}

/// The kinds of image a chart is drawn as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Svg,
    Png,
}

/// The kind of image a path asks for, by its extension (`.svg` or `.png`, in any case).
pub fn image_format(path: &Path) -> Result<ImageFormat, ChartError> {
    match path.extension().and_then(OsStr::to_str).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => Ok(ImageFormat::Svg),
        Some("png") => Ok(ImageFormat::Png),
        _ => Err(ChartError::Format(path.to_owned())),
    }
}

/// Draws the series as one image of three panels: SVG for a `.svg` path, PNG for a `.png` one.
pub fn draw(series: &Series, path: &Path) -> Result<(), ChartError> {
    let format = image_format(path)?;
    if series.snapshots.len() < 2 {
        return Err(ChartError::TooFewMoments(series.snapshots.len()));
    }
    register_font()?;
    let failed = |e: &dyn std::error::Error| ChartError::Drawing { path: path.to_owned(), cause: e.to_string() };
    match format {
        ImageFormat::Svg => {
            let root = SVGBackend::new(path, SIZE).into_drawing_area();
            draw_on(&root, series).map_err(|e| failed(&e))?;
            root.present().map_err(|e| failed(&e))
        }
        ImageFormat::Png => {
            let root = BitMapBackend::new(path, SIZE).into_drawing_area();
            draw_on(&root, series).map_err(|e| failed(&e))?;
            root.present().map_err(|e| failed(&e))
        }
    }
}

/// plotters looks fonts up by family in a process-wide table; registering once is enough.
fn register_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered = REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if *registered { Ok(()) } else { Err(ChartError::Font) }
}

type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw_on<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, series: &Series) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let (first, last) = (series.snapshots[0].at, series.snapshots[series.snapshots.len() - 1].at);
    let title = format!("Doxxing cases and link removals, {} to {}", date(first), date(last));
    let body = root.titled(&title, (FAMILY, 28))?;
    let panels = body.split_evenly((3, 1));
    let titles = panel_titles(series);
    let axis = TimeAxis { start: first, days: days_between(first, last) };
    cases_panel(&panels[0], series, &titles[0], &axis)?;
    removals_panel(&panels[1], series, &titles[1], &axis)?;
    rates_panel(&panels[2], series, &titles[2], &axis)
}

/// Time runs along x in days since the first moment, labelled with dates in its offset.
struct TimeAxis {
    start: OffsetDateTime,
    days: f64,
}

impl TimeAxis {
    fn x(&self, at: OffsetDateTime) -> f64 {
        days_between(self.start, at)
    }

    fn label(&self, days: &f64) -> String {
        date(self.start + Duration::seconds_f64(days * 86_400.0))
    }
}

fn days_between(from: OffsetDateTime, to: OffsetDateTime) -> f64 {
    (to - from).as_seconds_f64() / 86_400.0
}

fn date(at: OffsetDateTime) -> String {
    at.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

/// How a series shows in a legend.
enum Swatch {
    Bar(RGBColor),
    Line(RGBColor),
    Dashed(RGBColor),
}

/// The panel's chart on the left, and its legend on the right, out of the way of the data.
fn split<DB: DrawingBackend>(panel: &DrawingArea<DB, Shift>) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let width = panel.dim_in_pixel().0;
    panel.split_horizontally(width.saturating_sub(LEGEND_WIDTH))
}

fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[(String, Swatch)]) -> Drawn<DB> {
    let text = TextStyle::from((FAMILY, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (label, swatch)) in entries.iter().enumerate() {
        let y = 60 + 24 * i as i32;
        match swatch {
            Swatch::Bar(c) => area.draw(&Rectangle::new([(8, y - 7), (30, y + 7)], c.filled()))?,
            Swatch::Line(c) => area.draw(&PathElement::new(vec![(6, y), (32, y)], c.stroke_width(3)))?,
            Swatch::Dashed(c) => {
                for x in [6, 16, 26] {
                    area.draw(&PathElement::new(vec![(x, y), (x + 6, y)], c.stroke_width(3)))?;
                }
            }
        }
        area.draw(&Text::new(label.clone(), (40, y), text.clone()))?;
    }
    Ok(())
}

fn cases_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    series: &Series,
    title: &str,
    axis: &TimeAxis,
) -> Drawn<DB> {
    let (plot, key) = split(panel);
    let bars: Vec<(f64, f64, CaseCounts)> = series
        .snapshots
        .windows(2)
        .map(|w| (axis.x(w[0].at), axis.x(w[1].at), w[1].cases.since(&w[0].cases)))
        .collect();
    let highest = bars.iter().map(|(_, _, c)| c.total()).max().unwrap_or(0);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..axis.days, 0..(highest + highest / 10).max(1))?;
    chart
        .configure_mesh()
        .x_desc("Date received")
        .y_desc("Cases")
        .x_labels(8)
        .x_label_formatter(&|d| axis.label(d))
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(TRANSPARENT)
        .draw()?;
    for (start, end, counts) in &bars {
        // A gap between bars, so that steps read as steps.
        let inset = (end - start) * 0.08;
        let mut base = 0;
        for (_, n, colour) in counts.by_kind() {
            if n > 0 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(start + inset, base), (end - inset, base + n)],
                    colour.filled(),
                )))?;
            }
            base += n;
        }
    }
    let totals = bars.iter().fold(CaseCounts::default(), |sum, (_, _, c)| CaseCounts {
        complaints: sum.complaints + c.complaints,
        patrol_discoveries: sum.patrol_discoveries + c.patrol_discoveries,
        agency_referrals: sum.agency_referrals + c.agency_referrals,
        enquiries: sum.enquiries + c.enquiries,
    });
    let entries: Vec<(String, Swatch)> =
        totals.by_kind().iter().map(|(name, n, c)| (format!("{name} ({n})"), Swatch::Bar(*c))).collect();
    legend(&key, &entries)
}

fn removals_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    series: &Series,
    title: &str,
    axis: &TimeAxis,
) -> Drawn<DB> {
    let (plot, key) = split(panel);
    let highest = series.snapshots.iter().map(|s| s.removals.requested.max(s.removals.removed)).max().unwrap_or(0);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..axis.days, 0..(highest + highest / 10).max(1))?;
    chart
        .configure_mesh()
        .x_desc("Date")
        .y_desc("Links")
        .x_labels(8)
        .x_label_formatter(&|d| axis.label(d))
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(TRANSPARENT)
        .draw()?;
    let last = series.snapshots[series.snapshots.len() - 1].removals;
    let requested: fn(&Removals) -> i64 = |r| r.requested;
    let removed: fn(&Removals) -> i64 = |r| r.removed;
    let lines = [
        (format!("Removal requested ({})", last.requested), RGBColor(31, 119, 180), requested),
        (format!("Removed ({})", last.removed), RGBColor(44, 160, 44), removed),
    ];
    let mut entries = Vec::new();
    for (label, colour, figure) in lines {
        let points: Vec<(f64, i64)> = series.snapshots.iter().map(|s| (axis.x(s.at), figure(&s.removals))).collect();
        chart.draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
        entries.push((label, Swatch::Line(colour)));
    }
    legend(&key, &entries)
}

/// Colours for platforms, distinct enough side by side; more platforms than colours reuse them.
const PALETTE: [RGBColor; 16] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
];

fn rates_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    series: &Series,
    title: &str,
    axis: &TimeAxis,
) -> Drawn<DB> {
    let (plot, key) = split(panel);
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..axis.days, 0.0..100.0)?;
    chart
        .configure_mesh()
        .x_desc("Date")
        .y_desc("Links removed of those requested (%)")
        .x_labels(8)
        .x_label_formatter(&|d| axis.label(d))
        .y_label_formatter(&|v| format!("{v:.0}%"))
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .light_line_style(TRANSPARENT)
        .draw()?;
    let last = &series.snapshots[series.snapshots.len() - 1];
    let mut entries = Vec::new();
    for (i, (key, name)) in series.platforms().into_iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        // A platform's line starts when its first removal is requested.
        let points: Vec<(f64, f64)> =
            series.snapshots.iter().filter_map(|s| Some((axis.x(s.at), s.by_platform.get(key)?.rate_pct()?))).collect();
        chart.draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
        let end = last.by_platform.get(key).copied().unwrap_or_default();
        entries.push((
            format!("{name} ({:.0}% of {})", end.rate_pct().unwrap_or(0.0), end.requested),
            Swatch::Line(colour),
        ));
    }
    let overall: Vec<(f64, f64)> =
        series.snapshots.iter().filter_map(|s| Some((axis.x(s.at), s.removals.rate_pct()?))).collect();
    chart.draw_series(DashedLineSeries::new(overall, 8, 5, BLACK.stroke_width(2)))?;
    entries.push((
        format!("All platforms ({:.0}% of {})", last.removals.rate_pct().unwrap_or(0.0), last.removals.requested),
        Swatch::Dashed(BLACK),
    ));
    legend(&key, &entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

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
                by_platform
                    .insert("youtube".to_owned(), Removals { requested: (i - 4).max(0), removed: (i - 5).max(0) });
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
}
