//! ADA's geometric augmentations (stylegan2-ada-pytorch `augment.py`, the "bg" part of
//! "bgc"): x-flip, 90-degree rotations, integer translation, isotropic scale, arbitrary
//! rotation (twice, around the anisotropic scale), anisotropic scale and fractional
//! translation, each applied with probability p times its strength, composed into one inverse
//! matrix per image and applied by one `affine_grid_sample` (bilinear, reflection).
//!
//! Simplification against the official code: no 2x supersampling with the sym6 wavelet
//! filter around the resample (so a zoom-out aliases a little more), and the reflection is
//! PyTorch's grid_sample one (about pixel edges) rather than `F.pad(mode='reflect')` (about
//! pixel centres); see `cpu::augment`.
//!
//! Draws are Philox words keyed by (seed, step, stage) and the image's index in the whole
//! batch (`first` + b), so micro-batches and ranks draw what the unsplit batch would.

use crate::cpu::random::{normal, uniform01, words};
use crate::ops::affine_grid_sample;
use crate::tensor::Tensor;

/// Strengths (multipliers of p) and magnitudes of the geometric augmentations.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometric {
    pub xflip: f64,
    pub rotate90: f64,
    pub xint: f64,
    /// Largest integer translation, as a fraction of the image size.
    pub xint_max: f64,
    pub scale: f64,
    /// log2 standard deviation of the isotropic scale.
    pub scale_std: f64,
    pub rotate: f64,
    /// Largest rotation, as a fraction of a half turn.
    pub rotate_max: f64,
    pub aniso: f64,
    pub aniso_std: f64,
    pub xfrac: f64,
    /// Standard deviation of the fractional translation, as a fraction of the image size.
    pub xfrac_std: f64,
}

impl Default for Geometric {
    /// The official "bgc" pipeline's geometric settings.
    fn default() -> Self {
        Geometric {
            xflip: 1.0,
            rotate90: 1.0,
            xint: 1.0,
            xint_max: 0.125,
            scale: 1.0,
            scale_std: 0.2,
            rotate: 1.0,
            rotate_max: 1.0,
            aniso: 1.0,
            aniso_std: 0.2,
            xfrac: 1.0,
            xfrac_std: 0.125,
        }
    }
}

type M3 = [[f64; 3]; 3];
const I3: M3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

fn mul(a: &M3, b: &M3) -> M3 {
    let mut c = [[0.0; 3]; 3];
    for (i, row) in c.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

/// The inverse matrices the official code composes (output pixel -> source pixel, centred).
fn scale_inv(sx: f64, sy: f64) -> M3 {
    [[1.0 / sx, 0.0, 0.0], [0.0, 1.0 / sy, 0.0], [0.0, 0.0, 1.0]]
}
fn rotate_inv(theta: f64) -> M3 {
    let (s, c) = (-theta).sin_cos();
    [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
}
fn translate_inv(tx: f64, ty: f64) -> M3 {
    [[1.0, 0.0, -tx], [0.0, 1.0, -ty], [0.0, 0.0, 1.0]]
}

/// Keys the augmentation's draws apart from every other Philox stream of a run.
const AUG_KEY: u64 = 0xADA0_6E0D_5EED_0001;

/// theta (PyTorch's affine_grid convention, row-major 2 x 3) for each of `n` images of size
/// h x w at augmentation probability p. With p = 0 no draw passes its test, so every theta is
/// the identity, exactly.
#[allow(clippy::too_many_arguments)]
pub fn geometric_thetas(
    g: &Geometric,
    p: f64,
    n: usize,
    h: usize,
    w: usize,
    seed: u64,
    step: u64,
    first: usize,
) -> Vec<[f64; 6]> {
    let (wf, hf) = (w as f64, h as f64);
    let pi = std::f64::consts::PI;
    // 1 - sqrt(1 - p): two rotations then happen with probability p between them.
    let p_rot = 1.0 - (1.0 - g.rotate * p).max(0.0).sqrt();
    (0..n)
        .map(|b| {
            let image = (first + b) as u64;
            let draw = |stage: u64| words(seed ^ AUG_KEY, (step << 32) + (stage << 24), image);
            let u = uniform01;
            let mut m = I3;
            let mut then = |t: M3| m = mul(&m, &t);
            let d = draw(0);
            if u(d[1]) < g.xflip * p {
                let i = (u(d[0]) * 2.0).floor();
                then(scale_inv(1.0 - 2.0 * i, 1.0));
            }
            let d = draw(1);
            if u(d[1]) < g.rotate90 * p {
                then(rotate_inv(-pi / 2.0 * (u(d[0]) * 4.0).floor()));
            }
            let d = draw(2);
            if u(d[2]) < g.xint * p {
                let tx = ((u(d[0]) * 2.0 - 1.0) * g.xint_max * wf).round();
                let ty = ((u(d[1]) * 2.0 - 1.0) * g.xint_max * hf).round();
                then(translate_inv(tx, ty));
            }
            let d = draw(3);
            if u(d[2]) < g.scale * p {
                let s = (normal(d[0], d[1]) * g.scale_std).exp2();
                then(scale_inv(s, s));
            }
            for stage in [4, 6] {
                let d = draw(stage);
                if stage == 6 {
                    let a = draw(5);
                    if u(a[2]) < g.aniso * p {
                        let s = (normal(a[0], a[1]) * g.aniso_std).exp2();
                        then(scale_inv(s, 1.0 / s));
                    }
                }
                if u(d[1]) < p_rot {
                    then(rotate_inv(-(u(d[0]) * 2.0 - 1.0) * pi * g.rotate_max));
                }
            }
            let (d, c) = (draw(7), draw(8));
            if u(c[0]) < g.xfrac * p {
                let tx = normal(d[0], d[1]) * g.xfrac_std * wf;
                let ty = normal(d[2], d[3]) * g.xfrac_std * hf;
                then(translate_inv(tx, ty));
            }
            // Centred pixels -> normalised coordinates: theta = S(2/W, 2/H) m S(W/2, H/2),
            // written out so that the identity stays exact.
            [
                m[0][0],
                m[0][1] * hf / wf,
                m[0][2] * 2.0 / wf,
                m[1][0] * wf / hf,
                m[1][1],
                m[1][2] * 2.0 / hf,
            ]
        })
        .collect()
}

/// The identity theta.
pub const IDENTITY: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

/// Apply the geometric augmentations to images x [N, C, H, W] (`first`: the index of x's
/// first image in the whole batch). When no image drew a transform (always at p = 0) x is
/// returned as it is, without a resample, as the official code skips it.
pub fn augment_geometric(
    x: &Tensor,
    g: &Geometric,
    p: f64,
    seed: u64,
    step: u64,
    first: usize,
) -> Tensor {
    let (n, h, w) = (x.dim(0), x.dim(2), x.dim(3));
    let theta = geometric_thetas(g, p, n, h, w, seed, step, first);
    if theta.iter().all(|t| *t == IDENTITY) {
        return x.clone();
    }
    affine_grid_sample(x, &theta)
}
