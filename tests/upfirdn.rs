//! StyleGAN2's upfirdn2d and modulated convolution (issue 14): gradients against f64 finite
//! differences (first and second order) and the GPU kernel against the CPU reference with
//! NaN-poisoned outputs (cases in `sgw::check::suite::stylegan2_cases`, shared with
//! `gradcheck`); upfirdn2d against a step-by-step transcription of the official
//! `upfirdn2d_ref` on awkward shapes and paddings, on every place; the adjoint's dot product
//! identity; the modulated convolution against a per-image reference that modulates the
//! weights; PyTorch itself where torch is installed.

mod common;

use sgw::check::suite::{lopsided_fir, stylegan2_cases};
use sgw::check::{random_input, Domain, Errors};
use sgw::nn::stylegan2::{modulated_conv2d, resample_filter};
use sgw::ops::{upfirdn2d, Fir};
use sgw::{Place, Tensor};

fn check(name: &str) {
    common::check_case(stylegan2_cases(), name);
}

#[test]
fn upfirdn_up2() {
    check("upfirdn2d (up 2)");
}
#[test]
fn upfirdn_down2() {
    check("upfirdn2d (down 2)");
}
#[test]
fn upfirdn_blur() {
    check("upfirdn2d (blur)");
}
#[test]
fn upfirdn_up3_down2_cropped_lopsided() {
    check("upfirdn2d (up 3, down 2, cropped, lopsided)");
}
#[test]
fn upfirdn_then_square_second_order() {
    check("upfirdn2d (up 2, lopsided) then square");
    check("upfirdn2d (down 2) then square");
}
#[test]
fn modconv_demodulated() {
    check("modulated_conv2d (demodulated 3x3)");
}
#[test]
fn modconv_1x1_plain() {
    check("modulated_conv2d (1x1, no demodulation)");
}
#[test]
fn modconv_up() {
    check("modulated_conv2d (up 2, demodulated 3x3)");
}
#[test]
fn conv2d_down2() {
    check("conv2d_down2 (3x3, bias)");
}

type Plane = Vec<Vec<f64>>;

/// stylegan2-ada-pytorch's `upfirdn2d_ref` on one plane, step by step as it is written:
/// zero insertion, `F.pad` with the positive padding, the crop of the negative, a valid
/// correlation with the flipped filter times gain, every `down`-th pixel.
fn upfirdn_ref(x: &Plane, f: &Fir, up: usize, down: usize, pad: [i64; 4], gain: f64) -> Plane {
    let (h, w) = (x.len(), x[0].len());
    let mut z = vec![vec![0.0; w * up]; h * up];
    for i in 0..h {
        for j in 0..w {
            z[i * up][j * up] = x[i][j];
        }
    }
    let [px0, px1, py0, py1] = pad;
    let pos = |p: i64| p.max(0) as usize;
    let (hp, wp) = (h * up + pos(py0) + pos(py1), w * up + pos(px0) + pos(px1));
    let mut padded = vec![vec![0.0; wp]; hp];
    for (i, row) in z.iter().enumerate() {
        padded[i + pos(py0)][pos(px0)..pos(px0) + w * up].copy_from_slice(row);
    }
    let cropped: Plane = padded[pos(-py0)..hp - pos(-py1)]
        .iter()
        .map(|r| r[pos(-px0)..wp - pos(-px1)].to_vec())
        .collect();
    let flipped = f.flipped();
    let (ch, cw) = (cropped.len(), cropped[0].len());
    let conv: Plane = (0..=ch - f.fh)
        .map(|i| {
            (0..=cw - f.fw)
                .map(|j| {
                    let mut s = 0.0;
                    for a in 0..f.fh {
                        for b in 0..f.fw {
                            s += cropped[i + a][j + b] * flipped.taps[a * f.fw + b] * gain;
                        }
                    }
                    s
                })
                .collect()
        })
        .collect();
    conv.iter()
        .step_by(down)
        .map(|r| r.iter().step_by(down).copied().collect())
        .collect()
}

fn planes(t: &[f64], n: usize, h: usize, w: usize) -> Vec<Plane> {
    (0..n)
        .map(|p| {
            (0..h)
                .map(|i| t[(p * h + i) * w..(p * h + i + 1) * w].to_vec())
                .collect()
        })
        .collect()
}

