//! Batched strided matrix product (twin of `shaders/matmul/matmul.wgsl`).

use rayon::prelude::*;

use super::Real;

/// Strides and offset of one operand: element (z, r, c) is at off + z*batch + r*row + c*col.
#[derive(Clone, Copy, Debug)]
pub struct MatView {
    pub off: usize,
    pub batch: usize,
    pub row: usize,
    pub col: usize,
}

/// Problem size: `batches` products of (m x k) by (k x n).
#[derive(Clone, Copy, Debug)]
pub struct MatmulDims {
    pub batches: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

/// C[z] = alpha * A[z] (m x k) * B[z] (k x n) for z in 0..batches; C contiguous [batches, m, n].
pub fn matmul<T: Real>(
    a: &[T],
    av: MatView,
    b: &[T],
    bv: MatView,
    d: MatmulDims,
    alpha: f64,
) -> Vec<T> {
    let MatmulDims { batches, m, n, k } = d;
    let alpha = T::from_f64(alpha);
    let mut c = vec![T::ZERO; batches * m * n];
    c.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(zr, out)| {
            let (z, r) = (zr / m.max(1), zr % m.max(1));
            for kk in 0..k {
                let x = a[av.off + z * av.batch + r * av.row + kk * av.col];
                let bb = bv.off + z * bv.batch + kk * bv.row;
                for (j, o) in out.iter_mut().enumerate() {
                    *o += x * b[bb + j * bv.col];
                }
            }
            for o in out.iter_mut() {
                *o = *o * alpha;
            }
        });
    c
}
