//! ADA in the training step: the augmentation mode and probability of a step, the
//! critic that augments what D sees, and the controller fed with D's signs on the reals,
//! read back from the device once per update of p.

use super::ada::AdaController;
use super::config::AugmentMode;
use super::loss::{Augment, Critic};
use super::schedule::Point;
use super::trainer::Trainer;
use crate::ops;
use crate::params::ParamGroup;
use crate::tensor::Tensor;

impl Trainer {
    /// The run's augmentation mode.
    pub fn augment_mode(&self) -> AugmentMode {
        self.cfg
            .augment_mode()
            .expect("the configuration was validated")
    }

    /// The augmentation probability of the next step; None without augmentation.
    pub fn augment_p(&self) -> Option<f64> {
        match self.augment_mode() {
            AugmentMode::None => None,
            AugmentMode::Fixed(p) => Some(p),
            AugmentMode::Ada => Some(self.ada.p),
        }
    }

    /// D at `params` for point `pt`, augmenting (at this step's p) the images of a pass whose
    /// first image is sample `first` of the step.
    pub(super) fn critic<'a>(
        &'a self,
        params: &'a ParamGroup,
        pt: &Point,
        first: usize,
    ) -> Critic<'a> {
        Critic {
            net: &self.d,
            params,
            res: pt.res,
            alpha: pt.alpha,
            augment: self.augment_p().map(|p| Augment {
                pipeline: &self.pipeline,
                p,
                seed: self.cfg.seed,
                step: self.progress.step,
                first,
            }),
        }
    }

    /// Per pending step, the sum of sign(D(real)) over this rank's reals and their count (one
    /// read back for all of them).
    fn pending_signs(&self) -> Vec<(f64, usize)> {
        let all: Vec<Tensor> = self
            .ada_pending
            .iter()
            .flatten()
            .map(|t| ops::reshape(t, &[t.numel()]))
            .collect();
        if all.is_empty() {
            return vec![(0.0, 0); self.ada_pending.len()];
        }
        let vals = ops::concat(&all, 0).to_vec();
        let mut at = 0;
        let sign = |v: f32| f64::from(u8::from(v > 0.0)) - f64::from(u8::from(v < 0.0));
        self.ada_pending
            .iter()
            .map(|step| {
                let n: usize = step.iter().map(Tensor::numel).sum();
                let s = vals[at..at + n].iter().map(|&v| sign(v)).sum();
                at += n;
                (s, n)
            })
            .collect()
    }

    /// Read back the pending scores (summed over the ranks) and feed them to ADA's controller.
    fn settle_ada(&mut self) {
        for (s, n) in self.pending_signs() {
            let mut v = [s as f32, n as f32];
            self.group.sum_f32(&mut v);
            self.ada.record(f64::from(v[0]), v[1] as usize);
        }
        self.ada_pending.clear();
    }

    /// ADA's controller with the pending steps recorded (what a checkpoint saves; p itself
    /// moves only every `interval` steps, when the trainer has settled them already).
    pub fn ada_state(&self) -> AdaController {
        let mut ada = self.ada.clone();
        for (s, n) in self.pending_signs() {
            ada.record(s, n);
        }
        ada
    }

    /// Keep a step's scores of the reals; with `ada`, read them back and move p when an
    /// update is due (under MPI on every step, so the ranks' sums meet at the same steps).
    pub(super) fn record_ada(&mut self, scores: Vec<Tensor>) {
        if self.augment_mode() != AugmentMode::Ada {
            return;
        }
        self.ada_pending.push(scores);
        let due = self.ada.batches() + self.ada_pending.len() >= self.ada.interval;
        if due || self.group.size > 1 {
            self.settle_ada();
        }
    }
}
