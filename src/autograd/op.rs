//! The closed set of differentiable ops. Adding an op means adding a variant here, which
//! makes `inputs` and `backprop::backward` refuse to compile until they handle it.

use crate::cpu::elementwise::{BinaryOp, UnaryOp};
use crate::tensor::Tensor;

#[derive(Clone)]
pub enum Op {
    Unary {
        op: UnaryOp,
        x: Tensor,
    },
    Binary {
        op: BinaryOp,
        a: Tensor,
        b: Tensor,
    },
    /// Sum over `axes`, keeping them as size 1.
    SumKeep {
        x: Tensor,
        axes: Vec<usize>,
    },
    /// Broadcast to the output shape (numpy rules).
    BroadcastTo {
        x: Tensor,
    },
    /// C = op(A) op(B), op = transpose when the flag is set; batched over a leading axis.
    Matmul {
        a: Tensor,
        b: Tensor,
        ta: bool,
        tb: bool,
    },
    Reshape {
        x: Tensor,
    },
    Permute {
        x: Tensor,
        perm: Vec<usize>,
    },
    Concat {
        xs: Vec<Tensor>,
        axis: usize,
    },
    /// out = x[.., start..start + out_len, ..] along `axis`.
    Slice {
        x: Tensor,
        axis: usize,
        start: usize,
    },
    /// out = zeros with x placed at `start` along `axis` (slice's backward).
    Pad {
        x: Tensor,
        axis: usize,
        start: usize,
    },
}

impl Op {
    pub fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Unary { x, .. }
            | Op::SumKeep { x, .. }
            | Op::BroadcastTo { x }
            | Op::Reshape { x }
            | Op::Permute { x, .. }
            | Op::Slice { x, .. }
            | Op::Pad { x, .. } => vec![x],
            Op::Binary { a, b, .. } | Op::Matmul { a, b, .. } => vec![a, b],
            Op::Concat { xs, .. } => xs.iter().collect(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Op::Unary { .. } => "unary",
            Op::Binary { .. } => "binary",
            Op::SumKeep { .. } => "sum",
            Op::BroadcastTo { .. } => "broadcast_to",
            Op::Matmul { .. } => "matmul",
            Op::Reshape { .. } => "reshape",
            Op::Permute { .. } => "permute",
            Op::Concat { .. } => "concat",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
        }
    }
}
