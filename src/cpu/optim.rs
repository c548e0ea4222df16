//! Optimiser references (twins of `shaders/optim/*.wgsl`), in place.

use super::Real;

/// Adam hyper-parameters for one step t (1-based).
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub t: u64,
}

impl AdamStep {
    /// Bias corrections (1 - beta1^t, 1 - beta2^t).
    pub fn corrections(&self) -> (f64, f64) {
        (
            1.0 - self.beta1.powi(self.t as i32),
            1.0 - self.beta2.powi(self.t as i32),
        )
    }
}

pub fn adam<T: Real>(p: &mut [T], m: &mut [T], v: &mut [T], g: &[T], s: AdamStep) {
    let (bc1, bc2) = s.corrections();
    let c = |x: f64| T::from_f64(x);
    for i in 0..p.len() {
        m[i] = c(s.beta1) * m[i] + c(1.0 - s.beta1) * g[i];
        v[i] = c(s.beta2) * v[i] + c(1.0 - s.beta2) * g[i] * g[i];
        p[i] = p[i] - c(s.lr) * (m[i] / c(bc1)) / ((v[i] / c(bc2)).sqrt() + c(s.eps));
    }
}

/// ema += (1 - beta) * (p - ema).
pub fn ema<T: Real>(ema: &mut [T], p: &[T], beta: f64) {
    let k = T::from_f64(1.0 - beta);
    for (e, &x) in ema.iter_mut().zip(p) {
        *e = *e + k * (x - *e);
    }
}
