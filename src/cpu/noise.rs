//! Noise + bias + leaky ReLU reference (twin of `shaders/noise/forward.wgsl`).

use rayon::prelude::*;

use super::Real;

/// Geometry and constants of the fused layer epilogue.
#[derive(Clone, Copy, Debug)]
pub struct NoiseAct {
    pub n: usize,
    pub c: usize,
    pub hw: usize,
    pub bias_scale: f64,
    pub slope: f64,
    pub gain: f64,
}

/// y = lrelu(x + weight[c] * noise[n, i] + bias_scale * bias[c]) * gain.
pub fn forward<T: Real>(x: &[T], noise: &[T], weight: &[T], bias: &[T], p: NoiseAct) -> Vec<T> {
    let (bs, slope, gain) = (
        T::from_f64(p.bias_scale),
        T::from_f64(p.slope),
        T::from_f64(p.gain),
    );
    let mut y = vec![T::ZERO; x.len()];
    y.par_chunks_mut(p.hw.max(1))
        .enumerate()
        .for_each(|(plane, out)| {
            let (n, c) = (plane / p.c, plane % p.c);
            for (i, o) in out.iter_mut().enumerate() {
                let v = x[plane * p.hw + i] + weight[c] * noise[n * p.hw + i] + bs * bias[c];
                *o = (if v > T::ZERO { v } else { slope * v }) * gain;
            }
        });
    y
}
