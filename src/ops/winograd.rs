//! Winograd F(2x2, 3x3) for the 3x3 convolution's forward and input gradient on the GPU
//! (`shaders/conv/winograd_*.wgsl`; the transforms are spelled out in
//! `winograd_params.wgsl`): a weight transform, an input transform, 16 batched products by
//! the matmul kernel and an output transform. It computes exactly what the implicit GEMM
//! computes (its CPU reference is `cpu::conv`), with 2.25x fewer multiply-adds in the
//! product and about 4x the input and output in scratch memory. A tuner candidate
//! (`Tiling::Winograd`, where `tune::winograd_applies`), never the fixed rule: whether it
//! wins depends on the device.

use std::sync::Arc;

use super::matmul::matmul_scaled;
use crate::cpu::conv::ConvDims;
use crate::gpu::{self, batch::groups_1d, GpuBuffer, Kernel};
use crate::tensor::{Storage, Tensor};

crate::kernel_params! {
    /// `shaders/conv/winograd_params.wgsl`: the pass's sizes (r: input channels, m: output
    /// channels, th x tw: 2x2 tiles), the pass (MODE 0 or 1) and the bias.
    pub struct WinogradParams {
        kernels: [
            "conv/winograd_weight.wgsl" => [Read, ReadWrite],
            "conv/winograd_input.wgsl" => [Read, ReadWrite],
            "conv/winograd_output.wgsl" => [Read, Read, ReadWrite],
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
    let (th, tw) = (d.h.div_ceil(2), d.w.div_ceil(2));
    let tiles = d.n * th * tw;
    let params = WinogradParams {
        n: d.n as u32,
        r: r as u32,
        m: m as u32,
        h: d.h as u32,
        w: d.w as u32,
        th: th as u32,
        tw: tw as u32,
        mode,
        has_bias: bias.is_some() as u32,
        bias_scale: bias_scale as f32,
    };
    let u = ctx.alloc((ELEMS * m * r) as u64 * 4);
    ctx.dispatch(
        &Kernel::new("conv/winograd_weight.wgsl"),
        &params,
        &[wt, &u],
        groups_1d((m * r) as u64),
    );
    let v = ctx.alloc((ELEMS * r * tiles) as u64 * 4);
    ctx.dispatch(
        &Kernel::new("conv/winograd_input.wgsl"),
        &params,
        &[src, &v],
        groups_1d((r * tiles) as u64),
    );
    let gpu_tensor =
        |b: GpuBuffer, shape: Vec<usize>| Tensor::from_storage(Storage::Gpu(Arc::new(b)), shape);
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
