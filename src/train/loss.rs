//! The two GAN objectives, each with its second-order penalty (differentiated through D).

use crate::autograd::grad;
use crate::nn::Discriminator;
use crate::ops::{self, mean_all, softplus, square, sum};
use crate::params::ParamGroup;
use crate::tensor::Tensor;

/// What the discriminator sees: its network, parameters, resolution and fade.
pub struct Critic<'a> {
    pub net: &'a Discriminator,
    pub params: &'a ParamGroup,
    pub res: usize,
    pub alpha: f64,
}

impl Critic<'_> {
    pub fn score(&self, img: &Tensor) -> Tensor {
        self.net.forward(self.params, img, self.res, self.alpha)
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
    d_wgan_gp_probed(d, real, fake, u, (lambda, eps), &mut |_| {})
}

/// [`d_wgan_gp`], calling `probe` at each [`LossPoint`] (`bench` measures memory there).
pub fn d_wgan_gp_probed(
    d: &Critic,
    real: &Tensor,
    fake: &Tensor,
    u: &Tensor,
    (lambda, eps): (f64, f64),
    probe: &mut dyn FnMut(LossPoint),
) -> Tensor {
    let d_real = d.score(real);
    let d_fake = d.score(fake);
    let mix = (real + &(u * &(fake - real))).detach().requires_grad_();
    let d_mix = d.score(&mix);
    probe(LossPoint::ScoresDone);
    let g = grad(&[ops::sum_all(&d_mix)], std::slice::from_ref(&mix), true).remove(0);
    // The tiny constant keeps sqrt differentiable should a gradient vanish exactly.
    let norm = ops::sqrt(&ops::add_scalar(&sq_norm(&g), 1e-12));
    let gp = square(&ops::add_scalar(&norm, -1.0));
    let b = real.dim(0);
    let per_sample = &(&(&d_fake - &d_real) + &ops::mul_scalar(&square(&d_real), eps))
        + &ops::mul_scalar(&ops::reshape(&gp, &[b, 1]), lambda);
    mean_all(&per_sample)
}

/// The WGAN generator loss: -D(fake).
pub fn g_wgan(d: &Critic, fake: &Tensor) -> Tensor {
    ops::neg(&mean_all(&d.score(fake)))
}

/// Non-saturating logistic with R1: softplus(D(fake)) + softplus(-D(real)) + gamma/2 |grad D(real)|^2.
pub fn d_logistic_r1(d: &Critic, real: &Tensor, fake: &Tensor, gamma: f64) -> Tensor {
    d_logistic_r1_probed(d, real, fake, gamma, &mut |_| {})
}

/// [`d_logistic_r1`], calling `probe` at each [`LossPoint`].
pub fn d_logistic_r1_probed(
    d: &Critic,
    real: &Tensor,
    fake: &Tensor,
    gamma: f64,
    probe: &mut dyn FnMut(LossPoint),
) -> Tensor {
    let real = real.detach().requires_grad_();
    let d_real = d.score(&real);
    let d_fake = d.score(fake);
    probe(LossPoint::ScoresDone);
    let g = grad(&[ops::sum_all(&d_real)], std::slice::from_ref(&real), true).remove(0);
    let b = real.dim(0);
    let r1 = ops::reshape(&sq_norm(&g), &[b, 1]);
    let per_sample =
        &(&softplus(&d_fake) + &softplus(&ops::neg(&d_real))) + &ops::mul_scalar(&r1, gamma * 0.5);
    mean_all(&per_sample)
}

/// The non-saturating generator loss: softplus(-D(fake)).
pub fn g_logistic(d: &Critic, fake: &Tensor) -> Tensor {
    mean_all(&softplus(&ops::neg(&d.score(fake))))
}
