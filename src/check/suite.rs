//! Every op's checks in one table: the cases the test suite asserts and `gradcheck` prints.

use std::sync::Arc;

use super::report::Row;
use super::{gradcheck, gradgradcheck, parity, random_input, Domain, Errors, Func};
use crate::ops::{self, UnaryOp};
use crate::tensor::Tensor;

/// f64 finite differences agree to about this (central differences, eps 1e-6).
pub const FD_TOL: f64 = 1e-6;
/// GPU f32 against CPU f64.
pub const GPU_TOL: f64 = 1e-4;

/// One op under test: the function, its inputs' shapes and domains.
pub struct Case {
    pub op: String,
    pub f: Arc<Func>,
    pub domains: Vec<Domain>,
    /// Small shapes for finite differences (f64 CPU).
    pub fd_shapes: Vec<Vec<usize>>,
    /// Awkward, larger shapes for GPU parity (batch 1, odd sizes, not multiples of 256 or 64).
    pub gpu_shapes: Vec<Vec<Vec<usize>>>,
    /// The op's backward is differentiable and is checked to second order.
    pub second_order: bool,
    /// Relative tolerance of GPU parity (GPU_TOL unless the case says why not).
    pub gpu_tol: f64,
}

impl Case {
    pub fn new(
        op: impl Into<String>,
        f: impl Fn(&[Tensor]) -> Tensor + Send + Sync + 'static,
    ) -> Self {
        Case {
            op: op.into(),
            f: Arc::new(f),
            domains: vec![Domain::Any],
            fd_shapes: vec![],
            gpu_shapes: vec![],
            second_order: true,
            gpu_tol: GPU_TOL,
        }
    }
    pub fn domains(mut self, d: &[Domain]) -> Self {
        self.domains = d.to_vec();
        self
    }
    pub fn fd(mut self, shapes: &[&[usize]]) -> Self {
        self.fd_shapes = shapes.iter().map(|s| s.to_vec()).collect();
        self
    }
    pub fn gpu(mut self, shapes: &[&[usize]]) -> Self {
        self.gpu_shapes
            .push(shapes.iter().map(|s| s.to_vec()).collect());
        self
    }
    pub fn first_order_only(mut self) -> Self {
        self.second_order = false;
        self
    }
    pub fn gpu_tol(mut self, tol: f64) -> Self {
        self.gpu_tol = tol;
        self
    }

    fn inputs(&self, shapes: &[Vec<usize>], seed: u64) -> Vec<Tensor> {
        shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let d = self.domains[i.min(self.domains.len() - 1)];
                random_input(s, d, seed + 31 * i as u64)
            })
            .collect()
    }
}

fn row(op: &str, check: &'static str, shapes: &[Vec<usize>], errors: Errors, tol: f64) -> Row {
    let shape = shapes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    Row::new(op, check, shape, errors, tol)
}

/// Run one case: finite differences (first and second order) and GPU parity.
pub fn run_case(c: &Case) -> Vec<Row> {
    let mut rows = Vec::new();
    let seed =
        c.op.bytes()
            .fold(17u64, |h, b| h.wrapping_mul(131).wrapping_add(b as u64));
    if !c.fd_shapes.is_empty() {
        let xs = c.inputs(&c.fd_shapes, seed);
        rows.push(row(
            &c.op,
            "grad vs FD",
            &c.fd_shapes,
            gradcheck(&*c.f, &xs, seed),
            FD_TOL,
        ));
        if c.second_order {
            rows.push(row(
                &c.op,
                "grad2 vs FD",
                &c.fd_shapes,
                gradgradcheck(&*c.f, &xs, seed),
                FD_TOL,
            ));
        }
    }
    for shapes in &c.gpu_shapes {
        let xs = c.inputs(shapes, seed + 1);
        let p = parity(&*c.f, &xs, seed, c.second_order);
        rows.push(row(&c.op, "gpu value", shapes, p.value, c.gpu_tol));
        rows.push(row(&c.op, "gpu grad", shapes, p.grad, c.gpu_tol));
        if let Some(e) = p.grad2 {
            rows.push(row(&c.op, "gpu grad2", shapes, e, c.gpu_tol));
        }
    }
    rows
}

