//! `losses.png`: the G and D losses of every step against kimg.

use std::path::Path;

use plotters::prelude::*;

use super::panel::{draw_panel, header, render, Key, Line, Panel};
use super::scale::{ema, res_changes, x_range, y_range};
use super::{lighten, read, run_name, D_COLOR, FADE_FILL, G_COLOR, LOSSES_SIZE, MUTED, RES_LINE};
use crate::train::error::TrainError;

pub(super) struct LossRow {
    kimg: f64,
    res: usize,
    fade: bool,
    d: f64,
    g: f64,
}

/// One row of losses.csv (`step,images,kimg,res,phase,alpha,d_loss,g_loss,...`), or None for
/// the header and anything malformed. Losses that do not parse read as NaN.
pub(super) fn loss_row(line: &str) -> Option<LossRow> {
    let f: Vec<&str> = line.trim().split(',').collect();
    if f.len() < 8 {
        return None;
    }
    let kimg: f64 = f[2].parse().ok().filter(|k: &f64| k.abs() < 1e12)?;
    let res: usize = f[3].parse().ok()?;
    Some(LossRow {
        kimg,
        res,
        fade: f[4] == "fade",
        d: f[6].parse().unwrap_or(f64::NAN),
        g: f[7].parse().unwrap_or(f64::NAN),
    })
}

/// `dir/losses.png` from `dir/losses.csv`: the G and D losses per step (light) and their
/// moving averages (strong) against kimg, fade-ins shaded, resolution changes dashed and
/// labelled. Non-finite losses (skipped steps) are left out; the y axis spans the 1st to
/// 99th percentile, so early WGAN-GP spikes are clipped (the count is written under the
/// axis). A missing losses.csv, or one without a usable row, draws nothing and is Ok.
pub fn plot_losses(dir: &Path) -> Result<(), TrainError> {
    let Some(text) = read(&dir.join("losses.csv"))? else {
        return Ok(());
    };
    let mut rows: Vec<LossRow> = text.lines().filter_map(loss_row).collect();
    rows.sort_by(|a, b| a.kimg.total_cmp(&b.kimg));
    let finite = |v: f64| v.is_finite();
    if !rows.iter().any(|r| finite(r.d) || finite(r.g)) {
        return Ok(());
    }
    let d: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| finite(r.d))
        .map(|r| (r.kimg, r.d))
        .collect();
    let g: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| finite(r.g))
        .map(|r| (r.kimg, r.g))
        .collect();
    let (y0, y1, outside) = y_range(d.iter().chain(&g).map(|p| p.1), true)
        .ok_or(TrainError::Picture("plot: no finite loss"))?;
    // A time constant of ~1/60 of the run: smooth enough to read, short enough to follow a
    // resolution change (where it restarts). It averages the values as drawn, clamped to the
    // y range: an off-scale spike would otherwise drag the smooth line for a long while.
    let window = (rows.len() as f64 / 60.0).clamp(1.0, 500.0);
    let smooth = |v: fn(&LossRow) -> f64| {
        let pts: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.kimg,
                    if v(r).is_finite() {
                        v(r).clamp(y0, y1)
                    } else {
                        f64::NAN
                    },
                    r.res,
                )
            })
            .collect();
        ema(&pts, window)
    };
    let (d_ema, g_ema) = (smooth(|r| r.d), smooth(|r| r.g));
    let x = x_range(rows.iter().map(|r| r.kimg));
    let marks = res_changes(rows.iter().map(|r| (r.kimg, r.res)));
    let mut fades = Vec::new();
    let mut open: Option<(f64, f64)> = None;
    for r in &rows {
        open = match (open, r.fade) {
            (Some((a, _)), true) => Some((a, r.kimg)),
            (None, true) => Some((r.kimg, r.kimg)),
            (Some(band), false) => {
                fades.push(band);
                None
            }
            (None, false) => None,
        };
    }
    fades.extend(open);
    let skipped = rows.iter().filter(|r| !finite(r.d) || !finite(r.g)).count();
    let mut note = Vec::new();
    if outside > 0 {
        note.push(format!(
            "y axis: 1st–99th percentile, {outside} values off-scale"
        ));
    }
    if skipped > 0 {
        note.push(format!("{skipped} non-finite steps left out"));
    }
    let first_res = rows.first().map(|r| r.res).unwrap_or(0);
    let mut refs = Vec::new();
    if y0 < 0.0 && y1 > 0.0 {
        refs.push((0.0, RGBColor(170, 170, 170), String::new()));
    }
    let panel = Panel {
        x,
        x_desc: Some("kimg"),
        y_desc: "loss",
        y: (y0, y1),
        log_y: false,
        fades: &fades,
        res_marks: &marks,
        first_res: Some(first_res),
        refs,
        lines: vec![
            Line {
                points: d,
                color: lighten(D_COLOR, 0.65),
                width: 1,
                markers: false,
            },
            Line {
                points: g,
                color: lighten(G_COLOR, 0.65),
                width: 1,
                markers: false,
            },
            Line {
                points: d_ema,
                color: D_COLOR,
                width: 2,
                markers: false,
            },
            Line {
                points: g_ema,
                color: G_COLOR,
                width: 2,
                markers: false,
            },
        ],
        note: (!note.is_empty()).then(|| note.join("; ")),
    };
    let name = run_name(dir);
    let title = if name.is_empty() {
        format!("Losses from {first_res}x{first_res}")
    } else {
        format!("Losses · {name}")
    };
    let mut legend = vec![
        ("G".to_string(), Key::Line(G_COLOR, 3)),
        ("D".to_string(), Key::Line(D_COLOR, 3)),
        ("per step".to_string(), Key::Line(lighten(MUTED, 0.45), 1)),
        ("resolution change".to_string(), Key::Dashed(RES_LINE)),
    ];
    if !fades.is_empty() {
        legend.push(("fade-in".to_string(), Key::Box(FADE_FILL)));
    }
    render(&dir.join("losses.png"), LOSSES_SIZE, |root| {
        let (head, body) = root.split_vertically(44);
        header(&head, &title, &legend)?;
        draw_panel(&body, &panel)
    })
}
