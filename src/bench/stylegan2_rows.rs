//! StyleGAN2's and ADA's memory-bound kernels as benchmark rows, at the plane shapes of the
//! StyleGAN 1 rows: the FIR resampling of the skip generator and the residual discriminator
//! (`ops::upsample2d` / `downsample2d` with the [1,3,3,1] filter: `upfirdn2d`), and the
//! geometric augmentation's bilinear resample (`ops::affine_grid_sample`) and its adjoint.

use super::row::{plane_shape, rand, KernelBench, Run, F32};
use crate::nn::stylegan2::resample_filter;
use crate::ops;

/// The four rows at x = [N, C, H, W].
pub fn plane_rows(dims: [usize; 4]) -> Vec<KernelBench> {
    [
        "upsample2d_fir",
        "downsample2d_fir",
        "affine_grid_sample",
        "affine_grid_sample_backward",
    ]
    .into_iter()
    .map(|name| row(name, dims))
    .collect()
}

/// (FLOP, bytes, output elements) of `name` at x = [N, C, H, W].
fn counts(name: &str, [n, c, h, w]: [usize; 4]) -> (f64, f64, usize) {
    let e = n * c * h * w;
    match name {
        "upsample2d_fir" => (8.0 * (4 * e) as f64, F32 * (5 * e) as f64, 4 * e),
        "downsample2d_fir" => (32.0 * (e / 4) as f64, F32 * 1.25 * e as f64, e / 4),
        _ => (8.0 * e as f64, F32 * (2 * e) as f64, e),
    }
}

/// One transform per image: a small rotation, scale and shift (the kind ADA draws).
fn thetas(n: usize) -> Vec<[f64; 6]> {
    (0..n)
        .map(|i| {
            let a = 0.1 + 0.05 * i as f64;
            let s = 1.05;
            [
                s * a.cos(),
                -s * a.sin(),
                0.03,
                s * a.sin(),
                s * a.cos(),
                -0.02,
            ]
        })
        .collect()
}

fn row(name: &'static str, dims: [usize; 4]) -> KernelBench {
    let [n, c, h, w] = dims;
    let (flops, bytes, out) = counts(name, dims);
    KernelBench {
        name,
        shape: plane_shape(n, c, h, w),
        flops,
        bytes,
        largest_buffer: (n * c * h * w).max(out) as u64 * 4,
        setup: Box::new(move |place| -> Run {
            let x = rand(&dims, 1, 1.0, place);
            let f = resample_filter();
            let th = thetas(n);
            match name {
                "upsample2d_fir" => Box::new(move || drop(ops::upsample2d(&x, &f))),
                "downsample2d_fir" => Box::new(move || drop(ops::downsample2d(&x, &f))),
                "affine_grid_sample" => Box::new(move || drop(ops::affine_grid_sample(&x, &th))),
                _ => Box::new(move || drop(ops::affine_grid_sample_backward(&x, &th))),
            }
        }),
    }
}
