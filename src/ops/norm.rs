//! Pixel norm (for z) and the minibatch standard deviation feature of the discriminator.
//! Kernels `shaders/norm/*.wgsl`, references `cpu::norm`; backwards as differentiable ops
//! (the gradient penalty differentiates through minibatch stddev).

use std::sync::Arc;

use super::{
    add_scalar, broadcast_to, concat, mean, mul_scalar, reshape, rsqrt, sqrt, square, sub,
};
use crate::cpu::norm as cpu;
use crate::gpu::{self, Kernel};
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

/// Epsilon of the official code for both.
pub const EPS: f64 = 1e-8;

crate::kernel_params! {
    /// `shaders/norm/pixel_norm.wgsl`: `rows` rows of `c` features.
    pub struct PixelNormParams {
        kernels: ["norm/pixel_norm.wgsl" => [Read, ReadWrite]],
        pub rows: u32,
        pub c: u32,
        pub eps: f32,
    }
}

crate::kernel_params! {
    /// `shaders/norm/mbstd_stat.wgsl`: x viewed as [groups, m, f].
    pub struct MbstdStatParams {
        kernels: ["norm/mbstd_stat.wgsl" => [Read, ReadWrite]],
        pub groups: u32,
        pub m: u32,
        pub f: u32,
        pub eps: f32,
    }
}

fn row_groups(rows: usize) -> [u32; 3] {
    let y = rows.div_ceil(65535).max(1);
    [rows.div_ceil(y) as u32, y as u32, 1]
}

/// y = x / sqrt(mean(x^2 over axis 1) + eps) for x [N, C].
pub fn pixel_norm(x: &Tensor) -> Tensor {
    assert_eq!(
        x.rank(),
        2,
        "pixel_norm expects [N, C], got {:?}",
        x.shape()
    );
    let (rows, c) = (x.dim(0), x.dim(1));
    let storage = match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::pixel_norm(v, c, EPS))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::pixel_norm(v, c, EPS))),
        Storage::Meta(_) => Storage::meta(x.numel()),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let out = ctx.alloc(x.numel() as u64 * 4);
            ctx.dispatch(
                &Kernel::new("norm/pixel_norm.wgsl"),
                &PixelNormParams {
                    rows: rows as u32,
                    c: c as u32,
                    eps: EPS as f32,
                },
                &[buf, &out],
                row_groups(rows),
            );
            Storage::Gpu(Arc::new(out))
        }
    };
    Tensor::from_op(storage, x.shape().to_vec(), Op::PixelNorm { x: x.clone() })
}

/// With r = (mean(x^2) + eps)^-1/2: dx = r g - x r^3 mean(g x).
pub fn pixel_norm_backward(x: &Tensor, g: &Tensor) -> Tensor {
    let r = rsqrt(&add_scalar(&mean(&square(x), &[1], true), EPS));
    let r3 = &(&r * &r) * &r;
    &(g * &r) - &(&(x * &r3) * &mean(&(g * x), &[1], true))
}

/// The statistic [M] of minibatch stddev for x [N, C, H, W] in groups of `groups`
/// (N = groups * M; sample n = g * M + m, as the official reshape does).
pub fn mbstd_stat(x: &Tensor, groups: usize) -> Tensor {
    assert_eq!(x.rank(), 4, "minibatch stddev expects NCHW");
    assert!(
        groups > 0 && x.dim(0).is_multiple_of(groups),
        "batch {} not divisible by group {groups}",
        x.dim(0)
    );
    let m = x.dim(0) / groups;
    let f = x.numel() / x.dim(0);
    let storage = match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::mbstd_stat(v, groups, m, f, EPS))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::mbstd_stat(v, groups, m, f, EPS))),
        Storage::Meta(_) => Storage::meta(m),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let out = ctx.alloc(m as u64 * 4);
            ctx.dispatch(
                &Kernel::new("norm/mbstd_stat.wgsl"),
                &MbstdStatParams {
                    groups: groups as u32,
                    m: m as u32,
                    f: f as u32,
                    eps: EPS as f32,
                },
                &[buf, &out],
                [m as u32, 1, 1],
            );
            Storage::Gpu(Arc::new(out))
        }
    };
    Tensor::from_op(
        storage,
        vec![m],
        Op::MbstdStat {
            x: x.clone(),
            groups,
        },
    )
}

/// d stat[m] / d x[g, m, f] = (x - mean_g) / (G F sqrt(var_g + eps)), as differentiable ops.
pub fn mbstd_stat_backward(x: &Tensor, groups: usize, g: &Tensor) -> Tensor {
    let m = x.dim(0) / groups;
    let f = x.numel() / x.dim(0);
    let y = reshape(x, &[groups, m, f]);
    let d = sub(&y, &mean(&y, &[0], true));
    let sd = sqrt(&add_scalar(&mean(&square(&d), &[0], true), EPS));
    let gm = mul_scalar(&reshape(g, &[1, m, 1]), 1.0 / (groups * f) as f64);
    reshape(&(&(&d / &sd) * &gm), x.shape())
}

/// Append the minibatch-stddev feature map: [N, C, H, W] -> [N, C + 1, H, W], group size
/// min(group, N) (the official code requires N divisible by it).
pub fn minibatch_stddev(x: &Tensor, group: usize) -> Tensor {
    let n = x.dim(0);
    let g = group.min(n);
    let stat = mbstd_stat(x, g); // [M]
    let m = n / g;
    let per_sample = reshape(
        &broadcast_to(&reshape(&stat, &[1, m]), &[g, m]),
        &[n, 1, 1, 1],
    );
    let map = broadcast_to(&per_sample, &[n, 1, x.dim(2), x.dim(3)]);
    concat(&[x.clone(), map], 1)
}
