//! Strided copies and axis copies (twins of `shaders/layout/*.wgsl`).

use rayon::prelude::*;

use crate::shape::{numel, offset_of};

/// y[i] = x[offset of i over `out_shape` read with strides `src`] (permute, broadcast).
pub fn strided_copy<T: Copy + Send + Sync>(x: &[T], out_shape: &[usize], src: &[usize]) -> Vec<T> {
    (0..numel(out_shape))
        .into_par_iter()
        .with_min_len(4096)
        .map(|i| x[offset_of(i, out_shape, src)])
        .collect()
}

/// The geometry of a copy along one axis (see `shaders/layout/axis_copy.wgsl`).
#[derive(Clone, Copy, Debug)]
pub struct AxisCopy {
    pub outer: usize,
    pub count: usize,
    pub inner: usize,
    pub src_len: usize,
    pub src_start: usize,
    pub dst_len: usize,
    pub dst_start: usize,
}

pub fn axis_copy<T: Copy>(src: &[T], dst: &mut [T], g: AxisCopy) {
    for o in 0..g.outer {
        for c in 0..g.count {
            let s = (o * g.src_len + g.src_start + c) * g.inner;
            let d = (o * g.dst_len + g.dst_start + c) * g.inner;
            dst[d..d + g.inner].copy_from_slice(&src[s..s + g.inner]);
        }
    }
}
