//! `metrics.png`: SWD per pyramid level, generator variance (with ADA's augmentation
//! probability p on the same percent axis) and adversarial balance against kimg.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::panel::{draw_panel, header, no_data, render, Key, Line, Panel};
use super::scale::{res_changes, x_range, y_range};
use super::text::style;
use super::{level_color, read, run_name, METRICS_SIZE, PALETTE, TEXT};
use crate::train::error::TrainError;

pub(super) struct MetricsRow {
    kimg: f64,
    res: usize,
    variance: f64,
    balance: f64,
    swd: Vec<f64>,
    /// The augmentation probability (NaN without augmentation, or in older files).
    p: f64,
}

/// One row of metrics.csv (`kimg,res,alpha,generator_variance,adversarial_balance,
/// avg_d_loss,avg_g_loss,swd_per_level,p`; older files lack p), or None for the header and anything malformed.
pub(super) fn metrics_row(line: &str) -> Option<MetricsRow> {
    let f: Vec<&str> = line.trim().split(',').collect();
    if f.len() < 5 {
        return None;
    }
    let kimg: f64 = f[0].parse().ok().filter(|k: &f64| k.abs() < 1e12)?;
    let res: usize = f[1].parse().ok().filter(|&r| r > 0)?;
    let num = |s: Option<&&str>| s.and_then(|s| s.trim().parse().ok()).unwrap_or(f64::NAN);
    Some(MetricsRow {
        kimg,
        res,
        variance: num(f.get(3)),
        balance: num(f.get(4)),
        swd: f
            .get(7)
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.split(';')
                    .map(|v| v.trim().parse().unwrap_or(f64::NAN))
                    .collect()
            })
            .unwrap_or_default(),
        p: num(f.get(8)),
    })
}