fn unary_case(name: &str, op: UnaryOp, d: Domain) -> Case {
    Case::new(name, move |x| ops::unary::unary(op, &x[0]))
        .domains(&[d])
        .fd(&[&[2, 3, 5]])
        .gpu(&[&[1, 7]])
        .gpu(&[&[3, 5, 301]])
}

/// The engine-core ops (elementwise, reductions, matmul, layout).
pub fn core_cases() -> Vec<Case> {
    use Domain::*;
    let sqrt2 = std::f64::consts::SQRT_2;
    let mut v = vec![
        unary_case("neg", UnaryOp::Neg, Any),
        unary_case("square", UnaryOp::Square, Any),
        unary_case("sqrt", UnaryOp::Sqrt, Positive),
        unary_case("rsqrt", UnaryOp::Rsqrt, Positive),
        unary_case("exp", UnaryOp::Exp, Any),
        unary_case("log", UnaryOp::Log, Positive),
        unary_case("softplus", UnaryOp::Softplus, Any),
        unary_case("sigmoid", UnaryOp::Sigmoid, Any),
        unary_case(
            "leaky_relu",
            UnaryOp::LeakyRelu {
                slope: 0.2,
                gain: sqrt2,
            },
            AwayFromZero,
        ),
        unary_case("add_scalar", UnaryOp::AddScalar(0.75), Any),
        unary_case("mul_scalar", UnaryOp::MulScalar(-1.5), Any),
        unary_case("recip", UnaryOp::Recip, Positive),
        unary_case("abs", UnaryOp::Abs, AwayFromZero),
    ];
    for (name, op) in [
        ("add", ops::add as fn(&Tensor, &Tensor) -> Tensor),
        ("sub", ops::sub),
        ("mul", ops::mul),
        ("div", ops::div),
    ] {
        let dom = if name == "div" {
            [Any, Positive]
        } else {
            [Any, Any]
        };
        v.push(
            Case::new(name, move |x| op(&x[0], &x[1]))
                .domains(&dom)
                .fd(&[&[2, 3], &[2, 3]])
                .gpu(&[&[1, 5], &[1, 5]])
                .gpu(&[&[7, 301], &[7, 301]]),
        );
        v.push(
            Case::new(format!("{name} (broadcast)"), move |x| op(&x[0], &x[1]))
                .domains(&dom)
                .fd(&[&[2, 1, 3], &[4, 1]])
                .gpu(&[&[3, 1, 5], &[17, 1]])
                .gpu(&[&[5], &[2, 9, 5]]),
        );
    }
    v.extend([
        Case::new("sum (axis 1)", |x| ops::sum(&x[0], &[1], false))
            .fd(&[&[2, 3, 4]])
            .gpu(&[&[1, 7, 1]])
            .gpu(&[&[3, 517, 5]]),
        Case::new("sum (axes 0,2)", |x| ops::sum(&x[0], &[0, 2], true))
            .fd(&[&[2, 3, 4]])
            .gpu(&[&[5, 3, 33]]),
        Case::new("sum (all)", |x| ops::sum_all(&x[0]))
            .fd(&[&[3, 5]])
            .gpu(&[&[1]])
            .gpu(&[&[9, 1001]]),
        Case::new("mean (axis 0)", |x| ops::mean(&x[0], &[0], false))
            .fd(&[&[4, 3]])
            .gpu(&[&[70, 13]]),
        Case::new("broadcast_to", |x| ops::broadcast_to(&x[0], &[2, 3, 4]))
            .fd(&[&[3, 1]])
            .gpu(&[&[3, 1]]),
        Case::new("matmul", |x| ops::matmul(&x[0], &x[1]))
            .fd(&[&[3, 4], &[4, 2]])
            .gpu(&[&[1, 1], &[1, 1]])
            // A minibatch of 9 rows: the 16-row tile, two column tiles.
            .gpu(&[&[9, 30], &[30, 70]])
            .gpu(&[&[67, 130], &[130, 45]]),
        Case::new("matmul (A^T B^T)", |x| {
            ops::matmul_t(&x[0], &x[1], true, true)
        })
        .fd(&[&[4, 3], &[2, 4]])
        .gpu(&[&[70, 65], &[33, 70]]),
        Case::new("matmul (batched)", |x| ops::matmul(&x[0], &x[1]))
            .fd(&[&[2, 3, 4], &[4, 2]])
            .gpu(&[&[3, 33, 70], &[70, 65]]),
        Case::new("matmul (batched, B^T)", |x| {
            ops::matmul_t(&x[0], &x[1], false, true)
        })
        .fd(&[&[2, 3, 4], &[2, 5, 4]])
        .gpu(&[&[2, 17, 9], &[2, 66, 9]]),
        Case::new("reshape", |x| ops::reshape(&x[0], &[6, 2]))
            .fd(&[&[3, 4]])
            .gpu(&[&[3, 4]]),
        Case::new("permute", |x| ops::permute(&x[0], &[2, 0, 1]))
            .fd(&[&[2, 3, 4]])
            .gpu(&[&[3, 5, 17]]),
        Case::new("transpose", |x| ops::transpose(&x[0], 0, 1))
            .fd(&[&[3, 4]])
            .gpu(&[&[65, 33]]),
        Case::new("concat", |x| ops::concat(x, 1))
            .fd(&[&[2, 1, 3], &[2, 2, 3]])
            .gpu(&[&[3, 5, 7], &[3, 1, 7], &[3, 4, 7]]),
        Case::new("slice", |x| ops::slice(&x[0], 1, 1, 2))
            .fd(&[&[2, 4, 3]])
            .gpu(&[&[3, 9, 11]]),
        Case::new("pad", |x| ops::pad(&x[0], 0, 2, 5))
            .fd(&[&[2, 3]])
            .gpu(&[&[2, 301]]),
    ]);
    v
}

