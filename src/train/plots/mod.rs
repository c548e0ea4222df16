//! Plots of a run, drawn with `plotters` into memory and saved as PNG: `losses.png` (G and D
//! losses against kimg) and `metrics.png` (SWD per pyramid level, generator variance and
//! adversarial balance against kimg). Both read the CSVs that `run` writes, so they can be
//! redrawn at any time, also for a run that is still going or was resumed.
//!
//! Text is set in DejaVu Sans, embedded in the binary (`assets/fonts`, Bitstream Vera
//! licence) and rasterised with `ab_glyph` (see `text::Canvas`): plotting needs no system fonts.
//!
//! `text` holds that backend, `scale` the axes' ranges and ticks, `panel` the drawing of a
//! chart; `losses` and `metrics` read their CSV and lay out their picture.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use plotters::prelude::*;

use super::error::{FileOp, TrainError};

mod losses;
mod metrics;
mod panel;
mod scale;
#[cfg(test)]
mod tests;
mod text;

pub use losses::plot_losses;
pub use metrics::plot_metrics;

/// Colours: the matplotlib "tab10" palette, which prints and reads well.
pub(super) const G_COLOR: RGBColor = RGBColor(214, 39, 40);
pub(super) const D_COLOR: RGBColor = RGBColor(31, 119, 180);
pub(super) const PALETTE: [RGBColor; 10] = [
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
];
pub(super) const TEXT: RGBColor = RGBColor(30, 30, 30);
pub(super) const MUTED: RGBColor = RGBColor(110, 110, 110);
pub(super) const RES_LINE: RGBColor = RGBColor(120, 120, 120);
pub(super) const FADE_FILL: RGBColor = RGBColor(236, 236, 236);
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);

/// Pixel size of losses.png and of metrics.png.
pub const LOSSES_SIZE: (u32, u32) = (1100, 620);
pub const METRICS_SIZE: (u32, u32) = (1100, 1260);

/// `c` mixed with white: `amount` 0 is `c`, 1 is white.
pub(super) fn lighten(c: RGBColor, amount: f64) -> RGBColor {
    let m = |v: u8| (v as f64 + (255.0 - v as f64) * amount).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// The colour of a pyramid level at `res`x`res`, the same in every run.
pub(super) fn level_color(res: usize) -> RGBColor {
    let k = res.max(1).trailing_zeros() as usize;
    PALETTE[k.saturating_sub(2) % PALETTE.len()]
}

/// The file's text, or None when it does not exist.
pub(super) fn read(path: &Path) -> Result<Option<String>, TrainError> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileOp::Read.on(path)(e)),
    }
}

pub(super) fn run_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
