//! GPU (f32) against the CPU reference (f64): values, first-order gradients and, when asked,
//! second-order gradients, with every GPU buffer poisoned (NaN) before a kernel writes it.

use super::gradcheck::first_order_scalar;
use super::{weights_like, Errors, Func};
use crate::autograd::{grad, no_grad};
use crate::gpu;
use crate::ops::{mul, sum_all};
use crate::tensor::{Place, Tensor};

/// Relative errors are taken against |cpu| + 1% of the tensor's largest |cpu|: the same test
/// as `allclose(rtol, atol = 0.01 * rtol * max|cpu|)`, so an entry that cancels to nearly zero
/// (a dot product of many terms) is judged against the scale of its tensor.
const FLOOR: f64 = 1e-2;

/// Max errors of (value, first-order gradients, second-order gradients or None).
pub struct ParityErrors {
    pub value: Errors,
    pub grad: Errors,
    pub grad2: Option<Errors>,
}

/// Values, first-order gradients and (optionally) second-order gradients of one run.
struct Run {
    value: Vec<f64>,
    grads: Vec<Vec<f64>>,
    grads2: Option<Vec<Vec<f64>>>,
}

fn run(f: &Func, inputs: &[Tensor], place: Place, seed: u64, second: bool) -> Run {
    let xs: Vec<Tensor> = inputs
        .iter()
        .map(|x| x.to_place(place).requires_grad_())
        .collect();
    let out = f(&xs);
    let r = no_grad(|| weights_like(&out.to_place(Place::Cpu64), seed)).to_place(place);
    let gs = grad(&[sum_all(&mul(&out, &r))], &xs, false);
    let g2 = second.then(|| {
        let h = first_order_scalar(f, &xs, seed);
        let ys: Vec<Tensor> = xs.iter().map(|x| x.detach().requires_grad_()).collect();
        grad(&[h(&ys)], &ys, false)
            .iter()
            .map(|g| g.to_vec_f64())
            .collect()
    });
    Run {
        value: out.to_vec_f64(),
        grads: gs.iter().map(|g| g.to_vec_f64()).collect(),
        grads2: g2,
    }
}

/// Run `f` on the GPU and on the CPU in f64 from the same inputs and compare.
pub fn parity(f: &Func, inputs: &[Tensor], seed: u64, second: bool) -> ParityErrors {
    let gpu = {
        let _poison = gpu::set_poison(true);
        run(f, inputs, Place::Gpu, seed, second)
    };
    let cpu = run(f, inputs, Place::Cpu64, seed, second);
    let cmp = |a: &[Vec<f64>], b: &[Vec<f64>]| {
        a.iter().zip(b).fold(Errors::default(), |e, (x, y)| {
            e.max(Errors::of(x, y, FLOOR))
        })
    };
    ParityErrors {
        value: Errors::of(&gpu.value, &cpu.value, FLOOR),
        grad: cmp(&gpu.grads, &cpu.grads),
        grad2: gpu.grads2.zip(cpu.grads2).map(|(a, b)| cmp(&a, &b)),
    }
}
