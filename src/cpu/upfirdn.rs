//! upfirdn2d reference (twin of `shaders/upfirdn/upfirdn2d.wgsl`), on planes [P, H, W]: the
//! resampling primitive of StyleGAN2, as stylegan2-ada-pytorch's `upfirdn2d_ref`: upsample
//! by zero insertion (`up`), pad by `pad` = [px0, px1, py0, py1] (negative crops), convolve
//! (a true convolution: the filter is flipped) with the fh x fw filter `f` (row-major, gain
//! already folded in), then keep every `down`-th pixel.
//!
//! In one formula, with z the zero-inserted image (z[a] = x[a / up] where up divides a):
//! y[oy, ox] = sum_{ky, kx} z[oy down + ky - py0, ox down + kx - px0] f[fh-1-ky, fw-1-kx],
//! out of range z being zero.

use rayon::prelude::*;

use super::Real;

/// The geometry of one upfirdn2d: sizes, factors, padding, filter size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub h: usize,
    pub w: usize,
    pub up: usize,
    pub down: usize,
    /// [px0, px1, py0, py1].
    pub pad: [i64; 4],
    pub fh: usize,
    pub fw: usize,
}

impl Geometry {
    /// Output rows and columns: (H up + py0 + py1 - fh) / down + 1, and alike for x.
    /// Panics when the padded image is smaller than the filter.
    pub fn out_size(&self) -> (usize, usize) {
        let side = |n: usize, p0: i64, p1: i64, k: usize, what: &str| {
            let span = (n * self.up) as i64 + p0 + p1 - k as i64;
            assert!(
                span >= 0 && self.up >= 1 && self.down >= 1,
                "upfirdn2d: {what}: {n} x up {} padded by ({p0}, {p1}) is smaller than the \
                 {k}-tap filter",
                self.up
            );
            span as usize / self.down + 1
        };
        (
            side(self.h, self.pad[2], self.pad[3], self.fh, "rows"),
            side(self.w, self.pad[0], self.pad[1], self.fw, "columns"),
        )
    }

    /// The adjoint's geometry (stylegan2-ada-pytorch's `_upfirdn2d_cuda.backward`): the
    /// gradient of an output of (oh, ow) maps back to (h, w) by upfirdn2d with up and down
    /// swapped, the filter flipped and this padding.
    pub fn adjoint(&self) -> Geometry {
        let (oh, ow) = self.out_size();
        let (up, down) = (self.up as i64, self.down as i64);
        let (fh, fw) = (self.fh as i64, self.fw as i64);
        let (h, w) = (self.h as i64, self.w as i64);
        let [px0, _, py0, _] = self.pad;
        Geometry {
            h: oh,
            w: ow,
            up: self.down,
            down: self.up,
            pad: [
                fw - px0 - 1,
                w * up - ow as i64 * down + px0 - up + 1,
                fh - py0 - 1,
                h * up - oh as i64 * down + py0 - up + 1,
            ],
            fh: self.fh,
            fw: self.fw,
        }
    }
}

/// A 2-D FIR filter, row-major fh x fw.
#[derive(Clone, Debug, PartialEq)]
pub struct Fir {
    pub taps: Vec<f64>,
    pub fh: usize,
    pub fw: usize,
}

impl Fir {
    pub fn new(taps: Vec<f64>, fh: usize, fw: usize) -> Fir {
        assert!(
            fh >= 1 && fw >= 1 && taps.len() == fh * fw,
            "Fir: {} taps for {fh} x {fw}",
            taps.len()
        );
        Fir { taps, fh, fw }
    }

    /// The outer product of `k` with itself, normalised to sum 1 (the official
    /// `setup_filter`; [1, 3, 3, 1] is StyleGAN2's resampling filter).
    pub fn separable(k: &[f64]) -> Fir {
        let s: f64 = k.iter().sum();
        let taps = k
            .iter()
            .flat_map(|a| k.iter().map(move |b| a * b / (s * s)))
            .collect();
        Fir::new(taps, k.len(), k.len())
    }

    /// Rotated by 180 degrees.
    pub fn flipped(&self) -> Fir {
        Fir::new(flip(&self.taps), self.fh, self.fw)
    }
}

/// The filter rotated by 180 degrees (row-major fh x fw).
pub fn flip(f: &[f64]) -> Vec<f64> {
    f.iter().rev().copied().collect()
}

/// upfirdn2d of `planes` planes of g.h x g.w; `f` is g.fh x g.fw, row-major.
pub fn upfirdn2d<T: Real>(x: &[T], f: &[f64], planes: usize, g: &Geometry) -> Vec<T> {
    assert_eq!(
        f.len(),
        g.fh * g.fw,
        "upfirdn2d: filter of {} taps",
        f.len()
    );
    let (oh, ow) = g.out_size();
    let taps: Vec<T> = f.iter().map(|&v| T::from_f64(v)).collect();
    let (hu, wu) = ((g.h * g.up) as i64, (g.w * g.up) as i64);
    let (up, down) = (g.up as i64, g.down as i64);
    let [px0, _, py0, _] = g.pad;
    let mut y = vec![T::ZERO; planes * oh * ow];
    y.par_chunks_mut((oh * ow).max(1))
        .enumerate()
        .for_each(|(p, out)| {
            let plane = &x[p * g.h * g.w..(p + 1) * g.h * g.w];
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = T::ZERO;
                    for ky in 0..g.fh {
                        let a = oy as i64 * down + ky as i64 - py0;
                        if a < 0 || a >= hu || a % up != 0 {
                            continue;
                        }
                        let row = &plane[(a / up) as usize * g.w..][..g.w];
                        let frow = &taps[(g.fh - 1 - ky) * g.fw..][..g.fw];
                        for kx in 0..g.fw {
                            let b = ox as i64 * down + kx as i64 - px0;
                            if b < 0 || b >= wu || b % up != 0 {
                                continue;
                            }
                            s += frow[g.fw - 1 - kx] * row[(b / up) as usize];
                        }
                    }
                    out[oy * ow + ox] = s;
                }
            }
        });
    y
}
