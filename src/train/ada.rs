//! ADA's augmentation probability p (Karras et al. 2020, "Training Generative Adversarial
//! Networks with Limited Data"; stylegan2-ada-pytorch `training_loop.py`). The overfitting
//! heuristic r_t = E[sign(D(real))] is accumulated over `interval` minibatches; then p moves
//! by sign(r_t - target) * (batch * interval) / (kimg_to_one * 1000), so at full speed p goes
//! from 0 to 1 in `kimg_to_one` thousand images, and is clamped to [0, 1]. Pure arithmetic: it
//! knows no tensors, the trainer hands it the sum of signs it measured.

use serde::{Deserialize, Serialize};

/// The controller's state (in the checkpoint, so a resume continues the same p).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaController {
    /// The augmentation probability.
    pub p: f64,
    /// The r_t that p steers towards (official: 0.6).
    pub target: f64,
    /// Minibatches between updates (official: 4).
    pub interval: usize,
    /// Thousands of images over which p may go from 0 to 1 (official: 500).
    pub kimg_to_one: f64,
    /// Sum of sign(D(real)) and the number of reals since the last update.
    sign_sum: f64,
    count: usize,
    /// Minibatches since the last update.
    batches: usize,
    /// Sum of sign(D(real)) and reals over the whole run (what `metrics.csv`'s r_t column
    /// averages between its rows; 0 in checkpoints from before it existed).
    #[serde(default)]
    signs_seen: f64,
    #[serde(default)]
    reals_seen: u64,
}

impl AdaController {
    /// The official settings: p = 0, target 0.6, every 4 minibatches, 0 -> 1 in 500 kimg.
    pub fn new() -> Self {
        AdaController {
            p: 0.0,
            target: 0.6,
            interval: 4,
            kimg_to_one: 500.0,
            sign_sum: 0.0,
            count: 0,
            batches: 0,
            signs_seen: 0.0,
            reals_seen: 0,
        }
    }

    /// The official controller with another target and speed (the run's `ada_target`,
    /// `ada_kimg`).
    pub fn with(target: f64, kimg_to_one: f64) -> Self {
        AdaController {
            target,
            kimg_to_one,
            ..Self::new()
        }
    }

    /// Minibatches recorded since the last update of p.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// The sum of sign(D(real)) and the number of reals recorded over the whole run: r_t over
    /// any stretch is the difference of two of these, divided.
    pub fn seen(&self) -> (f64, u64) {
        (self.signs_seen, self.reals_seen)
    }

    /// Record one minibatch: the sum of sign(D(real)) over its `reals` images. Every
    /// `interval` minibatches p moves (by the images actually seen, which is batch * interval
    /// when the batch is constant); returns r_t when it did.
    pub fn record(&mut self, sign_sum: f64, reals: usize) -> Option<f64> {
        self.sign_sum += sign_sum;
        self.count += reals;
        self.batches += 1;
        self.signs_seen += sign_sum;
        self.reals_seen += reals as u64;
        if self.batches < self.interval {
            return None;
        }
        let r_t = self.sign_sum / self.count.max(1) as f64;
        // sign(0) = 0 as numpy's: exactly on target, p stays.
        let dir = if r_t > self.target {
            1.0
        } else if r_t < self.target {
            -1.0
        } else {
            0.0
        };
        let step = dir * self.count as f64 / (self.kimg_to_one * 1000.0);
        self.p = (self.p + step).clamp(0.0, 1.0);
        (self.sign_sum, self.count, self.batches) = (0.0, 0, 0);
        Some(r_t)
    }
}

impl Default for AdaController {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With D's sign on reals fixed at +1, r_t = 1 > 0.6: p rises by batch * 4 / 500_000 per
    /// update, only on every 4th minibatch, and stops at 1.
    #[test]
    fn p_rises_by_the_official_step_when_d_overfits() {
        let batch = 32;
        let mut ada = AdaController::new();
        let step = (batch * 4) as f64 / 500_000.0;
        for update in 1..=3 {
            for k in 0..4 {
                let r = ada.record(batch as f64, batch);
                assert_eq!(r.is_some(), k == 3);
            }
            assert!(
                (ada.p - update as f64 * step).abs() < 1e-15,
                "p = {}",
                ada.p
            );
        }
        // 0 -> 1 in 500 kimg: 500_000 / (32 * 4) = 3906.25 updates.
        let mut ada = AdaController::new();
        let mut updates = 0;
        while ada.p < 1.0 {
            for _ in 0..4 {
                ada.record(batch as f64, batch);
            }
            updates += 1;
        }
        assert_eq!(updates, 3907);
        ada.record(batch as f64, batch);
        assert_eq!(ada.p, 1.0);
    }

    #[test]
    fn p_falls_to_zero_and_stays_on_target() {
        let mut ada = AdaController {
            p: 0.001,
            ..AdaController::new()
        };
        for _ in 0..4 {
            ada.record(-8.0, 16); // r_t = -0.5 < 0.6
        }
        assert!((ada.p - (0.001 - 64.0 / 500_000.0)).abs() < 1e-15);
        for _ in 0..40 {
            ada.record(-8.0, 16);
        }
        assert_eq!(ada.p, 0.0);
        let mut on_target = AdaController {
            p: 0.3,
            ..AdaController::new()
        };
        for _ in 0..4 {
            on_target.record(6.0, 10);
        }
        assert_eq!(on_target.p, 0.3);
    }

    /// The run totals that metrics.csv's r_t column is made of count every minibatch,
    /// across updates of p (which reset only the update's own sums).
    #[test]
    fn run_totals_count_every_real_across_updates() {
        let mut ada = AdaController::new();
        for k in 0..10 {
            ada.record(if k % 3 == 0 { -2.0 } else { 5.0 }, 8);
        }
        assert_eq!(ada.seen(), (4.0 * -2.0 + 6.0 * 5.0, 80));
        assert_eq!(ada.batches(), 2);
    }
}
