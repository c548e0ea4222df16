//! Equalized 2-D convolution (stride 1, same padding, odd square or rectangular kernels).
//! Three ops, each the others' backward, so gradients of any order stay convolutions:
//!   conv2d(x, w)                    backward: x <- backward_data(g, w), w <- backward_weight(x, g)
//!   conv2d_backward_data(g, w)      backward: g <- conv2d(u, w),        w <- backward_weight(u, g)
//!   conv2d_backward_weight(x, g)    backward: x <- backward_data(g, v), g <- conv2d(x, v)
//! (u, v: the incoming gradients.) Kernel `shaders/conv/implicit_gemm.wgsl` (MODE 0, 1, 2),
//! reference `cpu::conv`. `scale` (gain / sqrt(fan_in) * lr_mul) is applied in the kernel.

use std::sync::Arc;

use super::tune::{self, ConvConfig};
use super::{mul_scalar, same_place, sum};
use crate::cpu::conv::{self as cpu, ConvDims};
use crate::gpu::{self, GpuBuffer};
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

pub use super::tune::{
    set_tiling_policy, tiling, tiling_policy, weight_splits, Tiling, TilingGuard, TilingPolicy,
};

fn dims(x_shape: &[usize], w_shape: &[usize]) -> ConvDims {
    assert_eq!(
        x_shape.len(),
        4,
        "conv2d: input must be NCHW, got {x_shape:?}"
    );
    assert_eq!(
        w_shape.len(),
        4,
        "conv2d: weight must be [K, C, kh, kw], got {w_shape:?}"
    );
    assert_eq!(
        x_shape[1], w_shape[1],
        "conv2d: input has {} channels, weight expects {}",
        x_shape[1], w_shape[1]
    );
    assert!(
        w_shape[2] % 2 == 1 && w_shape[3] % 2 == 1,
        "conv2d: kernel sizes must be odd (same padding)"
    );
    ConvDims {
        n: x_shape[0],
        c: x_shape[1],
        k: w_shape[0],
        h: x_shape[2],
        w: x_shape[3],
        kh: w_shape[2],
        kw: w_shape[3],
    }
}

crate::kernel_params! {
    /// `shaders/conv/gemm_operands.wgsl`, included by both tilings: the convolution's
    /// dims, the weight gradient's split of the pixel reduction (`splits` chunks of `chunk`),
    /// whether binding 3 holds a bias, and the equalized scales.
    pub struct ConvParams {
        kernels: [
            "conv/implicit_gemm.wgsl" => [Read, Read, Read, ReadWrite],
            "conv/implicit_gemm_wide.wgsl" => [Read, Read, Read, ReadWrite],
        ],
        pub n: u32,
        pub c: u32,
        pub k: u32,
        pub h: u32,
        pub w: u32,
        pub kh: u32,
        pub kw: u32,
        pub splits: u32,
        pub chunk: u32,
        pub has_bias: u32,
        pub scale: f32,
        pub bias_scale: f32,
    }
}

fn params(
    d: &ConvDims,
    splits: usize,
    chunk: usize,
    has_bias: bool,
    scale: f64,
    bias_scale: f64,
) -> ConvParams {
    ConvParams {
        n: d.n as u32,
        c: d.c as u32,
        k: d.k as u32,
        h: d.h as u32,
        w: d.w as u32,
        kh: d.kh as u32,
        kw: d.kw as u32,
        splits: splits as u32,
        chunk: chunk as u32,
        has_bias: has_bias as u32,
        scale: scale as f32,
        bias_scale: bias_scale as f32,
    }
}

/// MODE 0 or 1 on the GPU: output [N, M, H, W], in the configuration `tune` picks.
fn gpu_pass(
    mode: u32,
    src: &GpuBuffer,
    wt: &GpuBuffer,
    bias: Option<&GpuBuffer>,
    d: &ConvDims,
    m: usize,
    scales: (f64, f64),
) -> GpuBuffer {
    let run = |c: ConvConfig| launch_pass(mode, c, src, wt, bias, d, m, scales);
    run(tune::conv_config(mode, d, &mut |c| drop(run(c))))
}

