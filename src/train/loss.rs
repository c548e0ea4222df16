//! The two GAN objectives, each with its second-order penalty (differentiated through D).
//! With augmentation (ADA) the critic augments every image before D scores it, so reals,
//! fakes, the penalty's images (differentiated through the augmentation) and G's step all
//! see it; each kind of call draws its own augmentations.

use crate::autograd::grad;
use crate::nn::augment::Pipeline;
use crate::nn::DiscNet;
use crate::ops::{self, mean_all, softplus, square, sum};
use crate::params::ParamGroup;
use crate::tensor::Tensor;

/// What the discriminator sees: its network, parameters, resolution and fade, and the
/// augmentation in front of it.
pub struct Critic<'a> {
    pub net: &'a DiscNet,
    pub params: &'a ParamGroup,
    pub res: usize,
    pub alpha: f64,
    pub augment: Option<Augment<'a>>,
}

/// The augmentation of one pass: the pipeline, its probability and the keys of its draws
/// (the run's seed, the step, and the index of the pass's first image in the step's batch).
#[derive(Clone, Copy)]
pub struct Augment<'a> {
    pub pipeline: &'a Pipeline,
    pub p: f64,
    pub seed: u64,
    pub step: u64,
    pub first: usize,
}

/// Which images a call of D scores: each kind draws its own augmentations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    Real = 0,
    Fake = 1,
    /// WGAN-GP's interpolates.
    Mix = 2,
    /// The fakes of G's step.
    GenFake = 3,
}

impl Critic<'_> {
    /// The images D is given for `img` (augmented, or `img` itself).
    pub fn seen(&self, img: &Tensor, kind: Seen) -> Tensor {
        match &self.augment {
            Some(a) if a.p > 0.0 => {
                a.pipeline
                    .apply(img, a.p, a.seed, a.step * 4 + kind as u64, a.first)
            }
            _ => img.clone(),
        }
    }

    pub fn score(&self, img: &Tensor, kind: Seen) -> Tensor {
        self.net
            .forward(self.params, &self.seen(img, kind), self.res, self.alpha)
    }
}

/// Per-sample squared L2 norm over C, H, W: [B].
fn sq_norm(g: &Tensor) -> Tensor {
    sum(&square(g), &[1, 2, 3], false)
}

/// A point inside a D loss where `bench` reads the memory figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossPoint {
    /// The loss's inputs (fakes, faded reals, mixing weights) exist; nothing of D has run.
    InputsReady,
    /// Every score of D is made (its activations are held for the backward); the
    /// penalty's `create_graph` gradient comes next.
    ScoresDone,
}

/// WGAN-GP with drift: D(fake) - D(real) + lambda (|grad D(mix)| - 1)^2 + eps D(real)^2,
/// mix = real + u (fake - real) with u ~ U(0, 1) per sample [B, 1, 1, 1].
pub fn d_wgan_gp(
    d: &Critic,
    real: &Tensor,
    fake: &Tensor,
    u: &Tensor,
    lambda: f64,
    eps: f64,
) -> Tensor {
    d_wgan_gp_probed(d, real, fake, u, (lambda, eps), &mut |_| {}).0
}

/// [`d_wgan_gp`], calling `probe` at each [`LossPoint`] (`bench` measures memory there);
/// also returns D's scores of the reals [B, 1] (detached; ADA's overfitting measure).
pub fn d_wgan_gp_probed(
    d: &Critic,
    real: &Tensor,
    fake: &Tensor,
    u: &Tensor,
    (lambda, eps): (f64, f64),
    probe: &mut dyn FnMut(LossPoint),
) -> (Tensor, Tensor) {
    let d_real = d.score(real, Seen::Real);
    let d_fake = d.score(fake, Seen::Fake);
    let mix = (real + &(u * &(fake - real))).detach().requires_grad_();
    let d_mix = d.score(&mix, Seen::Mix);
    probe(LossPoint::ScoresDone);
    let g = grad(&[ops::sum_all(&d_mix)], std::slice::from_ref(&mix), true).remove(0);
    // The tiny constant keeps sqrt differentiable should a gradient vanish exactly.
    let norm = ops::sqrt(&ops::add_scalar(&sq_norm(&g), 1e-12));
    let gp = square(&ops::add_scalar(&norm, -1.0));
    let b = real.dim(0);
    let per_sample = &(&(&d_fake - &d_real) + &ops::mul_scalar(&square(&d_real), eps))
        + &ops::mul_scalar(&ops::reshape(&gp, &[b, 1]), lambda);
    (mean_all(&per_sample), d_real.detach())
}