/// Equalized-conv scale for a [K, C, kh, kw] weight: sqrt(2) / sqrt(fan_in).
fn he(c: usize, taps: usize) -> f64 {
    (2.0 / (c * taps) as f64).sqrt()
}

/// The StyleGAN ops: convolution (and its two gradient ops), equalized linear, AdaIN, the
/// fused noise + bias + leaky ReLU epilogue, resampling, pixel norm, minibatch stddev.
/// Shapes cover batch 1 and > 1, channels 1, 3, 17 and 64+, spatial 4 to 64, odd sizes.
pub fn stylegan_cases() -> Vec<Case> {
    use Domain::*;
    let sqrt2 = std::f64::consts::SQRT_2;
    vec![
        Case::new("conv2d 3x3", |x| {
            ops::conv2d(&x[0], &x[1], Some(&x[2]), he(x[1].dim(1), 9), 1.0)
        })
        .fd(&[&[2, 3, 5, 4], &[2, 3, 3, 3], &[2]])
        .gpu(&[&[1, 1, 4, 4], &[3, 1, 3, 3], &[3]])
        .gpu(&[&[2, 17, 9, 7], &[5, 17, 3, 3], &[5]])
        // 30 output channels: the 32-row tile with its last two rows empty.
        .gpu(&[&[1, 30, 6, 5], &[30, 30, 3, 3], &[30]])
        .gpu(&[&[2, 64, 8, 8], &[65, 64, 3, 3], &[65]])
        .gpu(&[&[1, 3, 64, 64], &[8, 3, 3, 3], &[8]]),
        Case::new("conv2d 1x1", |x| {
            ops::conv2d(&x[0], &x[1], Some(&x[2]), he(x[1].dim(1), 1), 0.5)
        })
        .fd(&[&[2, 4, 3, 5], &[3, 4, 1, 1], &[3]])
        .gpu(&[&[3, 17, 7, 9], &[3, 17, 1, 1], &[3]])
        .gpu(&[&[2, 64, 16, 16], &[1, 64, 1, 1], &[1]]),
        Case::new("conv2d_backward_data", |x| {
            ops::conv2d_backward_data(&x[0], &x[1], 0.7)
        })
        .fd(&[&[2, 3, 4, 5], &[3, 2, 3, 3]])
        .gpu(&[&[2, 17, 9, 7], &[17, 5, 3, 3]])
        .gpu(&[&[1, 64, 8, 8], &[64, 66, 3, 3]]),
        Case::new("conv2d_backward_weight", |x| {
            ops::conv2d_backward_weight(&x[0], &x[1], [3, 3], 0.7)
        })
        .fd(&[&[2, 2, 4, 5], &[2, 3, 4, 5]])
        .gpu(&[&[2, 5, 9, 7], &[2, 17, 9, 7]])
        // 1600 pixels in one 64 x 64 tile: the split-K path with 7 partial sums.
        .gpu(&[&[4, 3, 20, 20], &[4, 8, 20, 20]]),
        Case::new("linear (equalized)", |x| {
            ops::linear(&x[0], &x[1], Some(&x[2]), 0.3, 0.01)
        })
        .fd(&[&[3, 4], &[5, 4], &[5]])
        .gpu(&[&[1, 1], &[1, 1], &[1]])
        .gpu(&[&[17, 512], &[512, 512], &[512]]),
        Case::new("adain", |x| ops::adain(&x[0], &x[1], &x[2]))
            .fd(&[&[2, 3, 3, 4], &[2, 3], &[2, 3]])
            .gpu(&[&[1, 1, 4, 4], &[1, 1], &[1, 1]])
            .gpu(&[&[2, 17, 9, 7], &[2, 17], &[2, 17]])
            .gpu(&[&[3, 64, 16, 16], &[3, 64], &[3, 64]])
            // Planes above 32x32 take the 256-thread kernels; 65x67 is cached in workgroup
            // memory by the forward but not by the backward (two arrays) on a 32 KiB
            // device, and 129x131 (66 KiB) by neither on any device.
            .gpu(&[&[1, 2, 65, 67], &[1, 2], &[1, 2]])
            .gpu(&[&[1, 1, 129, 131], &[1, 1], &[1, 1]]),
        Case::new("noise_bias_act", move |x| {
            ops::noise_bias_act(&x[0], &x[1], &x[2], &x[3], 0.5, 0.2, sqrt2)
        })
        .fd(&[&[2, 3, 3, 4], &[2, 1, 3, 4], &[3], &[3]])
        .gpu(&[&[1, 1, 4, 4], &[1, 1, 4, 4], &[1], &[1]])
        .gpu(&[&[3, 17, 9, 7], &[3, 1, 9, 7], &[17], &[17]])
        .gpu(&[&[2, 64, 32, 32], &[2, 1, 32, 32], &[64], &[64]]),
        Case::new("upsample2x", |x| ops::upsample2x(&x[0]))
            .fd(&[&[2, 3, 3, 2]])
            .gpu(&[&[1, 1, 4, 4]])
            .gpu(&[&[2, 17, 9, 7]])
            .gpu(&[&[2, 64, 32, 32]]),
        Case::new("downsample2x", |x| ops::downsample2x(&x[0]))
            .fd(&[&[2, 3, 4, 6]])
            .gpu(&[&[1, 1, 4, 4]])
            .gpu(&[&[2, 17, 10, 6]])
            .gpu(&[&[1, 64, 64, 64]]),
        Case::new("blur", |x| ops::blur(&x[0]))
            .fd(&[&[2, 3, 4, 5]])
            .gpu(&[&[1, 1, 4, 4]])
            .gpu(&[&[2, 17, 9, 7]])
            .gpu(&[&[1, 3, 64, 64]]),
        Case::new("pixel_norm", |x| ops::pixel_norm(&x[0]))
            .fd(&[&[3, 5]])
            .gpu(&[&[1, 3]])
            .gpu(&[&[17, 512]]),
        Case::new("minibatch_stddev (group 4)", |x| {
            ops::minibatch_stddev(&x[0], 4)
        })
        .fd(&[&[4, 2, 3, 3]])
        .gpu(&[&[8, 17, 4, 4]])
        .gpu(&[&[16, 64, 4, 4]]),
        // Group 3, not 2: with two samples the stddev is |x1 - x2| / 2, piecewise linear, so
        // its second derivative is zero and a relative comparison would measure only noise.
        Case::new("minibatch_stddev (group 3)", |x| {
            ops::minibatch_stddev(&x[0], 3)
        })
        .fd(&[&[6, 3, 2, 2]])
        .gpu(&[&[3, 3, 4, 4]]),
        Case::new("minibatch_stddev (batch 1)", |x| {
            ops::minibatch_stddev(&x[0], 4)
        })
        .domains(&[Any])
        .fd(&[&[1, 2, 2, 2]])
        .gpu(&[&[1, 5, 4, 4]]),
    ]
}

