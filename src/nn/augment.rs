//! ADA's augmentations (stylegan2-ada-pytorch `augment.py`, "bgc"). Geometric ("bg"):
//! x-flip, 90-degree rotations, integer translation, isotropic scale, arbitrary rotation
//! (twice, around the anisotropic scale), anisotropic scale and fractional translation,
//! each applied with probability p times its strength, composed into one inverse matrix
//! per image and applied by one `affine_grid_sample` (bilinear, reflection).
//! Colour ("c"): brightness, contrast, and on RGB luma flip, hue rotation and saturation,
//! composed into one 3 x 4 colour matrix per image and applied with broadcast ops
//! ([`augment_colour`]). [`Pipeline`] runs both, geometric first, as the official code.
//!
//! Simplification against the official code: no 2x supersampling with the sym6 wavelet
//! filter around the resample (so a zoom-out aliases a little more), and the reflection is
//! PyTorch's grid_sample one (about pixel edges) rather than `F.pad(mode='reflect')` (about
//! pixel centres); see `cpu::augment`.
//!
//! Draws are Philox words keyed by (seed, step, stage) and the image's index in the whole
//! batch (`first` + b), so micro-batches and ranks draw what the unsplit batch would.

use crate::cpu::random::{normal, uniform01, words};
use crate::ops::{self, affine_grid_sample};
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

/// Strengths (multipliers of p) and magnitudes of the colour augmentations (the "c" of
/// "bgc"). Luma flip, hue and saturation act on RGB images only.
#[derive(Clone, Debug, PartialEq)]
pub struct Colour {
    pub brightness: f64,
    /// Standard deviation of the added brightness.
    pub brightness_std: f64,
    pub contrast: f64,
    /// log2 standard deviation of the contrast factor.
    pub contrast_std: f64,
    pub lumaflip: f64,
    pub hue: f64,
    /// Largest hue rotation, as a fraction of a half turn.
    pub hue_max: f64,
    pub saturation: f64,
    /// log2 standard deviation of the saturation factor.
    pub saturation_std: f64,
}

impl Default for Colour {
    /// The official "bgc" pipeline's colour settings.
    fn default() -> Self {
        Colour {
            brightness: 1.0,
            brightness_std: 0.2,
            contrast: 1.0,
            contrast_std: 0.5,
            lumaflip: 1.0,
            hue: 1.0,
            hue_max: 1.0,
            saturation: 1.0,
            saturation_std: 1.0,
        }
    }
}

type M4 = [[f64; 4]; 4];
/// The top three rows of a homogeneous colour transform: out = M[:, :3] rgb + M[:, 3].
pub type ColourMatrix = [[f64; 4]; 3];
/// The identity colour transform.
pub const COLOUR_IDENTITY: ColourMatrix = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
];

fn mul4(a: &M4, b: &M4) -> M4 {
    let mut c = [[0.0; 4]; 4];
    for (i, row) in c.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    c
}

fn eye4() -> M4 {
    let mut m = [[0.0; 4]; 4];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    m
}

