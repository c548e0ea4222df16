//! Augmentation references (twins of `shaders/augment/*.wgsl`): the affine grid sample of
//! ADA's geometric path and its adjoint, on images [N, C, H, W].
//!
//! Convention (PyTorch's `affine_grid` + `grid_sample(mode='bilinear',
//! padding_mode='reflection', align_corners=False)`): output pixel (i, j) has the normalised
//! centre (xn, yn) = ((2j + 1) / W - 1, (2i + 1) / H - 1); theta (2 x 3, per image) maps it
//! to (gx, gy) = theta . (xn, yn, 1), which is un-normalised to the source pixel coordinate
//! ix = ((gx + 1) W - 1) / 2 (and iy alike with H). Reflection is about the pixel edges -0.5
//! and W - 0.5, i.e. half-sample symmetric: the edge pixel repeats, ... 1 0 | 0 1 .. W-1 |
//! W-1 W-2 ... PyTorch reflects the coordinate (fmod) and clamps it to [0, W - 1] before the
//! bilinear taps; we instead take the bilinear taps at the unreflected coordinate and
//! reflect each tap's integer index (`fold`). The two are the same function: in the band
//! within half a pixel outside an edge both give the edge pixel, and elsewhere reflecting
//! the coordinate about an edge and reflecting its two integer neighbours name the same
//! pixels with the same weights (`tests/augment.rs` checks this against a transcription of
//! PyTorch's formula). Integer taps make the identity and integer shifts exact and give the
//! adjoint a lattice to enumerate.
//!
//! NVlabs' stylegan2-ada-pytorch instead pads with `F.pad(mode='reflect')` (whole-sample
//! symmetric, edge not repeated) and then samples with zero padding; the two reflections
//! differ by half a pixel at the border.

use rayon::prelude::*;

use super::Real;

/// Words per image in the packed geometry (the GPU buffer holds the same layout in f32).
pub const GEOMETRY_WORDS: usize = 16;

