//! Elementwise unary ops: forward (kernel `shaders/elementwise/unary.wgsl`, reference
//! `cpu::elementwise::unary`) and backward.

use std::sync::Arc;

use crate::cpu::elementwise as cpu;
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::op_kind::UnaryOp;
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/elementwise/unary.wgsl`: `n` elements; `a`, `b` the op's scalars
    /// (`UnaryOp::params`).
    pub struct UnaryParams {
        kernels: ["elementwise/unary.wgsl" => [Read, ReadWrite]],
        pub n: u32,
        pub a: f32,
        pub b: f32,
    }
}

pub fn unary(op: UnaryOp, x: &Tensor) -> Tensor {
    let storage = match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::unary(op, v))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::unary(op, v))),
        Storage::Meta(_) => Storage::meta(x.numel()),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let n = x.numel() as u64;
            let out = ctx.alloc(n * 4);
            let (a, b) = op.params();
            ctx.dispatch(
                &Kernel::new("elementwise/unary.wgsl").with("OP", op.code()),
                &UnaryParams {
                    n: n as u32,
                    a: a as f32,
                    b: b as f32,
                },
                &[buf, &out],
                groups_1d(n),
            );
            Storage::Gpu(Arc::new(out))
        }
    };
    Tensor::from_op(storage, x.shape().to_vec(), Op::Unary { op, x: x.clone() })
}

/// d/dx of op at x, times g, written with differentiable ops. None: zero almost everywhere.
pub fn backward(op: UnaryOp, x: &Tensor, g: &Tensor) -> Option<Tensor> {
    use UnaryOp::*;
    Some(match op {
        Neg => neg(g),
        Square => g * &mul_scalar(x, 2.0),
        Sqrt => g * &mul_scalar(&rsqrt(x), 0.5),
        Rsqrt => g * &(mul_scalar(&rsqrt(x), -0.5) * recip(x)),
        Exp => g * &exp(x),
        Log => g / x,
        Softplus => g * &sigmoid(x),
        Sigmoid => {
            let s = sigmoid(x);
            g * &(&s * &add_scalar(&neg(&s), 1.0))
        }
        LeakyRelu { slope, gain } => g * &unary(LeakyReluDeriv { slope, gain }, x),
        AddScalar(_) => g.clone(),
        MulScalar(s) => mul_scalar(g, s),
        Recip => neg(&(g * &square(&recip(x)))),
        Abs => g * &unary(Sign, x),
        LeakyReluDeriv { .. } | Sign => return None,
    })
}

pub fn neg(x: &Tensor) -> Tensor {
    unary(UnaryOp::Neg, x)
}
pub fn square(x: &Tensor) -> Tensor {
    unary(UnaryOp::Square, x)
}
pub fn sqrt(x: &Tensor) -> Tensor {
    unary(UnaryOp::Sqrt, x)
}
pub fn rsqrt(x: &Tensor) -> Tensor {
    unary(UnaryOp::Rsqrt, x)
}
pub fn exp(x: &Tensor) -> Tensor {
    unary(UnaryOp::Exp, x)
}
pub fn log(x: &Tensor) -> Tensor {
    unary(UnaryOp::Log, x)
}
pub fn softplus(x: &Tensor) -> Tensor {
    unary(UnaryOp::Softplus, x)
}
pub fn sigmoid(x: &Tensor) -> Tensor {
    unary(UnaryOp::Sigmoid, x)
}
pub fn recip(x: &Tensor) -> Tensor {
    unary(UnaryOp::Recip, x)
}
pub fn abs(x: &Tensor) -> Tensor {
    unary(UnaryOp::Abs, x)
}
/// Leaky ReLU with a gain. StyleGAN 1 uses slope 0.2 and gain 1 (`nn::lrelu`): the sqrt(2) of He
/// init is in the equalized weight scale.
pub fn leaky_relu(x: &Tensor, slope: f64, gain: f64) -> Tensor {
    unary(UnaryOp::LeakyRelu { slope, gain }, x)
}
pub fn add_scalar(x: &Tensor, s: f64) -> Tensor {
    unary(UnaryOp::AddScalar(s), x)
}
pub fn mul_scalar(x: &Tensor, s: f64) -> Tensor {
    unary(UnaryOp::MulScalar(s), x)
}