/// `dir/metrics.png` from `dir/metrics.csv`, three panels against kimg with the resolution
/// changes marked: the sliced Wasserstein distance (x1e3) of each Laplacian pyramid level,
/// one line per level resolution (level i of a `res` image is `res >> i`; log axis when the
/// values span a decade or more), the generator variance as a % of the data's (dashed at
/// 100% = the data, and at the 20% mode-collapse warning of the log), and the adversarial
/// balance (EMA of G loss - EMA of D loss). Malformed rows are skipped. When there is
/// nothing to plot (no metrics.csv, or no usable row in it) it draws nothing and is Ok.
pub fn plot_metrics(dir: &Path) -> Result<(), TrainError> {
    let Some(text) = read(&dir.join("metrics.csv"))? else {
        return Ok(());
    };
    let mut rows: Vec<MetricsRow> = text.lines().filter_map(metrics_row).collect();
    rows.sort_by(|a, b| a.kimg.total_cmp(&b.kimg));
    if rows.is_empty() {
        return Ok(());
    }
    let x = x_range(rows.iter().map(|r| r.kimg));
    let marks = res_changes(rows.iter().map(|r| (r.kimg, r.res)));
    let markers = rows.len() <= 120;
    let first_res = rows.first().map(|r| r.res);

    // SWD: one line per level resolution, broken where a row has no such level.
    let mut level_res: Vec<usize> = rows
        .iter()
        .flat_map(|r| (0..r.swd.len()).map(move |i| r.res >> i))
        .filter(|&l| l > 0)
        .collect();
    level_res.sort_unstable();
    level_res.dedup();
    let swd_lines: Vec<(usize, Vec<(f64, f64)>)> = level_res
        .iter()
        .map(|&l| {
            let pts = rows
                .iter()
                .map(|r| {
                    let v = (0..r.swd.len())
                        .find(|&i| r.res >> i == l)
                        .map_or(f64::NAN, |i| r.swd[i]);
                    (r.kimg, v)
                })
                .collect();
            (l, pts)
        })
        .filter(|(_, pts): &(usize, Vec<(f64, f64)>)| pts.iter().any(|p| p.1.abs() < 1e30))
        .collect();
    let positive: Vec<f64> = swd_lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .filter(|v| *v > 1e-30 && *v < 1e30)
        .collect();
    let (pmin, pmax) = positive
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let log_swd = positive.len() >= 2 && pmax / pmin >= 10.0;
    let swd_y = if log_swd {
        Some((pmin / 1.25, pmax * 1.25, 0))
    } else {
        y_range(
            swd_lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)),
            false,
        )
        // Distances are >= 0: start the axis at 0.
        .map(|(_, hi, n)| (0.0, hi.max(1e-6), n))
    };

    let variance: Vec<(f64, f64)> = rows.iter().map(|r| (r.kimg, 100.0 * r.variance)).collect();
    let vmax = variance
        .iter()
        .map(|p| p.1)
        .filter(|v| v.abs() < 1e30)
        .fold(0.0f64, f64::max);
    let aug_p: Vec<(f64, f64)> = rows.iter().map(|r| (r.kimg, 100.0 * r.p)).collect();
    let has_p = aug_p.iter().any(|q| q.1.is_finite());
    let balance: Vec<(f64, f64)> = rows.iter().map(|r| (r.kimg, r.balance)).collect();
    let bal_y = y_range(balance.iter().map(|p| p.1), false);

    let name = run_name(dir);
    render(&dir.join("metrics.png"), METRICS_SIZE, |root| {
        let (title, rest) = root.split_vertically(46);
        title.draw(&Text::new(
            if name.is_empty() {
                "Training metrics".to_string()
            } else {
                format!("Training metrics · {name}")
            },
            (12, 26),
            style(22, TEXT).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        let panels = rest.split_evenly((3, 1));

        // 1. SWD per level.
        let (head, body) = panels[0].split_vertically(36);
        let legend: Vec<(String, Key)> = swd_lines
            .iter()
            .map(|&(l, _)| (format!("{l}x{l}"), Key::Line(level_color(l), 3)))
            .collect();
        header(
            &head,
            "Sliced Wasserstein distance per pyramid level (lower is better)",
            &legend,
        )?;
        match swd_y {
            Some((lo, hi, _)) => draw_panel(
                &body,
                &Panel {
                    x,
                    x_desc: None,
                    y_desc: if log_swd {
                        "SWD ×10³ (log)"
                    } else {
                        "SWD ×10³"
                    },
                    y: (lo, hi),
                    log_y: log_swd,
                    fades: &[],
                    res_marks: &marks,
                    first_res,
                    refs: vec![],
                    lines: swd_lines
                        .iter()
                        .map(|(l, pts)| Line {
                            points: pts
                                .iter()
                                .map(|&(k, v)| (k, if log_swd && v <= 0.0 { f64::NAN } else { v }))
                                .collect(),
                            color: level_color(*l),
                            width: 2,
                            markers,
                        })
                        .collect(),
                    note: None,
                },
            )?,
            None => no_data(&body)?,
        }

        // 2. Generator variance.
        let (head, body) = panels[1].split_vertically(36);
        let mut keys = vec![("G_ema samples".to_string(), Key::Line(PALETTE[4], 3))];
        if has_p {
            keys.push(("augmentation p (%)".to_string(), Key::Line(PALETTE[2], 3)));
        }
        header(
            &head,
            "Generator variance, % of the data's (low = mode collapse)",
            &keys,
        )?;
        if variance.iter().any(|p| p.1.is_finite()) || has_p {
            draw_panel(
                &body,
                &Panel {
                    x,
                    x_desc: None,
                    y_desc: "% of data variance",
                    y: (0.0, (vmax * 1.08).max(115.0)),
                    log_y: false,
                    fades: &[],
                    res_marks: &marks,
                    first_res,
                    refs: vec![
                        (100.0, RGBColor(60, 140, 60), "data = 100%".to_string()),
                        (
                            20.0,
                            RGBColor(200, 80, 40),
                            "collapse warning (20%)".to_string(),
                        ),
                    ],
                    lines: std::iter::once(Line {
                        points: variance.clone(),
                        color: PALETTE[4],
                        width: 2,
                        markers,
                    })
                    .chain(has_p.then(|| Line {
                        points: aug_p.clone(),
                        color: PALETTE[2],
                        width: 2,
                        markers,
                    }))
                    .collect(),
                    note: None,
                },
            )?;
        } else {
            no_data(&body)?;
        }

        // 3. Adversarial balance.
        let (head, body) = panels[2].split_vertically(36);
        header(
            &head,
            "Adversarial balance: EMA of G loss − EMA of D loss",
            &[("balance".to_string(), Key::Line(PALETTE[1], 3))],
        )?;
        match bal_y {
            Some((lo, hi, _)) => draw_panel(
                &body,
                &Panel {
                    x,
                    x_desc: Some("kimg"),
                    y_desc: "G − D",
                    y: (lo, hi),
                    log_y: false,
                    fades: &[],
                    res_marks: &marks,
                    first_res,
                    refs: if lo < 0.0 && hi > 0.0 {
                        vec![(0.0, RGBColor(170, 170, 170), String::new())]
                    } else {
                        vec![]
                    },
                    lines: vec![Line {
                        points: balance.clone(),
                        color: PALETTE[1],
                        width: 2,
                        markers,
                    }],
                    note: None,
                },
            )?,
            None => no_data(&body)?,
        }
        Ok(())
    })
}
