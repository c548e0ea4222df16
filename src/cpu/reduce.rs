//! Sum reductions (twin of `shaders/reduce/sum_rows.wgsl`).

use rayon::prelude::*;

use super::{Real, PAR_MIN};

/// y[m] = scale * sum_k x[m * k_len + k].
pub fn sum_rows<T: Real>(x: &[T], m: usize, k_len: usize, scale: f64) -> Vec<T> {
    sum_rows_of(x, m, k_len, scale, |v| v)
}

/// y[m] = scale * sum of the squares of row m (`shaders/reduce/sum_rows.wgsl` with SQUARE).
pub fn sum_square_rows<T: Real>(x: &[T], m: usize, k_len: usize, scale: f64) -> Vec<T> {
    sum_rows_of(x, m, k_len, scale, |v| v * v)
}

fn sum_rows_of<T: Real>(
    x: &[T],
    m: usize,
    k_len: usize,
    scale: f64,
    term: impl Fn(T) -> T + Sync,
) -> Vec<T> {
    let s = T::from_f64(scale);
    let row = |r: usize| {
        let mut acc = T::ZERO;
        for &v in &x[r * k_len..(r + 1) * k_len] {
            acc += term(v);
        }
        acc * s
    };
    if m * k_len >= PAR_MIN {
        (0..m).into_par_iter().map(row).collect()
    } else {
        (0..m).map(row).collect()
    }
}