#[allow(clippy::too_many_arguments)]
fn launch_pass(
    mode: u32,
    c: ConvConfig,
    src: &GpuBuffer,
    wt: &GpuBuffer,
    bias: Option<&GpuBuffer>,
    d: &ConvDims,
    m: usize,
    (scale, bias_scale): (f64, f64),
) -> GpuBuffer {
    let c = c.runnable(mode, d);
    if c.tiling == Tiling::Winograd {
        return super::winograd::launch(mode, src, wt, bias, d, (scale, bias_scale));
    }
    let ctx = gpu::gpu();
    let out = ctx.alloc((d.n * m * d.hw()) as u64 * 4);
    let [gx, gy] = c.tiling.grid(m, d.n * d.hw());
    ctx.dispatch(
        &c.kernel(mode, d),
        &params(d, 1, 0, bias.is_some(), scale, bias_scale),
        &[src, wt, bias.unwrap_or(wt), &out],
        [gx, gy, 1],
    );
    out
}

/// MODE 2 on the GPU in configuration `c`: the split-K partials and their sum, [K, C*taps].
fn launch_weight(c: ConvConfig, x: &GpuBuffer, g: &GpuBuffer, d: &ConvDims, scale: f64) -> Storage {
    let c = c.runnable(2, d);
    if c.tiling == Tiling::Winograd {
        return Storage::Gpu(Arc::new(super::winograd::launch_weight(x, g, d, scale)));
    }
    let ctx = gpu::gpu();
    let cols = d.c * d.taps();
    let (splits, chunk) = c.splits(d);
    let partial = ctx.alloc((d.k * cols * splits) as u64 * 4);
    let [gx, gy] = c.tiling.grid(d.k, cols);
    ctx.dispatch(
        &c.kernel(2, d),
        &params(d, splits, chunk, false, scale, 0.0),
        &[x, g, x, &partial],
        [gx, gy, splits as u32],
    );
    let partial = Storage::Gpu(Arc::new(partial));
    if splits == 1 {
        partial
    } else {
        super::reduce::sum_rows_storage(&partial, d.k * cols, splits, 1.0)
    }
}

/// y = scale * conv(x, w) + bias_scale * b, with w [K, C, kh, kw] stored unscaled.
pub fn conv2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, scale: f64, bias_scale: f64) -> Tensor {
    same_place("conv2d", &[x, w]);
    let d = dims(x.shape(), w.shape());
    if let Some(b) = b {
        same_place("conv2d", &[x, b]);
        assert_eq!(b.shape(), [d.k], "conv2d: bias must be [K]");
    }
    let storage = match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::forward(
            v,
            w.storage().f32s(),
            b.map(|b| b.storage().f32s()),
            d,
            scale,
            bias_scale,
        ))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::forward(
            v,
            w.storage().f64s(),
            b.map(|b| b.storage().f64s()),
            d,
            scale,
            bias_scale,
        ))),
        Storage::Meta(_) => Storage::meta(d.n * d.k * d.h * d.w),
        Storage::Gpu(buf) => Storage::Gpu(Arc::new(gpu_pass(
            0,
            buf,
            w.storage().gpu_buffer(),
            b.map(|b| &**b.storage().gpu_buffer()),
            &d,
            d.k,
            (scale, bias_scale),
        ))),
    };
    let op = Op::Conv2d {
        x: x.clone(),
        w: w.clone(),
        b: b.cloned(),
        scale,
        bias_scale,
    };
    Tensor::from_op(storage, vec![d.n, d.k, d.h, d.w], op)
}