/// ADA's affine matrices for a batch of `n`: image b is rotated by `angle + 1.1 b`, scaled
/// by `scales[b % len]` (theta > 1 samples beyond the image, so reflection folds in; 2.7
/// folds more than once) and translated by a fraction of the image.
pub fn rotate_zoom(n: usize, angle: f64, scales: &[f64]) -> Vec<[f64; 6]> {
    (0..n)
        .map(|b| {
            let (s, a) = (scales[b % scales.len()], angle + 1.1 * b as f64);
            let (tx, ty) = (0.13 - 0.2 * b as f64, -0.21 + 0.1 * b as f64);
            [s * a.cos(), -s * a.sin(), tx, s * a.sin(), s * a.cos(), ty]
        })
        .collect()
}

/// GPU parity of the grid sample. The kernel computes the source coordinate in f32 (as
/// PyTorch's f32 grid_sample does): at |rx| ~ 128 pixels (zoom out 2.7 on 48 columns) its
/// ulp is 1.5e-5, and on white-noise inputs, where neighbours differ by up to 2, that moves a
/// sample by ~3e-5, i.e. ~3e-3 of the 1% floor the relative error divides by. A missed tap,
/// fold or weight errs by O(1) instead.
pub const GRID_SAMPLE_GPU_TOL: f64 = 5e-3;

