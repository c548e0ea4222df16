//! sgw: a hand-written GPU compute engine (WGSL on wgpu) that trains StyleGAN.
//!
//! Floors, each importing only from those below: `shape`, `gpu` and `cpu` (device and
//! reference kernels), `tensor`, `autograd` + `ops`, then `check` (verification harness).
//! See docs/ARCHITECTURE.md.

pub mod autograd;
pub mod bench;
pub mod check;
pub mod cpu;
pub mod data;
pub mod dist;
pub mod gpu;
pub mod nn;
pub mod op_kind;
pub mod ops;
pub mod optim;
pub mod params;
pub mod shape;
pub mod tensor;
pub mod train;

pub use autograd::{backward, grad, grad_of, grad_with, no_grad};
pub use tensor::{DType, Device, Place, Tensor};
