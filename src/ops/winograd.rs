//! Winograd F(2x2, 3x3) for the 3x3 convolution's forward and input gradient on the GPU
//! (`shaders/conv/winograd_*.wgsl`; the transforms are spelled out in
//! `winograd_params.wgsl`): a weight transform, an input transform, 16 batched products by
//! the matmul kernel and an output transform. The weight gradient is its transpose,
//! F(3x3, 2x2): the same input transform, a transform of the output gradient's 2x2 tiles,
//! 16 products that sum over the tiles, and a 4x4 -> 3x3 output transform. It computes
//! exactly what the implicit GEMM computes (its CPU reference is `cpu::conv`), with 2.25x
//! fewer multiply-adds in the products and about 4x the input and output in scratch
//! memory. A tuner candidate (`Tiling::Winograd`, where `tune::winograd_applies`), never
//! the fixed rule: whether it wins depends on the device.

use std::sync::Arc;

use super::matmul::matmul_scaled;
use crate::cpu::conv::ConvDims;
use crate::gpu::{self, batch::groups_1d, GpuBuffer, Kernel};
use crate::tensor::{Storage, Tensor};

crate::kernel_params! {
    /// `shaders/conv/winograd_params.wgsl`: the pass's sizes (r: input channels, m: output
    /// channels, th x tw: 2x2 tiles), the pass (0, 1, 2 as the conv's MODE) and the bias.
    pub struct WinogradParams {
        kernels: [
            "conv/winograd_weight.wgsl" => [Read, ReadWrite],
            "conv/winograd_input.wgsl" => [Read, ReadWrite],
            "conv/winograd_output.wgsl" => [Read, Read, ReadWrite],
            "conv/winograd_grad.wgsl" => [Read, ReadWrite],
            "conv/winograd_wgrad_out.wgsl" => [Read, ReadWrite],
        ],
        pub n: u32,
        pub r: u32,
        pub m: u32,
        pub h: u32,
        pub w: u32,
        pub th: u32,
        pub tw: u32,
        pub mode: u32,
        pub has_bias: u32,
        pub bias_scale: f32,
    }
}

/// The 4x4 transformed tile's 16 elements: one product each.
const ELEMS: usize = 16;

/// The pass's sizes for the kernels: input channels `r`, output channels `m`.
fn params(d: &ConvDims, mode: u32, r: usize, m: usize, bias_scale: Option<f64>) -> WinogradParams {
    WinogradParams {
        n: d.n as u32,
        r: r as u32,
        m: m as u32,
        h: d.h as u32,
        w: d.w as u32,
        th: d.h.div_ceil(2) as u32,
        tw: d.w.div_ceil(2) as u32,
        mode,
        has_bias: bias_scale.is_some() as u32,
        bias_scale: bias_scale.unwrap_or(0.0) as f32,
    }
}

/// A GPU buffer as a tensor (no graph) for the batched matmul.
fn gpu_tensor(b: GpuBuffer, shape: Vec<usize>) -> Tensor {
    Tensor::from_storage(Storage::Gpu(Arc::new(b)), shape)
}

/// V[e, c, p]: the input transform of `src` ([N, r, H, W]) under `params`.
fn input_transform(src: &GpuBuffer, params: &WinogradParams, tiles: usize) -> GpuBuffer {
    let ctx = gpu::gpu();
    let r = params.r as usize;
    let v = ctx.alloc((ELEMS * r * tiles) as u64 * 4);
    ctx.dispatch(
        &Kernel::new("conv/winograd_input.wgsl"),
        params,
        &[src, &v],
        groups_1d((r * tiles) as u64),
    );
    v
}

fn tiles(d: &ConvDims) -> usize {
    d.n * d.h.div_ceil(2) * d.w.div_ceil(2)
}

/// Pass `mode` of the convolution at `d` as Winograd: output [N, m, H, W] from `src`
/// ([N, r, H, W]: x, or the output gradient) and the weight [K, C, 3, 3].
pub fn launch(
    mode: u32,
    src: &GpuBuffer,
    wt: &GpuBuffer,
    bias: Option<&GpuBuffer>,
    d: &ConvDims,
    (scale, bias_scale): (f64, f64),
) -> GpuBuffer {
    let ctx = gpu::gpu();
    let (r, m) = if mode == 0 { (d.c, d.k) } else { (d.k, d.c) };
    let tiles = tiles(d);
    let params = params(d, mode, r, m, bias.map(|_| bias_scale));
    let u = ctx.alloc((ELEMS * m * r) as u64 * 4);
    ctx.dispatch(
        &Kernel::new("conv/winograd_weight.wgsl"),
        &params,
        &[wt, &u],
        groups_1d((m * r) as u64),
    );
    let v = input_transform(src, &params, tiles);
    let product = matmul_scaled(
        &gpu_tensor(u, vec![ELEMS, m, r]),
        &gpu_tensor(v, vec![ELEMS, r, tiles]),
        false,
        false,
        scale,
    );
    let mm = product.storage().gpu_buffer();
    let out = ctx.alloc((d.n * m * d.hw()) as u64 * 4);
    ctx.dispatch(
        &Kernel::new("conv/winograd_output.wgsl"),
        &params,
        &[mm, bias.unwrap_or(mm), &out],
        groups_1d((m * tiles) as u64),
    );
    out
}

/// The weight gradient [K, C, 3, 3] (times `scale`) from x [N, C, H, W] and the output
/// gradient g [N, K, H, W], as Winograd F(3x3, 2x2).
pub fn launch_weight(x: &GpuBuffer, g: &GpuBuffer, d: &ConvDims, scale: f64) -> GpuBuffer {
    let ctx = gpu::gpu();
    let params = params(d, 2, d.c, d.k, None);
    let tiles = tiles(d);
    let v = input_transform(x, &params, tiles);
    let u = ctx.alloc((ELEMS * d.k * tiles) as u64 * 4);
    ctx.dispatch(
        &Kernel::new("conv/winograd_grad.wgsl"),
        &params,
        &[g, &u],
        groups_1d((d.k * tiles) as u64),
    );
    let product = matmul_scaled(
        &gpu_tensor(u, vec![ELEMS, d.k, tiles]),
        &gpu_tensor(v, vec![ELEMS, d.c, tiles]),
        false,
        true,
        scale,
    );
    let dw = ctx.alloc((d.k * d.c * 9) as u64 * 4);
    ctx.dispatch(
        &Kernel::new("conv/winograd_wgrad_out.wgsl"),
        &params,
        &[product.storage().gpu_buffer(), &dw],
        groups_1d((d.k * d.c) as u64),
    );
    dw
}
