//! The device's two ceilings, measured in the same run as the kernels so every kernel can be
//! read as a fraction of what this device does: arithmetic (`shaders/bench/fma.wgsl`) and
//! memory bandwidth (`shaders/bench/copy.wgsl`).

use serde::{Deserialize, Serialize};

use super::timing::{summarize, time_gpu, Method};
use crate::gpu::batch::groups_1d;
use crate::gpu::{GpuContext, Kernel};

crate::kernel_params! {
    /// `shaders/bench/fma.wgsl`: `iters` steps of x = a x + b per chain.
    pub struct FmaParams {
        kernels: ["bench/fma.wgsl" => [ReadWrite]],
        pub iters: u32,
        pub a: f32,
        pub b: f32,
    }
}

crate::kernel_params! {
    /// `shaders/bench/copy.wgsl`: `n` vec4s.
    pub struct CopyParams {
        kernels: ["bench/copy.wgsl" => [Read, ReadWrite]],
        pub n: u32,
    }
}

/// GFLOP/s of register-only FMA chains and GB/s of a large vec4 copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ceilings {
    pub fma_gflops: f64,
    pub copy_gbs: f64,
}

/// Scalar FMA chains per invocation in fma.wgsl (8 vec4 accumulators).
const CHAINS: u64 = 32;

/// How big the two ceiling kernels are: large enough to fill the device and run for
/// milliseconds, small enough for a software device to finish quickly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    pub fma_threads: u64,
    pub fma_iters: u32,
    pub copy_bytes: u64,
}

impl Sizes {
    /// `small` for `--quick` and for software adapters: a CPU has a few cores to fill, not a
    /// hundred thousand threads, and a large copy would only measure its caches less.
    pub fn for_device(ctx: &GpuContext, small: bool) -> Sizes {
        // The copy's buffers are bound whole, and the pool rounds sizes up to its classes,
        // so stay at a power of two within the binding and buffer limits.
        let limit = ctx
            .limits
            .max_storage_buffer_binding_size
            .min(ctx.limits.max_buffer_size)
            .max(1 << 20);
        let pow2_limit = 1u64 << (63 - limit.leading_zeros());
        if small {
            Sizes {
                fma_threads: 64 * 256,
                fma_iters: 512,
                copy_bytes: (32u64 << 20).min(pow2_limit),
            }
        } else {
            Sizes {
                // 2 M threads: several waves on the largest GPUs (an H100 holds ~270 k).
                fma_threads: 8192 * 256,
                fma_iters: 4096,
                copy_bytes: (256u64 << 20).min(pow2_limit),
            }
        }
    }

    pub fn fma_flops(&self) -> f64 {
        2.0 * (self.fma_threads * self.fma_iters as u64 * CHAINS) as f64
    }
}

/// The CPU twin of `shaders/bench/fma.wgsl`: invocation `i`'s output after `iters` steps of
/// x = a x + b on its 32 chains (seeds as in the shader), in f64.
pub fn fma_reference(i: u32, iters: u32, a: f64, b: f64) -> f64 {
    let seed = (i & 255) as f64 * 1e-3;
    let mut sum = 0.0;
    for chain in 0..8 {
        for lane in 0..4 {
            let mut x = seed + 0.1 * lane as f64 + 0.01 * chain as f64;
            for _ in 0..iters {
                x = a * x + b;
            }
            sum += x;
        }
    }
    sum
}

/// Time both ceiling kernels and return their medians as rates.
pub fn measure(
    ctx: &GpuContext,
    method: Method,
    sizes: Sizes,
    warmup: usize,
    repeats: usize,
) -> Ceilings {
    let fma_out = ctx.alloc(sizes.fma_threads * 4);
    let fma = Kernel::new("bench/fma.wgsl");
    let params = FmaParams {
        iters: sizes.fma_iters,
        a: 0.999,
        b: 0.001,
    };
    let fma_ms = summarize(&time_gpu(ctx, method, warmup, repeats, &mut || {
        ctx.dispatch(&fma, &params, &[&fma_out], groups_1d(sizes.fma_threads))
    }))
    .median;
    drop(fma_out);

    let vec4s = sizes.copy_bytes / 16;
    let src = ctx.alloc(sizes.copy_bytes);
    let dst = ctx.alloc(sizes.copy_bytes);
    // Touch both buffers first: a software device may commit pages lazily, and the first
    // touch must not be what is timed.
    ctx.fill_u32(&src, 1.0f32.to_bits());
    ctx.fill_u32(&dst, 0);
    let copy = Kernel::new("bench/copy.wgsl");
    let copy_ms = summarize(&time_gpu(ctx, method, warmup, repeats, &mut || {
        let params = CopyParams { n: vec4s as u32 };
        ctx.dispatch(&copy, &params, &[&src, &dst], groups_1d(vec4s))
    }))
    .median;

    Ceilings {
        fma_gflops: sizes.fma_flops() / (fma_ms * 1e-3) / 1e9,
        copy_gbs: 2.0 * sizes.copy_bytes as f64 / (copy_ms * 1e-3) / 1e9,
    }
}
