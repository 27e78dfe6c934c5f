//! Charts of the figures over time, for people who would rather look at a removal-rate curve than
//! read it: the statistics of intake and link-tracking asked as at successive moments, drawn as one
//! image of three panels (cases per step by kind, links requested vs removed, the removal rate per
//! platform), as SVG or PNG. The font is bundled, so drawing needs no system font or image library.
//!
//! `series` asks for the figures; `frame` holds what every panel shares (time axis, legend); each
//! panel is drawn in a module of its own.

mod cases;
mod frame;
mod glyphs;
mod rates;
mod removals;
mod series;
#[cfg(test)]
mod tests;

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use plotters::{coord::Shift, prelude::*};

use self::frame::{TimeAxis, date, days_between};
pub use self::series::{CaseCounts, Removals, Series, Snapshot, moments, series};

/// DejaVu Sans, unmodified; its licence is `fonts/LICENSE-DejaVu.txt` beside it.
const FONT: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
/// The family every text of a chart is set in; plotters' own defaults ask for it too.
const FAMILY: &str = "sans-serif";
/// The whole image: three panels stacked, each with its legend on the right.
const SIZE: (u32, u32) = (1200, 1500);
const LEGEND_WIDTH: u32 = 280;
/// The line under the panels that says as at when, and from where.
const FOOTER: u32 = 34;

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
            let backend = glyphs::Glyphs::new(BitMapBackend::new(path, SIZE), FONT).ok_or(ChartError::Font)?;
            let root = backend.into_drawing_area();
            draw_on(&root, series).map_err(|e| failed(&e))?;
            root.present().map_err(|e| failed(&e))
        }
    }
}

/// A day as the statement says it: "8 November 2019".
fn long(at: time::OffsetDateTime) -> String {
    crate::moment::long_date(&date(at))
}

/// What every chart says under it: the moment its figures are as at, and where they come from.
pub fn footnote(series: &Series) -> String {
    let last = series.snapshots[series.snapshots.len() - 1].at;
    let at = last.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    format!(
        "As at {}. Source: the regulator's case system (doxwatch), intake and link-tracking statistics.",
        crate::moment::phrase(&at, &series.zone_abbreviation)
    )
}

/// The series drawn as an SVG document in a string, to set inline in a page.
pub fn svg(series: &Series) -> Result<String, ChartError> {
    if series.snapshots.len() < 2 {
        return Err(ChartError::TooFewMoments(series.snapshots.len()));
    }
    register_font()?;
    let mut out = String::new();
    {
        let failed = |e: &dyn std::error::Error| ChartError::Drawing { path: PathBuf::from("-"), cause: e.to_string() };
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw_on(&root, series).map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(out)
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
    let title = format!("Doxxing cases and link removals, {} to {}", long(first), long(last));
    let body = root.titled(&title, (FAMILY, 28))?;
    let (body, footer) = body.split_vertically(body.dim_in_pixel().1.saturating_sub(FOOTER));
    let note = TextStyle::from((FAMILY, 15).into_font()).color(&RGBColor(90, 90, 90));
    footer.draw(&Text::new(footnote(series), (16, 8), note))?;
    let panels = body.split_evenly((3, 1));
    let titles = panel_titles(series);
    let axis = TimeAxis { start: first, days: days_between(first, last) };
    cases::panel(&panels[0], series, &titles[0], &axis)?;
    removals::panel(&panels[1], series, &titles[1], &axis)?;
    rates::panel(&panels[2], series, &titles[2], &axis)
}
