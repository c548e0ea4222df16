//! `train`: the loop around [`Trainer`]. Resolves the configuration (preset, TOML, flags),
//! opens the dataset, then steps while a background loader prefetches batches; losses are
//! read back in groups (no sync per step), samples, metrics and checkpoints are written at
//! intervals and on Ctrl-C.

use std::fs::{self, OpenOptions as FileOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::checkpoint::{self, Checkpoint};
use super::config::{Loss, TrainConfig};
use super::config_file;
use super::device::{self, DeviceChoice};
use super::metrics::{pixel_variance, swd, Balance};
use super::pictures;
use super::plots;
use super::resume;
use super::trainer::{StepRecord, Trainer};
use crate::data::{self, Dataset, Loader, SliceAxis};
use crate::gpu::profile::{self, KernelTime};
use crate::nn::NoiseMode;
use crate::ops;
use crate::tensor::{Place, Tensor};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrainArgs {
    /// oasis (the phantom when no OASIS folder is found), mnist, folder, or nifti.
    pub dataset: String,
    /// Dataset folder (OASIS: keras_png_slices_data or its parent; also SGW_OASIS_DIR);
    /// for nifti a .nii/.nii.gz file or a folder of them.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// NIfTI volumes: take slices along axial (default), coronal or sagittal.
    #[arg(long)]
    pub slice_axis: Option<SliceAxis>,
    /// Image channels; by default those of the dataset (a different count is an error).
    #[arg(long)]
    pub channels: Option<usize>,
    /// Run directory (default runs/<dataset>-<timestamp>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue a run exactly from its directory or checkpoint file.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Final resolution (power of two).
    #[arg(long)]
    pub max_res: Option<usize>,
    /// small (default on a software adapter) or full (default on a real GPU).
    #[arg(long)]
    pub preset: Option<String>,
    /// Minibatch at every resolution.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Thousands of images per fade and per stable phase (fractions allowed).
    #[arg(long)]
    pub kimg: Option<f64>,
    /// wgan-gp (default) or logistic-r1.
    #[arg(long)]
    pub loss: Option<Loss>,
    /// Adam learning rate at every resolution.
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Sample grid every this many kimg.
    #[arg(long)]
    pub sample_every: Option<f64>,
    /// Checkpoint every this many kimg.
    #[arg(long)]
    pub checkpoint_every: Option<f64>,
    /// TOML with any configuration keys (as in a run's config.toml); flags win over it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Use at most this many dataset images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// auto (a hardware GPU, else the CPU reference), gpu, software (e.g. lavapipe), cpu.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Same as --device cpu.
    #[arg(long, hide = true)]
    pub cpu: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Checkpoint and stop after this many steps (as Ctrl-C would; for testing resume).
    #[arg(long, hide = true)]
    pub stop_after_steps: Option<u64>,
}

type Res<T> = Result<T, String>;

/// Deep-merge `over` into `base` (tables merge, other values replace).
fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Numeric flags a run cannot use, refused before any work.
pub fn check_flags(a: &TrainArgs) -> Res<()> {
    let positive = |flag: &str, v: Option<f64>| match v {
        Some(x) if !(x.is_finite() && x > 0.0) => {
            Err(format!("{flag} must be a finite number > 0, got {x}"))
        }
        _ => Ok(()),
    };
    positive("--lr", a.lr)?;
    positive("--kimg", a.kimg)?;
    positive("--sample-every", a.sample_every)?;
    positive("--checkpoint-every", a.checkpoint_every)?;
    if a.batch == Some(0) {
        return Err("--batch must be at least 1".into());
    }
    if let Some(r) = a.max_res.filter(|&r| r < 4 || !r.is_power_of_two()) {
        return Err(format!(
            "--max-res must be a power of two >= 4 (4, 8, 16, ... 1024), got {r}"
        ));
    }
    if a.limit == Some(0) {
        return Err("--limit must be at least 1".into());
    }
    if let Some(c) = a.channels.filter(|&c| c != 1 && c != 3) {
        return Err(format!(
            "--channels must be 1 (grayscale) or 3 (RGB), got {c}"
        ));
    }
    if a.slice_axis.is_some() && a.dataset != "nifti" {
        return Err("--slice-axis applies to `train nifti` only".into());
    }
    Ok(())
}

/// The channel count a new run asks for: `--channels`, or `channels` in the `--config` file.
fn requested_channels(a: &TrainArgs, file: Option<&toml::Value>) -> Option<(usize, String)> {
    if let Some(c) = a.channels {
        return Some((c, "--channels".into()));
    }
    let c = file?.get("model")?.get("channels")?.as_integer()?;
    let path = a.config.as_ref()?;
    Some((c.max(0) as usize, format!("channels in {}", path.display())))
}

/// Preset, then the TOML file, then flags. Also returns the channel count the user asked
/// for, if any (otherwise the dataset decides).
pub fn resolve_config(
    a: &TrainArgs,
    software: bool,
) -> Res<(TrainConfig, Option<(usize, String)>)> {
    check_flags(a)?;
    let preset = a.preset.clone().unwrap_or_else(|| {
        if software {
            "small".into()
        } else {
            "full".into()
        }
    });
    let mut cfg = match preset.as_str() {
        "small" => TrainConfig::small(),
        "full" => TrainConfig::full(),
        p => return Err(format!("unknown preset {p:?}: use small or full")),
    };
    let mut file = None;
    if let Some(path) = &a.config {
        let text =
            fs::read_to_string(path).map_err(|e| format!("--config {}: {e}", path.display()))?;
        let over = config_file::check(&text, path)?;
        let mut base = toml::Value::try_from(&cfg).map_err(|e| e.to_string())?;
        merge(&mut base, over.clone());
        cfg = base
            .try_into()
            .map_err(|e| format!("--config {}: {e}", path.display()))?;
        file = Some(over);
    }
    cfg.data.dataset = a.dataset.clone();
    if let Some(d) = &a.data {
        cfg.data.path = Some(d.display().to_string());
    }
    if a.dataset != "oasis" {
        cfg.data.mirror = a.dataset == "folder";
    }
    if let Some(axis) = a.slice_axis {
        cfg.data.slice_axis = axis;
    }
    if let Some(r) = a.max_res {
        cfg.model.max_res = r;
    }
    if let Some(b) = a.batch {
        cfg.set_batch(b);
    }
    if let Some(k) = a.kimg {
        cfg.kimg_per_phase = k;
    }
    if let Some(l) = a.loss {
        cfg.loss = l;
    }
    if let Some(lr) = a.lr {
        cfg.set_lr(lr);
    }
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    if let Some(s) = a.sample_every {
        cfg.sample_every_kimg = s;
    }
    if let Some(c) = a.checkpoint_every {
        cfg.checkpoint_every_kimg = c;
    }
    if a.limit.is_some() {
        cfg.data.limit = a.limit;
    }
    let channels = requested_channels(a, file.as_ref());
    if let Some((c, _)) = &channels {
        cfg.model.channels = *c;
    }
    cfg.validate()?;
    Ok((cfg, channels))
}

/// The dataset the configuration names, at the model's final resolution. Its channels are
/// the images' own (OASIS, MNIST and NIfTI are grayscale; a folder is RGB when any image is
/// colour).
pub fn open_dataset(cfg: &TrainConfig) -> Res<Dataset> {
    let opts = data::OpenOptions {
        data: cfg.data.path.as_ref().map(PathBuf::from),
        resolution: cfg.model.max_res,
        channels: if cfg.data.dataset == "folder" {
            None
        } else {
            Some(1)
        },
        limit: cfg.data.limit,
        phantom_count: 2048,
    };
    let ds = match cfg.data.dataset.as_str() {
        "oasis" => data::open_oasis(&opts),
        "mnist" => data::open_mnist(&opts),
        "folder" => data::open_folder(&opts),
        "nifti" => data::open_nifti(&opts, cfg.data.slice_axis),
        other => {
            return Err(format!(
                "unknown dataset {other:?}: use oasis, mnist, folder or nifti"
            ))
        }
    };
    ds.map_err(|e| e.to_string())
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
fn append(path: &Path, header: &str, line: &str) -> Res<()> {
    let new = !path.exists();
    let mut f = FileOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if new {
        writeln!(f, "{header}").map_err(|e| e.to_string())?;
    }
    writeln!(f, "{line}").map_err(|e| e.to_string())
}

/// Keep only the lines of a CSV log whose row `keep` accepts (the header always stays);
/// rewritten atomically (temporary file, then rename) when anything is dropped. Returns the
/// kept data rows and how many were dropped. A missing file is no rows.
fn keep_rows(path: &Path, keep: impl Fn(&[&str]) -> bool) -> Res<(Vec<String>, usize)> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok((Vec::new(), 0));
    };
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let (mut kept, mut dropped) = (Vec::new(), 0);
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        if keep(&fields) {
            kept.push(line.to_string());
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        let tmp = path.with_extension("csv.tmp");
        let body: String = std::iter::once(header)
            .chain(kept.iter().map(String::as_str))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&tmp, body).map_err(|e| format!("{}: {e}", tmp.display()))?;
        fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok((kept, dropped))
}

