//! Floor 1: the device and nothing else. Knows bytes and kernels, never tensors.
//!
//! - [`context`]: adapter choice, device, limits, features, `info`.
//! - [`kernels`]: the WGSL registry (`shaders/` embedded) and the pipeline cache.
//! - [`pool`]: size-class buffer pool; buffers return to it on drop.
//! - [`batch`]: many dispatches per command encoder; readback only at sync points.
//! - [`timer`]: timestamp queries around a region of kernels.
//! - [`profile`]: per-kernel GPU time from timestamps around every dispatch.

pub mod batch;
pub mod context;
pub mod kernels;
pub mod pool;
pub mod profile;
pub mod timer;

pub use batch::Binding;
pub use context::{gpu, try_gpu, AdapterChoice, AdapterKind, GpuContext, GpuError};
pub use kernels::Kernel;
pub use pool::GpuBuffer;
pub use timer::GpuTimer;

use std::sync::atomic::{AtomicBool, Ordering};

static POISON: AtomicBool = AtomicBool::new(false);

/// When on, every buffer handed out by the pool is filled with NaN before use, so a
/// kernel that forgets to write an element produces a NaN that a parity test catches.
pub fn set_poison(on: bool) {
    POISON.store(on, Ordering::SeqCst);
}

pub fn poison_enabled() -> bool {
    POISON.load(Ordering::SeqCst)
}
