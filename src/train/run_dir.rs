//! What a run leaves in its directory and shows on the terminal: `log.txt` (every line the
//! terminal shows), `losses.csv` (one row per step, read back from the device in groups),
//! `metrics.csv`, `config.toml`, `profile.txt`, and at the end `progress.gif` and the plots.
//! On resume the logs are cut back to the checkpoint so they read as one run.

use std::fs::{self, OpenOptions as FileOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use super::error::{FileOp, Result};
use super::metrics::Balance;
use super::pictures;
use super::plots;
use super::trainer::{Progress, StepRecord, Trainer};
use crate::gpu::profile::{self, KernelTime};
use crate::ops;
use crate::tensor::{Place, Tensor};

pub const LOSSES_HEADER: &str =
    "step,images,kimg,res,phase,alpha,d_loss,g_loss,d_skipped,g_skipped";

pub const METRICS_HEADER: &str =
    "kimg,res,alpha,generator_variance,adversarial_balance,avg_d_loss,avg_g_loss,swd_per_level,p,rt";

/// Where a new run goes without `--out`: `runs/<dataset>-<timestamp>`.
pub fn default_dir(dataset: &str) -> PathBuf {
    PathBuf::from(format!("runs/{}-{}", dataset, timestamp()))
}

fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Append lines to a file in the run directory.
fn append(path: &Path, header: &str, line: &str) -> Result<()> {
    let new = !path.exists();
    let mut f = FileOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(FileOp::Access.on(path))?;
    if new {
        writeln!(f, "{header}")?;
    }
    Ok(writeln!(f, "{line}")?)
}

/// Keep only the lines of a CSV log whose row `keep` accepts; rewritten atomically
/// (temporary file, then rename) when anything is dropped, or to put `header` in place of
/// an older one that is its prefix (a file from a version with fewer columns: its rows
/// simply lack the new ones). Returns the kept data rows and how many were dropped. A
/// missing file is no rows.
fn keep_rows(
    path: &Path,
    header: &str,
    keep: impl Fn(&[&str]) -> bool,
) -> Result<(Vec<String>, usize)> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok((Vec::new(), 0));
    };
    let mut lines = text.lines();
    let old = lines.next().unwrap_or_default();
    let upgrade = old != header && header.starts_with(old) && !old.is_empty();
    let header = if upgrade { header } else { old };
    let (mut kept, mut dropped) = (Vec::new(), 0);
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        if keep(&fields) {
            kept.push(line.to_string());
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 || upgrade {
        let tmp = path.with_extension("csv.tmp");
        let body: String = std::iter::once(header)
            .chain(kept.iter().map(String::as_str))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&tmp, body).map_err(FileOp::Access.on(&tmp))?;
        fs::rename(&tmp, path).map_err(FileOp::Access.on(path))?;
    }
    Ok((kept, dropped))
}

/// On resume: drop the log rows written after the checkpoint (a run killed between
/// checkpoints wrote steps that will now be trained again) and rebuild the adversarial
/// balance from the rows that stay, so the resumed logs read as one run.
pub fn reconcile_logs(dir: &Path, step: u64, images: u64, balance: &mut Balance) -> Result<usize> {
    let (rows, dropped) = keep_rows(&dir.join("losses.csv"), LOSSES_HEADER, |f| {
        f.first()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s < step)
    })?;
    for row in &rows {
        let f: Vec<&str> = row.split(',').collect();
        if let (Some(d), Some(g)) = (f.get(6), f.get(7)) {
            if let (Ok(d), Ok(g)) = (d.parse::<f64>(), g.parse::<f64>()) {
                balance.update(d, g);
            }
        }
    }
    // metrics.csv rows are keyed by kimg with three decimals: images / 1000 exactly.
    let (_, dropped_metrics) = keep_rows(&dir.join("metrics.csv"), METRICS_HEADER, |f| {
        f.first()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|k| (k * 1000.0).round() as u64 <= images)
    })?;
    Ok(dropped + dropped_metrics)
}

/// Write a file by renaming a complete temporary copy over it.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(FileOp::Access.on(path))
}

/// The run directory and the terminal: every line logged goes to both, and the progress bar
/// (hidden with `--quiet`) shows where training stands.
pub(super) struct RunDir {
    pub dir: PathBuf,
    bar: ProgressBar,
}

impl RunDir {
    /// `total`: the images the whole schedule shows.
    pub fn new(dir: PathBuf, quiet: bool, total: u64) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total)
        };
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} img ETA {eta} {msg}").unwrap(),
        );
        RunDir { dir, bar }
    }

    pub fn log(&self, line: &str) {
        if self.bar.is_hidden() {
            println!("{line}");
        } else {
            self.bar.println(line);
        }
        let _ = append(&self.dir.join("log.txt"), "# training log", line);
    }

    /// One row of `metrics.csv` (columns as [`METRICS_HEADER`]).
    pub fn append_metrics(&self, row: &str) -> Result<()> {
        append(&self.dir.join("metrics.csv"), METRICS_HEADER, row)
    }

    /// The progress bar's position and message: the phase, speed and latest losses.
    pub fn show_progress(&self, t: &Trainer, images_per_s: f64, losses: &LossLog) {
        let Some(pt) = t.point() else { return };
        let phase = t.schedule.phases[pt.phase];
        self.bar.set_position(t.progress.images);
        self.bar.set_message(format!(
            "{r}x{r} {kind} a={a:.2} phase {p:.2}/{pl:.2} kimg | {images_per_s:.1} img/s | D {d:.3} G {g:.3}",
            r = pt.res,
            kind = if pt.fade { "fade" } else { "stable" },
            a = pt.alpha,
            p = pt.into as f64 / 1000.0,
            pl = phase.len as f64 / 1000.0,
            d = losses.last_d,
            g = losses.last_g,
        ) + &t.augment_p().map_or(String::new(), |p| format!(" | p {p:.3}")));
    }

    /// Training finished: the bar stays at its end.
    pub fn finish_bar(&self) {
        self.bar.finish();
    }

    /// Training stopped early: the bar stays where it was.
    pub fn abandon_bar(&self) {
        self.bar.abandon();
    }

    /// The GIF of all grids so far and the plots, from the files (so they survive resumes).
    pub fn finish_pictures(&self) -> Result<()> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.join("samples"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "png"))
            .collect();
        files.sort();
        let frames: Vec<_> = files
            .iter()
            .filter_map(|p| image::open(p).ok().map(|i| i.to_rgb8()))
            .collect();
        if !frames.is_empty() {
            pictures::gif(&frames, &self.dir.join("progress.gif"))?;
        }
        plots::plot_losses(&self.dir)?;
        plots::plot_metrics(&self.dir)
    }
}

