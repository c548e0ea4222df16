//! The kernel benchmarks: for each, its name and shape (matched by `tools/pytorch_bench.py`,
//! so both must stay exactly as they are), the work it counts, and a setup closure that
//! builds its inputs at a place and returns the closure that runs the op once. GPU and CPU
//! run the very same op function; the storage of the inputs picks the kernel or the
//! reference twin.
//!
//! Counting. FLOP: conv = 2 * MACs (`ConvDims::macs`), matmul = 2MNK; the other ops count
//! the arithmetic their formula needs per element (fma = 2):
//!
//! | op | FLOP per element of x | why |
//! |---|---|---|
//! | adain_forward | 8 | mean 1, variance 3, normalise 2, style fma 2 |
//! | adain_backward | 15 | statistics again 4, S1 1, S2 4, dx 6 |
//! | noise_bias_act | 5 | noise fma 2, bias 1, leaky select+slope 1, gain 1 |
//! | leaky_relu | 2 | select+slope 1, gain 1 |
//! | upsample2x, downsample2x | 0 per input, 1 per output for downsample (4 adds, /4) | copies |
//! | blur | 19 per output | 9 taps x fma, final scale |
//! | pixel_norm | 3 | square-accumulate 2, scale 1 (rsqrt per row ignored) |
//! | minibatch_stddev | 5 per input | group mean 1, deviation and square 3, mean of std 1 |
//! | adam | 14 per parameter | m 3, v 4, update 7 (two divides, sqrt, add, divide, mul, sub) |
//! | ema | 3 per parameter | sub, fma |
//! | sum_of_squares | 2 per parameter | fma (the optimiser's finiteness guard) |
//! | upsample2d_fir | 8 per output | [1,3,3,1] up 2: 2 x 2 nonzero taps per output, fma each |
//! | downsample2d_fir | 32 per output | 4 x 4 taps, fma each |
//! | affine_grid_sample | 8 per output | bilinear: 4 taps, fma each (coordinates not counted) |
//!
//! The optimiser rows live in `optim_rows`, StyleGAN2's and ADA's in `stylegan2_rows`.
//!
//! Bytes: the fewest an op must move, each input read once and each output written once,
//! f32 (the same rule as the PyTorch script), so GB/s is a lower bound on the traffic.

use std::f64::consts::SQRT_2;

use crate::cpu::conv::ConvDims;
use crate::ops;
use crate::train::config::TrainConfig;

use super::optim_rows::{adam, ema, sum_of_squares};
pub use super::row::{plane_shape, KernelBench, Run};
use super::row::{rand, F32};
use super::stylegan2_rows;

// ---------------------------------------------------------------------------------------
// Convolution and matmul
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPass {
    Forward,
    BackwardData,
    BackwardWeight,
}

impl ConvPass {
    pub const ALL: [ConvPass; 3] = [
        ConvPass::Forward,
        ConvPass::BackwardData,
        ConvPass::BackwardWeight,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ConvPass::Forward => "conv2d_forward",
            ConvPass::BackwardData => "conv2d_backward_data",
            ConvPass::BackwardWeight => "conv2d_backward_weight",
        }
    }
}

/// A square-kernel convolution's sizes from (N, C, K, H, W, k).
pub fn conv_dims((n, c, k, h, w, ks): (usize, usize, usize, usize, usize, usize)) -> ConvDims {
    ConvDims {
        n,
        c,
        k,
        h,
        w,
        kh: ks,
        kw: ks,
    }
}

pub fn conv_shape(d: &ConvDims) -> String {
    format!(
        "N={} C={} K={} H={} W={} k={}",
        d.n, d.c, d.k, d.h, d.w, d.kh
    )
}

/// (FLOP, bytes) of any of the three passes: 2 * MACs; x, w and y each moved once (each
/// pass reads two of them and writes the third).
pub fn conv_counts(d: &ConvDims) -> (f64, f64) {
    let x = d.n * d.c * d.hw();
    let w = d.k * d.c * d.taps();
    let y = d.n * d.k * d.hw();
    (2.0 * d.macs() as f64, F32 * (x + w + y) as f64)
}

