//! Elementwise unary and broadcasting binary reference kernels
//! (twins of `shaders/elementwise/unary.wgsl` and `binary.wgsl`).

use rayon::prelude::*;

use super::{Real, PAR_MIN};
use crate::shape::{broadcast_strides, numel, offset_of};

/// A unary elementwise function. `code` is the kernel's OP constant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Square,
    Sqrt,
    Rsqrt,
    Exp,
    Log,
    /// log(1 + e^x), computed stably.
    Softplus,
    Sigmoid,
    /// x for x > 0, slope * x otherwise, times gain.
    LeakyRelu {
        slope: f64,
        gain: f64,
    },
    /// The derivative of LeakyRelu: gain or slope * gain (piecewise constant).
    LeakyReluDeriv {
        slope: f64,
        gain: f64,
    },
    AddScalar(f64),
    MulScalar(f64),
    Recip,
    Abs,
    /// -1, 0 or 1 (piecewise constant).
    Sign,
}

impl UnaryOp {
    pub fn code(&self) -> u32 {
        use UnaryOp::*;
        match self {
            Neg => 0,
            Square => 1,
            Sqrt => 2,
            Rsqrt => 3,
            Exp => 4,
            Log => 5,
            Softplus => 6,
            Sigmoid => 7,
            LeakyRelu { .. } => 8,
            LeakyReluDeriv { .. } => 9,
            AddScalar(_) => 10,
            MulScalar(_) => 11,
            Recip => 12,
            Abs => 13,
            Sign => 14,
        }
    }

    /// The scalar parameters (a, b) the kernel receives.
    pub fn params(&self) -> (f64, f64) {
        match *self {
            UnaryOp::LeakyRelu { slope, gain } | UnaryOp::LeakyReluDeriv { slope, gain } => {
                (slope, gain)
            }
            UnaryOp::AddScalar(s) | UnaryOp::MulScalar(s) => (s, 0.0),
            _ => (0.0, 0.0),
        }
    }

    #[inline]
    pub fn apply<T: Real>(&self, v: T) -> T {
        use UnaryOp::*;
        let (a, b) = self.params();
        let (a, b) = (T::from_f64(a), T::from_f64(b));
        match self {
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
}

/// A binary elementwise function with broadcasting. `code` is the kernel's OP constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    pub fn code(&self) -> u32 {
        *self as u32
    }
    #[inline]
    pub fn apply<T: Real>(&self, u: T, v: T) -> T {
        match self {
            BinaryOp::Add => u + v,
            BinaryOp::Sub => u - v,
            BinaryOp::Mul => u * v,
            BinaryOp::Div => u / v,
        }
    }
}

pub fn unary<T: Real>(op: UnaryOp, x: &[T]) -> Vec<T> {
    if x.len() >= PAR_MIN {
        x.par_iter().map(|&v| op.apply(v)).collect()
    } else {
        x.iter().map(|&v| op.apply(v)).collect()
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
        op.apply(
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