/// ADA's augmentation kernels: the affine grid sample (rotations, zoom in and out that reach
/// the reflection, shear with anisotropic scale), its adjoint as an op of its own, and a
/// square after the sample so that the second-order check differentiates through the
/// adjoint (for the sample alone, linear, the second derivative is zero on both sides).
pub fn augment_cases() -> Vec<Case> {
    let sample = |name: &str, theta: fn(usize) -> Vec<[f64; 6]>| {
        Case::new(name, move |x| {
            ops::affine_grid_sample(&x[0], &theta(x[0].dim(0)))
        })
        .gpu_tol(GRID_SAMPLE_GPU_TOL)
        .fd(&[&[2, 3, 5, 4]])
        .gpu(&[&[1, 1, 4, 4]])
        .gpu(&[&[2, 3, 9, 7]])
        .gpu(&[&[3, 1, 33, 17]])
    };
    let out = |n| rotate_zoom(n, 0.35, &[1.6, 2.7, 1.3]);
    let zoom_in = |n| rotate_zoom(n, -0.6, &[0.55, 0.8]);
    let shear = |n: usize| {
        (0..n)
            .map(|b| {
                [
                    1.3,
                    0.4 + 0.1 * b as f64,
                    0.25,
                    -0.3,
                    0.7,
                    -0.5 + 0.3 * b as f64,
                ]
            })
            .collect()
    };
    vec![
        sample("affine_grid_sample (rotate, zoom out)", out).gpu(&[&[2, 3, 64, 48]]),
        sample("affine_grid_sample (rotate, zoom in)", zoom_in),
        sample("affine_grid_sample (shear, anisotropic)", shear),
        Case::new("affine_grid_sample then square", move |x| {
            ops::square(&ops::affine_grid_sample(&x[0], &out(x[0].dim(0))))
        })
        .gpu_tol(GRID_SAMPLE_GPU_TOL)
        .fd(&[&[2, 2, 4, 5]])
        .gpu(&[&[3, 3, 9, 7]]),
        Case::new("affine_grid_sample_backward", move |x| {
            ops::affine_grid_sample_backward(&x[0], &out(x[0].dim(0)))
        })
        .gpu_tol(GRID_SAMPLE_GPU_TOL)
        .fd(&[&[2, 3, 5, 4]])
        .gpu(&[&[1, 1, 4, 4]])
        .gpu(&[&[3, 1, 33, 17]])
        .gpu(&[&[2, 3, 64, 48]]),
    ]
}

