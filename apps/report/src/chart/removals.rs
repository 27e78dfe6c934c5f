//! The second panel: links whose removal had been requested, and links removed, as lines over time.

use plotters::{coord::Shift, prelude::*};

use super::{
    Drawn, FAMILY,
    frame::{Swatch, TimeAxis, legend, split},
    series::{Removals, Series},
};

pub(super) fn panel<DB: DrawingBackend>(
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
