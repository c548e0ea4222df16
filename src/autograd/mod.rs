//! Floor 4: define-by-run reverse mode: the graph walker.
//!
//! An op on tensors that require gradients stores an [`Op`] (its inputs and parameters) in
//! the result. [`grad`] walks that graph backwards; each rule in [`backprop`] is written with
//! the same differentiable tensor ops, so with `create_graph` the gradients carry a graph of
//! their own and can be differentiated again (gradient penalty, R1).

mod backprop;

pub use crate::tensor::grad_mode::{is_grad_enabled, no_grad, set_grad_enabled, GradModeGuard};
pub use crate::tensor::Op;

use std::collections::{HashMap, HashSet};

use crate::tensor::Tensor;

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

/// How a walk treats the graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GradOptions {
    /// Record the gradients' own graph, so they can be differentiated again.
    pub create_graph: bool,
    /// Keep the graph's saved tensors so it can be walked again. Without it (and without
    /// `create_graph`, which implies it) each op's record is released as the walk passes it.
    pub retain_graph: bool,
}

impl GradOptions {
    /// `create_graph` with the graph retained, as PyTorch's default.
    pub fn create_graph(on: bool) -> Self {
        GradOptions {
            create_graph: on,
            retain_graph: on,
        }
    }
}

/// A walk reached an op whose record an earlier walk released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphReleased {
    pub op: &'static str,
    pub shape: Vec<usize>,
}

impl std::fmt::Display for GraphReleased {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trying to differentiate through `{}` (output {:?}) a second time, but its saved \
             tensors were released by an earlier grad/backward; pass retain_graph \
             (GradOptions) to that first call to walk the graph more than once",
            self.op, self.shape
        )
    }
}

impl std::error::Error for GraphReleased {}

/// Gradients of `sum(outputs[i] * grad_outputs[i])` with respect to `inputs`.
///
/// `grad_outputs` defaults to ones. An input the outputs do not depend on gets zeros. A
/// gradient that must flow through an op released by an earlier walk is an error.
pub fn try_grad_with(
    outputs: &[Tensor],
    grad_outputs: Option<&[Tensor]>,
    inputs: &[Tensor],
    opts: GradOptions,
) -> Result<Vec<Tensor>, GraphReleased> {
    let order = topo_order(outputs);
    let mut grads: HashMap<u64, Tensor> = HashMap::new();
    {
        let _mode = set_grad_enabled(opts.create_graph);
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
            let op = if opts.retain_graph || opts.create_graph {
                t.node().clone()
            } else {
                t.release_node()
            };
            let Some(op) = op else {
                if let Some(name) = t.released_op() {
                    return Err(GraphReleased {
                        op: name,
                        shape: t.shape().to_vec(),
                    });
                }
                continue;
            };
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
    Ok(inputs
        .iter()
        .map(|t| {
            grads
                .get(&t.id())
                .cloned()
                .unwrap_or_else(|| t.zeros_like())
        })
        .collect())
}

/// [`try_grad_with`] with `retain_graph` = `create_graph`.
///
/// # Panics
/// When the walk reaches an op an earlier walk released (the message names the op), as
/// PyTorch raises: a second walk needs `retain_graph` on the first.
pub fn grad_with(
    outputs: &[Tensor],
    grad_outputs: Option<&[Tensor]>,
    inputs: &[Tensor],
    create_graph: bool,
) -> Vec<Tensor> {
    let opts = GradOptions::create_graph(create_graph);
    try_grad_with(outputs, grad_outputs, inputs, opts).unwrap_or_else(|e| panic!("{e}"))
}

/// Gradients of the sum of `outputs` with respect to `inputs` (panics as [`grad_with`]).
pub fn grad(outputs: &[Tensor], inputs: &[Tensor], create_graph: bool) -> Vec<Tensor> {
    grad_with(outputs, None, inputs, create_graph)
}

/// Gradients of the sum of `outputs` with respect to `inputs`, with explicit options.
pub fn try_grad(
    outputs: &[Tensor],
    inputs: &[Tensor],
    opts: GradOptions,
) -> Result<Vec<Tensor>, GraphReleased> {
    try_grad_with(outputs, None, inputs, opts)
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
/// (read with `Tensor::grad`), then release the graph (panics as [`grad_with`]).
pub fn backward(loss: &Tensor) {
    try_backward(loss, false).unwrap_or_else(|e| panic!("{e}"))
}

/// [`backward`], keeping the graph for another walk when `retain_graph`.
pub fn try_backward(loss: &Tensor, retain_graph: bool) -> Result<(), GraphReleased> {
    let leaves: Vec<Tensor> = topo_order(std::slice::from_ref(loss))
        .into_iter()
        .filter(|t| t.node().is_none() && t.released_op().is_none())
        .collect();
    let opts = GradOptions {
        create_graph: false,
        retain_graph,
    };
    let gs = try_grad(std::slice::from_ref(loss), &leaves, opts)?;
    for (leaf, g) in leaves.iter().zip(gs) {
        let total = match leaf.grad() {
            Some(prev) => no_grad(|| crate::ops::add(&prev, &g)),
            None => g,
        };
        leaf.set_grad(Some(total));
    }
    Ok(())
}

fn accumulate(grads: &mut HashMap<u64, Tensor>, t: &Tensor, g: Tensor) {
    assert_eq!(g.shape(), t.shape(), "gradient shape mismatch for {t:?}");
    let sum = match grads.remove(&t.id()) {
        Some(prev) => crate::ops::add(&prev, &g),
        None => g,
    };
    grads.insert(t.id(), sum);
}
