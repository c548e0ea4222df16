//! AdaIN references (twins of `shaders/adain/*.wgsl`) on planes [P, HW].

use rayon::prelude::*;

use super::Real;

fn stats<T: Real>(x: &[T], eps: f64) -> (T, T) {
    let n = T::from_f64(x.len() as f64);
    let mut s = T::ZERO;
    for &v in x {
        s += v;
    }
    let mean = s / n;
    let mut q = T::ZERO;
    for &v in x {
        q += (v - mean) * (v - mean);
    }
    (mean, T::ONE / (q / n + T::from_f64(eps)).sqrt())
}

/// y = (1 + ys[p]) * (x - mean) * rstd + yb[p] per plane.
pub fn forward<T: Real>(x: &[T], ys: &[T], yb: &[T], hw: usize, eps: f64) -> Vec<T> {
    let mut y = vec![T::ZERO; x.len()];
    y.par_chunks_mut(hw.max(1))
        .enumerate()
        .for_each(|(p, out)| {
            let xs = &x[p * hw..(p + 1) * hw];
            let (mean, rstd) = stats(xs, eps);
            let a = (T::ONE + ys[p]) * rstd;
            for (o, &v) in out.iter_mut().zip(xs) {
                *o = a * (v - mean) + yb[p];
            }
        });
    y
}

/// (dx, dys, dyb) for output gradient g.
pub fn backward<T: Real>(
    x: &[T],
    ys: &[T],
    g: &[T],
    hw: usize,
    eps: f64,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let planes = x.len() / hw.max(1);
    let per: Vec<(Vec<T>, T, T)> = (0..planes)
        .into_par_iter()
        .map(|p| {
            let xs = &x[p * hw..(p + 1) * hw];
            let gs = &g[p * hw..(p + 1) * hw];
            let (mean, rstd) = stats(xs, eps);
            let (mut s1, mut s2) = (T::ZERO, T::ZERO);
            for (&v, &gi) in xs.iter().zip(gs) {
                s1 += gi;
                s2 += gi * (v - mean) * rstd;
            }
            let n = T::from_f64(hw as f64);
            let a = (T::ONE + ys[p]) * rstd;
            let dx = xs
                .iter()
                .zip(gs)
                .map(|(&v, &gi)| a * (gi - s1 / n - (v - mean) * rstd * s2 / n))
                .collect();
            (dx, s2, s1)
        })
        .collect();
    let mut dx = Vec::with_capacity(x.len());
    let (mut dys, mut dyb) = (Vec::with_capacity(planes), Vec::with_capacity(planes));
    for (d, s2, s1) in per {
        dx.extend(d);
        dys.push(s2);
        dyb.push(s1);
    }
    (dx, dys, dyb)
}
