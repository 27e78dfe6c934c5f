//! The third panel: the removal rate of each platform asked to remove links, and of all of them.

use plotters::{coord::Shift, prelude::*};

use super::{
    Drawn, FAMILY,
    frame::{Swatch, TimeAxis, legend, split},
    series::{Removals, Series},
};

/// Platforms drawn each with a line of its own; the others share one.
const LARGEST: usize = 4;
/// Links a platform must have been asked to remove before its rate is drawn.
const MIN_REQUESTED: i64 = 10;

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

pub(super) fn panel<DB: DrawingBackend>(
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
    for (i, (name, figures)) in lines(series).into_iter().enumerate() {
        let colour = if i < LARGEST { PALETTE[i % PALETTE.len()] } else { RGBColor(127, 127, 127) };
        // A line starts once enough links were asked for its rate to mean something: with two
        // links asked, one removal swings it by 50 points.
        let points: Vec<(f64, f64)> = series
            .snapshots
            .iter()
            .zip(&figures)
            .filter(|(_, r)| r.requested >= MIN_REQUESTED)
            .filter_map(|(s, r)| Some((axis.x(s.at), r.rate_pct()?)))
            .collect();
        chart.draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
        let end = figures.last().copied().unwrap_or_default();
        entries.push((
            format!("{name} ({:.0}% of {})", end.rate_pct().unwrap_or(0.0), end.requested),
            Swatch::Line(colour),
        ));
    }
    let overall: Vec<(f64, f64)> = series
        .snapshots
        .iter()
        .filter(|s| s.removals.requested >= MIN_REQUESTED)
        .filter_map(|s| Some((axis.x(s.at), s.removals.rate_pct()?)))
        .collect();
    chart.draw_series(DashedLineSeries::new(overall, 8, 5, BLACK.stroke_width(2)))?;
    entries.push((
        format!("All platforms ({:.0}% of {})", last.removals.rate_pct().unwrap_or(0.0), last.removals.requested),
        Swatch::Dashed(BLACK),
    ));
    entries.push((format!("Lines start at {MIN_REQUESTED} links requested"), Swatch::None));
    legend(&key, &entries)
}

/// The platforms asked the most by the end, each with its figures at every moment, and the rest
/// together as "Other platforms".
pub(super) fn lines(series: &Series) -> Vec<(String, Vec<Removals>)> {
    let platforms = series.platforms();
    let figures = |key: &str| -> Vec<Removals> {
        series.snapshots.iter().map(|s| s.by_platform.get(key).copied().unwrap_or_default()).collect()
    };
    let mut out: Vec<(String, Vec<Removals>)> =
        platforms.iter().take(LARGEST).map(|(key, name)| ((*name).to_owned(), figures(key))).collect();
    let rest = &platforms[LARGEST.min(platforms.len())..];
    if !rest.is_empty() {
        let others = series
            .snapshots
            .iter()
            .map(|s| {
                rest.iter().filter_map(|(key, _)| s.by_platform.get(*key)).fold(Removals::default(), |a, r| Removals {
                    requested: a.requested + r.requested,
                    removed: a.removed + r.removed,
                })
            })
            .collect();
        out.push((format!("{} other platforms", rest.len()), others));
    }
    out
}
