//! Floor 6: the optimisers over a [`ParamGroup`]: fused Adam and the EMA update, one dispatch
//! per group on the GPU; on the CPU the updates are functional.

pub mod adam;
pub mod ema;

pub use adam::{Adam, AdamConfig};
pub use ema::ema_update;