/// The WGAN generator loss: -D(fake).
pub fn g_wgan(d: &Critic, fake: &Tensor) -> Tensor {
    ops::neg(&mean_all(&d.score(fake, Seen::GenFake)))
}

/// Non-saturating logistic with R1: softplus(D(fake)) + softplus(-D(real)) + gamma/2 |grad D(real)|^2.
pub fn d_logistic_r1(d: &Critic, real: &Tensor, fake: &Tensor, gamma: f64) -> Tensor {
    d_logistic_r1_probed(d, real, fake, gamma, &mut |_| {}).0
}

/// [`d_logistic_r1`], calling `probe` at each [`LossPoint`]; also returns D's scores of the
/// reals [B, 1] (detached). R1 differentiates D(aug(x)) with respect to x.
pub fn d_logistic_r1_probed(
    d: &Critic,
    real: &Tensor,
    fake: &Tensor,
    gamma: f64,
    probe: &mut dyn FnMut(LossPoint),
) -> (Tensor, Tensor) {
    let real = real.detach().requires_grad_();
    let d_real = d.score(&real, Seen::Real);
    let d_fake = d.score(fake, Seen::Fake);
    probe(LossPoint::ScoresDone);
    let g = grad(&[ops::sum_all(&d_real)], std::slice::from_ref(&real), true).remove(0);
    let b = real.dim(0);
    let r1 = ops::reshape(&sq_norm(&g), &[b, 1]);
    let per_sample =
        &(&softplus(&d_fake) + &softplus(&ops::neg(&d_real))) + &ops::mul_scalar(&r1, gamma * 0.5);
    (mean_all(&per_sample), d_real.detach())
}

/// The non-saturating generator loss: softplus(-D(fake)).
pub fn g_logistic(d: &Critic, fake: &Tensor) -> Tensor {
    mean_all(&softplus(&ops::neg(&d.score(fake, Seen::GenFake))))
}

/// The non-saturating logistic D loss without a penalty (StyleGAN2's main D step; R1 runs
/// lazily on its own): softplus(D(fake)) + softplus(-D(real)); also D's scores of the reals.
pub fn d_logistic_probed(
    d: &Critic,
    real: &Tensor,
    fake: &Tensor,
    probe: &mut dyn FnMut(LossPoint),
) -> (Tensor, Tensor) {
    let d_real = d.score(real, Seen::Real);
    let d_fake = d.score(fake, Seen::Fake);
    probe(LossPoint::ScoresDone);
    let per_sample = &softplus(&d_fake) + &softplus(&ops::neg(&d_real));
    (mean_all(&per_sample), d_real.detach())
}

/// R1 alone, times `weight` (StyleGAN2's lazy step: gamma / 2 times the interval): the mean
/// over the batch of weight |grad_x D(aug(x))|^2 at the reals.
pub fn d_r1(d: &Critic, real: &Tensor, weight: f64) -> Tensor {
    let real = real.detach().requires_grad_();
    let d_real = d.score(&real, Seen::Real);
    let g = grad(&[ops::sum_all(&d_real)], std::slice::from_ref(&real), true).remove(0);
    ops::mul_scalar(&mean_all(&sq_norm(&g)), weight)
}
