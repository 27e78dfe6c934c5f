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

/// "3.5 days", "1 day", "6 hours".
fn span_name(span: time::Duration) -> String {
    let days = span.as_seconds_f64() / 86_400.0;
    match days {
        d if d < 1.0 => format!("{} hours", span.whole_hours()),
        d if (d - 1.0).abs() < 0.05 => "1 day".to_owned(),
        d if (d - d.round()).abs() < 0.05 => format!("{} days", d.round()),
        d => format!("{d:.1} days"),
    }
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
    // A last step shorter than the others counts fewer days, and would read as a fall in cases:
    // half a step or more is drawn pale, less is left out; the legend says which.
    let partial = series.partial_last_step();
    let left_out = partial.is_some_and(|span| span * 2 < series.step);
    for (i, (start, end, counts)) in bars.iter().enumerate() {
        let last = i + 1 == bars.len();
        if last && left_out {
            continue;
        }
        // A gap between bars, so that steps read as steps.
        let inset = (end - start) * 0.08;
        let pale = partial.is_some() && last;
        let mut base = 0;
        for (_, n, colour) in by_kind(counts) {
            if n > 0 {
                let style = if pale { colour.mix(0.35).filled() } else { colour.filled() };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(start + inset, base), (end - inset, base + n)],
                    style,
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
    let mut entries: Vec<(String, Swatch)> =
        by_kind(&totals).iter().map(|(name, n, c)| (format!("{name} ({n})"), Swatch::Bar(*c))).collect();
    match partial {
        Some(span) if left_out => {
            entries.push((format!("Not drawn: the last {},", span_name(span)), Swatch::None));
            entries.push((format!("a partial {} (counted above)", series.step_name()), Swatch::None));
        }
        Some(span) => entries.push((
            format!("Pale: the last {}, partial ({})", series.step_name(), span_name(span)),
            Swatch::PaleBar(RGBColor(31, 119, 180)),
        )),
        None => {}
    }
    legend(&key, &entries)
}
