//! The StyleGAN layer epilogue, fused: noise injection, bias and leaky ReLU,
//! y = lrelu(x + weight[c] * noise[n, 1, h, w] + bias_scale * bias[c]) * gain.
//! Kernel `shaders/noise/forward.wgsl`, reference `cpu::noise`. The backward is written with
//! differentiable ops. Noise maps come from the counter-based generator keyed by
//! (seed, step, layer), so a run is reproducible and the CPU draws the same map.

use std::sync::Arc;

use super::{mul_scalar, rand_normal, reshape, same_place, sum, unary::unary, UnaryOp};
use crate::cpu::noise::{self as cpu, NoiseAct};
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::tensor::Op;
use crate::tensor::{HostVec, Place, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/noise/forward.wgsl`: x [n, c, hw]; the epilogue's scalars as in `NoiseAct`.
    pub struct NoiseParams {
        kernels: ["noise/forward.wgsl" => [Read, Read, Read, Read, ReadWrite]],
        pub n: u32,
        pub c: u32,
        pub hw: u32,
        pub bias_scale: f32,
        pub slope: f32,
        pub gain: f32,
    }
}

/// A noise map [n, 1, h, w] for training step `step` and layer `layer`: Philox key `seed`,
/// counter block (step, layer) so no two maps share numbers.
pub fn noise_map(
    n: usize,
    h: usize,
    w: usize,
    seed: u64,
    step: u64,
    layer: u32,
    place: Place,
) -> Tensor {
    noise_map_rows(0..n, (h, w), seed, step, layer, place)
}

/// Rows `rows` of the map [.., 1, h, w] that [`noise_map`] draws for a whole batch: each
/// sample's numbers depend only on its index, so a micro-batch (or a rank) taking samples
/// `rows` of a batch draws exactly those samples' maps.
pub fn noise_map_rows(
    rows: std::ops::Range<usize>,
    (h, w): (usize, usize),
    seed: u64,
    step: u64,
    layer: u32,
    place: Place,
) -> Tensor {
    let offset = (((step << 8) | layer as u64) << 32) + (rows.start * h * w) as u64;
    rand_normal(&[rows.len(), 1, h, w], seed, offset, 0.0, 1.0, place)
}

fn params(x: &Tensor, bias_scale: f64, slope: f64, gain: f64) -> NoiseAct {
    NoiseAct {
        n: x.dim(0),
        c: x.dim(1),
        hw: x.dim(2) * x.dim(3),
        bias_scale,
        slope,
        gain,
    }
}

/// The fused epilogue. `noise` is [N, 1, H, W]; `weight` and `bias` are [C].
pub fn noise_bias_act(
    x: &Tensor,
    noise: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    bias_scale: f64,
    slope: f64,
    gain: f64,
) -> Tensor {
    same_place("noise_bias_act", &[x, noise, weight, bias]);
    assert_eq!(x.rank(), 4, "noise_bias_act: x must be NCHW");
    let p = params(x, bias_scale, slope, gain);
    assert_eq!(
        noise.shape(),
        [p.n, 1, x.dim(2), x.dim(3)],
        "noise map shape"
    );
    assert!(
        weight.shape() == [p.c] && bias.shape() == [p.c],
        "weight and bias must be [C]"
    );
    let storage = match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::forward(
            v,
            noise.storage().f32s(),
            weight.storage().f32s(),
            bias.storage().f32s(),
            p,
        ))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::forward(
            v,
            noise.storage().f64s(),
            weight.storage().f64s(),
            bias.storage().f64s(),
            p,
        ))),
        Storage::Meta(_) => Storage::meta(x.numel()),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let n = x.numel() as u64;
            let out = ctx.alloc(n * 4);
            ctx.dispatch(
                &Kernel::new("noise/forward.wgsl"),
                &NoiseParams {
                    n: p.n as u32,
                    c: p.c as u32,
                    hw: p.hw as u32,
                    bias_scale: bias_scale as f32,
                    slope: slope as f32,
                    gain: gain as f32,
                },
                &[
                    buf,
                    noise.storage().gpu_buffer(),
                    weight.storage().gpu_buffer(),
                    bias.storage().gpu_buffer(),
                    &out,
                ],
                groups_1d(n),
            );
            Storage::Gpu(Arc::new(out))
        }
    };
    let op = Op::NoiseBiasAct {
        x: x.clone(),
        noise: noise.clone(),
        weight: weight.clone(),
        bias: bias.clone(),
        bias_scale,
        slope,
        gain,
    };
    Tensor::from_op(storage, x.shape().to_vec(), op)
}

/// Gradients for (x, noise, weight, bias). (The arguments mirror `Op::NoiseBiasAct`.)
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &Tensor,
    noise: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    bias_scale: f64,
    slope: f64,
    gain: f64,
    g: &Tensor,
) -> Vec<Option<Tensor>> {
    let c = x.dim(1);
    let col = |t: &Tensor| reshape(t, &[1, c, 1, 1]);
    let pre = &(x + &(&col(weight) * noise)) + &mul_scalar(&col(bias), bias_scale);
    let dpre = g * &unary(UnaryOp::LeakyReluDeriv { slope, gain }, &pre);
    let dnoise = noise
        .requires_grad()
        .then(|| sum(&(&dpre * &col(weight)), &[1], true));
    let dweight = sum(&(&dpre * noise), &[0, 2, 3], false);
    let dbias = mul_scalar(&sum(&dpre, &[0, 2, 3], false), bias_scale);
    vec![Some(dpre), dnoise, Some(dweight), Some(dbias)]
}
