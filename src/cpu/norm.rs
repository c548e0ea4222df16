//! Normalisation references (twins of `shaders/norm/*.wgsl`).

use rayon::prelude::*;

use super::Real;

/// y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) for rows of length c.
pub fn pixel_norm<T: Real>(x: &[T], c: usize, eps: f64) -> Vec<T> {
    let mut y = vec![T::ZERO; x.len()];
    y.par_chunks_mut(c.max(1)).enumerate().for_each(|(r, out)| {
        let row = &x[r * c..(r + 1) * c];
        let mut q = T::ZERO;
        for &v in row {
            q += v * v;
        }
        let s = T::ONE / (q / T::from_f64(c as f64) + T::from_f64(eps)).sqrt();
        for (o, &v) in out.iter_mut().zip(row) {
            *o = v * s;
        }
    });
    y
}

/// For x viewed as [groups, m, f]: y[m] = mean_f sqrt(var_g x[g, m, f] + eps).
pub fn mbstd_stat<T: Real>(x: &[T], groups: usize, m: usize, f: usize, eps: f64) -> Vec<T> {
    let gs = T::from_f64(groups as f64);
    (0..m)
        .into_par_iter()
        .map(|mi| {
            let mut acc = T::ZERO;
            for fi in 0..f {
                let at = |g: usize| x[(g * m + mi) * f + fi];
                let mut mean = T::ZERO;
                for g in 0..groups {
                    mean += at(g);
                }
                mean = mean / gs;
                let mut v = T::ZERO;
                for g in 0..groups {
                    v += (at(g) - mean) * (at(g) - mean);
                }
                acc += (v / gs + T::from_f64(eps)).sqrt();
            }
            acc / T::from_f64(f as f64)
        })
        .collect()
}
