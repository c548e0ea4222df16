//! Optimiser checks for the `gradcheck` table: ten fused-Adam steps and one EMA update on
//! the GPU (one dispatch per group) against the CPU reference in f64.

use super::report::Row;
use super::Errors;
use crate::ops::rand_uniform;
use crate::optim::{ema_update, Adam, AdamConfig};
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

/// f32 state against f64 state after ten steps.
pub const OPTIM_TOL: f64 = 1e-6;
/// The harness's relative-error floor (see `parity::FLOOR`).
const FLOOR: f64 = 1e-2;

const SHAPES: [&[usize]; 4] = [&[3, 5], &[1], &[17, 3, 3, 3], &[300]];

fn group(place: Place) -> ParamGroup {
    let named = SHAPES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                format!("p{i}"),
                rand_uniform(s, 5, (i as u64) << 20, -1.0, 1.0, place),
            )
        })
        .collect();
    ParamGroup::new(named, place)
}

fn compare(a: &ParamGroup, b: &ParamGroup) -> Errors {
    a.params()
        .iter()
        .zip(b.params())
        .fold(Errors::default(), |e, (x, y)| {
            e.max(Errors::of(&x.to_vec_f64(), &y.to_vec_f64(), FLOOR))
        })
}

fn row(op: &str, check: &'static str, errors: Errors) -> Row {
    let shape = format!(
        "{} params in {} tensors",
        SHAPES
            .iter()
            .map(|s| s.iter().product::<usize>())
            .sum::<usize>(),
        SHAPES.len()
    );
    Row::new(op, check, shape, errors, OPTIM_TOL)
}

/// Ten Adam steps with the same gradients on both devices.
pub fn adam_row() -> Row {
    let cfg = AdamConfig {
        lr: 0.01,
        ..AdamConfig::default()
    };
    let (mut g, mut c) = (group(Place::Gpu), group(Place::Cpu64));
    let (mut ag, mut ac) = (Adam::new(&g, cfg), Adam::new(&c, cfg));
    for step in 0..10u64 {
        let grads: Vec<Option<Tensor>> = c
            .params()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Some(rand_uniform(
                    p.shape(),
                    77 + step,
                    (i as u64) << 20,
                    -2.0,
                    2.0,
                    Place::Cpu64,
                ))
            })
            .collect();
        let on_gpu: Vec<_> = grads
            .iter()
            .map(|t| t.as_ref().map(|t| t.to_gpu()))
            .collect();
        ag.step(&mut g, &on_gpu);
        ac.step(&mut c, &grads);
    }
    row("adam (fused)", "gpu 10 steps", compare(&g, &c))
}

/// One EMA update after the model moved.
pub fn ema_row() -> Row {
    let run = |place| {
        let mut model = group(place);
        let mut ema = model.duplicate();
        for i in 0..model.len() {
            let moved = (model.get(i) * -2.0).detach();
            model.set(i, &moved);
        }
        ema_update(&mut ema, &model, 0.9);
        ema
    };
    row(
        "ema",
        "gpu update",
        compare(&run(Place::Gpu), &run(Place::Cpu64)),
    )
}
