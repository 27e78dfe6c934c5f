//! The first panel: cases received within each step, as bars stacked by kind.

use plotters::{coord::Shift, prelude::*};

use super::{
    Drawn, FAMILY,
    frame::{Swatch, TimeAxis, legend, split},
    series::{CaseCounts, Series},
};

/// Each kind's name in the legend, its count and its colour, in stacking order.
fn by_kind(counts: &CaseCounts) -> [(&'static str, i64, RGBColor); 4] {
    [
        ("Complaints", counts.complaints, RGBColor(31, 119, 180)),
        ("Patrol discoveries", counts.patrol_discoveries, RGBColor(255, 127, 14)),
        ("Agency referrals", counts.agency_referrals, RGBColor(44, 160, 44)),
        ("Enquiries", counts.enquiries, RGBColor(148, 103, 189)),
    ]
}

pub(super) fn panel<DB: DrawingBackend>(
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
        for (_, n, colour) in by_kind(counts) {
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
        by_kind(&totals).iter().map(|(name, n, c)| (format!("{name} ({n})"), Swatch::Bar(*c))).collect();
    legend(&key, &entries)
}
