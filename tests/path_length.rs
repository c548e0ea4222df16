//! StyleGAN2's path length regulariser (`train::path_length`) on a small generator-like
//! function img = sigmoid(sum_l w_l M_l): against an independent PyTorch f64 version written as
//! stylegan2-ada-pytorch's `loss.py` (styles as one [N, L, w_dim] tensor), against f64 finite
//! differences of its second-order gradient, and GPU f32 against CPU f64.

mod common;

use sgw::autograd::grad;
use sgw::check::gradcheck::numeric_grad;
use sgw::ops;
use sgw::train::path_length::{PathLength, PathLengthTerm};
use sgw::{Place, Tensor};

const N: usize = 3;
const L: usize = 2;
const D: usize = 4;
const H: usize = 2;
const W: usize = 3;

struct Inputs {
    ws: Vec<Vec<f64>>,
    ms: Vec<Vec<f64>>,
    noise: Vec<f64>,
    r: Vec<f64>,
    mean: f64,
}

fn inputs() -> Inputs {
    let draw = |shape: &[usize], block: u64| {
        ops::rand_normal(shape, 5, block << 32, 0.0, 1.0, Place::Cpu64).to_vec_f64()
    };
    Inputs {
        ws: (0..L).map(|l| draw(&[N, D], 1 + l as u64)).collect(),
        ms: (0..L).map(|l| draw(&[D, H * W], 10 + l as u64)).collect(),
        noise: draw(&[N, 1, H, W], 20),
        r: draw(&[N], 21),
        mean: 0.7,
    }
}

fn leaf(v: &[f64], shape: &[usize], place: Place) -> Tensor {
    Tensor::from_vec_f64(v.to_vec(), shape, Place::Cpu64)
        .to_place(place)
        .requires_grad_()
}

/// The regulariser's term for parameters `ms` at the fixed styles, noise and mean.
fn term(inp: &Inputs, ms: &[Tensor], place: Place) -> PathLengthTerm {
    let ws: Vec<Tensor> = inp.ws.iter().map(|w| leaf(w, &[N, D], place)).collect();
    let pre = ws
        .iter()
        .zip(ms)
        .map(|(w, m)| ops::matmul(w, m))
        .reduce(|a, b| &a + &b)
        .unwrap();
    let img = ops::reshape(&ops::sigmoid(&pre), &[N, 1, H, W]);
    let noise =
        Tensor::from_vec_f64(inp.noise.clone(), &[N, 1, H, W], Place::Cpu64).to_place(place);
    let mean = Tensor::from_vec_f64(vec![inp.mean], &[], Place::Cpu64).to_place(place);
    PathLength::default().term(&img, &ws, L, &noise, &mean)
}

fn weighted(inp: &Inputs, t: &PathLengthTerm, place: Place) -> Tensor {
    let r = Tensor::from_vec_f64(inp.r.clone(), &[N], Place::Cpu64).to_place(place);
    ops::sum_all(&(&t.penalty * &r))
}

/// penalty [N], lengths [N], new mean, then d sum(r * penalty) / d M_l for each l.
fn ours(inp: &Inputs, place: Place) -> Vec<f64> {
    let ms: Vec<Tensor> = inp.ms.iter().map(|m| leaf(m, &[D, H * W], place)).collect();
    let t = term(inp, &ms, place);
    let g = grad(&[weighted(inp, &t, place)], &ms, false);
    let mut out = t.penalty.to_vec_f64();
    out.extend(t.lengths.to_vec_f64());
    out.extend(t.mean.to_vec_f64());
    for gi in &g {
        out.extend(gi.to_vec_f64());
    }
    out
}

fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}[{i}]: {g} vs {w} (scale {scale})"
        );
    }
}

#[test]
fn matches_an_independent_pytorch_version_of_the_official_loss() {
    if !common::has_torch() {
        eprintln!("skipped: torch is not installed (pip install torch)");
        return;
    }
    let inp = inputs();
    let list = |v: &[f64]| format!("{v:?}");
    let script = format!(
        r#"
import torch
torch.set_default_dtype(torch.float64)
N, L, D, H, W = {N}, {L}, {D}, {H}, {W}
ws = torch.tensor([{ws0}, {ws1}]).reshape(L, N, D).permute(1, 0, 2).contiguous().requires_grad_()
Ms = [torch.tensor(m).reshape(D, H * W).requires_grad_() for m in [{m0}, {m1}]]
noise = torch.tensor({noise}).reshape(N, 1, H, W)
r = torch.tensor({r})
pl_mean = torch.tensor({mean})
img = torch.sigmoid(sum(ws[:, l] @ Ms[l] for l in range(L))).reshape(N, 1, H, W)
# stylegan2-ada-pytorch loss.py, phase Greg:
pl_noise = noise / (img.shape[2] * img.shape[3]) ** 0.5
pl_grads, = torch.autograd.grad(outputs=[(img * pl_noise).sum()], inputs=[ws], create_graph=True)
pl_lengths = pl_grads.square().sum(2).mean(1).sqrt()
pl_mean = pl_mean.lerp(pl_lengths.mean(), 0.01)
pl_penalty = (pl_lengths - pl_mean).square()
loss_Gpl = pl_penalty * 2.0
gM = torch.autograd.grad((loss_Gpl * r).sum(), Ms)
for t in [loss_Gpl, pl_lengths, pl_mean.reshape(1)] + list(gM):
    for v in t.detach().reshape(-1).tolist():
        print(repr(v))
"#,
        ws0 = list(&inp.ws[0]),
        ws1 = list(&inp.ws[1]),
        m0 = list(&inp.ms[0]),
        m1 = list(&inp.ms[1]),
        noise = list(&inp.noise),
        r = list(&inp.r),
        mean = inp.mean,
    );
    let torch = common::python_f64s(&script);
    close(&ours(&inp, Place::Cpu64), &torch, 1e-12, "ours vs torch");
}

#[test]
fn its_second_order_gradient_matches_finite_differences() {
    let inp = inputs();
    let loss = |ms: &[Tensor]| {
        let ms: Vec<Tensor> = ms.iter().map(|m| m.detach().requires_grad_()).collect();
        weighted(&inp, &term(&inp, &ms, Place::Cpu64), Place::Cpu64).item()
    };
    let ms: Vec<Tensor> = inp
        .ms
        .iter()
        .map(|m| Tensor::from_vec_f64(m.clone(), &[D, H * W], Place::Cpu64))
        .collect();
    let numeric: Vec<f64> = numeric_grad(&loss, &ms).concat();
    let analytic: Vec<f64> = ours(&inp, Place::Cpu64)[2 * N + 1..].to_vec();
    close(&analytic, &numeric, 1e-6, "analytic vs finite differences");
}

#[test]
fn gpu_f32_matches_the_cpu_f64_reference() {
    let inp = inputs();
    let want = ours(&inp, Place::Cpu64);
    let got = {
        let _poison = sgw::gpu::set_poison(true);
        ours(&inp, Place::Gpu)
    };
    // f32 through two backward passes of a small graph: a few ulps times the depth.
    close(&got, &want, 1e-4, "gpu vs cpu");
}
