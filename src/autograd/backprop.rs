//! The chain rule, one arm per op. Each arm calls the op family's backward, written next to
//! its forward in `src/ops/`.

use super::Op;
use crate::ops;
use crate::tensor::Tensor;

/// Gradients for `op.inputs()` (in order) given the gradient `g` of the op's output.
pub fn backward(op: &Op, g: &Tensor) -> Vec<Option<Tensor>> {
    match op {
        Op::Unary { op, x } => vec![ops::unary::backward(*op, x, g)],
        Op::Binary { op, a, b } => ops::binary::backward(*op, a, b, g),
        Op::SumKeep { x, .. } => vec![Some(ops::broadcast_to(g, x.shape()))],
        Op::BroadcastTo { x } => vec![Some(ops::sum_to(g, x.shape()))],
        Op::Matmul { a, b, ta, tb } => ops::matmul::backward(a, b, *ta, *tb, g),
        Op::Reshape { x } => vec![Some(ops::reshape(g, x.shape()))],
        Op::Permute { perm, .. } => vec![Some(ops::permute(g, &ops::layout::inverse_perm(perm)))],
        Op::Concat { xs, axis } => ops::layout::concat_backward(xs, *axis, g),
        Op::Slice { x, axis, start } => vec![Some(ops::pad(g, *axis, *start, x.dim(*axis)))],
        Op::Pad { x, axis, start } => vec![Some(ops::slice(g, *axis, *start, x.dim(*axis)))],
    }
}