/// A 3 x 2 filter with no symmetry: a missing or doubled flip (forward or adjoint) shows.
pub fn lopsided_fir() -> ops::Fir {
    ops::Fir::new(vec![0.1, 0.7, -0.3, 0.25, 0.5, 0.15], 3, 2)
}

/// StyleGAN2's ops: upfirdn2d (the official up/down/blur settings, and up and down together
/// with negative padding and a lopsided filter; then a square, so that the second order
/// differentiates through the adjoint: upfirdn2d alone is linear) and the modulated
/// convolution (demodulated 3x3, plain 1x1 as toRGB, and the 2x up path); the residual
/// D's strided 3x3 down-convolution (bilinear in image and weight, so second order mixes).
pub fn stylegan2_cases() -> Vec<Case> {
    use crate::nn::stylegan2::{conv2d_down2, modulated_conv2d, resample_filter};
    let f = resample_filter;
    let awkward = |c: Case| {
        c.gpu(&[&[1, 1, 4, 4]])
            .gpu(&[&[2, 3, 9, 7]])
            .gpu(&[&[1, 17, 16, 33]])
    };
    let modconv = |name: &str, demod: bool, up: bool, k: usize| {
        Case::new(name, move |x| {
            modulated_conv2d(&x[0], &x[1], &x[2], demod, up)
        })
        .fd(&[&[2, 3, 4, 3], &[2, 3, k, k], &[2, 3]])
        // Two channels, not one: with one, demodulation cancels the style and its
        // gradient is zero up to the 1e-8, so a relative comparison would measure noise.
        .gpu(&[&[1, 2, 4, 4], &[3, 2, k, k], &[1, 2]])
        .gpu(&[&[2, 17, 9, 7], &[5, 17, k, k], &[2, 17]])
        .gpu(&[&[3, 64, 8, 8], &[33, 64, k, k], &[3, 64]])
    };
    vec![
        awkward(
            Case::new("upfirdn2d (up 2)", move |x| ops::upsample2d(&x[0], &f()))
                .fd(&[&[2, 3, 4, 5]]),
        ),
        awkward(
            Case::new("upfirdn2d (down 2)", move |x| {
                ops::downsample2d(&x[0], &f())
            })
            .fd(&[&[2, 3, 4, 6]]),
        ),
        awkward(
            Case::new("upfirdn2d (blur)", move |x| {
                ops::upfirdn2d(&x[0], &f(), 1, 1, [2, 1, 2, 1], 1.0)
            })
            .fd(&[&[1, 3, 5, 4]]),
        ),
        awkward(
            Case::new("upfirdn2d (up 3, down 2, cropped, lopsided)", |x| {
                ops::upfirdn2d(&x[0], &lopsided_fir(), 3, 2, [-2, 1, 3, -1], 1.5)
            })
            .fd(&[&[2, 3, 4, 5]]),
        ),
        awkward(
            Case::new("upfirdn2d (up 2, lopsided) then square", |x| {
                ops::square(&ops::upfirdn2d(
                    &x[0],
                    &lopsided_fir(),
                    2,
                    1,
                    [1, -1, 0, 2],
                    2.0,
                ))
            })
            .fd(&[&[2, 3, 4, 3]]),
        ),
        awkward(
            Case::new("upfirdn2d (down 2) then square", move |x| {
                ops::square(&ops::downsample2d(&x[0], &f()))
            })
            .fd(&[&[1, 3, 6, 4]]),
        ),
        modconv("modulated_conv2d (demodulated 3x3)", true, false, 3),
        modconv("modulated_conv2d (1x1, no demodulation)", false, false, 1),
        modconv("modulated_conv2d (up 2, demodulated 3x3)", true, true, 3),
        Case::new("conv2d_down2 (3x3, bias)", |x| {
            conv2d_down2(&x[0], &x[1], Some(&x[2]), 0.3)
        })
        .fd(&[&[2, 3, 4, 6], &[4, 3, 3, 3], &[4]])
        .gpu(&[&[1, 1, 4, 4], &[1, 1, 3, 3], &[1]])
        .gpu(&[&[2, 17, 10, 6], &[5, 17, 3, 3], &[5]])
        .gpu(&[&[3, 64, 8, 8], &[33, 64, 3, 3], &[33]]),
    ]
}

