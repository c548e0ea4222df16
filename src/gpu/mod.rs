//! Floor 1: the device and nothing else. Knows bytes and kernels, never tensors.
//!
//! - [`context`]: adapter choice, device, limits, features, `info`.
//! - [`kernels`]: the WGSL registry (`shaders/` embedded) and the pipeline cache.
//! - [`pool`]: size-class buffer pool; buffers return to it on drop.
//! - [`batch`]: many dispatches per command encoder; readback only at sync points.
//! - [`params`]: the typed contract with the kernels' uniform `Params` (`KernelParams`).
//! - [`timer`]: timestamp queries around a region of kernels.
//! - [`profile`]: per-kernel GPU time from timestamps around every dispatch.
//! - [`autotune`]: time candidate kernel configurations per shape class, cache the winners.

pub mod autotune;
pub mod batch;
pub mod context;
pub mod kernels;
pub mod params;
pub mod pool;
pub mod profile;
pub mod timer;

pub use batch::Binding;
pub use context::{gpu, try_gpu, AdapterChoice, AdapterKind, FillParams, GpuContext, GpuError};
pub use kernels::Kernel;
pub use params::{Access, KernelParams};
pub use pool::{GpuBuffer, MemoryStats};
pub use timer::GpuTimer;

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many scopes asked for poisoning (a count, so that parallel tests each holding a scope
/// do not switch it off under one another).
static POISON: AtomicUsize = AtomicUsize::new(0);

/// Restores the poisoning that was in force before [`set_poison`] on drop.
#[must_use = "poisoning ends when the guard drops"]
pub struct PoisonGuard {
    on: bool,
    before: usize,
}

impl Drop for PoisonGuard {
    fn drop(&mut self) {
        if self.on {
            POISON.fetch_sub(1, Ordering::SeqCst);
        } else {
            POISON.store(self.before, Ordering::SeqCst);
        }
    }
}

/// While the guard lives, every buffer handed out by the pool is (`on`) or is not filled with
/// NaN before use, so a kernel that forgets to write an element produces a NaN that a parity
/// test catches.
pub fn set_poison(on: bool) -> PoisonGuard {
    let before = if on {
        POISON.fetch_add(1, Ordering::SeqCst)
    } else {
        POISON.swap(0, Ordering::SeqCst)
    };
    PoisonGuard { on, before }
}

pub fn poison_enabled() -> bool {
    POISON.load(Ordering::SeqCst) > 0
}
