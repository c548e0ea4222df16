//! The optimiser's benchmark rows: Adam and the EMA over a whole parameter group (one
//! dispatch each), and the finiteness guard's sum of squares over its flat gradient.

use super::row::{rand, KernelBench, Run, F32};
use crate::ops;
use crate::optim::{ema_update, Adam, AdamConfig};
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

/// A parameter group of `params` scalars in four big tensors, the way a model's few large
/// conv and dense weights dominate its count.
fn param_group(params: usize, place: Place) -> ParamGroup {
    let part = params / 4;
    let named = (0..4)
        .map(|i| {
            let len = if i == 3 { params - 3 * part } else { part };
            let t = rand(&[len], 10 + i as u64, 0.1, Place::Cpu32);
            (format!("w{i}"), t)
        })
        .collect();
    ParamGroup::new(named, place)
}

/// The group's flat arena (one buffer, every parameter padded to 64 floats).
fn flat_bytes(params: usize) -> u64 {
    (params + 4 * 64) as u64 * 4
}

pub fn adam(params: usize) -> KernelBench {
    KernelBench {
        name: "adam",
        shape: format!("params={params}"),
        flops: 14.0 * params as f64,
        // Read p, g, m, v; write p, m, v.
        bytes: F32 * 7.0 * params as f64,
        largest_buffer: flat_bytes(params),
        setup: Box::new(move |place| -> Run {
            let mut group = param_group(params, place);
            let mut opt = Adam::new(&group, AdamConfig::default());
            // A precomputed flat gradient: the step alone is timed, not the gather.
            let g = rand(&[group.flat_len()], 20, 0.01, place);
            let guard = Tensor::zeros(&[1], place);
            Box::new(move || opt.step_flat(&mut group, &g, &guard))
        }),
    }
}

pub fn ema(params: usize) -> KernelBench {
    KernelBench {
        name: "ema",
        shape: format!("params={params}"),
        flops: 3.0 * params as f64,
        // Read ema and p; write ema.
        bytes: F32 * 3.0 * params as f64,
        largest_buffer: flat_bytes(params),
        setup: Box::new(move |place| -> Run {
            let model = param_group(params, place);
            let mut avg = model.duplicate();
            Box::new(move || ema_update(&mut avg, &model, 0.999))
        }),
    }
}

/// The guard's reduction (`ops::reduce::sum_of_squares`) over a flat gradient of `params`:
/// one long row, cut into parts so it fills the GPU (the first H200 run found it in one
/// workgroup, 32 ms at 26M).
pub fn sum_of_squares(params: usize) -> KernelBench {
    KernelBench {
        name: "sum_of_squares",
        shape: format!("params={params}"),
        flops: 2.0 * params as f64,
        bytes: F32 * params as f64,
        largest_buffer: params as u64 * 4,
        setup: Box::new(move |place| -> Run {
            let g = rand(&[params], 21, 0.01, place);
            Box::new(move || drop(ops::reduce::sum_of_squares(&g)))
        }),
    }
}