pub fn conv(pass: ConvPass, d: ConvDims) -> KernelBench {
    let (flops, bytes) = conv_counts(&d);
    let largest = (d.n * d.c.max(d.k) * d.hw()).max(d.k * d.c * d.taps()) as u64 * 4;
    // Equalized learning rate with gain 1: the scale the layers apply.
    let scale = 1.0 / ((d.c * d.taps()) as f64).sqrt();
    let x_shape = [d.n, d.c, d.h, d.w];
    let w_shape = [d.k, d.c, d.kh, d.kw];
    let g_shape = [d.n, d.k, d.h, d.w];
    KernelBench {
        name: pass.name(),
        shape: conv_shape(&d),
        flops,
        bytes,
        largest_buffer: largest,
        setup: Box::new(move |place| -> Run {
            match pass {
                ConvPass::Forward => {
                    let (x, w) = (rand(&x_shape, 1, 1.0, place), rand(&w_shape, 2, 1.0, place));
                    Box::new(move || drop(ops::conv2d(&x, &w, None, scale, 0.0)))
                }
                ConvPass::BackwardData => {
                    let (g, w) = (rand(&g_shape, 3, 1.0, place), rand(&w_shape, 2, 1.0, place));
                    Box::new(move || drop(ops::conv2d_backward_data(&g, &w, scale)))
                }
                ConvPass::BackwardWeight => {
                    let (x, g) = (rand(&x_shape, 1, 1.0, place), rand(&g_shape, 3, 1.0, place));
                    let k = [d.kh, d.kw];
                    Box::new(move || drop(ops::conv2d_backward_weight(&x, &g, k, scale)))
                }
            }
        }),
    }
}

/// (FLOP, bytes) of an (M x K) by (K x N) product.
pub fn matmul_counts(m: usize, n: usize, k: usize) -> (f64, f64) {
    (
        2.0 * (m * n * k) as f64,
        F32 * (m * k + k * n + m * n) as f64,
    )
}