/// The input gradient of conv2d for output gradient g [N, K, H, W]: [N, C, H, W].
pub fn conv2d_backward_data(g: &Tensor, w: &Tensor, scale: f64) -> Tensor {
    same_place("conv2d_backward_data", &[g, w]);
    let (n, h, wd) = (g.dim(0), g.dim(2), g.dim(3));
    let d = dims(&[n, w.dim(1), h, wd], w.shape());
    assert_eq!(
        g.dim(1),
        d.k,
        "conv2d_backward_data: gradient has {} channels, weight {}",
        g.dim(1),
        d.k
    );
    let storage = match g.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::backward_data(
            v,
            w.storage().f32s(),
            d,
            scale,
        ))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::backward_data(
            v,
            w.storage().f64s(),
            d,
            scale,
        ))),
        Storage::Meta(_) => Storage::meta(d.n * d.c * d.h * d.w),
        Storage::Gpu(buf) => Storage::Gpu(Arc::new(gpu_pass(
            1,
            buf,
            w.storage().gpu_buffer(),
            None,
            &d,
            d.c,
            (scale, 0.0),
        ))),
    };
    let op = Op::Conv2dBackwardData {
        g: g.clone(),
        w: w.clone(),
        scale,
    };
    Tensor::from_op(storage, vec![d.n, d.c, d.h, d.w], op)
}

/// The weight gradient of conv2d: [K, C, kh, kw] from input x and output gradient g.
pub fn conv2d_backward_weight(x: &Tensor, g: &Tensor, kernel: [usize; 2], scale: f64) -> Tensor {
    same_place("conv2d_backward_weight", &[x, g]);
    let d = dims(x.shape(), &[g.dim(1), x.dim(1), kernel[0], kernel[1]]);
    assert_eq!(
        g.shape(),
        [d.n, d.k, d.h, d.w],
        "conv2d_backward_weight: gradient shape"
    );
    let storage = match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::backward_weight(
            v,
            g.storage().f32s(),
            d,
            scale,
        ))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::backward_weight(
            v,
            g.storage().f64s(),
            d,
            scale,
        ))),
        Storage::Meta(_) => Storage::meta(d.k * d.c * d.kh * d.kw),
        Storage::Gpu(buf) => {
            let g = g.storage().gpu_buffer();
            let run = |c: ConvConfig| launch_weight(c, buf, g, &d, scale);
            run(tune::conv_config(2, &d, &mut |c| drop(run(c))))
        }
    };
    let op = Op::Conv2dBackwardWeight {
        x: x.clone(),
        g: g.clone(),
        kernel,
        scale,
    };
    Tensor::from_op(storage, vec![d.k, d.c, kernel[0], kernel[1]], op)
}

fn kernel_of(w: &Tensor) -> [usize; 2] {
    [w.dim(2), w.dim(3)]
}

/// Gradients of conv2d for (x, w[, b]).
pub fn backward(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    scale: f64,
    bias_scale: f64,
    g: &Tensor,
) -> Vec<Option<Tensor>> {
    let mut v = vec![
        x.requires_grad().then(|| conv2d_backward_data(g, w, scale)),
        w.requires_grad()
            .then(|| conv2d_backward_weight(x, g, kernel_of(w), scale)),
    ];
    if let Some(b) = b {
        v.push(
            b.requires_grad()
                .then(|| mul_scalar(&sum(g, &[0, 2, 3], false), bias_scale)),
        );
    }
    v
}

/// Gradients of conv2d_backward_data for (g, w), given u = dL/d(dx).
pub fn backward_data_backward(
    g: &Tensor,
    w: &Tensor,
    scale: f64,
    u: &Tensor,
) -> Vec<Option<Tensor>> {
    vec![
        g.requires_grad().then(|| conv2d(u, w, None, scale, 0.0)),
        w.requires_grad()
            .then(|| conv2d_backward_weight(u, g, kernel_of(w), scale)),
    ]
}

/// Gradients of conv2d_backward_weight for (x, g), given v = dL/d(dw).
pub fn backward_weight_backward(
    x: &Tensor,
    g: &Tensor,
    scale: f64,
    v: &Tensor,
) -> Vec<Option<Tensor>> {
    vec![
        x.requires_grad().then(|| conv2d_backward_data(g, v, scale)),
        g.requires_grad().then(|| conv2d(x, v, None, scale, 0.0)),
    ]
}