/// The losses of the steps taken, kept on the device until they are read back in one go
/// (no sync per step), and what the log keeps of them: the adversarial balance and the
/// latest values.
pub(super) struct LossLog {
    pending: Vec<StepRecord>,
    pub balance: Balance,
    pub last_d: f64,
    pub last_g: f64,
}

impl LossLog {
    pub fn new() -> Self {
        LossLog {
            pending: Vec::new(),
            balance: Balance::new(0.99),
            last_d: f64::NAN,
            last_g: f64::NAN,
        }
    }

    pub fn push(&mut self, rec: StepRecord) {
        self.pending.push(rec);
    }

    /// Steps not yet read back.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Read the pending losses in one go, count the skipped (non-finite) steps in `progress`
    /// and append the rows to `losses.csv`. False when nothing was pending.
    pub fn flush(&mut self, out: &RunDir, progress: &mut Progress) -> Result<bool> {
        if self.pending.is_empty() {
            return Ok(false);
        }
        let scalars: Vec<Tensor> = self
            .pending
            .iter()
            .flat_map(|r| [&r.d_loss, &r.g_loss, &r.d_guard, &r.g_guard])
            .map(|t| ops::reshape(t, &[1]))
            .collect();
        let vals = ops::concat(&scalars, 0).to_vec();
        let mut lines = String::new();
        for (r, v) in self.pending.iter().zip(vals.chunks(4)) {
            let (d, g) = (v[0] as f64, v[1] as f64);
            let (ds, gs) = (!v[2].is_finite(), !v[3].is_finite());
            progress.skipped_d += ds as u64;
            progress.skipped_g += gs as u64;
            self.balance.update(d, g);
            self.last_d = d;
            self.last_g = g;
            let phase = if r.point.fade { "fade" } else { "stable" };
            lines += &format!(
                "{},{},{:.3},{},{phase},{:.4},{d:e},{g:e},{},{}\n",
                r.step,
                r.images,
                r.images as f64 / 1000.0,
                r.point.res,
                r.point.alpha,
                ds as u8,
                gs as u8
            );
        }
        self.pending.clear();
        append(&out.dir.join("losses.csv"), LOSSES_HEADER, lines.trim_end())?;
        Ok(true)
    }
}

/// Per-kernel GPU time over the run, when `SGW_PROFILE` is set to anything but 0 on a GPU
/// with timestamp queries: `profile.txt` and a per-family line in the log at the end. With
/// `SGW_PROFILE` on any device, the memory figures (the GPU pool's, or the CPU path's live
/// tensor bytes) go to the log at the end too.
pub(super) struct KernelProfile {
    times: Option<Vec<KernelTime>>,
    /// Where the run's tensors live, while the memory line is still to be written.
    memory: Option<Place>,
}

impl KernelProfile {
    pub fn start(out: &RunDir, place: Place) -> Self {
        let requested = std::env::var_os("SGW_PROFILE").is_some_and(|v| v != "0");
        let memory = requested.then_some(place);
        if !(requested && place == Place::Gpu) {
            return KernelProfile {
                times: None,
                memory,
            };
        }
        let times = if crate::gpu::gpu().profile_start() {
            out.log(
                "SGW_PROFILE: timing every kernel with GPU timestamps (profile.txt at the end)",
            );
            Some(Vec::new())
        } else {
            out.log("SGW_PROFILE: this adapter has no timestamp queries; not profiling");
            None
        };
        KernelProfile { times, memory }
    }

    /// Add the kernels timed since the last call.
    pub fn collect(&mut self) {
        if let Some(p) = self.times.as_mut() {
            profile::merge(p, crate::gpu::gpu().profile_take(false));
        }
    }

    /// Stop profiling and write `profile.txt` (per kernel) and a per-family line to the log;
    /// the memory figures to the log.
    pub fn finish(&mut self, out: &RunDir) -> Result<()> {
        if let Some(place) = self.memory.take() {
            let (what, m) = match place {
                Place::Gpu => ("GPU buffer pool", crate::gpu::gpu().memory()),
                _ => ("CPU tensors", crate::tensor::host_memory()),
            };
            out.log(&format!("SGW_PROFILE: memory, {what}: {}", m.describe()));
        }
        let Some(mut p) = self.times.take() else {
            return Ok(());
        };
        profile::merge(&mut p, crate::gpu::gpu().profile_take(true));
        let path = out.dir.join("profile.txt");
        fs::write(&path, profile::table(&p))?;
        let total: f64 = p.iter().map(|t| t.ms).sum();
        out.log(&format!(
            "GPU time by kernel family ({total:.0} ms): {}; per kernel in {}",
            profile::family_shares(&profile::by_family(&p), usize::MAX),
            path.display()
        ));
        Ok(())
    }
}
