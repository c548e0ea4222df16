//! ADA's affine grid sample (issue 14): gradients against f64 finite differences (first and
//! second order) and the GPU kernels against the CPU reference with NaN-poisoned outputs
//! (cases in `sgw::check::suite::augment_cases`, shared with `gradcheck`); exact identity,
//! flips, quarter turns and integer shifts; PyTorch's reflection formula; the adjoint's dot
//! product identity where reflection folds several times; PyTorch itself where torch is
//! installed.

mod common;

use sgw::check::suite::{augment_cases, rotate_zoom};
use sgw::check::{random_input, Domain};
use sgw::ops::{affine_grid_sample, affine_grid_sample_backward};
use sgw::{Place, Tensor};

fn check(name: &str) {
    common::check_case(augment_cases(), name);
}

#[test]
fn rotate_zoom_out() {
    check("affine_grid_sample (rotate, zoom out)");
}
#[test]
fn rotate_zoom_in() {
    check("affine_grid_sample (rotate, zoom in)");
}
#[test]
fn shear_anisotropic() {
    check("affine_grid_sample (shear, anisotropic)");
}
#[test]
fn sample_then_square_second_order() {
    check("affine_grid_sample then square");
}
#[test]
fn adjoint_op() {
    check("affine_grid_sample_backward");
}

const PLACES: [Place; 3] = [Place::Cpu64, Place::Cpu32, Place::Gpu];

/// Run the sample at every place and require `want` (from the f64 input) bit for bit.
fn assert_exact(x: &Tensor, theta: &[[f64; 6]], want: &dyn Fn(usize, usize, usize, usize) -> f64) {
    let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3));
    for place in PLACES {
        let _poison = sgw::gpu::set_poison(place == Place::Gpu);
        let y = affine_grid_sample(&x.to_place(place), theta).to_vec_f64();
        for b in 0..n {
            for ch in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        let e = ((b * c + ch) * h + i) * w + j;
                        let mut v = want(b, ch, i, j);
                        if place != Place::Cpu64 {
                            v = v as f32 as f64;
                        }
                        assert_eq!(y[e], v, "{place:?} at {:?}", (b, ch, i, j));
                    }
                }
            }
        }
    }
}

fn at(x: &[f64], dims: [usize; 4], b: usize, c: usize, i: usize, j: usize) -> f64 {
    x[((b * dims[1] + c) * dims[2] + i) * dims[3] + j]
}

/// Half-sample symmetric reflection of one step outside 0..n, written out independently of
/// the library's `fold`: -1 -> 0, -2 -> 1, n -> n - 1, n + 1 -> n - 2.
fn reflect_once(k: i64, n: usize) -> usize {
    let n = n as i64;
    (if k < 0 {
        -1 - k
    } else if k >= n {
        2 * n - 1 - k
    } else {
        k
    }) as usize
}

#[test]
fn identity_theta_is_exact_identity() {
    // H != W, neither a power of two: the normalised pixel centres are not exact in binary.
    let x = random_input(&[2, 3, 7, 5], Domain::Any, 3);
    let xv = x.to_vec_f64();
    let id = [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]; 2];
    assert_exact(&x, &id, &|b, c, i, j| at(&xv, [2, 3, 7, 5], b, c, i, j));
}

#[test]
fn integer_translation_is_an_exact_reflected_shift() {
    // theta's translation is in normalised units: 2 k / W shifts the source by k pixels.
    let (h, w) = (6usize, 9usize);
    let x = random_input(&[2, 1, h, w], Domain::Any, 4);
    let xv = x.to_vec_f64();
    let shifts = [(3i64, -2i64), (-4, 5)];
    let theta: Vec<[f64; 6]> = shifts
        .iter()
        .map(|&(dx, dy)| {
            let (tx, ty) = (2.0 * dx as f64 / w as f64, 2.0 * dy as f64 / h as f64);
            [1.0, 0.0, tx, 0.0, 1.0, ty]
        })
        .collect();
    assert_exact(&x, &theta, &|b, c, i, j| {
        let (dx, dy) = shifts[b];
        let (si, sj) = (
            reflect_once(i as i64 + dy, h),
            reflect_once(j as i64 + dx, w),
        );
        at(&xv, [2, 1, h, w], b, c, si, sj)
    });
}

#[test]
fn flips_and_quarter_turns_are_exact() {
    let n = 7usize;
    let x = random_input(&[3, 2, n, n], Domain::Any, 5);
    let xv = x.to_vec_f64();
    let theta = [
        [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0],  // x-flip
        [0.0, -1.0, 0.0, 1.0, 0.0, 0.0],  // a quarter turn
        [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0], // a half turn
    ];
    assert_exact(&x, &theta, &|b, c, i, j| {
        let (si, sj) = match b {
            0 => (i, n - 1 - j),
            1 => (j, n - 1 - i),
            _ => (n - 1 - i, n - 1 - j),
        };
        at(&xv, [3, 2, n, n], b, c, si, sj)
    });
}