type Config = (&'static str, Fir, usize, usize, [i64; 4], f64);

/// (name, filter, up, down, pad, gain): the official up, down and blur settings of the
/// [1, 3, 3, 1] filter, and up and down together with crops and a lopsided filter.
fn configs() -> Vec<Config> {
    let f = resample_filter();
    vec![
        ("up 2", f.clone(), 2, 1, [2, 1, 2, 1], 4.0),
        ("down 2", f.clone(), 1, 2, [1, 1, 1, 1], 1.0),
        ("blur", f.clone(), 1, 1, [2, 1, 2, 1], 1.0),
        (
            "up 2, down 2, crop",
            lopsided_fir(),
            2,
            2,
            [-1, 2, 1, -2],
            1.5,
        ),
        (
            "up 3, down 2, crop",
            lopsided_fir(),
            3,
            2,
            [-2, 1, 3, -1],
            0.7,
        ),
        (
            "up 1, down 3, crop",
            lopsided_fir(),
            1,
            3,
            [0, -1, -1, 2],
            1.0,
        ),
    ]
}

/// Every place against the transcription: f64 to rounding, f32 CPU and the GPU (poisoned)
/// to f32's; batch 1, odd channels, H != W, an image smaller than the filter is wide.
#[test]
fn matches_the_official_reference_on_every_place() {
    for shape in [[1usize, 1, 4, 4], [2, 3, 7, 5], [1, 5, 3, 10]] {
        let [n, c, h, w] = shape;
        let x = random_input(&shape, Domain::Any, 21);
        let xp = planes(&x.to_vec_f64(), n * c, h, w);
        for (name, f, up, down, pad, gain) in configs() {
            let want: Vec<f64> = xp
                .iter()
                .flat_map(|p| upfirdn_ref(p, &f, up, down, pad, gain).concat())
                .collect();
            for place in [Place::Cpu64, Place::Cpu32, Place::Gpu] {
                let _poison = sgw::gpu::set_poison(place == Place::Gpu);
                let y = upfirdn2d(&x.to_place(place), &f, up, down, pad, gain);
                let got = y.to_vec_f64();
                assert_eq!(got.len(), want.len(), "{name} {shape:?} {place:?}: size");
                let e = Errors::of(&got, &want, 1e-2);
                let tol = if place == Place::Cpu64 { 1e-13 } else { 1e-5 };
                assert!(e.max_rel < tol, "{name} {shape:?} {place:?}: {e}");
            }
        }
    }
}

fn dot(a: &Tensor, b: &Tensor) -> f64 {
    a.to_vec_f64()
        .iter()
        .zip(b.to_vec_f64())
        .map(|(u, v)| u * v)
        .sum()
}

/// <A x, g> = <x, A^T g> with A^T the backward's upfirdn2d (swapped factors, flipped
/// filter, adjoint padding), on the CPU in f64 and on the GPU.
#[test]
fn backward_is_the_adjoint() {
    for (name, f, up, down, pad, gain) in configs() {
        let x = random_input(&[2, 3, 7, 6], Domain::Any, 22).requires_grad_();
        let y = upfirdn2d(&x, &f, up, down, pad, gain);
        let g = random_input(y.shape(), Domain::Any, 23);
        let gx = sgw::grad(
            &[sgw::ops::sum_all(&(&y * &g))],
            std::slice::from_ref(&x),
            false,
        );
        let (ax_g, x_atg) = (dot(&y, &g), dot(&x, &gx[0]));
        assert!(
            (ax_g - x_atg).abs() < 1e-12 * ax_g.abs().max(1.0),
            "{name}: <Ax, g> = {ax_g}, <x, A^T g> = {x_atg}"
        );
        let xg = x.detach().to_place(Place::Gpu).requires_grad_();
        let gpu = {
            let _poison = sgw::gpu::set_poison(true);
            let yg = upfirdn2d(&xg, &f, up, down, pad, gain);
            let l = sgw::ops::sum_all(&(&yg * &g.to_place(Place::Gpu)));
            sgw::grad(&[l], std::slice::from_ref(&xg), false)[0].to_vec_f64()
        };
        let e = Errors::of(&gpu, &gx[0].to_vec_f64(), 1e-2);
        assert!(e.max_rel < 1e-5, "{name}: GPU adjoint {e}");
    }
}

/// The official `modulated_conv2d(fused_modconv=False)` per image with the weights
/// modulated (and demodulated) instead of the activations, and `up` written as the official
/// `conv2d_resample` does it: a stride-2 transposed convolution, then the filter.
fn modconv_ref(x: &Tensor, wt: &Tensor, s: &Tensor, demod: bool, up: bool) -> Vec<f64> {
    let (n, c, h, w) = (x.dim(0), x.dim(1), x.dim(2), x.dim(3));
    let (k, kk) = (wt.dim(0), wt.dim(2));
    let r = kk / 2;
    let (xv, wv, sv) = (x.to_vec_f64(), wt.to_vec_f64(), s.to_vec_f64());
    let xp = planes(&xv, n * c, h, w);
    let mut out = Vec::new();
    for b in 0..n {
        let mut wm: Vec<f64> = (0..k * c * kk * kk)
            .map(|e| wv[e] * sv[b * c + (e / (kk * kk)) % c])
            .collect();
        if demod {
            for o in 0..k {
                let row = &mut wm[o * c * kk * kk..(o + 1) * c * kk * kk];
                let d = 1.0 / (row.iter().map(|v| v * v).sum::<f64>() + 1e-8).sqrt();
                row.iter_mut().for_each(|v| *v *= d);
            }
        }
        let tap = |o: usize, ci: usize, a: usize, bb: usize| wm[((o * c + ci) * kk + a) * kk + bb];
        for o in 0..k {
            let plane = if up {
                // conv_transpose2d(x, w^T flipped, stride 2): out[2i + a] += x[i] w[kk-1-a].
                let (th, tw) = (2 * (h - 1) + kk, 2 * (w - 1) + kk);
                let mut t = vec![vec![0.0; tw]; th];
                for ci in 0..c {
                    for i in 0..h {
                        for j in 0..w {
                            for a in 0..kk {
                                for bb in 0..kk {
                                    t[2 * i + a][2 * j + bb] +=
                                        xp[b * c + ci][i][j] * tap(o, ci, kk - 1 - a, kk - 1 - bb);
                                }
                            }
                        }
                    }
                }
                let f = resample_filter();
                let p0 = r as i64 + (f.fw as i64 + 1) / 2 - (kk as i64 - 1);
                let p1 = r as i64 + (f.fw as i64 - 2) / 2 - (kk as i64 - 2);
                upfirdn_ref(&t, &f, 1, 1, [p0, p1, p0, p1], 4.0)
            } else {
                let mut y = vec![vec![0.0; w]; h];
                for (i, yrow) in y.iter_mut().enumerate() {
                    for (j, yv) in yrow.iter_mut().enumerate() {
                        for ci in 0..c {
                            for a in 0..kk {
                                for bb in 0..kk {
                                    let (ii, jj) = (i + a, j + bb);
                                    if ii >= r && jj >= r && ii - r < h && jj - r < w {
                                        *yv += xp[b * c + ci][ii - r][jj - r] * tap(o, ci, a, bb);
                                    }
                                }
                            }
                        }
                    }
                }
                y
            };
            out.extend(plane.concat());
        }
    }
    out
}

#[test]
fn modulated_conv_matches_per_image_modulated_weights() {
    for (demod, up, kk) in [
        (true, false, 3),
        (false, false, 1),
        (false, false, 3),
        (true, true, 3),
        (false, true, 3),
    ] {
        let x = random_input(&[2, 3, 5, 4], Domain::Any, 31);
        let wt = random_input(&[4, 3, kk, kk], Domain::Any, 32);
        let s = random_input(&[2, 3], Domain::Any, 33);
        let want = modconv_ref(&x, &wt, &s, demod, up);
        for place in [Place::Cpu64, Place::Gpu] {
            let _poison = sgw::gpu::set_poison(place == Place::Gpu);
            let p = |t: &Tensor| t.to_place(place);
            let y = modulated_conv2d(&p(&x), &p(&wt), &p(&s), demod, up);
            let f = if up { 2 } else { 1 };
            assert_eq!(y.shape(), [2, 4, 5 * f, 4 * f]);
            let e = Errors::of(&y.to_vec_f64(), &want, 1e-2);
            let tol = if place == Place::Cpu64 { 1e-12 } else { 1e-5 };
            assert!(
                e.max_rel < tol,
                "demod {demod} up {up} {kk}x{kk} {place:?}: {e}"
            );
        }
    }
}

/// Demodulation makes each output channel's weights unit norm per image: scaling an image's
/// styles, or the whole weight, changes nothing but the weight of the 1e-8 in the norm
/// (relative 1e-8 / |w s|^2, a few 1e-9 here).
#[test]
fn demodulation_cancels_style_and_weight_scale() {
    let x = random_input(&[2, 3, 5, 4], Domain::Any, 41);
    let wt = random_input(&[4, 3, 3, 3], Domain::Any, 42);
    let s = random_input(&[2, 3], Domain::Any, 43);
    let y = modulated_conv2d(&x, &wt, &s, true, false).to_vec_f64();
    let y2 = modulated_conv2d(&x, &(&wt * 3.0), &(&s * 0.25), true, false).to_vec_f64();
    let e = Errors::of(&y2, &y, 1e-2);
    assert!(e.max_rel < 1e-7, "{e}");
}

/// On meta tensors (memory planning) upfirdn2d and the modulated conv make shape-only
/// outputs of the right sizes, also through a gradient.
#[test]
fn meta_tensors_pass_through() {
    let meta = |s: &[usize]| random_input(s, Domain::Any, 5).to_place(Place::Meta);
    let x = meta(&[2, 3, 5, 4]).requires_grad_();
    let y = upfirdn2d(&x, &lopsided_fir(), 3, 2, [-2, 1, 3, -1], 1.0);
    assert_eq!((y.place(), y.shape()), (Place::Meta, &[2, 3, 8, 5][..]));
    let gx = sgw::grad(&[sgw::ops::sum_all(&y)], std::slice::from_ref(&x), false);
    assert_eq!((gx[0].place(), gx[0].shape()), (Place::Meta, x.shape()));
    let y = modulated_conv2d(&x, &meta(&[7, 3, 3, 3]), &meta(&[2, 3]), true, true);
    assert_eq!((y.place(), y.shape()), (Place::Meta, &[2, 7, 10, 8][..]));
}

/// PyTorch itself, where Python has torch: the official `upfirdn2d_ref` and the non-fused
/// `modulated_conv2d` (with `conv2d_resample`'s transposed-conv up path) transcribed in f64,
/// values and autograd gradients against ours. Skipped, with a notice, without torch.
#[test]
fn matches_pytorch_when_torch_is_installed() {
    if !common::has_torch() {
        println!("torch not installed: skipping the PyTorch upfirdn2d check");
        return;
    }
    let x = random_input(&[2, 3, 7, 5], Domain::Any, 51);
    let wt = random_input(&[4, 3, 3, 3], Domain::Any, 52);
    let s = random_input(&[2, 3], Domain::Any, 53);
    let mut words = [x.to_vec_f64(), wt.to_vec_f64(), s.to_vec_f64()].concat();
    let mut ours = Vec::new();
    let mut calls = String::new();
    for (i, (_, f, up, down, pad, gain)) in configs().into_iter().enumerate() {
        let xg = x.clone().requires_grad_();
        let y = upfirdn2d(&xg, &f, up, down, pad, gain);
        let g = random_input(y.shape(), Domain::Any, 60 + i as u64);
        let l = sgw::ops::sum_all(&(&y * &g));
        let gx = sgw::grad(&[l], std::slice::from_ref(&xg), false);
        ours.extend(y.to_vec_f64());
        ours.extend(gx[0].to_vec_f64());
        calls += &format!(
            "upfirdn_case({:?}, {}, {}, {}, {up}, {down}, {pad:?}, {gain}, {})\n",
            f.taps,
            f.fh,
            f.fw,
            words.len(),
            y.shape().iter().product::<usize>()
        );
        words.extend(g.to_vec_f64());
    }
    for (demod, up) in [(true, false), (true, true), (false, true)] {
        let ps: Vec<Tensor> = [&x, &wt, &s]
            .iter()
            .map(|t| (*t).clone().requires_grad_())
            .collect();
        let y = modulated_conv2d(&ps[0], &ps[1], &ps[2], demod, up);
        let g = random_input(y.shape(), Domain::Any, 70);
        let grads = sgw::grad(&[sgw::ops::sum_all(&(&y * &g))], &ps, false);
        ours.extend(y.to_vec_f64());
        for gr in &grads {
            ours.extend(gr.to_vec_f64());
        }
        calls += &format!(
            "modconv_case({}, {}, {}, {})\n",
            if demod { "True" } else { "False" },
            if up { "True" } else { "False" },
            words.len(),
            y.shape().iter().product::<usize>()
        );
        words.extend(g.to_vec_f64());
    }
    let dir = std::env::temp_dir().join(format!("sgw-upfirdn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.bin");
    std::fs::write(&input, bytemuck::cast_slice::<f64, u8>(&words)).unwrap();
    let script = format!(
        r#"import torch, torch.nn.functional as F
v = torch.frombuffer(bytearray(open({input:?}, 'rb').read()), dtype=torch.float64)
X = v[:210].reshape(2, 3, 7, 5)
WT = v[210:318].reshape(4, 3, 3, 3)
S = v[318:324].reshape(2, 3)
out = []
def upfirdn2d_ref(x, f, up, down, padding, gain):
    batch_size, num_channels, in_height, in_width = x.shape
    padx0, padx1, pady0, pady1 = padding
    x = x.reshape([batch_size, num_channels, in_height, 1, in_width, 1])
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
    x = x.reshape([batch_size, num_channels, in_height * up, in_width * up])
    x = F.pad(x, [max(padx0, 0), max(padx1, 0), max(pady0, 0), max(pady1, 0)])
    x = x[:, :, max(-pady0, 0) : x.shape[2] - max(-pady1, 0), max(-padx0, 0) : x.shape[3] - max(-padx1, 0)]
    f = f * (gain ** (f.ndim / 2))
    f = f.flip(list(range(f.ndim)))
    f = f[None, None].repeat([num_channels, 1] + [1] * f.ndim)
    x = F.conv2d(input=x, weight=f, groups=num_channels)
    return x[:, :, ::down, ::down]
def upfirdn_case(taps, fh, fw, at, up, down, pad, gain, size):
    x = X.clone().requires_grad_(True)
    f = torch.tensor(taps, dtype=torch.float64).reshape(fh, fw)
    y = upfirdn2d_ref(x, f, up, down, list(pad), gain)
    g = v[at:at + size].reshape(y.shape)
    gx, = torch.autograd.grad(y, x, g)
    out.extend([y.flatten(), gx.flatten()])
def modconv_case(demodulate, up, at, size):
    x, weight, styles = [t.clone().requires_grad_(True) for t in (X, WT, S)]
    n = x.shape[0]
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
    h = x * styles.reshape(n, -1, 1, 1)
    kw = weight.shape[3]
    if up:
        f = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
        f = torch.outer(f, f); f = f / f.sum()
        fw = f.shape[1]
        px0 = kw // 2 + (fw + 1) // 2 - (kw - 1)
        px1 = kw // 2 + (fw - 2) // 2 - (kw - 2)
        pxt = max(min(-px0, -px1), 0)
        h = F.conv_transpose2d(h, weight.transpose(0, 1).flip([2, 3]), stride=2, padding=pxt)
        h = upfirdn2d_ref(h, f, 1, 1, [px0 + pxt, px1 + pxt, px0 + pxt, px1 + pxt], 4)
    else:
        h = F.conv2d(h, weight, padding=kw // 2)
    if demodulate:
        h = h * dcoefs.reshape(n, -1, 1, 1)
    g = v[at:at + size].reshape(h.shape)
    grads = torch.autograd.grad(h, [x, weight, styles], g)
    out.extend([h.flatten()] + [t.flatten() for t in grads])
{calls}print('\n'.join('%.17g' % t for t in torch.cat(out).tolist()))
"#
    );
    let torch = common::python_f64s(&script);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(torch.len(), ours.len());
    let e = Errors::of(&ours, &torch, 1e-2);
    assert!(e.max_rel < 1e-12, "differs from PyTorch: {e}");
}