pub fn matmul(m: usize, n: usize, k: usize) -> KernelBench {
    let (flops, bytes) = matmul_counts(m, n, k);
    KernelBench {
        name: "matmul",
        shape: format!("M={m} N={n} K={k}"),
        flops,
        bytes,
        largest_buffer: (m * k).max(k * n).max(m * n) as u64 * 4,
        setup: Box::new(move |place| -> Run {
            let a = rand(&[m, k], 1, 1.0, place);
            let b = rand(&[k, n], 2, 1.0, place);
            Box::new(move || drop(ops::matmul(&a, &b)))
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Memory-bound ops on NCHW planes
// ---------------------------------------------------------------------------------------

/// The ops timed at each plane shape, in table order.
pub const PLANE_OPS: [&str; 7] = [
    "adain_forward",
    "adain_backward",
    "noise_bias_act",
    "upsample2x",
    "downsample2x",
    "blur",
    "leaky_relu",
];

/// (FLOP, bytes) of a plane op at x = [N, C, H, W] (see the table in the module docs).
pub fn plane_counts(name: &str, [n, c, h, w]: [usize; 4]) -> (f64, f64) {
    let e = (n * c * h * w) as f64;
    let nc = (n * c) as f64;
    match name {
        "adain_forward" => (8.0 * e, F32 * (2.0 * e + 2.0 * nc)),
        "adain_backward" => (15.0 * e, F32 * (3.0 * e + 3.0 * nc)),
        "noise_bias_act" => (
            5.0 * e,
            F32 * (2.0 * e + (n * h * w) as f64 + 2.0 * c as f64),
        ),
        "upsample2x" => (0.0, F32 * 5.0 * e),
        "downsample2x" => (e, F32 * 1.25 * e),
        "blur" => (19.0 * e, F32 * 2.0 * e),
        "leaky_relu" => (2.0 * e, F32 * 2.0 * e),
        _ => panic!("unknown plane op {name}"),
    }
}

pub fn plane_op(name: &'static str, dims: [usize; 4]) -> KernelBench {
    let [n, c, h, w] = dims;
    let (flops, bytes) = plane_counts(name, dims);
    let out = if name == "upsample2x" { 4 } else { 1 };
    KernelBench {
        name,
        shape: plane_shape(n, c, h, w),
        flops,
        bytes,
        largest_buffer: (n * c * h * w * out) as u64 * 4,
        setup: Box::new(move |place| -> Run {
            let x = rand(&dims, 1, 1.0, place);
            match name {
                "adain_forward" => {
                    let ys = rand(&[n, c], 2, 0.1, place);
                    let yb = rand(&[n, c], 3, 1.0, place);
                    Box::new(move || drop(ops::adain(&x, &ys, &yb)))
                }
                "adain_backward" => {
                    let ys = rand(&[n, c], 2, 0.1, place);
                    let g = rand(&dims, 4, 1.0, place);
                    Box::new(move || drop(ops::adain::fused_backward(&x, &ys, &g)))
                }
                "noise_bias_act" => {
                    let noise = rand(&[n, 1, h, w], 5, 1.0, place);
                    let wt = rand(&[c], 6, 0.1, place);
                    let b = rand(&[c], 7, 0.1, place);
                    Box::new(move || {
                        drop(ops::noise_bias_act(&x, &noise, &wt, &b, 1.0, 0.2, SQRT_2))
                    })
                }
                "upsample2x" => Box::new(move || drop(ops::upsample2x(&x))),
                "downsample2x" => Box::new(move || drop(ops::downsample2x(&x))),
                "blur" => Box::new(move || drop(ops::blur(&x))),
                "leaky_relu" => Box::new(move || drop(ops::leaky_relu(&x, 0.2, SQRT_2))),
                _ => unreachable!("plane_counts checked the name"),
            }
        }),
    }
}

pub fn pixel_norm(n: usize, c: usize) -> KernelBench {
    KernelBench {
        name: "pixel_norm",
        shape: format!("N={n} C={c}"),
        flops: 3.0 * (n * c) as f64,
        bytes: F32 * 2.0 * (n * c) as f64,
        largest_buffer: (n * c) as u64 * 4,
        setup: Box::new(move |place| -> Run {
            let x = rand(&[n, c], 1, 1.0, place);
            Box::new(move || drop(ops::pixel_norm(&x)))
        }),
    }
}

/// The discriminator's feature with StyleGAN's group size 4: [N, C, H, W] -> [N, C+1, H, W].
pub fn minibatch_stddev(n: usize, c: usize, h: usize, w: usize) -> KernelBench {
    let e = n * c * h * w;
    let out = n * (c + 1) * h * w;
    KernelBench {
        name: "minibatch_stddev",
        shape: plane_shape(n, c, h, w),
        flops: 5.0 * e as f64,
        bytes: F32 * (e + out) as f64,
        largest_buffer: out as u64 * 4,
        setup: Box::new(move |place| -> Run {
            let x = rand(&[n, c, h, w], 1, 1.0, place);
            Box::new(move || drop(ops::minibatch_stddev(&x, 4)))
        }),
    }
}

// ---------------------------------------------------------------------------------------
// The two sets
// ---------------------------------------------------------------------------------------

/// Every conv shape, three passes each, then the rest, in table order.
fn assemble(
    convs: &[(usize, usize, usize, usize, usize, usize)],
    mats: &[usize],
    planes: &[[usize; 4]],
    pn: (usize, usize),
    mbstd: &[[usize; 4]],
    params: usize,
) -> Vec<KernelBench> {
    let mut v = Vec::new();
    let mut seen = Vec::new();
    for &s in convs {
        if seen.contains(&s) {
            continue;
        }
        seen.push(s);
        for pass in ConvPass::ALL {
            v.push(conv(pass, conv_dims(s)));
        }
    }
    for &m in mats {
        v.push(matmul(m, m, m));
    }
    for &d in planes {
        for name in PLANE_OPS {
            v.push(plane_op(name, d));
        }
    }
    v.push(pixel_norm(pn.0, pn.1));
    for &[n, c, h, w] in mbstd {
        v.push(minibatch_stddev(n, c, h, w));
    }
    for &d in planes {
        v.extend(stylegan2_rows::plane_rows(d));
    }
    v.push(adam(params));
    v.push(ema(params));
    v.push(sum_of_squares(params));
    v
}

/// Small shapes for a software device: the whole set runs in well under two minutes on
/// lavapipe with two cores. Odd sizes (C = 17) exercise the kernels' edge tiles.
pub fn quick_set() -> Vec<KernelBench> {
    assemble(
        &[
            (2, 17, 16, 16, 16, 3),
            (1, 3, 8, 8, 8, 1),
            (4, 32, 32, 16, 16, 3),
        ],
        &[64, 256],
        &[[2, 17, 16, 16]],
        (8, 64),
        // C = 16 is the shape tools/pytorch_bench.py --quick times, so that row has a partner.
        &[[8, 32, 4, 4], [8, 16, 4, 4]],
        100_000,
    )
}

/// The shapes StyleGAN training runs: at each resolution of the schedule the 3x3 conv
/// (C = K = nf(res)) and the 1x1 toRGB conv (K = 3), the two shapes the issue names, and the
/// extra shapes tools/pytorch_bench.py times so each of its rows has a partner here.
pub fn full_set() -> Vec<KernelBench> {
    let mut convs = Vec::new();
    // The default run's own table: what `train` would run on this GPU.
    let cfg = TrainConfig::full();
    for res in cfg.model.resolutions() {
        let (batch, nf) = (cfg.batch_at(res), cfg.model.nf(res));
        convs.push((batch, nf, nf, res, res, 3));
        convs.push((batch, nf, 3, res, res, 1));
    }
    convs.extend([
        (16, 256, 256, 32, 32, 3),
        (8, 64, 64, 128, 128, 3),
        (32, 512, 512, 8, 8, 3),
        (16, 64, 3, 64, 64, 1),
    ]);
    assemble(
        &convs,
        &[1024, 4096],
        &[[16, 256, 32, 32], [8, 64, 128, 128]],
        (128, 512),
        &[[16, 512, 4, 4]],
        26_000_000,
    )
}

pub fn set(quick: bool) -> Vec<KernelBench> {
    if quick {
        quick_set()
    } else {
        full_set()
    }
}

/// Rows of `set` whose name or shape contains `filter`.
pub fn filtered(set: Vec<KernelBench>, filter: Option<&str>) -> Vec<KernelBench> {
    match filter {
        Some(f) => set
            .into_iter()
            .filter(|b| b.name.contains(f) || b.shape.contains(f))
            .collect(),
        None => set,
    }
}