/// On resume: drop the log rows written after the checkpoint (a run killed between
/// checkpoints wrote steps that will now be trained again) and rebuild the adversarial
/// balance from the rows that stay, so the resumed logs read as one run.
fn reconcile_logs(dir: &Path, step: u64, images: u64, balance: &mut Balance) -> Res<usize> {
    let (rows, dropped) = keep_rows(&dir.join("losses.csv"), |f| {
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
    let (_, dropped_metrics) = keep_rows(&dir.join("metrics.csv"), |f| {
        f.first()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|k| (k * 1000.0).round() as u64 <= images)
    })?;
    Ok(dropped + dropped_metrics)
}

struct Run {
    dir: PathBuf,
    t: Trainer,
    ds: Arc<Dataset>,
    fixed_z: Tensor,
    balance: Balance,
    pending: Vec<StepRecord>,
    bar: ProgressBar,
    last_d: f64,
    last_g: f64,
    started: Instant,
    images_at_start: u64,
    /// Images shown at the last sample grid (the end does not repeat it).
    sampled_at: Option<u64>,
    /// Per-kernel GPU time so far, when `SGW_PROFILE` is set.
    profile: Option<Vec<KernelTime>>,
}

pub const LOSSES_HEADER: &str =
    "step,images,kimg,res,phase,alpha,d_loss,g_loss,d_skipped,g_skipped";

impl Run {
    fn log(&self, line: &str) {
        if self.bar.is_hidden() {
            println!("{line}");
        } else {
            self.bar.println(line);
        }
        let _ = append(&self.dir.join("log.txt"), "# training log", line);
    }

    /// Read the pending losses in one go and write them out.
    fn flush(&mut self) -> Res<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let scalars: Vec<Tensor> = self
            .pending
            .iter()
            .flat_map(|r| [&r.d_loss, &r.g_loss, &r.d_guard, &r.g_guard])
            .map(|t| ops::reshape(t, &[1]))
            .collect();
        let vals = ops::concat(&scalars, 0).to_vec();
        let path = self.dir.join("losses.csv");
        let mut lines = String::new();
        for (r, v) in self.pending.iter().zip(vals.chunks(4)) {
            let (d, g) = (v[0] as f64, v[1] as f64);
            let (ds, gs) = (!v[2].is_finite(), !v[3].is_finite());
            self.t.progress.skipped_d += ds as u64;
            self.t.progress.skipped_g += gs as u64;
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
        if let Some(p) = self.profile.as_mut() {
            profile::merge(p, crate::gpu::gpu().profile_take(false));
        }
        append(&path, LOSSES_HEADER, lines.trim_end())
    }

    /// Stop profiling and write `profile.txt` (per kernel) and a per-family line to the log.
    fn finish_profile(&mut self) -> Res<()> {
        let Some(mut p) = self.profile.take() else {
            return Ok(());
        };
        profile::merge(&mut p, crate::gpu::gpu().profile_take(true));
        let path = self.dir.join("profile.txt");
        fs::write(&path, profile::table(&p)).map_err(|e| e.to_string())?;
        let total: f64 = p.iter().map(|t| t.ms).sum();
        self.log(&format!(
            "GPU time by kernel family ({total:.0} ms): {}; per kernel in {}",
            profile::family_shares(&profile::by_family(&p), usize::MAX),
            path.display()
        ));
        Ok(())
    }

    fn message(&self) {
        let Some(pt) = self.t.point() else { return };
        let phase = self.t.schedule.phases[pt.phase];
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let ips = (self.t.progress.images - self.images_at_start) as f64 / secs;
        self.bar.set_position(self.t.progress.images);
        self.bar.set_message(format!(
            "{r}x{r} {kind} a={a:.2} phase {p:.2}/{pl:.2} kimg | {ips:.1} img/s | D {d:.3} G {g:.3}",
            r = pt.res,
            kind = if pt.fade { "fade" } else { "stable" },
            a = pt.alpha,
            p = pt.into as f64 / 1000.0,
            pl = phase.len as f64 / 1000.0,
            d = self.last_d,
            g = self.last_g,
        ));
    }

    /// A grid from the fixed latents (G_ema), generator variance and SWD.
    fn sample(&mut self, res: usize, alpha: f64) -> Res<()> {
        if self.sampled_at == Some(self.t.progress.images) {
            return Ok(());
        }
        self.sampled_at = Some(self.t.progress.images);
        let cfg = &self.t.cfg;
        let c = cfg.model.channels;
        let n = cfg.grid * cfg.grid;
        let imgs = self
            .t
            .sample(
                &self.fixed_z,
                res,
                alpha,
                1.0,
                NoiseMode::Const { seed: cfg.seed },
            )
            .to_vec();
        let kimg = self.t.progress.images as f64 / 1000.0;
        let dir = self.dir.join("samples");
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let grid = pictures::enlarge(&pictures::grid(&imgs, n, c, res, cfg.grid), 256);
        pictures::save_png(&grid, &dir.join(format!("grid-{:09.3}kimg.png", kimg)))?;
        // Health: 64 fresh samples against 64 dataset images.
        let m = 64;
        let z = self
            .t
            .latents(m, u64::MAX >> 8, self.t.progress.step & 0xff);
        let fakes = self
            .t
            .sample(
                &z,
                res,
                alpha,
                1.0,
                NoiseMode::Random {
                    seed: cfg.seed,
                    step: self.t.progress.step,
                },
            )
            .to_vec();
        let all = self.ds.at_resolution(res);
        let pix = c * res * res;
        let count = (all.len() / pix).min(512);
        let reals: Vec<f32> = all[..count * pix]
            .iter()
            .map(|&v| v as f32 / 127.5 - 1.0)
            .collect();
        let frac = pixel_variance(&fakes, m, pix) / pixel_variance(&reals, count, pix).max(1e-12);
        let take = m.min(count);
        let s = swd(&reals[..take * pix], take, &fakes, m, c, res, cfg.seed);
        let swd_s = s
            .iter()
            .map(|v| format!("{v:.2}"))
            .collect::<Vec<_>>()
            .join(";");
        append(
            &self.dir.join("metrics.csv"),
            "kimg,res,alpha,generator_variance,adversarial_balance,avg_d_loss,avg_g_loss,swd_per_level",
            &format!("{kimg:.3},{res},{alpha:.4},{frac:.4},{:.4},{:.4},{:.4},{swd_s}", self.balance.balance(), self.balance.d.unwrap_or(f64::NAN), self.balance.g.unwrap_or(f64::NAN)),
        )?;
        self.log(&format!(
            "kimg {kimg:.2} {res}x{res}: generator variance {:.0}% of the data's, adversarial balance {:.3}, SWD x1e3 [{swd_s}]",
            100.0 * frac,
            self.balance.balance()
        ));
        if frac < 0.2 && kimg > 0.0 {
            self.log("warning: generator variance below 20% of the data's: likely mode collapse");
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Res<()> {
        self.flush()?;
        checkpoint::save(&self.t, &self.dir.join(checkpoint::FILE)).map_err(|e| e.to_string())
    }

    /// The GIF of all grids so far and the loss plot, from the files (so they survive resumes).
    fn finish_pictures(&self) -> Res<()> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.dir.join("samples"))
            .map_err(|e| e.to_string())?
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

/// `SGW_PROFILE` set to anything but 0.
fn profile_requested() -> bool {
    std::env::var_os("SGW_PROFILE").is_some_and(|v| v != "0")
}

/// The `train` subcommand.
pub fn train(a: &TrainArgs) -> Res<()> {
    check_flags(a)?;
    let choice = if a.cpu { DeviceChoice::Cpu } else { a.device };
    let placement = device::place(choice).map_err(|e| e.to_string())?;
    println!("{}", placement.note);
    let (t, ds, dir, changes) = match &a.resume {
        Some(p) => resume_run(a, p, placement.place)?,
        None => new_run(a, &placement)?,
    };
    if ds.source == data::Source::Phantom {
        println!("{}", ds.description);
    } else {
        println!("dataset: {}", ds.description);
    }
    for n in &ds.notices {
        println!("note: {n}");
    }
    if let Some(s) = ds.skipped_summary() {
        println!("{s}");
    }
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write_atomic(&dir.join("config.toml"), &t.cfg.to_toml())?;
    println!("run directory: {}", dir.display());
    run_loop(a, t, Arc::new(ds), dir, &changes)
}

/// Write a file by renaming a complete temporary copy over it.
fn write_atomic(path: &Path, text: &str) -> Res<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text)
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A new run: configuration, dataset (whose channels the model takes), trainer, directory.
fn new_run(
    a: &TrainArgs,
    placement: &device::Placement,
) -> Res<(Trainer, Dataset, PathBuf, Vec<String>)> {
    let (mut cfg, asked) = resolve_config(a, placement.slow)?;
    if a.preset.is_none() && placement.slow {
        println!("no fast GPU: using the small preset (up to {0}x{0}, at most {1} channels); --preset full asks for the whole model", cfg.model.max_res, cfg.model.fmap_max);
    }
    let ds = open_dataset(&cfg)?;
    match asked {
        Some((c, source)) if c != ds.channels => {
            return Err(format!(
                "the dataset has {} channel{} ({}) but {source} asks for {c}; leave it out to follow the dataset",
                ds.channels,
                if ds.channels == 1 { "" } else { "s" },
                if ds.channels == 1 { "grayscale" } else { "RGB" },
            ))
        }
        _ => cfg.model.channels = ds.channels,
    }
    cfg.data.fingerprint = Some(ds.fingerprint());
    cfg.validate()?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/{}-{}", cfg.data.dataset, timestamp())));
    Ok((Trainer::new(cfg, placement.place), ds, dir, Vec::new()))
}

/// A run continued from its checkpoint, with the flags that may change applied.
fn resume_run(
    a: &TrainArgs,
    from: &Path,
    place: Place,
) -> Res<(Trainer, Dataset, PathBuf, Vec<String>)> {
    let ck = Checkpoint::load(from).map_err(|e| e.to_string())?;
    let resume::Resumed {
        mut cfg,
        mut changes,
    } = resume::apply_flags(a, &ck)?;
    let ds = open_dataset(&cfg)?;
    let print = ds.fingerprint();
    // A fingerprint hashes the pixels at the native resolution: after --max-res changed, only
    // the image count and channels can be compared.
    let shape = |f: &str| {
        let mut w = f.split(' ');
        (
            w.next().map(str::to_string),
            w.nth(1).map(|s| s.split('x').next().map(str::to_string)),
        )
    };
    let same_res = cfg.model.max_res == ck.config.model.max_res;
    match &ck.config.data.fingerprint {
        Some(saved) if !same_res && shape(saved) != shape(&print) => {
            return Err(format!(
                "--resume: the dataset at {} is not the one this run trained on (it holds {print}; the run's is {saved})",
                cfg.data.path.as_deref().unwrap_or("the default place")
            ))
        }
        Some(saved) if same_res && *saved != print => {
            return Err(format!(
                "--resume: the dataset at {} is not the one this run trained on (it holds {print}; the run's is {saved})",
                cfg.data.path.as_deref().unwrap_or("the default place")
            ))
        }
        Some(_) => {}
        None if a.data.is_some() => changes.push(
            "(this checkpoint predates dataset fingerprints: the new --data was not checked to hold the same images)".into(),
        ),
        None => {}
    }
    if ds.channels != cfg.model.channels {
        return Err(format!(
            "--resume: the dataset has {} channels but the run's model {}",
            ds.channels, cfg.model.channels
        ));
    }
    cfg.data.fingerprint = Some(print);
    let dir = a.out.clone().unwrap_or_else(|| {
        ck.path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    });
    println!(
        "resuming {} at {:.3} kimg",
        ck.path.display(),
        ck.number("images").unwrap_or(0) as f64 / 1000.0
    );
    let t = ck.trainer_with(cfg, place).map_err(|e| e.to_string())?;
    Ok((t, ds, dir, changes))
}

fn run_loop(
    a: &TrainArgs,
    t: Trainer,
    ds: Arc<Dataset>,
    dir: PathBuf,
    changes: &[String],
) -> Res<()> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // Only the first handler registration in a process succeeds; tests run several loops.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let cfg = t.cfg.clone();
    let total = t.schedule.total();
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} img ETA {eta} {msg}").unwrap(),
    );
    let fixed_z = ops::rand_normal(
        &[cfg.grid * cfg.grid, cfg.model.z_dim],
        cfg.seed ^ 0xf1_7ed,
        0,
        0.0,
        1.0,
        t.place,
    );
    let images_at_start = t.progress.images;
    let mut run = Run {
        dir,
        t,
        ds,
        fixed_z,
        balance: Balance::new(0.99),
        pending: Vec::new(),
        bar,
        last_d: f64::NAN,
        last_g: f64::NAN,
        started: Instant::now(),
        images_at_start,
        sampled_at: None,
        profile: None,
    };
    for c in changes {
        run.log(&format!("resume: {c}"));
    }
    if images_at_start > 0 {
        let p = run.t.progress;
        let dropped = reconcile_logs(&run.dir, p.step, p.images, &mut run.balance)?;
        if dropped > 0 {
            run.log(&format!(
                "resume: dropped {dropped} log rows written after the checkpoint (they are trained again)"
            ));
        }
    }
    if profile_requested() && run.t.place == Place::Gpu {
        if crate::gpu::gpu().profile_start() {
            run.profile = Some(Vec::new());
            run.log(
                "SGW_PROFILE: timing every kernel with GPU timestamps (profile.txt at the end)",
            );
        } else {
            run.log("SGW_PROFILE: this adapter has no timestamp queries; not profiling");
        }
    }
    let every = |kimg: f64| ((kimg * 1000.0).round() as u64).max(1);
    let (sample_every, ckpt_every) = (
        every(cfg.sample_every_kimg),
        every(cfg.checkpoint_every_kimg),
    );
    let mut loader: Option<(usize, usize, Loader)> = None;
    let mut last_flush = Instant::now();
    let mut steps_here = 0u64;
    if run.t.progress.images == 0 {
        run.sample(cfg.model.start_res, 1.0)?;
    }
    while let Some(pt) = run.t.point() {
        if stop.load(Ordering::SeqCst) || a.stop_after_steps.is_some_and(|s| steps_here >= s) {
            run.checkpoint()?;
            run.finish_profile()?;
            run.log(&format!(
                "stopped at {:.3} kimg; checkpoint written; continue with --resume {}",
                run.t.progress.images as f64 / 1000.0,
                run.dir.display()
            ));
            run.bar.abandon();
            return Ok(());
        }
        let b = cfg.batch_at(pt.res);
        if loader
            .as_ref()
            .is_none_or(|(r, bb, _)| *r != pt.res || *bb != b)
        {
            loader = Some((
                pt.res,
                b,
                Loader::new(
                    run.ds.clone(),
                    pt.res,
                    b,
                    cfg.seed,
                    cfg.data.mirror,
                    run.t.progress.step,
                ),
            ));
        }
        let batch = loader.as_mut().unwrap().2.next_batch();
        let reals = Tensor::from_vec(
            batch.data,
            &[batch.n, batch.channels, batch.res, batch.res],
            run.t.place,
        );
        let before = run.t.progress.images;
        let rec = run.t.step(&reals).expect("point() said training continues");
        run.pending.push(rec);
        steps_here += 1;
        let after = run.t.progress.images;
        if last_flush.elapsed() > Duration::from_secs(1) || run.pending.len() >= 64 {
            run.flush()?;
            run.message();
            last_flush = Instant::now();
        }
        if after / sample_every != before / sample_every {
            run.flush()?;
            run.sample(pt.res, pt.alpha)?;
        }
        if after / ckpt_every != before / ckpt_every {
            run.checkpoint()?;
        }
    }
    run.flush()?;
    run.message();
    run.bar.finish();
    let last = run.t.schedule.phases.last().copied();
    if let Some(p) = last {
        run.sample(p.res, 1.0)?;
    }
    run.checkpoint()?;
    run.finish_pictures()?;
    run.finish_profile()?;
    let p = &run.t.progress;
    run.log(&format!(
        "done: {:.3} kimg in {:.1} s, {} D and {} G steps skipped as non-finite; see {}",
        p.images as f64 / 1000.0,
        run.started.elapsed().as_secs_f64(),
        p.skipped_d,
        p.skipped_g,
        run.dir.display()
    ));
    Ok(())
}