/// One image's sampling geometry in pixel units, derived from theta for an H x W image:
/// `[a00 a01 a02 a10 a11 a12 | b00 b01 b10 b11 | hj hi | kx_lo kx_hi ky_lo ky_hi]`.
/// The source coordinate of output pixel (i, j) is rx = a00 j + a01 i + a02,
/// ry = a10 j + a11 i + a12; b is the inverse of the linear part; (hj, hi) are the
/// half-extents in output pixels of the preimage of a source square [-1, 1]^2; k*_lo..k*_hi
/// bound the integer source taps any output pixel can reach (with one spare each side for
/// rounding in f32).
pub fn geometry(theta: &[[f64; 6]], h: usize, w: usize) -> Vec<[f64; GEOMETRY_WORDS]> {
    let (hf, wf) = (h as f64, w as f64);
    theta
        .iter()
        .map(|t| {
            // ix = gx W/2 + (W-1)/2 with gx = t0 (2j+1-W)/W + t1 (2i+1-H)/H + t2, expanded so
            // that the identity gives exactly (a02, a12) = (0, 0).
            let a00 = t[0];
            let a01 = t[1] * wf / hf;
            let a02 = t[0] * (1.0 - wf) / 2.0
                + a01 * (1.0 - hf) / 2.0
                + t[2] * wf / 2.0
                + (wf - 1.0) / 2.0;
            let a10 = t[3] * hf / wf;
            let a11 = t[4];
            let a12 = a10 * (1.0 - wf) / 2.0
                + t[4] * (1.0 - hf) / 2.0
                + t[5] * hf / 2.0
                + (hf - 1.0) / 2.0;
            let det = a00 * a11 - a01 * a10;
            assert!(
                det.abs() > 1e-9 * (a00.abs() + a01.abs()) * (a10.abs() + a11.abs()) && det != 0.0,
                "affine_grid_sample: theta {t:?} is singular"
            );
            let (b00, b01, b10, b11) = (a11 / det, -a01 / det, -a10 / det, a00 / det);
            let corners = [
                (0.0, 0.0),
                (wf - 1.0, 0.0),
                (0.0, hf - 1.0),
                (wf - 1.0, hf - 1.0),
            ];
            let (mut x_lo, mut x_hi, mut y_lo, mut y_hi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for (j, i) in corners {
                let (rx, ry) = (a00 * j + a01 * i + a02, a10 * j + a11 * i + a12);
                (x_lo, x_hi) = (x_lo.min(rx), x_hi.max(rx));
                (y_lo, y_hi) = (y_lo.min(ry), y_hi.max(ry));
            }
            [
                a00,
                a01,
                a02,
                a10,
                a11,
                a12,
                b00,
                b01,
                b10,
                b11,
                b00.abs() + b01.abs(),
                b10.abs() + b11.abs(),
                x_lo.floor() - 1.0,
                x_hi.floor() + 2.0,
                y_lo.floor() - 1.0,
                y_hi.floor() + 2.0,
            ]
        })
        .collect()
}

/// The half-sample symmetric reflection of integer tap `k` into 0..n.
pub fn fold(k: i64, n: usize) -> usize {
    let n = n as i64;
    let m = k.rem_euclid(2 * n);
    (if m >= n { 2 * n - 1 - m } else { m }) as usize
}

fn floor<T: Real>(v: T) -> T {
    T::from_f64(v.to_f64().floor())
}

/// The source coordinate of output pixel (i, j) along one axis, split into its integer tap
/// and fraction, evaluated in `T` exactly as the kernels do.
#[inline]
fn tap<T: Real>(c0: T, c1: T, c2: T, j: usize, i: usize) -> (i64, T) {
    let r = c0 * T::from_f64(j as f64) + c1 * T::from_f64(i as f64) + c2;
    let k = floor(r);
    (k.to_f64() as i64, r - k)
}

fn cast<T: Real>(g: &[f64; GEOMETRY_WORDS]) -> [T; GEOMETRY_WORDS] {
    g.map(T::from_f64)
}

/// y[n, c] = bilinear sample of x[n, c] at the reflected source of every output pixel.
pub fn grid_sample<T: Real>(
    x: &[T],
    geo: &[[f64; GEOMETRY_WORDS]],
    c: usize,
    h: usize,
    w: usize,
) -> Vec<T> {
    let hw = h * w;
    let mut y = vec![T::ZERO; x.len()];
    y.par_chunks_mut(hw.max(1))
        .enumerate()
        .for_each(|(plane, out)| {
            let g = cast::<T>(&geo[plane / c]);
            let src = &x[plane * hw..(plane + 1) * hw];
            for i in 0..h {
                for j in 0..w {
                    let (x0, fx) = tap(g[0], g[1], g[2], j, i);
                    let (y0, fy) = tap(g[3], g[4], g[5], j, i);
                    let (cx0, cx1) = (fold(x0, w), fold(x0 + 1, w));
                    let (cy0, cy1) = (fold(y0, h) * w, fold(y0 + 1, h) * w);
                    let top = (T::ONE - fx) * src[cy0 + cx0] + fx * src[cy0 + cx1];
                    let bottom = (T::ONE - fx) * src[cy1 + cx0] + fx * src[cy1 + cx1];
                    out[i * w + j] = (T::ONE - fy) * top + fy * bottom;
                }
            }
        });
    y
}

/// The integer taps in `lo..=hi` that `fold` sends to `q`: q + 2nm and 2nm + 2n - 1 - q.
pub fn copies(q: usize, n: usize, lo: i64, hi: i64) -> impl Iterator<Item = i64> {
    let p = 2 * n as i64;
    (lo.div_euclid(p)..=hi.div_euclid(p))
        .flat_map(move |m| [p * m + q as i64, p * m + p - 1 - q as i64])
        .filter(move |k| (lo..=hi).contains(k))
}

/// The weight output tap (k0, f) gives integer tap k: 1 - f at k0, f at k0 + 1.
#[inline]
fn weight<T: Real>(k0: i64, f: T, k: i64) -> T {
    if k == k0 {
        T::ONE - f
    } else if k == k0 + 1 {
        f
    } else {
        T::ZERO
    }
}

/// The adjoint of `grid_sample` in gather form: gx[n, c, p, q] = sum over output pixels (i, j)
/// of g[n, c, i, j] times the weight their bilinear taps give (p, q). Each input pixel walks
/// its copies under the reflection (integer taps k with fold(k) = its index) and, for each,
/// the output pixels in the bounding box of the preimage of the tap's 2 x 2 footprint,
/// recomputing the forward's taps to find the exact weight. A pair (output pixel, integer
/// tap) is visited once, so nothing is counted twice.
pub fn grid_sample_adjoint<T: Real>(
    g: &[T],
    geo: &[[f64; GEOMETRY_WORDS]],
    c: usize,
    h: usize,
    w: usize,
) -> Vec<T> {
    let hw = h * w;
    let mut gx = vec![T::ZERO; g.len()];
    gx.par_chunks_mut(hw.max(1))
        .enumerate()
        .for_each(|(plane, out)| {
            let gd = &geo[plane / c];
            let t = cast::<T>(gd);
            let src = &g[plane * hw..(plane + 1) * hw];
            for p in 0..h {
                for q in 0..w {
                    let mut s = T::ZERO;
                    for ky in copies(p, h, gd[14] as i64, gd[15] as i64) {
                        for kx in copies(q, w, gd[12] as i64, gd[13] as i64) {
                            let [j_lo, j_hi, i_lo, i_hi] = preimage_box(gd, kx, ky, h, w);
                            for i in i_lo..i_hi {
                                for j in j_lo..j_hi {
                                    let (x0, fx) = tap(t[0], t[1], t[2], j, i);
                                    let (y0, fy) = tap(t[3], t[4], t[5], j, i);
                                    let wgt = weight(y0, fy, ky) * weight(x0, fx, kx);
                                    s += wgt * src[i * w + j];
                                }
                            }
                        }
                    }
                    out[p * w + q] = s;
                }
            }
        });
    gx
}

/// Output pixels [j_lo, j_hi) x [i_lo, i_hi) that may tap integer source point (kx, ky): the
/// bounding box of the preimage of the open square (kx, ky) + (-1, 1)^2, widened by 0.05
/// pixel for rounding (the weight test is exact, so a spare pixel costs only time).
pub fn preimage_box(
    gd: &[f64; GEOMETRY_WORDS],
    kx: i64,
    ky: i64,
    h: usize,
    w: usize,
) -> [usize; 4] {
    let (dx, dy) = (kx as f64 - gd[2], ky as f64 - gd[5]);
    let cj = gd[6] * dx + gd[7] * dy;
    let ci = gd[8] * dx + gd[9] * dy;
    let span = |c: f64, half: f64, n: usize| {
        let lo = (c - half - 0.05).ceil().max(0.0);
        let hi = (c + half + 0.05).floor().min(n as f64 - 1.0);
        if hi < lo {
            (0, 0)
        } else {
            (lo as usize, hi as usize + 1)
        }
    };
    let (j_lo, j_hi) = span(cj, gd[10], w);
    let (i_lo, i_hi) = span(ci, gd[11], h);
    [j_lo, j_hi, i_lo, i_hi]
}
