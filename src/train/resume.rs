//! What `--resume` does with the flags it is given. Flags that can change safely take effect
//! and are listed (the caller prints them and writes them to the log); flags that would make
//! the saved state meaningless are a clear error before any work.

use super::args::TrainArgs;
use super::checkpoint::Checkpoint;
use super::config::TrainConfig;
use super::error::TrainError;
use super::schedule::Schedule;

/// The configuration to continue with and one line per change.
pub struct Resumed {
    pub cfg: TrainConfig,
    pub changes: Vec<String>,
}

/// Refuse a flag that asks for something other than what the run was trained with.
fn same<T: PartialEq + std::fmt::Display>(
    flag: &str,
    asked: Option<T>,
    saved: T,
    why: &str,
) -> Result<(), TrainError> {
    match asked {
        Some(v) if v != saved => Err(TrainError::Invalid(format!(
            "--resume: {flag} {v} cannot change a run trained with {saved}: {why}; start a new run (--out) instead"
        ))),
        _ => Ok(()),
    }
}

/// Apply `a`'s flags to the checkpoint's configuration.
pub fn apply_flags(a: &TrainArgs, ck: &Checkpoint) -> Result<Resumed, TrainError> {
    let old = &ck.config;
    let mut cfg = old.clone();
    let mut changes = Vec::new();
    if a.config.is_some() {
        return Err(TrainError::invalid(
            "--resume continues the run's own config.toml; --config applies to new runs (change a resumed run with flags such as --kimg or --max-res)",
        ));
    }
    same(
        "dataset",
        Some(a.dataset.as_str()),
        old.data.dataset.as_str(),
        "the model learned that dataset",
    )?;
    same(
        "--loss",
        a.loss,
        old.loss,
        "the discriminator and its optimiser state were trained for that loss",
    )?;
    same(
        "--arch",
        a.arch,
        old.model.arch,
        "both networks and their optimiser states belong to that architecture",
    )?;
    if old.model.arch == crate::nn::Arch::Stylegan2 {
        if let Some(r) = a.max_res.filter(|&r| r != old.model.max_res) {
            return Err(TrainError::Invalid(format!(
                "--resume: --max-res {r} cannot change a StyleGAN2 run trained at {0}x{0}: it has one resolution (no growing); start a new run (--out) instead",
                old.model.max_res
            )));
        }
    }
    same(
        "--seed",
        a.seed,
        old.seed,
        "every latent, noise map and batch of the run is drawn from it, so exact resume needs it",
    )?;
    same(
        "--preset",
        a.preset.as_deref(),
        old.preset.as_str(),
        "the preset fixes the network's size",
    )?;
    same(
        "--channels",
        a.channels,
        old.model.channels,
        "the model's first and last layers are sized for that many image channels",
    )?;
    same(
        "--slice-axis",
        a.slice_axis.map(|s| s.to_string()),
        old.data.slice_axis.to_string(),
        "the model learned slices along that axis",
    )?;
    same(
        "--limit",
        a.limit.map(|l| l.to_string()),
        old.data
            .limit
            .map_or("all images".into(), |l| l.to_string()),
        "it changes which images the run trains on",
    )?;
    let images = ck.number("images")?;
    let schedule = Schedule::new(old);
    if let Some(r) = a.max_res.filter(|&r| r != old.model.max_res) {
        let reached = schedule.res_at(images);
        if r < reached {
            return Err(TrainError::Invalid(format!(
                "--resume: --max-res {r} is below {reached}x{reached}, which this run has already reached; a model cannot shrink below where it trains"
            )));
        }
        cfg.model.max_res = r;
        changes.push(format!("max resolution {0} -> {r}", old.model.max_res));
    }
    if let Some(k) = a.kimg.filter(|&k| k != old.kimg_per_phase) {
        cfg.kimg_per_phase = k;
        cfg.phase_images = fixed_phases(&schedule, images, k);
        changes.push(format!(
            "kimg per phase {} -> {k} (phases already trained keep their length)",
            old.kimg_per_phase
        ));
    }
    if let Some(s) = a.sample_every.filter(|&s| s != old.sample_every_kimg) {
        cfg.sample_every_kimg = s;
        changes.push(format!(
            "sample every {} -> {s} kimg",
            old.sample_every_kimg
        ));
    }
    if let Some(c) = a
        .checkpoint_every
        .filter(|&c| c != old.checkpoint_every_kimg)
    {
        cfg.checkpoint_every_kimg = c;
        changes.push(format!(
            "checkpoint every {} -> {c} kimg",
            old.checkpoint_every_kimg
        ));
    }
    if let Some(lr) = a.lr {
        cfg.set_lr(lr);
        if cfg.lr != old.lr {
            changes.push(format!("learning rate -> {lr} at every resolution"));
        }
    }
    if let Some(b) = a.batch {
        cfg.set_batch(b);
        if cfg.batch != old.batch {
            changes.push(format!("minibatch -> {b} at every resolution"));
        }
    }
    // Accumulation changes memory, not what a step means (the batch stays the global one);
    // only the minibatch-stddev groups, which stay within a micro-batch, see it.
    if let Some(k) = a.accumulate.filter(|&k| k != old.accumulate) {
        cfg.accumulate = k;
        changes.push(format!(
            "accumulate {} -> {k} micro-batches per step",
            old.accumulate
        ));
    }
    // Augmentation changes what D sees from now on, not what the saved state means; ADA's p
    // and its sums carry on from the checkpoint.
    if let Some(m) = a.augment.as_ref().filter(|m| **m != old.augment) {
        cfg.augment = m.clone();
        changes.push(format!("augment {} -> {m}", old.augment));
    }
    if let Some(d) = &a.data {
        let path = d.display().to_string();
        if old.data.path.as_deref() != Some(path.as_str()) {
            cfg.data.path = Some(path.clone());
            changes.push(format!(
                "dataset path {} -> {path} (checked to hold the same images)",
                old.data.path.as_deref().unwrap_or("(default)")
            ));
        }
    }
    cfg.validate()?;
    Ok(Resumed { cfg, changes })
}

