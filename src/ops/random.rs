//! Counter-based random tensors (Philox 4x32-10): the same (seed, offset) gives the same
//! numbers on the GPU (`shaders/random/philox_fill.wgsl`) and the CPU (`cpu::random`).

use std::sync::Arc;

use crate::cpu::random as cpu;
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::shape::numel;
use crate::tensor::{HostVec, Place, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/random/philox_fill.wgsl`: `n` numbers from key `seed` and counters from
    /// `off` (both u64 as lo/hi words); `a`, `b` the range or mean and deviation.
    pub struct PhiloxFillParams {
        kernels: ["random/philox_fill.wgsl" => [ReadWrite]],
        pub n: u32,
        pub seed_lo: u32,
        pub seed_hi: u32,
        pub off_lo: u32,
        pub off_hi: u32,
        pub a: f32,
        pub b: f32,
    }
}

fn fill(
    shape: &[usize],
    seed: u64,
    offset: u64,
    a: f64,
    b: f64,
    normal: bool,
    place: Place,
) -> Tensor {
    let n = numel(shape);
    let storage = match place {
        Place::Cpu32 if normal => {
            Storage::F32(HostVec::arc(cpu::normal_fill(n, seed, offset, a, b)))
        }
        Place::Cpu32 => Storage::F32(HostVec::arc(cpu::uniform(n, seed, offset, a, b))),
        Place::Cpu64 if normal => {
            Storage::F64(HostVec::arc(cpu::normal_fill(n, seed, offset, a, b)))
        }
        Place::Cpu64 => Storage::F64(HostVec::arc(cpu::uniform(n, seed, offset, a, b))),
        Place::Meta => Storage::meta(n),
        Place::Gpu => {
            let ctx = gpu::gpu();
            let out = ctx.alloc(n as u64 * 4);
            let params = PhiloxFillParams {
                n: n as u32,
                seed_lo: seed as u32,
                seed_hi: (seed >> 32) as u32,
                off_lo: offset as u32,
                off_hi: (offset >> 32) as u32,
                a: a as f32,
                b: b as f32,
            };
            let k =
                Kernel::new("random/philox_fill.wgsl").with("DIST", if normal { 1.0 } else { 0.0 });
            ctx.dispatch(&k, &params, &[&out], groups_1d(n as u64));
            Storage::Gpu(Arc::new(out))
        }
    };
    Tensor::from_storage(storage, shape.to_vec())
}

/// Uniform in [lo, hi). Element i uses Philox counter offset + i.
pub fn rand_uniform(
    shape: &[usize],
    seed: u64,
    offset: u64,
    lo: f64,
    hi: f64,
    place: Place,
) -> Tensor {
    fill(shape, seed, offset, lo, hi, false, place)
}

/// Normal(mean, std). Element i uses Philox counter offset + i.
pub fn rand_normal(
    shape: &[usize],
    seed: u64,
    offset: u64,
    mean: f64,
    std: f64,
    place: Place,
) -> Tensor {
    fill(shape, seed, offset, mean, std, true, place)
}