/// Every case the project has.
pub fn all_cases() -> Vec<Case> {
    let mut v = core_cases();
    v.extend(stylegan_cases());
    v.extend(augment_cases());
    v.extend(stylegan2_cases());
    v
}

/// Run every case whose op name contains `filter`, then the optimiser checks.
pub fn run_all(filter: Option<&str>) -> Vec<Row> {
    let keep = |op: &str| filter.is_none_or(|f| op.contains(f));
    let mut rows: Vec<Row> = all_cases()
        .iter()
        .filter(|c| keep(&c.op))
        .flat_map(run_case)
        .collect();
    rows.extend(run_wide_conv_cases(&keep));
    if keep("adam (fused)") {
        rows.push(super::optim::adam_row());
    }
    if keep("ema") {
        rows.push(super::optim::ema_row());
    }
    rows
}

/// The conv cases again with the wide 128 x 128 tiles forced (at these shapes the size rule
/// picks the narrow ones, so a device would otherwise never check the kernel that its large
/// layers run), then with Winograd forced (a tuner candidate, which a tuner may pick on this
/// device; the rule runs where it does not apply).
fn run_wide_conv_cases(keep: &dyn Fn(&str) -> bool) -> Vec<Row> {
    use crate::ops::conv::{set_tiling_policy, Tiling, TilingPolicy};
    use crate::ops::tune::{force_conv, ConvConfig};
    let cases = |tag: &str| -> Vec<Case> {
        stylegan_cases()
            .into_iter()
            .filter(|c| c.op.starts_with("conv2d"))
            .map(|mut c| {
                c.op = format!("{} [{tag}]", c.op);
                c
            })
            .filter(|c| keep(&c.op))
            .collect()
    };
    let mut rows: Vec<Row> = {
        let _wide = set_tiling_policy(TilingPolicy::Wide);
        cases("wide tiles").iter().flat_map(run_case).collect()
    };
    let _winograd = force_conv(Some(ConvConfig {
        tiling: Tiling::Winograd,
        k_step: 16,
        split_target: 512,
    }));
    rows.extend(cases("winograd").iter().flat_map(run_case));
    rows
}
