//! The `train` command line and the configuration it resolves to: the preset, then the
//! `--config` file, then the flags. Flags a run cannot use are refused before any work.

use std::fs;
use std::path::PathBuf;

use super::config::{AugmentMode, Loss, TrainConfig};
use super::config_file;
use super::device::DeviceChoice;
use super::error::{FileOp, Result, TrainError};
use crate::data::SliceAxis;
use crate::nn::Arch;

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
    /// Gradient accumulation: split each step's batch (--batch stays the whole step's
    /// batch) into K equal micro-batches, one after the other, and average their gradients
    /// before one optimiser step: a big batch on a small card. Default 1.
    #[arg(long, value_name = "K")]
    pub accumulate: Option<usize>,
    /// Thousands of images per fade and per stable phase (fractions allowed).
    #[arg(long)]
    pub kimg: Option<f64>,
    /// wgan-gp (default) or logistic-r1. StyleGAN2 trains with logistic-r1 (lazy R1).
    #[arg(long)]
    pub loss: Option<Loss>,
    /// stylegan1 (default: grown progressively from 4x4) or stylegan2 (at --max-res from the
    /// start: modulated convolutions, skip G, residual D, lazy R1 and path length).
    #[arg(long, value_name = "stylegan1|stylegan2")]
    pub arch: Option<Arch>,
    /// Augment every image D sees (stylegan2-ada's "bgc" pipeline): ada (p adapts to D's
    /// overfitting), fixed:P (constant probability P in [0, 1]) or none (default).
    #[arg(long, value_name = "ada|fixed:P|none")]
    pub augment: Option<String>,
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
pub fn check_flags(a: &TrainArgs) -> Result<()> {
    let positive = |flag: &str, v: Option<f64>| match v {
        Some(x) if !(x.is_finite() && x > 0.0) => Err(TrainError::Invalid(format!(
            "{flag} must be a finite number > 0, got {x}"
        ))),
        _ => Ok(()),
    };
    positive("--lr", a.lr)?;
    positive("--kimg", a.kimg)?;
    positive("--sample-every", a.sample_every)?;
    positive("--checkpoint-every", a.checkpoint_every)?;
    if a.batch == Some(0) {
        return Err(TrainError::Invalid("--batch must be at least 1".into()));
    }
    if a.accumulate == Some(0) {
        return Err(TrainError::Invalid(
            "--accumulate must be at least 1 (1: no gradient accumulation)".into(),
        ));
    }
    if let Some(r) = a.max_res.filter(|&r| r < 4 || !r.is_power_of_two()) {
        return Err(TrainError::Invalid(format!(
            "--max-res must be a power of two >= 4 (4, 8, 16, ... 1024), got {r}"
        )));
    }
    if a.limit == Some(0) {
        return Err(TrainError::Invalid("--limit must be at least 1".into()));
    }
    if let Some(c) = a.channels.filter(|&c| c != 1 && c != 3) {
        return Err(TrainError::Invalid(format!(
            "--channels must be 1 (grayscale) or 3 (RGB), got {c}"
        )));
    }
    if let Some(m) = &a.augment {
        m.parse::<AugmentMode>()
            .map_err(|e| TrainError::Invalid(format!("--{e}")))?;
    }
    if a.slice_axis.is_some() && a.dataset != "nifti" {
        return Err(TrainError::Invalid(
            "--slice-axis applies to `train nifti` only".into(),
        ));
    }
    Ok(())
}

/// What StyleGAN2 changes in a configuration: one resolution (no growing), the logistic
/// loss with lazy R1, and, where neither a flag nor the file sets them, the official "auto"
/// config of stylegan2-ada-pytorch's `train.py` for one GPU: 2 mapping layers, lr 0.0025
/// (0.002 at 1024), R1 gamma = 0.0002 res^2 / batch, and with the full preset (whose
/// fmap_base 16384 is already auto's) batch min(4096 / res, 32) and an EMA half-life of
/// batch * 10 / 32 kimg. The small preset keeps its CPU-sized batch and short EMA.
fn stylegan2_defaults(
    cfg: &mut TrainConfig,
    a: &TrainArgs,
    file: Option<&toml::Value>,
) -> Result<()> {
    if a.loss == Some(Loss::WganGp)
        || file.and_then(|f| f.get("loss")).and_then(|l| l.as_str()) == Some("wgan-gp")
    {
        return Err(TrainError::invalid(
            "StyleGAN2 trains with the non-saturating logistic loss and lazy R1: use --loss logistic-r1 (or leave --loss out)",
        ));
    }
    cfg.loss = Loss::LogisticR1;
    cfg.model.start_res = cfg.model.max_res;
    let res = cfg.model.max_res;
    let in_file = |key: &str| file.and_then(|f| f.get(key)).is_some();
    let in_model = |key: &str| {
        file.and_then(|f| f.get("model"))
            .and_then(|m| m.get(key))
            .is_some()
    };
    if !in_model("mapping_layers") {
        cfg.model.mapping_layers = 2;
    }
    if a.lr.is_none() && !in_file("lr") {
        cfg.set_lr(if res >= 1024 { 0.002 } else { 0.0025 });
    }
    if cfg.preset == "full" {
        if a.batch.is_none() && !in_file("batch") {
            cfg.batch.insert(res, (4096 / res).clamp(1, 32));
        }
        if !in_file("ema_half_life_kimg") {
            cfg.ema_half_life_kimg = cfg.batch_at(res) as f64 * 10.0 / 32.0;
        }
    }
    if !in_file("r1_gamma") {
        let r = res as f64;
        cfg.r1_gamma = 0.0002 * r * r / cfg.batch_at(res) as f64;
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
) -> Result<(TrainConfig, Option<(usize, String)>)> {
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
        p => {
            return Err(TrainError::Invalid(format!(
                "unknown preset {p:?}: use small or full"
            )))
        }
    };
    let mut file = None;
    if let Some(path) = &a.config {
        let text = fs::read_to_string(path).map_err(FileOp::ReadConfig.on(path))?;
        let over = config_file::check(&text, path)?;
        let mut base = toml::Value::try_from(&cfg)?;
        merge(&mut base, over.clone());
        cfg = base.try_into().map_err(|source| TrainError::Toml {
            context: format!("--config {}", path.display()),
            source,
        })?;
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
    if let Some(k) = a.accumulate {
        cfg.accumulate = k;
    }
    if let Some(k) = a.kimg {
        cfg.kimg_per_phase = k;
    }
    if let Some(l) = a.loss {
        cfg.loss = l;
    }
    if let Some(arch) = a.arch {
        cfg.model.arch = arch;
    }
    if cfg.model.arch == Arch::Stylegan2 {
        stylegan2_defaults(&mut cfg, a, file.as_ref())?;
    }
    if let Some(lr) = a.lr {
        cfg.set_lr(lr);
    }
    if let Some(m) = &a.augment {
        cfg.augment = m.clone();
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