/// Phase lengths for a new `kimg` per phase: those trained (and the one in progress, which
/// ends now if it is already longer than the new length) keep their length.
fn fixed_phases(old: &Schedule, images: u64, kimg: f64) -> Vec<u64> {
    let new_len = (kimg * 1000.0).round().max(1.0) as u64;
    let mut fixed = Vec::new();
    let last = old.phases.len().saturating_sub(1);
    for (i, p) in old.phases.iter().enumerate() {
        // The final phase (StyleGAN2's only one) may always grow: a finished run continues.
        if p.start + p.len <= images && i < last {
            fixed.push(p.len);
        } else {
            if p.start < images {
                fixed.push(new_len.max(images - p.start));
            }
            break;
        }
    }
    fixed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trained_phases_keep_their_length_and_the_current_one_ends_no_earlier_than_now() {
        let mut cfg = TrainConfig::small();
        cfg.model.max_res = 16;
        cfg.kimg_per_phase = 1.0;
        let s = Schedule::new(&cfg);
        // 2.5 kimg: phases 0 and 1 done, phase 2 half way.
        assert_eq!(fixed_phases(&s, 2500, 0.2), [1000, 1000, 500]);
        assert_eq!(fixed_phases(&s, 2500, 3.0), [1000, 1000, 3000]);
        // On a boundary nothing of the next phase is fixed.
        assert_eq!(fixed_phases(&s, 2000, 0.2), [1000, 1000]);
        let mut c2 = cfg.clone();
        c2.kimg_per_phase = 0.2;
        c2.phase_images = fixed_phases(&s, 2500, 0.2);
        let s2 = Schedule::new(&c2);
        // The next phase starts right where training stands.
        assert_eq!(s2.at(2500).unwrap().phase, 3);
        assert_eq!(s2.at(2500).unwrap().into, 0);
        assert_eq!(s2.total(), 2500 + 2 * 200);
    }
}
