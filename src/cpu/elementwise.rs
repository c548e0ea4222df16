//! Elementwise unary and broadcasting binary reference kernels
//! (twins of `shaders/elementwise/unary.wgsl` and `binary.wgsl`).

use rayon::prelude::*;

use super::{Real, PAR_MIN};
use crate::op_kind::{BinaryOp, UnaryOp};
use crate::shape::{broadcast_strides, numel, offset_of};

/// `op` applied to one value (the reference for `unary.wgsl`).
#[inline]
pub fn apply_unary<T: Real>(op: UnaryOp, v: T) -> T {
    use UnaryOp::*;
    let (a, b) = op.params();
    let (a, b) = (T::from_f64(a), T::from_f64(b));
    match op {
        Neg => -v,
        Square => v * v,
        Sqrt => v.sqrt(),
        Rsqrt => T::ONE / v.sqrt(),
        Exp => v.exp(),
        Log => v.ln(),
        Softplus => {
            let m = if v > T::ZERO { v } else { T::ZERO };
            m + (T::ONE + (-v.abs()).exp()).ln()
        }
        Sigmoid => {
            if v >= T::ZERO {
                T::ONE / (T::ONE + (-v).exp())
            } else {
                let e = v.exp();
                e / (T::ONE + e)
            }
        }
        LeakyRelu { .. } => (if v > T::ZERO { v } else { v * a }) * b,
        LeakyReluDeriv { .. } => (if v > T::ZERO { T::ONE } else { a }) * b,
        AddScalar(_) => v + a,
        MulScalar(_) => v * a,
        Recip => T::ONE / v,
        Abs => v.abs(),
        Sign => {
            if v > T::ZERO {
                T::ONE
            } else if v < T::ZERO {
                -T::ONE
            } else {
                T::ZERO
            }
        }
    }
}

/// `op` applied to one pair (the reference for `binary.wgsl`).
#[inline]
pub fn apply_binary<T: Real>(op: BinaryOp, u: T, v: T) -> T {
    match op {
        BinaryOp::Add => u + v,
        BinaryOp::Sub => u - v,
        BinaryOp::Mul => u * v,
        BinaryOp::Div => u / v,
    }
}

pub fn unary<T: Real>(op: UnaryOp, x: &[T]) -> Vec<T> {
    if x.len() >= PAR_MIN {
        x.par_iter().map(|&v| apply_unary(op, v)).collect()
    } else {
        x.iter().map(|&v| apply_unary(op, v)).collect()
    }
}

/// c = a op b, broadcast to `out_shape`.
pub fn binary<T: Real>(
    op: BinaryOp,
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    out_shape: &[usize],
) -> Vec<T> {
    let n = numel(out_shape);
    let sa = broadcast_strides(a_shape, out_shape);
    let sb = broadcast_strides(b_shape, out_shape);
    let f = |i: usize| {
        apply_binary(
            op,
            a[offset_of(i, out_shape, &sa)],
            b[offset_of(i, out_shape, &sb)],
        )
    };
    if n >= PAR_MIN {
        (0..n).into_par_iter().map(f).collect()
    } else {
        (0..n).map(f).collect()
    }
}
