//! Reference 2-D convolutions, stride 1, zero padding k/2 ("same"): twins of the three
//! specialisations of `shaders/conv/implicit_gemm.wgsl`. x [N, C, H, W], w [K, C, kh, kw],
//! y [N, K, H, W]. `scale` is the equalized learning-rate factor applied to the weight.

use rayon::prelude::*;

use super::Real;

/// The sizes of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvDims {
    pub n: usize,
    pub c: usize,
    pub k: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
}

impl ConvDims {
    pub fn hw(&self) -> usize {
        self.h * self.w
    }
    pub fn taps(&self) -> usize {
        self.kh * self.kw
    }
    /// Multiply-adds of one pass (forward, input gradient and weight gradient alike).
    pub fn macs(&self) -> u64 {
        (self.n * self.k * self.hw() * self.c * self.taps()) as u64
    }
    /// Source pixel of output (oy, ox) under tap (ty, tx), None when it falls in the padding.
    #[inline]
    fn src(&self, oy: usize, ox: usize, ty: usize, tx: usize) -> Option<usize> {
        let y = (oy + ty).checked_sub(self.kh / 2)?;
        let x = (ox + tx).checked_sub(self.kw / 2)?;
        (y < self.h && x < self.w).then_some(y * self.w + x)
    }
}

/// y = scale * conv(x, w) + bias_scale * b.
pub fn forward<T: Real>(
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    d: ConvDims,
    scale: f64,
    bias_scale: f64,
) -> Vec<T> {
    let hw = d.hw();
    let mut y = vec![T::ZERO; d.n * d.k * hw];
    y.par_chunks_mut(hw).enumerate().for_each(|(plane, out)| {
        let (n, k) = (plane / d.k, plane % d.k);
        let mut acc = vec![T::ZERO; hw];
        for c in 0..d.c {
            let xp = &x[(n * d.c + c) * hw..][..hw];
            for ty in 0..d.kh {
                for tx in 0..d.kw {
                    let wv = w[((k * d.c + c) * d.kh + ty) * d.kw + tx];
                    for oy in 0..d.h {
                        for ox in 0..d.w {
                            if let Some(s) = d.src(oy, ox, ty, tx) {
                                acc[oy * d.w + ox] += wv * xp[s];
                            }
                        }
                    }
                }
            }
        }
        let bias = b.map_or(T::ZERO, |b| T::from_f64(bias_scale) * b[k]);
        for (o, a) in out.iter_mut().zip(acc) {
            *o = T::from_f64(scale) * a + bias;
        }
    });
    y
}

/// dx = scale * conv_transpose(g, w): the input gradient for output gradient g [N, K, H, W].
pub fn backward_data<T: Real>(g: &[T], w: &[T], d: ConvDims, scale: f64) -> Vec<T> {
    let hw = d.hw();
    let mut dx = vec![T::ZERO; d.n * d.c * hw];
    dx.par_chunks_mut(hw).enumerate().for_each(|(plane, out)| {
        let (n, c) = (plane / d.c, plane % d.c);
        for k in 0..d.k {
            let gp = &g[(n * d.k + k) * hw..][..hw];
            for ty in 0..d.kh {
                for tx in 0..d.kw {
                    let wv = T::from_f64(scale) * w[((k * d.c + c) * d.kh + ty) * d.kw + tx];
                    for oy in 0..d.h {
                        for ox in 0..d.w {
                            if let Some(s) = d.src(oy, ox, ty, tx) {
                                out[s] += wv * gp[oy * d.w + ox];
                            }
                        }
                    }
                }
            }
        }
    });
    dx
}

/// dw = scale * sum over images and pixels of g (x) shifted x: the weight gradient.
pub fn backward_weight<T: Real>(x: &[T], g: &[T], d: ConvDims, scale: f64) -> Vec<T> {
    let hw = d.hw();
    let mut dw = vec![T::ZERO; d.k * d.c * d.taps()];
    dw.par_chunks_mut(d.c * d.taps())
        .enumerate()
        .for_each(|(k, out)| {
            for c in 0..d.c {
                for ty in 0..d.kh {
                    for tx in 0..d.kw {
                        let mut acc = T::ZERO;
                        for n in 0..d.n {
                            let gp = &g[(n * d.k + k) * hw..][..hw];
                            let xp = &x[(n * d.c + c) * hw..][..hw];
                            for oy in 0..d.h {
                                for ox in 0..d.w {
                                    if let Some(s) = d.src(oy, ox, ty, tx) {
                                        acc += gp[oy * d.w + ox] * xp[s];
                                    }
                                }
                            }
                        }
                        out[(c * d.kh + ty) * d.kw + tx] = T::from_f64(scale) * acc;
                    }
                }
            }
        });
    dw
}