/// Per image, the colour transform C of the official code (each step left-multiplies: C =
/// X C): brightness (translate by b ~ N(0, 0.2)), contrast (scale by 2^N(0, 0.5), about 0,
/// the grey of [-1, 1] images), and with `channels` = 3 luma flip (Householder reflection
/// through the plane orthogonal to the luma axis v = (1, 1, 1)/sqrt 3), hue rotation (about
/// v, up to a half turn) and saturation (scale orthogonal to v by 2^N(0, 1)). Each is drawn
/// with probability p times its strength; at p = 0 every matrix is the identity, exactly.
#[allow(clippy::too_many_arguments)]
pub fn colour_matrices(
    c: &Colour,
    p: f64,
    n: usize,
    channels: usize,
    seed: u64,
    step: u64,
    first: usize,
) -> Vec<ColourMatrix> {
    let rgb = channels == 3;
    let pi = std::f64::consts::PI;
    let s3 = 1.0 / 3f64.sqrt();
    let v = [s3, s3, s3, 0.0];
    let vv: M4 = std::array::from_fn(|i| std::array::from_fn(|j| v[i] * v[j]));
    (0..n)
        .map(|b| {
            let image = (first + b) as u64;
            let draw = |stage: u64| words(seed ^ AUG_KEY, (step << 32) + (stage << 24), image);
            let u = uniform01;
            let mut m = eye4();
            let mut then = |x: M4| m = mul4(&x, &m);
            let d = draw(16);
            if u(d[2]) < c.brightness * p {
                let t = normal(d[0], d[1]) * c.brightness_std;
                let mut x = eye4();
                (x[0][3], x[1][3], x[2][3]) = (t, t, t);
                then(x);
            }
            let d = draw(17);
            if u(d[2]) < c.contrast * p {
                let s = (normal(d[0], d[1]) * c.contrast_std).exp2();
                let mut x = eye4();
                (x[0][0], x[1][1], x[2][2]) = (s, s, s);
                then(x);
            }
            let d = draw(18);
            if rgb && u(d[1]) < c.lumaflip * p && (u(d[0]) * 2.0).floor() == 1.0 {
                then(std::array::from_fn(|i| {
                    std::array::from_fn(|j| eye4()[i][j] - 2.0 * vv[i][j])
                }));
            }
            let d = draw(19);
            if rgb && u(d[1]) < c.hue * p {
                let th = (u(d[0]) * 2.0 - 1.0) * pi * c.hue_max;
                let (s, cs) = th.sin_cos();
                let cc = 1.0 - cs;
                let [x, y, z, _] = v;
                then([
                    [x * x * cc + cs, x * y * cc - z * s, x * z * cc + y * s, 0.0],
                    [y * x * cc + z * s, y * y * cc + cs, y * z * cc - x * s, 0.0],
                    [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + cs, 0.0],
                    [0.0, 0.0, 0.0, 1.0],
                ]);
            }
            let d = draw(20);
            if rgb && u(d[2]) < c.saturation * p {
                let s = (normal(d[0], d[1]) * c.saturation_std).exp2();
                then(std::array::from_fn(|i| {
                    std::array::from_fn(|j| vv[i][j] + (eye4()[i][j] - vv[i][j]) * s)
                }));
            }
            [m[0], m[1], m[2]]
        })
        .collect()
}

/// Apply the colour augmentations to images x [N, C, H, W] with differentiable ops: for RGB
/// a per-image 3 x 3 matrix and offset (broadcast multiply, sum over the input channel,
/// add); for other channel counts, as the official code does for grayscale, the gain (the
/// mean over the rows of the matrix's row sums) and offset (their mean). Returns x as it is
/// when every matrix is the identity (always at p = 0).
pub fn augment_colour(
    x: &Tensor,
    c: &Colour,
    p: f64,
    seed: u64,
    step: u64,
    first: usize,
) -> Tensor {
    let (n, ch, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3));
    let m = colour_matrices(c, p, n, ch, seed, step, first);
    if m.iter().all(|m| *m == COLOUR_IDENTITY) {
        return x.clone();
    }
    let place = x.place();
    if ch == 3 {
        let lin: Vec<f64> = m
            .iter()
            .flat_map(|r| r.iter().flat_map(|row| row[..3].to_vec()))
            .collect();
        let off: Vec<f64> = m.iter().flat_map(|r| r.iter().map(|row| row[3])).collect();
        let lin = Tensor::from_vec_f64(lin, &[n, 3, 3, 1], place);
        let off = Tensor::from_vec_f64(off, &[n, 3, 1], place);
        let xs = ops::reshape(x, &[n, 1, 3, h * w]);
        let y = ops::sum(&ops::mul(&lin, &xs), &[2], false);
        return ops::reshape(&ops::add(&y, &off), &[n, 3, h, w]);
    }
    let gain: Vec<f64> = m
        .iter()
        .map(|r| {
            r.iter()
                .map(|row| row[..3].iter().sum::<f64>())
                .sum::<f64>()
                / 3.0
        })
        .collect();
    let off: Vec<f64> = m
        .iter()
        .map(|r| r.iter().map(|row| row[3]).sum::<f64>() / 3.0)
        .collect();
    let gain = Tensor::from_vec_f64(gain, &[n, 1, 1, 1], place);
    let off = Tensor::from_vec_f64(off, &[n, 1, 1, 1], place);
    ops::add(&ops::mul(x, &gain), &off)
}

/// The whole "bgc" pipeline: the geometric augmentations, then the colour ones, as the
/// official code orders them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pipeline {
    pub geometric: Geometric,
    pub colour: Colour,
}

impl Pipeline {
    /// Augment images x [N, C, H, W] at probability p; draws keyed by (seed, step) and the
    /// image's index `first` + b in the whole batch. At p = 0, x itself.
    pub fn apply(&self, x: &Tensor, p: f64, seed: u64, step: u64, first: usize) -> Tensor {
        if p <= 0.0 {
            return x.clone();
        }
        let y = augment_geometric(x, &self.geometric, p, seed, step, first);
        augment_colour(&y, &self.colour, p, seed, step, first)
    }
}
