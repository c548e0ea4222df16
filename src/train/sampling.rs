//! Samples during training: a grid from fixed latents (G_ema) saved as PNG, and the run's
//! health against the data: generator variance, sliced Wasserstein distance and the
//! adversarial balance, one row of `metrics.csv` and one line of the log per sample.

use std::fs;

use super::config::TrainConfig;
use super::error::Result;
use super::metrics::{pixel_variance, swd, Balance};
use super::pictures;
use super::run_dir::RunDir;
use super::trainer::Trainer;
use crate::data::Dataset;
use crate::nn::NoiseMode;
use crate::ops;
use crate::tensor::Tensor;

/// The latents of the sample grid (the same all run long, so the grids show progress) and
/// when the last grid was made.
pub(super) struct Sampler {
    fixed_z: Tensor,
    /// Images shown at the last sample grid (the end does not repeat it).
    sampled_at: Option<u64>,
    /// ADA's run totals of sign(D(real)) and reals at the last metrics row (or the start).
    signs_at: (f64, u64),
}

impl Sampler {
    /// `t` as the run starts (or resumes): metrics rows average D's signs from here.
    pub fn new(cfg: &TrainConfig, t: &Trainer) -> Self {
        let place = t.place;
        let fixed_z = ops::rand_normal(
            &[cfg.grid * cfg.grid, cfg.model.z_dim],
            cfg.seed ^ 0xf1_7ed,
            0,
            0.0,
            1.0,
            place,
        );
        Sampler {
            fixed_z,
            sampled_at: None,
            signs_at: t.ada_state().seen(),
        }
    }

    /// A grid from the fixed latents (G_ema), generator variance and SWD, at `res` with fade
    /// `alpha`; nothing when this point was sampled already.
    pub fn sample(
        &mut self,
        t: &Trainer,
        ds: &Dataset,
        balance: &Balance,
        out: &RunDir,
        res: usize,
        alpha: f64,
    ) -> Result<()> {
        if self.sampled_at == Some(t.progress.images) {
            return Ok(());
        }
        self.sampled_at = Some(t.progress.images);
        let cfg = &t.cfg;
        let c = cfg.model.channels;
        let n = cfg.grid * cfg.grid;
        let imgs = t
            .sample(
                &self.fixed_z,
                res,
                alpha,
                1.0,
                NoiseMode::Const { seed: cfg.seed },
            )
            .to_vec();
        let kimg = t.progress.images as f64 / 1000.0;
        let dir = out.dir.join("samples");
        fs::create_dir_all(&dir)?;
        let grid = pictures::enlarge(&pictures::grid(&imgs, n, c, res, cfg.grid), 256);
        pictures::save_png(&grid, &dir.join(format!("grid-{:09.3}kimg.png", kimg)))?;
        // Health: 64 fresh samples against 64 dataset images.
        let m = 64;
        let z = t.latents(m, u64::MAX >> 8, t.progress.step & 0xff);
        let fakes = t
            .sample(
                &z,
                res,
                alpha,
                1.0,
                NoiseMode::Random {
                    seed: cfg.seed,
                    step: t.progress.step,
                    first: 0,
                },
            )
            .to_vec();
        let all = ds.at_resolution(res);
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
        // p: the augmentation probability (empty without augmentation); rt: ADA's r_t since
        // the last row (empty without ADA, or when no real was scored since).
        let p = t.augment_p().map_or(String::new(), |p| format!("{p:.6}"));
        let rt = self.r_t(t).map_or(String::new(), |r| format!("{r:.4}"));
        out.append_metrics(&format!(
            "{kimg:.3},{res},{alpha:.4},{frac:.4},{:.4},{:.4},{:.4},{swd_s},{p},{rt}",
            balance.balance(),
            balance.d.unwrap_or(f64::NAN),
            balance.g.unwrap_or(f64::NAN)
        ))?;
        out.log(&format!(
            "kimg {kimg:.2} {res}x{res}: generator variance {:.0}% of the data's, adversarial balance {:.3}, SWD x1e3 [{swd_s}]{}",
            100.0 * frac,
            balance.balance(),
            t.augment_p().map_or(String::new(), |p| format!(", augmentation p {p:.4}"))
                + &(if rt.is_empty() { String::new() } else { format!(", r_t {rt}") })
        ));
        if frac < 0.2 && kimg > 0.0 {
            out.log("warning: generator variance below 20% of the data's: likely mode collapse");
        }
        Ok(())
    }

    /// ADA's overfitting heuristic r_t = E[sign(D(real))] over the reals D scored since the
    /// last metrics row (the official `Loss/signs/real`); None without ADA or new reals.
    fn r_t(&mut self, t: &Trainer) -> Option<f64> {
        if t.augment_mode() != super::config::AugmentMode::Ada {
            return None;
        }
        let (signs, reals) = t.ada_state().seen();
        let (s0, n0) = std::mem::replace(&mut self.signs_at, (signs, reals));
        (reals > n0).then(|| (signs - s0) / (reals - n0) as f64)
    }
}
