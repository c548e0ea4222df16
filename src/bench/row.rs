//! One benchmark row (`KernelBench`: name, shape, counted work, setup) and what every list
//! of rows shares: the seeded inputs, the f32 size, the plane shape string.

use crate::ops;
use crate::tensor::{Place, Tensor};

/// Runs the op once (records it, on the GPU).
pub type Run = Box<dyn FnMut()>;

pub struct KernelBench {
    pub name: &'static str,
    pub shape: String,
    pub flops: f64,
    pub bytes: f64,
    /// The largest single tensor, in bytes: above the device's storage binding limit the
    /// op cannot run there at all.
    pub largest_buffer: u64,
    /// Builds the inputs at `place` (not timed) and returns the run closure.
    pub setup: Box<dyn Fn(Place) -> Run>,
}

pub const F32: f64 = 4.0;

/// Seeds of the inputs: distinct Philox counter blocks, so no two tensors share numbers.
pub fn rand(shape: &[usize], block: u64, std: f64, place: Place) -> Tensor {
    ops::rand_normal(shape, 0x5EED, block << 40, 0.0, std, place)
}

/// The shape string of an NCHW plane op (matched by `tools/pytorch_bench.py`).
pub fn plane_shape(n: usize, c: usize, h: usize, w: usize) -> String {
    format!("N={n} C={c} H={h} W={w}")
}
