//! AdaIN: instance normalisation over H x W per (n, c), then the style:
//! y = (1 + ys) * x_hat + yb. Fused kernels `shaders/adain/{forward,backward}.wgsl`,
//! reference `cpu::adain`. The first-order backward uses the fused kernel; when a graph is
//! being recorded (second order) the same formula runs as differentiable ops.

use std::sync::Arc;

use super::{add_scalar, mean, reshape, rsqrt, same_place, square, sum};
use crate::cpu::adain as cpu;
use crate::gpu::{self, Kernel};
use crate::tensor::grad_mode::is_grad_enabled;
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/adain/{forward,backward}.wgsl`: `planes` planes of `hw` values.
    pub struct AdainParams {
        kernels: [
            "adain/forward.wgsl" => [Read, Read, Read, ReadWrite],
            "adain/backward.wgsl" => [Read, Read, Read, ReadWrite, ReadWrite, ReadWrite],
        ],
        pub planes: u32,
        pub hw: u32,
        pub eps: f32,
    }
}

fn adain_params(planes: usize, hw: usize) -> AdainParams {
    AdainParams {
        planes: planes as u32,
        hw: hw as u32,
        eps: EPS as f32,
    }
}

/// Instance-norm epsilon of the official StyleGAN.
pub const EPS: f64 = 1e-8;

fn check(x: &Tensor, ys: &Tensor, yb: &Tensor) -> (usize, usize) {
    same_place("adain", &[x, ys, yb]);
    assert_eq!(x.rank(), 4, "adain: x must be NCHW, got {:?}", x.shape());
    let nc = [x.dim(0), x.dim(1)];
    assert!(
        ys.shape() == nc && yb.shape() == nc,
        "adain: styles must be {nc:?}"
    );
    (x.dim(0) * x.dim(1), x.dim(2) * x.dim(3))
}

/// Threads per plane (the kernels' WG): 64 up to 32x32 planes, 256 above (a cached 64x64
/// plane is 16 KiB of workgroup memory: 256 threads keep a GPU's occupancy up).
fn plane_threads(hw: usize) -> f64 {
    if hw <= 1024 {
        64.0
    } else {
        256.0
    }
}

/// The kernels' CACHE: `hw` when `arrays` planes of it fit in the device's workgroup memory
/// beside the 1 KiB reduction buffer, so the data is read from memory once; else 1 (off).
fn plane_cache(hw: usize, arrays: usize) -> f64 {
    let limit = gpu::gpu().limits.max_compute_workgroup_storage_size as usize;
    if arrays * hw * 4 + 1024 <= limit {
        hw as f64
    } else {
        1.0
    }
}

/// One workgroup per plane, folded into y past 65535.
fn plane_groups(planes: usize) -> [u32; 3] {
    let y = planes.div_ceil(65535).max(1);
    [planes.div_ceil(y) as u32, y as u32, 1]
}

pub fn adain(x: &Tensor, ys: &Tensor, yb: &Tensor) -> Tensor {
    let (planes, hw) = check(x, ys, yb);
    let storage = match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::forward(
            v,
            ys.storage().f32s(),
            yb.storage().f32s(),
            hw,
            EPS,
        ))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::forward(
            v,
            ys.storage().f64s(),
            yb.storage().f64s(),
            hw,
            EPS,
        ))),
        Storage::Meta(_) => Storage::meta(x.numel()),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let out = ctx.alloc(x.numel() as u64 * 4);
            ctx.dispatch(
                &Kernel::new("adain/forward.wgsl")
                    .with("WG", plane_threads(hw))
                    .with("CACHE", plane_cache(hw, 1)),
                &adain_params(planes, hw),
                &[
                    buf,
                    ys.storage().gpu_buffer(),
                    yb.storage().gpu_buffer(),
                    &out,
                ],
                plane_groups(planes),
            );
            Storage::Gpu(Arc::new(out))
        }
    };
    Tensor::from_op(
        storage,
        x.shape().to_vec(),
        Op::Adain {
            x: x.clone(),
            ys: ys.clone(),
            yb: yb.clone(),
        },
    )
}

/// Gradients for (x, ys, yb).
pub fn backward(x: &Tensor, ys: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
    let (dx, dys, dyb) = if is_grad_enabled() {
        composite_backward(x, ys, g)
    } else {
        fused_backward(x, ys, g)
    };
    vec![Some(dx), Some(dys), Some(dyb)]
}

/// The fused kernel (or its CPU twin): one pass per plane, no graph.
pub fn fused_backward(x: &Tensor, ys: &Tensor, g: &Tensor) -> (Tensor, Tensor, Tensor) {
    let (planes, hw) = check(x, ys, ys);
    let nc = vec![x.dim(0), x.dim(1)];
    let (dx, dys, dyb) = match x.storage() {
        Storage::F32(v) => {
            let (a, b, c) = cpu::backward(v, ys.storage().f32s(), g.storage().f32s(), hw, EPS);
            (
                Storage::F32(HostVec::arc(a)),
                Storage::F32(HostVec::arc(b)),
                Storage::F32(HostVec::arc(c)),
            )
        }
        Storage::F64(v) => {
            let (a, b, c) = cpu::backward(v, ys.storage().f64s(), g.storage().f64s(), hw, EPS);
            (
                Storage::F64(HostVec::arc(a)),
                Storage::F64(HostVec::arc(b)),
                Storage::F64(HostVec::arc(c)),
            )
        }
        Storage::Meta(_) => (
            Storage::meta(x.numel()),
            Storage::meta(planes),
            Storage::meta(planes),
        ),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let dx = ctx.alloc(x.numel() as u64 * 4);
            let dys = ctx.alloc(planes as u64 * 4);
            let dyb = ctx.alloc(planes as u64 * 4);
            ctx.dispatch(
                &Kernel::new("adain/backward.wgsl")
                    .with("WG", plane_threads(hw))
                    .with("CACHE", plane_cache(hw, 2)),
                &adain_params(planes, hw),
                &[
                    buf,
                    ys.storage().gpu_buffer(),
                    g.storage().gpu_buffer(),
                    &dx,
                    &dys,
                    &dyb,
                ],
                plane_groups(planes),
            );
            (
                Storage::Gpu(Arc::new(dx)),
                Storage::Gpu(Arc::new(dys)),
                Storage::Gpu(Arc::new(dyb)),
            )
        }
    };
    (
        Tensor::from_storage(dx, x.shape().to_vec()),
        Tensor::from_storage(dys, nc.clone()),
        Tensor::from_storage(dyb, nc),
    )
}

/// The same gradients as differentiable ops (for second order).
pub fn composite_backward(x: &Tensor, ys: &Tensor, g: &Tensor) -> (Tensor, Tensor, Tensor) {
    let hw = [2, 3];
    let col = |t: &Tensor| reshape(t, &[x.dim(0), x.dim(1), 1, 1]);
    let d = x - &mean(x, &hw, true);
    let r = rsqrt(&add_scalar(&mean(&square(&d), &hw, true), EPS));
    let xh = &d * &r;
    let gs = g * &add_scalar(&col(ys), 1.0);
    let dx = &r * &(&(&gs - &mean(&gs, &hw, true)) - &(&xh * &mean(&(&gs * &xh), &hw, true)));
    let dys = sum(&(g * &xh), &hw, false);
    let dyb = sum(g, &hw, false);
    (dx, dys, dyb)
}
