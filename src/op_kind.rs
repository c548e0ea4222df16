//! Floor 0: the elementwise op kinds. The CPU reference (`cpu::elementwise`), the kernels'
//! `OP` override constants and the op record (`tensor::Op`) all name them, so they live below
//! all three.

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
}
