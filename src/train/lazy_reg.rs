//! StyleGAN2's lazy regularisation (Karras et al. 2020, section 3.1; stylegan2-ada-pytorch
//! `training_loop.py` and `loss.py`): R1 on D every `r1_interval` steps and path length
//! (`path_length`) on G every `pl_interval` steps, each as an optimiser step of its own with
//! its loss multiplied by the interval. Both optimisers take the learning rate times
//! c = interval / (interval + 1) and betas to the power c, so that the main and the
//! regularisation steps together move the weights as far per image as one step would.
//!
//! Order within a training step: D main, D reg (when due), G main, G reg (when due), as our
//! StyleGAN 1 step runs D first; the official loop runs G's phases first, so its G step sees
//! the D of the step before. Settings: `reg_config`.
//! The path length's running mean is per process and per micro-batch as the official one is
//! per GPU: with accumulation each micro-batch's penalty uses its own updated mean, and the
//! kept mean is the average of theirs (for equal micro-batches, exactly the full batch's).

use super::accumulate::accumulated;
use super::loss;
use super::path_length::PathLength;
use super::schedule::Point;
use super::trainer::Trainer;
use crate::autograd::grad;
use crate::nn::{Arch, NoiseMode};
use crate::ops::{self, rand_normal};
use crate::optim::adam::guard;
use crate::tensor::Tensor;

/// The path length step's latents (and, + 1, its mixing latents): the main steps use 0..=4.
const PL_PURPOSE: u64 = 6;
/// Philox keys of the path length step's noise maps and image-space directions.
const PL_NOISE_KEY: u64 = 0x5eed_9a7b_0000_0003;
const PL_DIRECTION_KEY: u64 = 0x5eed_d1ec_0000_0004;

impl Trainer {
    /// Lazy regularisation runs (StyleGAN2); StyleGAN 1 keeps its penalty in every D step.
    pub fn lazy(&self) -> bool {
        self.cfg.model.arch == Arch::Stylegan2
    }

    /// The optimiser factor c of D and of G (1 where no lazy step runs).
    pub fn lazy_ratios(&self) -> (f64, f64) {
        self.cfg
            .stylegan2
            .ratios(self.cfg.model.arch, self.cfg.r1_gamma)
    }

    /// D's R1 step when due: gamma / 2 |grad D(real)|^2 times the interval, its own Adam step.
    pub(super) fn d_reg_step(&mut self, reals: &Tensor, pt: &Point) {
        let r = &self.cfg.stylegan2;
        if !self.lazy()
            || self.cfg.r1_gamma == 0.0
            || !self.progress.step.is_multiple_of(r.r1_interval)
        {
            return;
        }
        let (k, m) = self.micro(reals.dim(0));
        let (loss, flat, _) = accumulated(&self.dp, self.group, k, |j| {
            let (loss, grads) = self.r1_pass(&ops::slice(reals, 0, j * m, m), j * m, pt);
            (loss, grads, None)
        });
        let ok = guard(&loss, &flat);
        self.adam_d.step_flat(&mut self.dp, &flat, &ok);
    }

    /// The lazy R1 loss, gamma / 2 |grad D(real)|^2 times the interval, and its gradients
    /// for D of `reals`, samples `first..` of the step (a micro-batch).
    pub fn r1_pass(&self, reals: &Tensor, first: usize, pt: &Point) -> (Tensor, Vec<Tensor>) {
        let weight = self.cfg.r1_gamma * 0.5 * self.cfg.stylegan2.r1_interval as f64;
        let part = self.fade_reals(reals, pt);
        let critic = self.critic(&self.dp, pt, first);
        let loss = loss::d_r1(&critic, &part, weight);
        let grads = grad(std::slice::from_ref(&loss), self.dp.params(), false);
        (loss.detach(), grads)
    }

    /// G's path length step when due, on the step's batch / `pl_batch_shrink` (the whole
    /// batch where that would not split into the micro-batches).
    pub(super) fn g_reg_step(&mut self, n: usize, pt: &Point) {
        let r = self.cfg.stylegan2.clone();
        if !self.lazy() || r.pl_weight == 0.0 || !self.progress.step.is_multiple_of(r.pl_interval) {
            return;
        }
        let parts = self.cfg.accumulate.max(1) * self.group.size;
        let shrunk = n / r.pl_batch_shrink;
        let n = if shrunk >= parts && shrunk.is_multiple_of(parts) {
            shrunk
        } else {
            n
        };
        let (k, m) = self.micro(n);
        let mut means = Vec::with_capacity(k);
        let (loss, flat, _) = accumulated(&self.gp, self.group, k, |j| {
            let (loss, grads, mean) = self.pl_pass(j * m..(j + 1) * m, pt);
            means.push(mean);
            (loss, grads, None)
        });
        let ok = guard(&loss, &flat);
        self.adam_g.step_flat(&mut self.gp, &flat, &ok);
        let sum = means
            .into_iter()
            .reduce(|a, b| &a + &b)
            .expect("a micro-batch");
        self.pl_mean = ops::mul_scalar(&sum, 1.0 / k as f64).detach();
    }

    /// The path length loss (its weight times the interval) and its gradients for G of
    /// samples `rows` of the step (a micro-batch), and this micro-batch's updated mean.
    pub fn pl_pass(
        &self,
        rows: std::ops::Range<usize>,
        pt: &Point,
    ) -> (Tensor, Vec<Tensor>, Tensor) {
        let r = &self.cfg.stylegan2;
        let pl = PathLength {
            weight: r.pl_weight * r.pl_interval as f64,
            decay: r.pl_decay,
        };
        let step = self.progress.step;
        let (first, m) = (rows.start, rows.len());
        let (styles, _) = self.styles(&self.gp, rows, step, PL_PURPOSE, pt.res);
        // One node per style input, so the Jacobian is taken per input as the official
        // [N, num_ws, w_dim] tensor's slices are (clones of one w would sum them). A
        // reshape to the same shape is the tensor itself, so go through the flat shape:
        // two views, no copy.
        let ws: Vec<Tensor> = styles
            .iter()
            .map(|w| ops::reshape(&ops::reshape(w, &[w.numel()]), w.shape()))
            .collect();
        let maps = NoiseMode::Random {
            seed: self.cfg.seed ^ PL_NOISE_KEY,
            step,
            first,
        };
        let img = self.g.synthesis(&self.gp, &ws, pt.res, pt.alpha, maps);
        let per_image = (img.numel() / m) as u64;
        let noise = rand_normal(
            img.shape(),
            self.cfg.seed ^ PL_DIRECTION_KEY,
            (step << 32) + first as u64 * per_image,
            0.0,
            1.0,
            self.place,
        );
        let term = pl.term(&img, &ws, ws.len(), &noise, &self.pl_mean);
        let loss = ops::mean_all(&term.penalty);
        let grads = grad(std::slice::from_ref(&loss), self.gp.params(), false);
        (loss.detach(), grads, term.mean)
    }
}