/// PyTorch's grid_sample (bilinear, padding_mode='reflection', align_corners=False) for one
/// plane, transcribed from ATen's GridSampler.h: unnormalise, reflect the coordinate about
/// -0.5 and size - 0.5 (fmod), clip to [0, size - 1], then the four taps with the in-bounds
/// test.
fn torch_grid_sample(x: &[f64], h: usize, w: usize, t: &[f64; 6]) -> Vec<f64> {
    let reflect = |v: f64, size: usize| {
        let (lo, span) = (-0.5, size as f64);
        let v = (v - lo).abs();
        let extra = v % span;
        let flips = (v / span).floor() as i64;
        let r = if flips % 2 == 0 {
            extra + lo
        } else {
            span - extra + lo
        };
        r.clamp(0.0, size as f64 - 1.0)
    };
    let mut y = vec![0.0; h * w];
    for i in 0..h {
        for j in 0..w {
            let xn = (2 * j + 1) as f64 / w as f64 - 1.0;
            let yn = (2 * i + 1) as f64 / h as f64 - 1.0;
            let gx = t[0] * xn + t[1] * yn + t[2];
            let gy = t[3] * xn + t[4] * yn + t[5];
            let ix = reflect(((gx + 1.0) * w as f64 - 1.0) / 2.0, w);
            let iy = reflect(((gy + 1.0) * h as f64 - 1.0) / 2.0, h);
            let (x0, y0) = (ix.floor(), iy.floor());
            let mut v = 0.0;
            for (yy, wy) in [(y0, 1.0 - (iy - y0)), (y0 + 1.0, iy - y0)] {
                for (xx, wx) in [(x0, 1.0 - (ix - x0)), (x0 + 1.0, ix - x0)] {
                    if xx >= 0.0 && yy >= 0.0 && xx < w as f64 && yy < h as f64 {
                        v += wy * wx * x[yy as usize * w + xx as usize];
                    }
                }
            }
            y[i * w + j] = v;
        }
    }
    y
}

#[test]
fn matches_pytorch_reflection_formula() {
    let (h, w) = (11usize, 8usize);
    let mut theta = rotate_zoom(3, 0.35, &[1.6, 2.7, 0.55]);
    theta.push([1.3, 0.4, 0.25, -0.3, 0.7, -0.5]);
    theta.push([1.0, 0.0, 0.37, 0.0, 1.0, -0.81]);
    let n = theta.len();
    let x = random_input(&[n, 1, h, w], Domain::Any, 6);
    let xv = x.to_vec_f64();
    let y = affine_grid_sample(&x, &theta).to_vec_f64();
    let mut worst = 0.0f64;
    for (b, t) in theta.iter().enumerate() {
        let plane = &xv[b * h * w..(b + 1) * h * w];
        let want = torch_grid_sample(plane, h, w, t);
        for (a, e) in y[b * h * w..(b + 1) * h * w].iter().zip(&want) {
            worst = worst.max((a - e).abs());
        }
    }
    assert!(worst < 1e-12, "differs from PyTorch's formula by {worst}");
}

/// <A x, g> = <x, A^T g>: the gather-form adjoint finds every output that taps a pixel, also
/// where the reflection folds the image several times (zoom out 3.5) and under shear.
#[test]
fn adjoint_satisfies_the_dot_product_identity() {
    let (h, w) = (13usize, 10usize);
    let mut theta = rotate_zoom(2, 0.9, &[3.5, 0.45]);
    theta.push([1.3, 0.9, 0.25, -0.3, 0.7, -1.5]);
    let n = theta.len();
    let x = random_input(&[n, 2, h, w], Domain::Any, 7);
    let g = random_input(&[n, 2, h, w], Domain::Any, 8);
    let dot = |a: &Tensor, b: &Tensor| -> f64 {
        a.to_vec_f64()
            .iter()
            .zip(b.to_vec_f64())
            .map(|(u, v)| u * v)
            .sum()
    };
    let ax_g = dot(&affine_grid_sample(&x, &theta), &g);
    let x_atg = dot(&x, &affine_grid_sample_backward(&g, &theta));
    assert!(
        (ax_g - x_atg).abs() < 1e-12 * ax_g.abs().max(1.0),
        "<Ax, g> = {ax_g}, <x, A^T g> = {x_atg}"
    );
    // And the GPU adjoint against the CPU one, with poisoned outputs.
    let cpu = affine_grid_sample_backward(&g, &theta).to_vec_f64();
    let gpu = {
        let _poison = sgw::gpu::set_poison(true);
        affine_grid_sample_backward(&g.to_place(Place::Gpu), &theta).to_vec_f64()
    };
    let e = sgw::check::Errors::of(&gpu, &cpu, 1e-2);
    assert!(
        e.max_rel < sgw::check::suite::GRID_SAMPLE_GPU_TOL,
        "GPU adjoint: {e}"
    );
}

