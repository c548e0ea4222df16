//! Resampling: nearest 2x upsample, 2x2 average pool, and StyleGAN's [1,2,1] blur.
//! Kernels `shaders/resample/*.wgsl`, references `cpu::resample`. Each backward is another
//! of these ops, so they differentiate to any order.

use std::sync::Arc;

use super::mul_scalar;
use crate::cpu::resample as cpu;
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/resample/{upsample,downsample,blur}.wgsl`: input planes [planes, h, w].
    pub struct ResampleParams {
        kernels: [
            "resample/upsample.wgsl" => [Read, ReadWrite],
            "resample/downsample.wgsl" => [Read, ReadWrite],
            "resample/blur.wgsl" => [Read, ReadWrite],
        ],
        pub planes: u32,
        pub h: u32,
        pub w: u32,
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Up,
    Down,
    Blur,
}

fn planes_hw(x: &Tensor, what: &str) -> (usize, usize, usize) {
    assert_eq!(x.rank(), 4, "{what} expects NCHW, got {:?}", x.shape());
    (x.dim(0) * x.dim(1), x.dim(2), x.dim(3))
}

fn run(kind: Kind, x: &Tensor, out_h: usize, out_w: usize) -> Storage {
    let (p, h, w) = planes_hw(x, "resampling");
    match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(match kind {
            Kind::Up => cpu::upsample2x(v, p, h, w),
            Kind::Down => cpu::downsample2x(v, p, h, w),
            Kind::Blur => cpu::blur(v, p, h, w),
        })),
        Storage::F64(v) => Storage::F64(HostVec::arc(match kind {
            Kind::Up => cpu::upsample2x(v, p, h, w),
            Kind::Down => cpu::downsample2x(v, p, h, w),
            Kind::Blur => cpu::blur(v, p, h, w),
        })),
        Storage::Meta(_) => Storage::meta(p * out_h * out_w),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let n = (p * out_h * out_w) as u64;
            let out = ctx.alloc(n * 4);
            let path = match kind {
                Kind::Up => "resample/upsample.wgsl",
                Kind::Down => "resample/downsample.wgsl",
                Kind::Blur => "resample/blur.wgsl",
            };
            ctx.dispatch(
                &Kernel::new(path),
                &ResampleParams {
                    planes: p as u32,
                    h: h as u32,
                    w: w as u32,
                },
                &[buf, &out],
                groups_1d(n),
            );
            Storage::Gpu(Arc::new(out))
        }
    }
}

fn out_shape(x: &Tensor, h: usize, w: usize) -> Vec<usize> {
    vec![x.dim(0), x.dim(1), h, w]
}

/// Nearest-neighbour 2x upsampling of NCHW.
pub fn upsample2x(x: &Tensor) -> Tensor {
    let (_, h, w) = planes_hw(x, "upsample2x");
    let s = run(Kind::Up, x, 2 * h, 2 * w);
    Tensor::from_op(
        s,
        out_shape(x, 2 * h, 2 * w),
        Op::Upsample2x { x: x.clone() },
    )
}

/// 2x2 average pooling of NCHW with even H and W.
pub fn downsample2x(x: &Tensor) -> Tensor {
    let (_, h, w) = planes_hw(x, "downsample2x");
    assert!(
        h % 2 == 0 && w % 2 == 0,
        "downsample2x needs even H and W, got {:?}",
        x.shape()
    );
    let s = run(Kind::Down, x, h / 2, w / 2);
    Tensor::from_op(
        s,
        out_shape(x, h / 2, w / 2),
        Op::Downsample2x { x: x.clone() },
    )
}

/// Depthwise [1,2,1] x [1,2,1] / 16 low-pass filter, zero padding 1, same size.
pub fn blur(x: &Tensor) -> Tensor {
    let (_, h, w) = planes_hw(x, "blur");
    let s = run(Kind::Blur, x, h, w);
    Tensor::from_op(s, x.shape().to_vec(), Op::Blur { x: x.clone() })
}

/// Upsampling copies each value to 4 outputs: its adjoint sums them (4 x average).
pub fn upsample2x_backward(g: &Tensor) -> Tensor {
    mul_scalar(&downsample2x(g), 4.0)
}

/// Averaging spreads each output over its 2x2 window with weight 1/4.
pub fn downsample2x_backward(g: &Tensor) -> Tensor {
    mul_scalar(&upsample2x(g), 0.25)
}

/// The filter is symmetric, so blur is self-adjoint under zero padding.
pub fn blur_backward(g: &Tensor) -> Tensor {
    blur(g)
}
