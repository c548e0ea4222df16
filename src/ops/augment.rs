//! Augmentation ops (ADA, issue 14): the affine grid sample of the geometric path and its
//! adjoint. Kernels `shaders/augment/*.wgsl`, references `cpu::augment` (which spells out
//! the sampling and reflection convention: PyTorch's `grid_sample(padding_mode='reflection',
//! align_corners=False)`).
//!
//! theta is a constant, not a tensor of the graph: ADA draws it per image and nothing
//! differentiates through it, so the ops are differentiable in the image only. It is given
//! on the host (N x 6 numbers) because the draws are made there and a GPU theta would cost a
//! read-back per call; the pixel-space geometry is derived from it in f64, so identity and
//! integer translations reach the kernel exact.
//!
//! Both ops are linear in the image and each is the other's adjoint, so each one's backward
//! is the other and gradients of any order (R1 and WGAN-GP differentiate D(aug(x)) with
//! `create_graph`) stay within these two kernels.

use std::sync::Arc;

use crate::cpu::augment::{self as cpu, GEOMETRY_WORDS};
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::tensor::{HostVec, Op, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/augment/grid_sample{,_adjoint}.wgsl`: images [n, c, h, w]; the storage
    /// buffers are the image (or gradient), the per-image geometry and the output.
    pub struct GridSampleParams {
        kernels: [
            "augment/grid_sample.wgsl" => [Read, Read, ReadWrite],
            "augment/grid_sample_adjoint.wgsl" => [Read, Read, ReadWrite],
        ],
        pub n: u32,
        pub c: u32,
        pub h: u32,
        pub w: u32,
    }
}

fn run(x: &Tensor, theta: &[[f64; 6]], adjoint: bool, what: &str) -> Storage {
    assert_eq!(x.rank(), 4, "{what} expects NCHW, got {:?}", x.shape());
    let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3));
    assert_eq!(
        theta.len(),
        n,
        "{what}: {} thetas for a batch of {n}",
        theta.len()
    );
    let geo = cpu::geometry(theta, h, w);
    match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(if adjoint {
            cpu::grid_sample_adjoint(v, &geo, c, h, w)
        } else {
            cpu::grid_sample(v, &geo, c, h, w)
        })),
        Storage::F64(v) => Storage::F64(HostVec::arc(if adjoint {
            cpu::grid_sample_adjoint(v, &geo, c, h, w)
        } else {
            cpu::grid_sample(v, &geo, c, h, w)
        })),
        Storage::Meta(_) => Storage::meta(n * c * h * w),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let words: Vec<f32> = geo.iter().flatten().map(|&v| v as f32).collect();
            debug_assert_eq!(words.len(), n * GEOMETRY_WORDS);
            let geo_buf = ctx.upload(bytemuck::cast_slice(&words));
            let total = (n * c * h * w) as u64;
            let out = ctx.alloc(total * 4);
            let path = if adjoint {
                "augment/grid_sample_adjoint.wgsl"
            } else {
                "augment/grid_sample.wgsl"
            };
            ctx.dispatch(
                &Kernel::new(path),
                &GridSampleParams {
                    n: n as u32,
                    c: c as u32,
                    h: h as u32,
                    w: w as u32,
                },
                &[buf, &geo_buf, &out],
                groups_1d(total),
            );
            Storage::Gpu(Arc::new(out))
        }
    }
}

/// Resample each image of x [N, C, H, W] through its theta (N matrices, row-major 2 x 3):
/// bilinear, reflection padding, align_corners = false, output the same size. theta must
/// be invertible. Differentiable in x only (theta is a constant).
pub fn affine_grid_sample(x: &Tensor, theta: &[[f64; 6]]) -> Tensor {
    let s = run(x, theta, false, "affine_grid_sample");
    Tensor::from_op(
        s,
        x.shape().to_vec(),
        Op::AffineGridSample {
            x: x.clone(),
            theta: theta.into(),
        },
    )
}

/// The adjoint of `affine_grid_sample` in x (its gradient): g [N, C, H, W] -> [N, C, H, W].
pub fn affine_grid_sample_backward(g: &Tensor, theta: &[[f64; 6]]) -> Tensor {
    let s = run(g, theta, true, "affine_grid_sample_backward");
    Tensor::from_op(
        s,
        g.shape().to_vec(),
        Op::AffineGridSampleBackward {
            g: g.clone(),
            theta: theta.into(),
        },
    )
}

/// The sample is linear in x: its gradient is the adjoint applied to the output gradient.
pub fn backward(theta: &[[f64; 6]], g: &Tensor) -> Tensor {
    affine_grid_sample_backward(g, theta)
}

/// The adjoint is linear too, and its adjoint is the sample.
pub fn backward_backward(theta: &[[f64; 6]], g: &Tensor) -> Tensor {
    affine_grid_sample(g, theta)
}
