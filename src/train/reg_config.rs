//! StyleGAN2's lazy regularisation settings (`[stylegan2]` in a configuration) and the
//! optimiser factor they imply; the steps themselves are in `lazy_reg`.

use serde::{Deserialize, Serialize};

use crate::nn::Arch;

/// The settings (official defaults): `[stylegan2]` in a configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LazyReg {
    /// D's R1 step every this many steps (16).
    pub r1_interval: u64,
    /// Path length weight (2; 0 turns the G regularisation step off).
    pub pl_weight: f64,
    /// G's path length step every this many steps (4).
    pub pl_interval: u64,
    /// The path length step's batch is the step's divided by this (2).
    pub pl_batch_shrink: usize,
    /// The running mean's decay (0.01).
    pub pl_decay: f64,
}

impl Default for LazyReg {
    fn default() -> Self {
        LazyReg {
            r1_interval: 16,
            pl_weight: 2.0,
            pl_interval: 4,
            pl_batch_shrink: 2,
            pl_decay: 0.01,
        }
    }
}

impl LazyReg {
    /// c = interval / (interval + 1): the optimiser's learning-rate factor and betas' power.
    pub fn ratio(interval: u64) -> f64 {
        interval as f64 / (interval + 1) as f64
    }

    /// The optimiser factor c of D and of G for `arch` and R1 weight `r1_gamma` (1 where no
    /// lazy step runs: StyleGAN 1, or a regulariser turned off).
    pub fn ratios(&self, arch: Arch, r1_gamma: f64) -> (f64, f64) {
        if arch != Arch::Stylegan2 {
            return (1.0, 1.0);
        }
        let g = if self.pl_weight > 0.0 {
            Self::ratio(self.pl_interval)
        } else {
            1.0
        };
        let d = if r1_gamma > 0.0 {
            Self::ratio(self.r1_interval)
        } else {
            1.0
        };
        (d, g)
    }

    /// A clear message for settings that can't run.
    pub fn validate(&self) -> Result<(), String> {
        if self.r1_interval == 0 || self.pl_interval == 0 || self.pl_batch_shrink == 0 {
            return Err(
                "stylegan2: r1_interval, pl_interval and pl_batch_shrink must be at least 1".into(),
            );
        }
        if !(self.pl_weight >= 0.0 && (0.0..=1.0).contains(&self.pl_decay)) {
            return Err(format!(
                "stylegan2: pl_weight {} must be >= 0 and pl_decay {} in [0, 1]",
                self.pl_weight, self.pl_decay
            ));
        }
        Ok(())
    }
}
