//! upfirdn2d (StyleGAN2's resampling primitive, issue 14): upsample by zero insertion, pad
//! (or crop), convolve with a FIR filter, downsample by striding, exactly as
//! stylegan2-ada-pytorch's `upfirdn2d_ref` (contract spelled out in `cpu::upfirdn`). Kernel
//! `shaders/upfirdn/upfirdn2d.wgsl`.
//!
//! The filter is a constant (no gradient), given on the host. The op is linear in x and its
//! adjoint is another upfirdn2d (up and down swapped, filter flipped, the padding of
//! `cpu::upfirdn::Geometry::adjoint`), so the backward calls upfirdn2d again and gradients of
//! any order (R1, path length regularisation through G) stay in this one kernel.

use std::sync::Arc;

pub use crate::cpu::upfirdn::Fir;
use crate::cpu::upfirdn::{self as cpu, Geometry};
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::tensor::{HostVec, Op, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/upfirdn/upfirdn2d.wgsl`: planes [planes, h, w] -> [planes, oh, ow]; the
    /// storage buffers are the image, the filter (fh x fw, gain folded in) and the output.
    pub struct UpfirdnParams {
        kernels: ["upfirdn/upfirdn2d.wgsl" => [Read, Read, ReadWrite]],
        pub planes: u32,
        pub h: u32,
        pub w: u32,
        pub oh: u32,
        pub ow: u32,
        pub up: u32,
        pub down: u32,
        pub fh: u32,
        pub fw: u32,
        pub px0: i32,
        pub py0: i32,
        pub _p0: u32,
    }
}

fn geometry(x: &Tensor, f: &Fir, up: usize, down: usize, pad: [i64; 4]) -> Geometry {
    assert_eq!(x.rank(), 4, "upfirdn2d expects NCHW, got {:?}", x.shape());
    assert!(
        up >= 1 && down >= 1,
        "upfirdn2d: up {up} and down {down} must be >= 1"
    );
    Geometry {
        h: x.dim(2),
        w: x.dim(3),
        up,
        down,
        pad,
        fh: f.fh,
        fw: f.fw,
    }
}

/// upfirdn2d of x [N, C, H, W] with the filter `f` times `gain` (the official gain of a 2-D
/// filter), `pad` = [px0, px1, py0, py1] (negative crops): output [N, C, (H up + py0 + py1 -
/// fh) / down + 1, (W up + px0 + px1 - fw) / down + 1]. Differentiable in x (to any order).
pub fn upfirdn2d(x: &Tensor, f: &Fir, up: usize, down: usize, pad: [i64; 4], gain: f64) -> Tensor {
    let g = geometry(x, f, up, down, pad);
    let (oh, ow) = g.out_size();
    let planes = x.dim(0) * x.dim(1);
    let taps: Vec<f64> = f.taps.iter().map(|t| t * gain).collect();
    let s = match x.storage() {
        Storage::F32(v) => Storage::F32(HostVec::arc(cpu::upfirdn2d(v, &taps, planes, &g))),
        Storage::F64(v) => Storage::F64(HostVec::arc(cpu::upfirdn2d(v, &taps, planes, &g))),
        Storage::Meta(_) => Storage::meta(planes * oh * ow),
        Storage::Gpu(buf) => {
            let ctx = gpu::gpu();
            let words: Vec<f32> = taps.iter().map(|&v| v as f32).collect();
            let f_buf = ctx.upload(bytemuck::cast_slice(&words));
            let total = (planes * oh * ow) as u64;
            let out = ctx.alloc(total * 4);
            let int = |v: i64| i32::try_from(v).expect("upfirdn2d: padding exceeds i32");
            ctx.dispatch(
                &Kernel::new("upfirdn/upfirdn2d.wgsl"),
                &UpfirdnParams {
                    planes: planes as u32,
                    h: g.h as u32,
                    w: g.w as u32,
                    oh: oh as u32,
                    ow: ow as u32,
                    up: up as u32,
                    down: down as u32,
                    fh: f.fh as u32,
                    fw: f.fw as u32,
                    px0: int(pad[0]),
                    py0: int(pad[2]),
                    _p0: 0,
                },
                &[buf, &f_buf, &out],
                groups_1d(total),
            );
            Storage::Gpu(Arc::new(out))
        }
    };
    Tensor::from_op(
        s,
        vec![x.dim(0), x.dim(1), oh, ow],
        Op::Upfirdn2d {
            x: x.clone(),
            filter: Arc::new(f.clone()),
            up,
            down,
            pad,
            gain,
        },
    )
}

/// The gradient wrt x [N, C, H, W] of `upfirdn2d(x, f, up, down, pad, gain)` given the
/// output gradient g: the adjoint upfirdn2d (itself an `Upfirdn2d` op, so differentiable).
pub fn backward(
    x: &Tensor,
    f: &Fir,
    up: usize,
    down: usize,
    pad: [i64; 4],
    gain: f64,
    g: &Tensor,
) -> Tensor {
    let adj = geometry(x, f, up, down, pad).adjoint();
    let gx = upfirdn2d(g, &f.flipped(), adj.up, adj.down, adj.pad, gain);
    debug_assert_eq!(gx.shape(), x.shape());
    gx
}

/// StyleGAN2's 2x upsampling (the official `upsample2d`): zero insertion, the filter with
/// gain 4 and the padding that keeps the image centred: [N, C, H, W] -> [N, C, 2H, 2W].
pub fn upsample2d(x: &Tensor, f: &Fir) -> Tensor {
    let (fw, fh) = (f.fw as i64, f.fh as i64);
    let pad = [
        (fw + 1).div_euclid(2),
        (fw - 2).div_euclid(2),
        (fh + 1).div_euclid(2),
        (fh - 2).div_euclid(2),
    ];
    upfirdn2d(x, f, 2, 1, pad, 4.0)
}

/// StyleGAN2's 2x downsampling (the official `downsample2d`): filter then keep every second
/// pixel: [N, C, H, W] -> [N, C, H/2, W/2] (H, W even).
pub fn downsample2d(x: &Tensor, f: &Fir) -> Tensor {
    let (fw, fh) = (f.fw as i64, f.fh as i64);
    let pad = [
        (fw - 1).div_euclid(2),
        (fw - 2).div_euclid(2),
        (fh - 1).div_euclid(2),
        (fh - 2).div_euclid(2),
    ];
    upfirdn2d(x, f, 1, 2, pad, 1.0)
}
