//! What every panel shares: time along x in days since the first moment, labelled with dates, and
//! the legend beside the plot.

use plotters::{
    coord::Shift,
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};
use time::{Duration, OffsetDateTime, macros::format_description};

use super::{Drawn, FAMILY, LEGEND_WIDTH};

/// Time runs along x in days since the first moment, labelled with dates in its offset.
pub(super) struct TimeAxis {
    pub(super) start: OffsetDateTime,
    pub(super) days: f64,
}

impl TimeAxis {
    pub(super) fn x(&self, at: OffsetDateTime) -> f64 {
        days_between(self.start, at)
    }

    pub(super) fn label(&self, days: &f64) -> String {
        date(self.start + Duration::seconds_f64(days * 86_400.0))
    }
}

pub(super) fn days_between(from: OffsetDateTime, to: OffsetDateTime) -> f64 {
    (to - from).as_seconds_f64() / 86_400.0
}

pub(super) fn date(at: OffsetDateTime) -> String {
    at.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

/// How a series shows in a legend.
pub(super) enum Swatch {
    Bar(RGBColor),
    /// A bar drawn pale: a partial step.
    PaleBar(RGBColor),
    Line(RGBColor),
    Dashed(RGBColor),
    /// A note, without a swatch.
    None,
}

/// The panel's chart on the left, and its legend on the right, out of the way of the data.
pub(super) fn split<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let width = panel.dim_in_pixel().0;
    panel.split_horizontally(width.saturating_sub(LEGEND_WIDTH))
}

pub(super) fn legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[(String, Swatch)]) -> Drawn<DB> {
    let text = TextStyle::from((FAMILY, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (label, swatch)) in entries.iter().enumerate() {
        let y = 60 + 24 * i as i32;
        match swatch {
            Swatch::Bar(c) => area.draw(&Rectangle::new([(8, y - 7), (30, y + 7)], c.filled()))?,
            Swatch::PaleBar(c) => area.draw(&Rectangle::new([(8, y - 7), (30, y + 7)], c.mix(0.35).filled()))?,
            Swatch::Line(c) => area.draw(&PathElement::new(vec![(6, y), (32, y)], c.stroke_width(3)))?,
            Swatch::None => {}
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