/// The GPU tolerance (`GRID_SAMPLE_GPU_TOL`) is f32's own, not the kernel's: the f32 CPU
/// twin is as far from the f64 reference as the GPU is. (The GPU and the f32 twin also differ
/// by as much: the kernel's compiler may fuse the coordinate's multiply-adds, which moves the
/// coordinate by an ulp, as much as any f32 rounding does.)
#[test]
fn gpu_error_is_the_f32_coordinate_error() {
    let theta = rotate_zoom(2, 0.35, &[2.7, 1.6]);
    let x = random_input(&[2, 3, 64, 48], Domain::Any, 9);
    let run = |place: Place| affine_grid_sample(&x.to_place(place), &theta).to_vec_f64();
    let (f64_ref, f32_cpu) = (run(Place::Cpu64), run(Place::Cpu32));
    let gpu = {
        let _poison = sgw::gpu::set_poison(true);
        run(Place::Gpu)
    };
    let gpu_vs_f64 = sgw::check::Errors::of(&gpu, &f64_ref, 1e-2).max_rel;
    let f32_vs_f64 = sgw::check::Errors::of(&f32_cpu, &f64_ref, 1e-2).max_rel;
    let gpu_vs_f32 = sgw::check::Errors::of(&gpu, &f32_cpu, 1e-2).max_rel;
    eprintln!("gpu vs f64 {gpu_vs_f64:.2e}, f32 twin vs f64 {f32_vs_f64:.2e}, gpu vs f32 twin {gpu_vs_f32:.2e}");
    assert!(
        f32_vs_f64 > 1e-4,
        "f32 is more accurate than the tolerance says"
    );
    assert!(gpu_vs_f64 < 2.0 * f32_vs_f64 && gpu_vs_f32 < 2.0 * f32_vs_f64);
}

/// PyTorch itself, where Python has torch: `F.affine_grid` + `F.grid_sample(bilinear,
/// reflection, align_corners=False)` in f64, and its autograd gradient against our adjoint,
/// with zoom out to 3.5 (several folds), zoom in, shear and the identity. Skipped, with a
/// notice, without torch.
#[test]
fn matches_pytorch_grid_sample_when_torch_is_installed() {
    if !common::has_torch() {
        println!("torch not installed: skipping the PyTorch grid_sample check");
        return;
    }
    let (h, w) = (11usize, 8usize);
    let mut theta = rotate_zoom(3, 0.9, &[3.5, 0.45, 1.6]);
    theta.push([1.3, 0.9, 0.25, -0.3, 0.7, -1.5]);
    theta.push([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let n = theta.len();
    let x = random_input(&[n, 2, h, w], Domain::Any, 10);
    let g = random_input(&[n, 2, h, w], Domain::Any, 11);
    let dir = std::env::temp_dir().join(format!("sgw-grid-sample-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.bin");
    let words: Vec<f64> = [x.to_vec_f64(), theta.concat(), g.to_vec_f64()].concat();
    std::fs::write(&input, bytemuck::cast_slice::<f64, u8>(&words)).unwrap();
    let script = format!(
        "import torch, torch.nn.functional as F\n\
         N, C, H, W = {n}, 2, {h}, {w}\n\
         v = torch.frombuffer(bytearray(open({input:?}, 'rb').read()), dtype=torch.float64)\n\
         e = N * C * H * W\n\
         x = v[:e].reshape(N, C, H, W).clone().requires_grad_(True)\n\
         th = v[e:e + 6 * N].reshape(N, 2, 3)\n\
         g = v[e + 6 * N:].reshape(N, C, H, W)\n\
         grid = F.affine_grid(th, (N, C, H, W), align_corners=False)\n\
         y = F.grid_sample(x, grid, mode='bilinear', padding_mode='reflection', align_corners=False)\n\
         gx, = torch.autograd.grad(y, x, g)\n\
         print('\\n'.join('%.17g' % t for t in torch.cat([y.flatten(), gx.flatten()]).tolist()))\n"
    );
    let torch = common::python_f64s(&script);
    let _ = std::fs::remove_dir_all(&dir);
    let ours = [
        affine_grid_sample(&x, &theta).to_vec_f64(),
        affine_grid_sample_backward(&g, &theta).to_vec_f64(),
    ]
    .concat();
    assert_eq!(torch.len(), ours.len());
    let worst = ours
        .iter()
        .zip(&torch)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-12, "differs from PyTorch by {worst}");
}

/// On meta tensors (memory planning) both ops make a shape-only output of the image's size,
/// also through a gradient.
#[test]
fn meta_tensors_pass_through() {
    let theta = rotate_zoom(2, 0.3, &[1.2]);
    let x = random_input(&[2, 3, 5, 4], Domain::Any, 12)
        .to_place(Place::Meta)
        .requires_grad_();
    let y = affine_grid_sample(&x, &theta);
    assert_eq!((y.place(), y.shape()), (Place::Meta, x.shape()));
    let gx = sgw::grad(&[sgw::ops::sum_all(&y)], std::slice::from_ref(&x), false);
    assert_eq!((gx[0].place(), gx[0].shape()), (Place::Meta, x.shape()));
}
