//! Gradients against central finite differences, in f64 on the CPU.

use super::{weights_like, Errors, Func};
use crate::autograd::{grad, no_grad, set_grad_enabled};
use crate::ops::{mul, sum_all};
use crate::tensor::{Place, Tensor};

/// A differentiable scalar function of several tensors.
pub type ScalarFn<'a> = Box<dyn Fn(&[Tensor]) -> Tensor + 'a>;

/// Central-difference step for f64.
pub const EPS: f64 = 1e-6;

fn with_element(x: &Tensor, j: usize, delta: f64) -> Tensor {
    let mut v = x.to_vec_f64();
    v[j] += delta;
    Tensor::from_vec_f64(v, x.shape(), Place::Cpu64)
}

/// Numeric gradient of the scalar `l` at `inputs`, by central differences.
pub fn numeric_grad(l: &dyn Fn(&[Tensor]) -> f64, inputs: &[Tensor]) -> Vec<Vec<f64>> {
    (0..inputs.len())
        .map(|i| {
            (0..inputs[i].numel())
                .map(|j| {
                    let mut plus = inputs.to_vec();
                    plus[i] = with_element(&inputs[i], j, EPS);
                    let mut minus = inputs.to_vec();
                    minus[i] = with_element(&inputs[i], j, -EPS);
                    (l(&plus) - l(&minus)) / (2.0 * EPS)
                })
                .collect()
        })
        .collect()
}

/// Analytic gradient of L = sum(r * f(x)) against finite differences; inputs must be f64 CPU.
pub fn gradcheck(f: &Func, inputs: &[Tensor], seed: u64) -> Errors {
    let r = no_grad(|| weights_like(&f(inputs), seed));
    let loss = |xs: &[Tensor]| sum_all(&mul(&f(xs), &r));
    check_scalar(&loss, inputs)
}

/// The gradient of h(x) = sum_i sum(r2_i * dL/dx_i), L = sum(r * f(x)), against finite
/// differences of h: checks second-order gradients (what a gradient penalty needs).
pub fn gradgradcheck(f: &Func, inputs: &[Tensor], seed: u64) -> Errors {
    let h = first_order_scalar(f, inputs, seed);
    check_scalar(&*h, inputs)
}

/// h(x) = sum_i sum(r2_i * dL/dx_i) with L = sum(r * f(x)), built with `create_graph` so it
/// is differentiable. Weights are drawn on the CPU and moved to the inputs' place.
pub fn first_order_scalar<'a>(f: &'a Func, inputs: &[Tensor], seed: u64) -> ScalarFn<'a> {
    let place = inputs[0].place();
    let cpu: Vec<Tensor> = inputs.iter().map(|t| t.to_place(Place::Cpu64)).collect();
    let r = no_grad(|| weights_like(&f(&cpu), seed)).to_place(place);
    let r2: Vec<Tensor> = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| weights_like(x, seed + 101 + i as u64).to_place(place))
        .collect();
    Box::new(move |xs: &[Tensor]| {
        // Record even when called under no_grad (finite differences), and keep the link to
        // the caller's inputs when they already require gradients.
        let _rec = set_grad_enabled(true);
        let xs: Vec<Tensor> = xs
            .iter()
            .map(|x| {
                if x.requires_grad() {
                    x.clone()
                } else {
                    x.detach().requires_grad_()
                }
            })
            .collect();
        let l = sum_all(&mul(&f(&xs), &r));
        let gs = grad(&[l], &xs, true);
        gs.iter()
            .zip(&r2)
            .map(|(g, w)| sum_all(&mul(g, w)))
            .reduce(|a, b| crate::ops::add(&a, &b))
            .expect("at least one input")
    })
}

/// Compare the autograd gradient of a scalar function with finite differences.
fn check_scalar(loss: &dyn Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Errors {
    for x in inputs {
        assert_eq!(x.place(), Place::Cpu64, "gradcheck runs in f64 on the CPU");
    }
    let xs: Vec<Tensor> = inputs.iter().map(|x| x.detach().requires_grad_()).collect();
    let analytic = grad(&[loss(&xs)], &xs, false);
    let numeric = numeric_grad(&|v: &[Tensor]| no_grad(|| loss(v).item()), inputs);
    let mut e = Errors::default();
    for (a, n) in analytic.iter().zip(&numeric) {
        e = e.max(Errors::of(&a.to_vec_f64(), n, 1e-3));
    }
    e
}
