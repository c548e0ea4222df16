//! The generator's moving average: ema += (1 - beta) (p - ema) over a whole group, one
//! dispatch of `shaders/optim/ema.wgsl`; reference `cpu::optim::ema`.

use crate::cpu::optim as cpu;
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::params::ParamGroup;
use crate::tensor::Place;

crate::kernel_params! {
    /// `shaders/optim/ema.wgsl`: `n` elements, ema += (1 - beta) (p - ema).
    pub struct EmaParams {
        kernels: ["optim/ema.wgsl" => [ReadWrite, Read]],
        pub n: u32,
        pub beta: f32,
    }
}

/// `ema` and `model` must share names and layout (`ParamGroup::duplicate`).
pub fn ema_update(ema: &mut ParamGroup, model: &ParamGroup, beta: f64) {
    assert_eq!(
        ema.names(),
        model.names(),
        "EMA and model parameters differ"
    );
    match model.place() {
        Place::Gpu => {
            let n = ema.flat_len() as u64;
            gpu::gpu().dispatch(
                &Kernel::new("optim/ema.wgsl"),
                &EmaParams {
                    n: n as u32,
                    beta: beta as f32,
                },
                &[
                    ema.flat().storage().gpu_buffer(),
                    model.flat().storage().gpu_buffer(),
                ],
                groups_1d(n),
            );
        }
        Place::Meta => {}
        _ => {
            let mut e = ema.flat().to_vec_f64();
            cpu::ema(&mut e, &model.flat().to_vec_f64(), beta);
            ema.scatter(&e);
        }
    }
}
