//! Elementwise binary ops with numpy broadcasting: forward (kernel
//! `shaders/elementwise/binary.wgsl`, reference `cpu::elementwise::binary`) and backward.

use std::sync::Arc;

use super::{pack8, same_place, sum_to};
use crate::cpu::elementwise as cpu;
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::op_kind::BinaryOp;
use crate::shape::{broadcast_shapes, broadcast_strides, numel};
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/elementwise/binary.wgsl`: `n` outputs of rank `rank` (<= 8), the output shape
    /// and each operand's broadcast strides packed as two vec4s (`pack8`).
    pub struct BinaryParams {
        kernels: ["elementwise/binary.wgsl" => [Read, Read, ReadWrite]],
        pub n: u32,
        pub rank: u32,
        pub _p0: u32,
        pub _p1: u32,
        pub shape: [[u32; 4]; 2],
        pub sa: [[u32; 4]; 2],
        pub sb: [[u32; 4]; 2],
    }
}

pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Tensor {
    same_place("binary op", &[a, b]);
    let shape = broadcast_shapes(a.shape(), b.shape()).unwrap_or_else(|| {
        panic!(
            "{op:?}: shapes {:?} and {:?} do not broadcast",
            a.shape(),
            b.shape()
        )
    });
    let storage = match (a.storage(), b.storage()) {
        (Storage::F32(x), Storage::F32(y)) => Storage::F32(HostVec::arc(cpu::binary(
            op,
            x,
            a.shape(),
            y,
            b.shape(),
            &shape,
        ))),
        (Storage::F64(x), Storage::F64(y)) => Storage::F64(HostVec::arc(cpu::binary(
            op,
            x,
            a.shape(),
            y,
            b.shape(),
            &shape,
        ))),
        (Storage::Meta(_), Storage::Meta(_)) => Storage::meta(numel(&shape)),
        (Storage::Gpu(x), Storage::Gpu(y)) => {
            let ctx = gpu::gpu();
            let n = numel(&shape) as u64;
            let out = ctx.alloc(n * 4);
            let plain = a.shape() == shape.as_slice() && b.shape() == shape.as_slice();
            let params = BinaryParams {
                n: n as u32,
                rank: shape.len() as u32,
                _p0: 0,
                _p1: 0,
                shape: pack8(&shape),
                sa: pack8(&broadcast_strides(a.shape(), &shape)),
                sb: pack8(&broadcast_strides(b.shape(), &shape)),
            };
            let kernel = Kernel::new("elementwise/binary.wgsl")
                .with("OP", op.code())
                .with("BROADCAST", if plain { 0.0 } else { 1.0 });
            ctx.dispatch(&kernel, &params, &[x, y, &out], groups_1d(n));
            Storage::Gpu(Arc::new(out))
        }
        _ => unreachable!("same_place checked"),
    };
    Tensor::from_op(
        storage,
        shape,
        Op::Binary {
            op,
            a: a.clone(),
            b: b.clone(),
        },
    )
}

/// Gradients for (a, b), each summed back to its own (pre-broadcast) shape.
pub fn backward(op: BinaryOp, a: &Tensor, b: &Tensor, g: &Tensor) -> Vec<Option<Tensor>> {
    let (ga, gb) = match op {
        BinaryOp::Add => (g.clone(), g.clone()),
        BinaryOp::Sub => (g.clone(), -g),
        BinaryOp::Mul => (g * b, g * a),
        BinaryOp::Div => {
            let ga = g / b;
            let gb = -(&ga * a) / b;
            (ga, gb)
        }
    };
    vec![Some(sum_to(&ga, a.shape())), Some(sum_to(&gb, b.shape()))]
}

pub fn add(a: &Tensor, b: &Tensor) -> Tensor {
    binary(BinaryOp::Add, a, b)
}
pub fn sub(a: &Tensor, b: &Tensor) -> Tensor {
    binary(BinaryOp::Sub, a, b)
}
pub fn mul(a: &Tensor, b: &Tensor) -> Tensor {
    binary(BinaryOp::Mul, a, b)
}
pub fn div(a: &Tensor, b: &Tensor) -> Tensor {
    binary(BinaryOp::Div, a, b)
}
