//! Reshape, permute, concat, slice and pad: forward (kernels `shaders/layout/*.wgsl`,
//! reference `cpu::layout`) and backward.

use std::sync::Arc;

use super::{pack8, same_place};
use crate::cpu::layout::{self as cpu, AxisCopy};
use crate::gpu::{self, batch::groups_1d, GpuBuffer, Kernel};
use crate::shape::{numel, strides};
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/layout/strided_copy.wgsl`: `n` outputs of rank `rank` (<= 8), the output
    /// shape and the source strides packed as two vec4s (`pack8`).
    pub struct StridedCopyParams {
        kernels: ["layout/strided_copy.wgsl" => [Read, ReadWrite]],
        pub n: u32,
        pub rank: u32,
        pub _p0: u32,
        pub _p1: u32,
        pub shape: [[u32; 4]; 2],
        pub src: [[u32; 4]; 2],
    }
}

crate::kernel_params! {
    /// `shaders/layout/axis_copy.wgsl`: one [`AxisCopy`].
    pub struct AxisCopyParams {
        kernels: ["layout/axis_copy.wgsl" => [Read, ReadWrite]],
        pub outer: u32,
        pub count: u32,
        pub inner: u32,
        pub src_len: u32,
        pub src_start: u32,
        pub dst_len: u32,
        pub dst_start: u32,
    }
}

/// y[i] = x[offset of i over `out_shape` with strides `src`]: permutes and broadcasts.
pub(crate) fn strided_copy_storage(x: &Storage, out_shape: &[usize], src: &[usize]) -> Storage {
    match x {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::strided_copy(v, out_shape, src))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::strided_copy(v, out_shape, src))),
        Storage::Meta(_) => Storage::meta(numel(out_shape)),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let n = numel(out_shape) as u64;
            let out = ctx.alloc(n * 4);
            ctx.dispatch(
                &Kernel::new("layout/strided_copy.wgsl"),
                &StridedCopyParams {
                    n: n as u32,
                    rank: out_shape.len() as u32,
                    _p0: 0,
                    _p1: 0,
                    shape: pack8(out_shape),
                    src: pack8(src),
                },
                &[buf, &out],
                groups_1d(n),
            );
            Storage::Gpu(Arc::new(out))
        }
    }
}

pub(crate) fn permute_storage(x: &Storage, shape: &[usize], perm: &[usize]) -> Storage {
    let st = strides(shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let src: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    strided_copy_storage(x, &out_shape, &src)
}

fn gpu_axis_copy(src: &GpuBuffer, dst: &GpuBuffer, g: AxisCopy) {
    let n = (g.outer * g.count * g.inner) as u64;
    if n == 0 {
        return;
    }
    let params = AxisCopyParams {
        outer: g.outer as u32,
        count: g.count as u32,
        inner: g.inner as u32,
        src_len: g.src_len as u32,
        src_start: g.src_start as u32,
        dst_len: g.dst_len as u32,
        dst_start: g.dst_start as u32,
    };
    gpu::gpu().dispatch(
        &Kernel::new("layout/axis_copy.wgsl"),
        &params,
        &[src, dst],
        groups_1d(n),
    );
}

/// Zero-filled storage of n elements like `like`, then each copy applied.
fn assemble(like: &Storage, n: usize, parts: &[(&Storage, AxisCopy)]) -> Storage {
    match like {
        Storage::F32(_) => {
            let mut out = vec![0f32; n];
            for (s, g) in parts {
                let Storage::F32(v) = s else { unreachable!() };
                cpu::axis_copy(v, &mut out, *g);
            }
            Storage::F32(HostVec::arc(out))
        }
        Storage::F64(_) => {
            let mut out = vec![0f64; n];
            for (s, g) in parts {
                let Storage::F64(v) = s else { unreachable!() };
                cpu::axis_copy(v, &mut out, *g);
            }
            Storage::F64(HostVec::arc(out))
        }
        Storage::Meta(_) => Storage::meta(n),
        Storage::Gpu(_) => {
            let ctx = gpu::gpu();
            let out = ctx.alloc(n as u64 * 4);
            let covered: usize = parts.iter().map(|(_, g)| g.outer * g.count * g.inner).sum();
            if covered < n {
                ctx.fill_u32(&out, 0);
            }
            for (s, g) in parts {
                gpu_axis_copy(s.gpu_buffer(), &out, *g);
            }
            Storage::Gpu(Arc::new(out))
        }
    }
}

fn outer_inner(shape: &[usize], axis: usize) -> (usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis + 1..].iter().product(),
    )
}

/// The same data with a new shape of equal size (no copy).
pub fn reshape(x: &Tensor, shape: &[usize]) -> Tensor {
    assert_eq!(
        numel(shape),
        x.numel(),
        "reshape {:?} -> {shape:?}",
        x.shape()
    );
    if x.shape() == shape {
        return x.clone();
    }
    Tensor::from_op(
        x.storage().clone(),
        shape.to_vec(),
        Op::Reshape { x: x.clone() },
    )
}

/// Axes reordered: output axis d is input axis perm[d].
pub fn permute(x: &Tensor, perm: &[usize]) -> Tensor {
    let mut seen = vec![false; x.rank()];
    assert_eq!(
        perm.len(),
        x.rank(),
        "permute {perm:?} of shape {:?}",
        x.shape()
    );
    for &p in perm {
        assert!(
            p < x.rank() && !seen[p],
            "permute: {perm:?} is not a permutation"
        );
        seen[p] = true;
    }
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return x.clone();
    }
    let shape: Vec<usize> = perm.iter().map(|&p| x.dim(p)).collect();
    let storage = permute_storage(x.storage(), x.shape(), perm);
    Tensor::from_op(
        storage,
        shape,
        Op::Permute {
            x: x.clone(),
            perm: perm.to_vec(),
        },
    )
}

pub fn inverse_perm(perm: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    inv
}

/// Swap two axes.
pub fn transpose(x: &Tensor, a: usize, b: usize) -> Tensor {
    let mut perm: Vec<usize> = (0..x.rank()).collect();
    perm.swap(a, b);
    permute(x, &perm)
}

/// Join tensors along `axis`; all other axes must agree.
pub fn concat(xs: &[Tensor], axis: usize) -> Tensor {
    assert!(!xs.is_empty(), "concat of nothing");
    let refs: Vec<&Tensor> = xs.iter().collect();
    same_place("concat", &refs);
    let mut shape = xs[0].shape().to_vec();
    let mut total = 0;
    for x in xs {
        assert!(
            x.rank() == shape.len() && (0..shape.len()).all(|d| d == axis || x.dim(d) == shape[d]),
            "concat along {axis}: {:?} vs {:?}",
            x.shape(),
            shape
        );
        total += x.dim(axis);
    }
    shape[axis] = total;
    let (outer, inner) = outer_inner(&shape, axis);
    let mut start = 0;
    let parts: Vec<(&Storage, AxisCopy)> = xs
        .iter()
        .map(|x| {
            let len = x.dim(axis);
            let g = AxisCopy {
                outer,
                count: len,
                inner,
                src_len: len,
                src_start: 0,
                dst_len: total,
                dst_start: start,
            };
            start += len;
            (x.storage(), g)
        })
        .collect();
    let storage = assemble(xs[0].storage(), numel(&shape), &parts);
    Tensor::from_op(
        storage,
        shape,
        Op::Concat {
            xs: xs.to_vec(),
            axis,
        },
    )
}

pub(crate) fn concat_backward(xs: &[Tensor], axis: usize, g: &Tensor) -> Vec<Option<Tensor>> {
    let mut start = 0;
    xs.iter()
        .map(|x| {
            let s = slice(g, axis, start, x.dim(axis));
            start += x.dim(axis);
            Some(s)
        })
        .collect()
}

/// x[.., start..start + len, ..] along `axis`.
pub fn slice(x: &Tensor, axis: usize, start: usize, len: usize) -> Tensor {
    let full = x.dim(axis);
    assert!(
        start + len <= full,
        "slice {start}..{} of axis {axis} with size {full}",
        start + len
    );
    if start == 0 && len == full {
        return x.clone();
    }
    let mut shape = x.shape().to_vec();
    shape[axis] = len;
    let (outer, inner) = outer_inner(&shape, axis);
    let g = AxisCopy {
        outer,
        count: len,
        inner,
        src_len: full,
        src_start: start,
        dst_len: len,
        dst_start: 0,
    };
    let storage = assemble(x.storage(), numel(&shape), &[(x.storage(), g)]);
    Tensor::from_op(
        storage,
        shape,
        Op::Slice {
            x: x.clone(),
            axis,
            start,
        },
    )
}

/// Zeros of size `total` along `axis` with x placed from `start`.
pub fn pad(x: &Tensor, axis: usize, start: usize, total: usize) -> Tensor {
    let len = x.dim(axis);
    assert!(
        start + len <= total,
        "pad: {len} at {start} exceeds {total}"
    );
    if start == 0 && len == total {
        return x.clone();
    }
    let mut shape = x.shape().to_vec();
    shape[axis] = total;
    let (outer, inner) = outer_inner(&shape, axis);
    let g = AxisCopy {
        outer,
        count: len,
        inner,
        src_len: len,
        src_start: 0,
        dst_len: total,
        dst_start: start,
    };
    let storage = assemble(x.storage(), numel(&shape), &[(x.storage(), g)]);
    Tensor::from_op(
        storage,
        shape,
        Op::Pad {
            x: x.clone(),
            axis,
            start,
        },
    )
}
