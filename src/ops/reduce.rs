//! Sums over axes and broadcasting, which are each other's backward.
//! Forward kernels: `shaders/reduce/sum_rows.wgsl` (after moving the summed axes last) and
//! `shaders/layout/strided_copy.wgsl` (broadcast = read with stride 0).

use std::sync::Arc;

use super::layout::{permute_storage, strided_copy_storage};
use super::{mul_scalar, reshape};
use crate::cpu::reduce as cpu;
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::shape::{broadcast_shapes, broadcast_strides, numel};
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/reduce/sum_rows.wgsl`: y[m] = scale * sum of row m of [m, k], or with
    /// `splits` > 1 the sums of each row's parts of `chunk` elements.
    pub struct SumRowsParams {
        kernels: ["reduce/sum_rows.wgsl" => [Read, ReadWrite]],
        pub m: u32,
        pub k: u32,
        pub scale: f32,
        pub splits: u32,
        pub chunk: u32,
    }
}

/// Rows of length at most this are summed one invocation per row.
const SHORT_ROW: usize = 32;
/// Fewer workgroups than this leave a GPU mostly idle: long rows are then cut into parts
/// (a 26M-parameter gradient in one workgroup took 32 ms on an H200; cut, it reads at copy
/// speed).
const FILL_WORKGROUPS: usize = 1024;
/// No part is shorter than this (each of the 256 invocations adds at least 8 terms).
const MIN_PART: usize = 2048;

/// How many parts to cut each of `m` rows of length `k` into: enough for
/// [`FILL_WORKGROUPS`], none shorter than [`MIN_PART`].
fn row_splits(m: usize, k: usize) -> usize {
    FILL_WORKGROUPS
        .div_ceil(m.max(1))
        .min(k.div_ceil(MIN_PART))
        .max(1)
}

/// y[m] = scale * sum of row m of a row-major [m, k] storage.
pub(crate) fn sum_rows_storage(x: &Storage, m: usize, k: usize, scale: f64) -> Storage {
    rows_storage(x, m, k, scale, false)
}

/// y[m] = scale * sum of row m (of its squares when `square`).
fn rows_storage(x: &Storage, m: usize, k: usize, scale: f64, square: bool) -> Storage {
    match x {
        Storage::F32(v) if square => {
            Storage::F32(HostVec::arc(cpu::sum_square_rows(v, m, k, scale)))
        }
        Storage::F64(v) if square => {
            Storage::F64(HostVec::arc(cpu::sum_square_rows(v, m, k, scale)))
        }
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::sum_rows(v, m, k, scale))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::sum_rows(v, m, k, scale))),
        Storage::Meta(_) => Storage::meta(m),
        Storage::Gpu(buf) => {
            let short = k <= SHORT_ROW;
            let splits = if short { 1 } else { row_splits(m, k) };
            if splits > 1 {
                // Parts' sums (squared terms, no scale), then their sum per row.
                let chunk = k.div_ceil(splits);
                let parts = gpu_rows(buf, m, k, 1.0, square, splits, chunk);
                return rows_storage(&parts, m, splits, scale, false);
            }
            gpu_rows(buf, m, k, scale, square, 1, k)
        }
    }
}

/// One `sum_rows.wgsl` pass: [m * splits] part sums (plain row sums when `splits` is 1).
fn gpu_rows(
    buf: &gpu::GpuBuffer,
    m: usize,
    k: usize,
    scale: f64,
    square: bool,
    splits: usize,
    chunk: usize,
) -> Storage {
    let ctx = gpu::gpu();
    let out = ctx.alloc((m * splits) as u64 * 4);
    let short = k <= SHORT_ROW;
    let groups = if short {
        groups_1d(m as u64)
    } else {
        // One workgroup per part, folded into y past the dimension limit.
        let g = groups_1d((m * splits) as u64 * 256);
        [g[0], g[1], 1]
    };
    ctx.dispatch(
        &Kernel::new("reduce/sum_rows.wgsl")
            .with("PER_THREAD", if short { 1.0 } else { 0.0 })
            .with("SQUARE", if square { 1.0 } else { 0.0 }),
        &SumRowsParams {
            m: m as u32,
            k: k as u32,
            scale: scale as f32,
            splits: splits as u32,
            chunk: chunk as u32,
        },
        &[buf, &out],
        groups,
    );
    Storage::Gpu(Arc::new(out))
}

/// Sum over `axes`; with `keepdim` the summed axes stay as size 1.
pub fn sum(x: &Tensor, axes: &[usize], keepdim: bool) -> Tensor {
    let r = x.rank();
    let mut red = vec![false; r];
    for &a in axes {
        assert!(
            a < r,
            "sum: axis {a} out of range for shape {:?}",
            x.shape()
        );
        red[a] = true;
    }
    let kept: Vec<usize> = (0..r).filter(|&d| !red[d]).collect();
    let summed: Vec<usize> = (0..r).filter(|&d| red[d]).collect();
    let perm: Vec<usize> = kept.iter().chain(&summed).copied().collect();
    let m: usize = kept.iter().map(|&d| x.dim(d)).product();
    let k: usize = summed.iter().map(|&d| x.dim(d)).product();
    let moved = if perm.iter().enumerate().all(|(i, &p)| i == p) {
        x.storage().clone()
    } else {
        permute_storage(x.storage(), x.shape(), &perm)
    };
    let storage = sum_rows_storage(&moved, m, k, 1.0);
    let keep_shape: Vec<usize> = (0..r).map(|d| if red[d] { 1 } else { x.dim(d) }).collect();
    let out = Tensor::from_op(
        storage,
        keep_shape,
        Op::SumKeep {
            x: x.clone(),
            axes: summed,
        },
    );
    if keepdim {
        out
    } else {
        let shape: Vec<usize> = kept.iter().map(|&d| x.dim(d)).collect();
        reshape(&out, &shape)
    }
}

/// Mean over `axes`.
pub fn mean(x: &Tensor, axes: &[usize], keepdim: bool) -> Tensor {
    let count: usize = axes.iter().map(|&a| x.dim(a)).product();
    mul_scalar(&sum(x, axes, keepdim), 1.0 / count.max(1) as f64)
}

/// Sum of every element, as a scalar (shape []).
pub fn sum_all(x: &Tensor) -> Tensor {
    let axes: Vec<usize> = (0..x.rank()).collect();
    sum(x, &axes, false)
}

/// The sum of the squares of every element, as a scalar, with no graph (the optimisers'
/// finiteness guard). No squared copy of `x` is made: rows of a few thousand elements are
/// squared and summed in one pass, then the row sums are added.
pub fn sum_of_squares(x: &Tensor) -> Tensor {
    let n = x.numel();
    // Rows of 1024..=8192 elements where the length allows, else one row.
    let k = (1024..=8192)
        .rev()
        .step_by(64)
        .find(|k| n.is_multiple_of(*k) && n / k > 1)
        .unwrap_or(n.max(1));
    let rows = rows_storage(x.storage(), n / k.max(1), k, 1.0, true);
    let m = rows.len();
    let total = rows_storage(&rows, 1, m, 1.0, false);
    Tensor::from_storage(total, Vec::new())
}

/// Mean of every element, as a scalar.
pub fn mean_all(x: &Tensor) -> Tensor {
    mul_scalar(&sum_all(x), 1.0 / x.numel().max(1) as f64)
}

/// x broadcast (numpy rules) to `shape`, materialised.
pub fn broadcast_to(x: &Tensor, shape: &[usize]) -> Tensor {
    if x.shape() == shape {
        return x.clone();
    }
    assert!(
        broadcast_shapes(x.shape(), shape).as_deref() == Some(shape),
        "broadcast_to: {:?} does not broadcast to {shape:?}",
        x.shape()
    );
    let src = broadcast_strides(x.shape(), shape);
    let storage = strided_copy_storage(x.storage(), shape, &src);
    debug_assert_eq!(storage.len(), numel(shape));
    Tensor::from_op(storage, shape.to_vec(), Op::BroadcastTo { x: x.clone() })
}

/// Sum g down to `shape`, undoing a broadcast (the backward of broadcasting).
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Tensor {
    if g.shape() == shape {
        return g.clone();
    }
    let lead = g.rank() - shape.len();
    let axes: Vec<usize> = (0..g.rank())
        .filter(|&d| d < lead || (shape[d - lead] == 1 && g.dim(d) != 1))
        .collect();
    reshape(&sum(g, &axes, true), shape)
}
