//! Floor 4: define-by-run reverse mode.
//!
//! An op on tensors that require gradients stores an [`Op`] (its inputs and parameters) in
//! the result. [`grad`] walks that graph backwards; each rule in [`backprop`] is written with
//! the same differentiable tensor ops, so with `create_graph` the gradients carry a graph of
//! their own and can be differentiated again (gradient penalty, R1).

mod backprop;
mod op;

pub use op::Op;

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use crate::tensor::Tensor;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Restores the previous recording mode on drop.
pub struct GradModeGuard(bool);

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.0));
    }
}

/// Set the recording mode until the guard drops.
pub fn set_grad_enabled(on: bool) -> GradModeGuard {
    GradModeGuard(GRAD_ENABLED.with(|g| g.replace(on)))
}

/// Run `f` without recording any graph.
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _g = set_grad_enabled(false);
    f()
}

/// Nodes reachable from `outputs`, inputs before the ops that use them.
fn topo_order(outputs: &[Tensor]) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    // Iterative DFS: (tensor, children pushed?)
    let mut stack: Vec<(Tensor, bool)> = outputs.iter().map(|t| (t.clone(), false)).collect();
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !t.requires_grad() || !seen.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(op) = t.node().as_ref() {
            for i in op.inputs() {
                if i.requires_grad() && !seen.contains(&i.id()) {
                    stack.push((i.clone(), false));
                }
            }
        }
    }
    order
}

/// Gradients of `sum(outputs[i] * grad_outputs[i])` with respect to `inputs`.
///
/// `grad_outputs` defaults to ones. With `create_graph` the returned gradients are themselves
/// differentiable and the graph is kept; without it the graph's saved tensors are released.
/// An input the outputs do not depend on gets zeros.
pub fn grad_with(
    outputs: &[Tensor],
    grad_outputs: Option<&[Tensor]>,
    inputs: &[Tensor],
    create_graph: bool,
) -> Vec<Tensor> {
    let order = topo_order(outputs);
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    {
        let _mode = set_grad_enabled(create_graph);
        for (k, out) in outputs.iter().enumerate() {
            let g = match grad_outputs {
                Some(gs) => gs[k].clone(),
                None => out.ones_like(),
            };
            accumulate(&mut grads, out, g);
        }
        let wanted: HashSet<u64> = inputs.iter().map(|t| t.id()).collect();
        for t in order.iter().rev() {
            let Some(g) = grads.get(&t.id()).cloned() else {
                continue;
            };
            let op = if create_graph {
                t.node().clone()
            } else {
                t.node().take()
            };
            let Some(op) = op else { continue };
            if !wanted.contains(&t.id()) {
                grads.remove(&t.id());
            }
            let in_grads = backprop::backward(&op, &g);
            for (input, gi) in op.inputs().into_iter().zip(in_grads) {
                if let Some(gi) = gi {
                    if input.requires_grad() {
                        accumulate(&mut grads, input, gi);
                    }
                }
            }
        }
    }
    inputs
        .iter()
        .map(|t| {
            grads
                .get(&t.id())
                .cloned()
                .unwrap_or_else(|| t.zeros_like())
        })
        .collect()
}

/// Gradients of the sum of `outputs` with respect to `inputs`.
pub fn grad(outputs: &[Tensor], inputs: &[Tensor], create_graph: bool) -> Vec<Tensor> {
    grad_with(outputs, None, inputs, create_graph)
}

/// d(sum of y)/dx for one output and one input.
pub fn grad_of(y: &Tensor, x: &Tensor, create_graph: bool) -> Tensor {
    grad(
        std::slice::from_ref(y),
        std::slice::from_ref(x),
        create_graph,
    )
    .remove(0)
}

/// Accumulate d(sum of loss)/d(leaf) into every leaf that requires gradients
/// (read with `Tensor::grad`), then release the graph.
pub fn backward(loss: &Tensor) {
    let leaves: Vec<Tensor> = topo_order(std::slice::from_ref(loss))
        .into_iter()
        .filter(|t| t.node().is_none())
        .collect();
    let gs = grad(std::slice::from_ref(loss), &leaves, false);
    for (leaf, g) in leaves.iter().zip(gs) {
        let total = match leaf.grad() {
            Some(prev) => no_grad(|| crate::ops::add(&prev, &g)),
            None => g,
        };
        leaf.set_grad(Some(total));
    }
}

fn accumulate(grads: &mut HashMap<u64, Tensor>, t: &Tensor, g: Tensor) {
    assert_eq!(g.shape(), t.shape(), "gradient shape mismatch for {t:?}");
    let sum = match grads.remove(&t.id()) {
        Some(prev) => crate::ops::add(&prev, &g),
        None => g,
    };
    grads.insert(t.id(), sum);
}
