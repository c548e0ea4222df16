//! StyleGAN2's networks (issue 14): `Generator2` and `Discriminator2` on a tiny 16x16 model
//! with perturbed parameters (so biases, noise strengths and every branch count), against
//! an independent PyTorch f64 re-implementation of stylegan2-ada-pytorch's `networks.py`
//! (values of G's image and D's score, gradients of a weighted sum of D(G(z)) w.r.t. every
//! parameter and both latents, through style mixing, truncation and noise); the GPU's f32
//! forward against the CPU's f64; R1's second-order gradient on both devices.

mod common;

use sgw::check::{random_input, weights_like, Domain, Errors};
use sgw::nn::stylegan2::{Discriminator2, Generator2};
use sgw::nn::{ModelConfig, NoiseMode};
use sgw::params::ParamGroup;
use sgw::{ops, Place, Tensor};

const N: usize = 4;
const NOISE: NoiseMode = NoiseMode::Random {
    seed: 7,
    step: 3,
    first: 0,
};

/// 16x16, 3 channels, nf 8 / 8 / 4 at 4 / 8 / 16, mapping of 3 layers, z 8, w 6;
/// minibatch-stddev groups of 2 (two groups in a batch of 4); the mapping's lr multiplier
/// is the default 0.01.
fn cfg() -> ModelConfig {
    ModelConfig {
        z_dim: 8,
        w_dim: 6,
        mapping_layers: 3,
        fmap_base: 64,
        fmap_max: 8,
        channels: 3,
        start_res: 16,
        max_res: 16,
        mbstd_group: 2,
        ..ModelConfig::default()
    }
}

/// Every parameter plus 0.3 U(-1, 1): zero-initialised biases and noise strengths matter.
fn perturbed(mut p: ParamGroup, seed: u64) -> ParamGroup {
    for i in 0..p.len() {
        let r = random_input(p.get(i).shape(), Domain::Any, seed * 1000 + i as u64);
        let v = &p.get(i).to_place(Place::Cpu64) + &ops::mul_scalar(&r, 0.3);
        p.set(i, &v);
    }
    p
}

struct Nets {
    g: Generator2,
    gp: ParamGroup,
    d: Discriminator2,
    dp: ParamGroup,
}

fn nets(place: Place) -> Nets {
    let (g, gp) = Generator2::build(&cfg(), 11, Place::Cpu64);
    let (d, dp) = Discriminator2::build(&cfg(), 12, Place::Cpu64);
    let (gp, dp) = (perturbed(gp, 1), perturbed(dp, 2));
    Nets {
        g,
        gp: gp.to_place(place),
        d,
        dp: dp.to_place(place),
    }
}

/// The style inputs the tests use: w of z1 for the first 3 inputs, of z2 for the rest, then
/// truncated towards `w_avg` with psi 0.7 on the first 2.
fn styles(n: &Nets, z1: &Tensor, z2: &Tensor, w_avg: &Tensor) -> Vec<Tensor> {
    let w1 = n.g.mapping(&n.gp, z1);
    let w2 = n.g.mapping(&n.gp, z2);
    n.g.truncate(&n.g.mix_styles(&w1, &w2, 3), w_avg, 0.7, 2)
}

fn latents(place: Place) -> [Tensor; 3] {
    let c = cfg();
    [
        random_input(&[N, c.z_dim], Domain::Any, 21).to_place(place),
        random_input(&[N, c.z_dim], Domain::Any, 22).to_place(place),
        random_input(&[c.w_dim], Domain::Any, 23).to_place(place),
    ]
}

#[test]
fn shapes_names_and_style_count() {
    let n = nets(Place::Cpu64);
    let c = cfg();
    assert_eq!(n.g.num_ws(), 6);
    assert_eq!(n.g.num_conv_layers(), 5);
    let [z1, z2, w_avg] = latents(Place::Cpu64);
    let img = n.g.synthesis(&n.gp, &styles(&n, &z1, &z2, &w_avg), NOISE);
    assert_eq!(img.shape(), [N, 3, 16, 16]);
    assert_eq!(n.d.forward(&n.dp, &img).shape(), [N, 1]);
    let shape = |p: &ParamGroup, s: &str| p.get(p.index(s).unwrap()).shape().to_vec();
    assert_eq!(shape(&n.gp, "g.synthesis.b4.const"), [1, c.nf(4), 4, 4]);
    assert_eq!(shape(&n.gp, "g.synthesis.b16.conv0.weight"), [4, 8, 3, 3]);
    assert_eq!(shape(&n.gp, "g.synthesis.b16.conv0.affine.weight"), [8, 6]);
    assert_eq!(shape(&n.gp, "g.synthesis.b8.conv1.noise_strength"), [1]);
    assert_eq!(shape(&n.gp, "g.synthesis.b16.torgb.weight"), [3, 4, 1, 1]);
    assert_eq!(shape(&n.dp, "d.b16.fromrgb.weight"), [4, 3, 1, 1]);
    assert_eq!(shape(&n.dp, "d.b16.skip.weight"), [8, 4, 1, 1]);
    assert!(n.dp.index("d.b16.skip.bias").is_none());
    assert_eq!(shape(&n.dp, "d.b4.fc.weight"), [8, 8 * 16]);
    assert_eq!(shape(&n.dp, "d.b4.out.weight"), [1, 8]);
    // Initial values as official: affine biases 1, noise strengths 0.
    let (_, fresh) = Generator2::build(&c, 11, Place::Cpu64);
    let value = |s: &str| fresh.get(fresh.index(s).unwrap()).to_vec_f64();
    assert!(value("g.synthesis.b8.conv0.affine.bias")
        .iter()
        .all(|&v| v == 1.0));
    assert_eq!(value("g.synthesis.b8.conv0.noise_strength"), [0.0]);
}

/// Noise: None and a zero strength agree; Const is one map shared by every image.
#[test]
fn noise_modes() {
    let n = nets(Place::Cpu64);
    let [z1, ..] = latents(Place::Cpu64);
    let w =
        n.g.mapping(&n.gp, &ops::concat(&[z1.clone(), z1.clone()], 0));
    let ws = n.g.broadcast_styles(&w);
    let img =
        n.g.synthesis(&n.gp, &ws, NoiseMode::Const { seed: 5 })
            .to_vec_f64();
    let half = img.len() / 2;
    assert_eq!(img[..half], img[half..]);
    let random = n.g.synthesis(&n.gp, &ws, NOISE).to_vec_f64();
    assert_ne!(random[..half], random[half..]);
    let none = n.g.synthesis(&n.gp, &ws, NoiseMode::None).to_vec_f64();
    assert_ne!(none, random);
}

/// (name, offset, shape) of every parameter as a Python list, and the values appended.
fn py_params(p: &ParamGroup, words: &mut Vec<f64>) -> String {
    let mut s = String::from("[");
    for (i, name) in p.names().iter().enumerate() {
        s += &format!("({name:?}, {}, {:?}), ", words.len(), p.get(i).shape());
        words.extend(p.get(i).to_vec_f64());
    }
    s + "]"
}

/// PyTorch itself, where Python has torch: G and D re-implemented in f64 from the official
/// `networks.py` math in `tools/stylegan2_torch.py` (fused, grouped modulated conv;
/// `conv2d_resample` with its transposed and strided convs; `bias_act`;
/// `MinibatchStdLayer`), fed our parameters by name (the one
/// convention mapped: our upsampling convs' weights are the official ones mirrored, see
/// `nn::stylegan2::generator`). Skipped, with a notice, without torch.
#[test]
fn matches_pytorch_when_torch_is_installed() {
    if !common::has_torch() {
        println!("torch not installed: skipping the PyTorch StyleGAN2 network check");
        return;
    }
    let n = nets(Place::Cpu64);
    let c = cfg();
    let [z1, z2, w_avg] = latents(Place::Cpu64);
    let (z1, z2) = (z1.requires_grad_(), z2.requires_grad_());
    let img = n.g.synthesis(&n.gp, &styles(&n, &z1, &z2, &w_avg), NOISE);
    let score = n.d.forward(&n.dp, &img);
    let gw = weights_like(&score, 31);
    let mut inputs: Vec<Tensor> = n.gp.params().to_vec();
    inputs.extend(n.dp.params().iter().cloned());
    inputs.extend([z1.clone(), z2.clone()]);
    let grads = sgw::grad(&[ops::sum_all(&(&score * &gw))], &inputs, false);
    let mut ours = [img.to_vec_f64(), score.to_vec_f64()].concat();
    for g in &grads {
        ours.extend(g.to_vec_f64());
    }

    let mut words = Vec::new();
    let gparams = py_params(&n.gp, &mut words);
    let dparams = py_params(&n.dp, &mut words);
    let at = words.len();
    for t in [&z1, &z2, &w_avg, &gw] {
        words.extend(t.to_vec_f64());
    }
    let noise_at = words.len();
    for j in 0..n.g.num_conv_layers() {
        let r = 4 << j.div_ceil(2);
        let NoiseMode::Random { seed, step, .. } = NOISE else {
            unreachable!()
        };
        words.extend(
            ops::noise_map_rows(0..N, (r, r), seed, step, j as u32, Place::Cpu64).to_vec_f64(),
        );
    }
    let dir = common::scratch("stylegan2-nets");
    let input = dir.join("in.bin");
    std::fs::write(&input, bytemuck::cast_slice::<f64, u8>(&words)).unwrap();
    let script = format!(
        "N, ZD, WD, C, RES, LR, MBSTD = {N}, {}, {}, {}, {}, {}, {}\n\
         GPARAMS = {gparams}\nDPARAMS = {dparams}\nAT, NOISE_AT = {at}, {noise_at}\n\
         TOOLS = {:?}\nV = open({input:?}, 'rb').read()\n{}",
        c.z_dim,
        c.w_dim,
        c.channels,
        c.max_res,
        c.mapping_lr_mul,
        c.mbstd_group,
        concat!(env!("CARGO_MANIFEST_DIR"), "/tools"),
        include_str!("stylegan2_nets.py")
    );
    let torch = common::python_f64s(&script);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(torch.len(), ours.len());
    // Per part: G's image, D's score, each gradient.
    let mut parts = vec![("image", img.numel()), ("score", N)];
    let names = n.gp.names().iter().chain(n.dp.names());
    for (name, g) in names.map(String::as_str).chain(["z1", "z2"]).zip(&grads) {
        parts.push((name, g.numel()));
    }
    let (mut start, mut worst) = (0, Errors::default());
    for (name, len) in parts {
        let e = Errors::of(&ours[start..start + len], &torch[start..start + len], 1e-3);
        assert!(e.max_rel < 1e-10, "{name} differs from PyTorch: {e}");
        worst = worst.max(e);
        start += len;
    }
    println!("StyleGAN2 G and D against PyTorch (f64): {worst}");
}

/// The GPU's f32 forward (the software adapter where there is no other) against the CPU's
/// f64, G's image and D's score, with NaN-poisoned buffers.
#[test]
fn gpu_forward_matches_cpu() {
    let run = |place: Place| {
        let n = nets(place);
        let _poison = sgw::gpu::set_poison(place == Place::Gpu);
        let [z1, z2, w_avg] = latents(place);
        let img = n.g.synthesis(&n.gp, &styles(&n, &z1, &z2, &w_avg), NOISE);
        let score = n.d.forward(&n.dp, &img);
        (img.to_vec_f64(), score.to_vec_f64())
    };
    let (cpu_img, cpu_score) = run(Place::Cpu64);
    let (gpu_img, gpu_score) = run(Place::Gpu);
    let e_img = Errors::of(&gpu_img, &cpu_img, 1e-3);
    let e_score = Errors::of(&gpu_score, &cpu_score, 1e-3);
    println!("GPU f32 against CPU f64: image {e_img}, score {e_score}");
    assert!(e_img.max_rel < 1e-4, "image: {e_img}");
    assert!(e_score.max_rel < 1e-4, "score: {e_score}");
}

/// R1 = sum((d sum D(x) / d x)^2) and its gradient w.r.t. D's parameters (second order,
/// through the strided down-convs, the FIR filters and minibatch stddev).
fn r1(n: &Nets, place: Place) -> (f64, Vec<Tensor>) {
    let reals = random_input(&[N, 3, 16, 16], Domain::Any, 41)
        .to_place(place)
        .requires_grad_();
    let score = n.d.forward(&n.dp, &reals);
    let g = sgw::grad(&[ops::sum_all(&score)], std::slice::from_ref(&reals), true);
    let penalty = ops::sum_all(&ops::square(&g[0]));
    let grads = sgw::grad(std::slice::from_ref(&penalty), n.dp.params(), false);
    (penalty.to_vec_f64()[0], grads)
}

/// A gradient along a random direction (seeded `seed`) in every parameter of one group of
/// `n`, and the central difference of `value` along it with step `eps`: (gradient, difference).
fn along_a_direction(
    n: &mut Nets,
    group: fn(&mut Nets) -> &mut ParamGroup,
    grads: &[Tensor],
    seed: u64,
    eps: f64,
    value: impl Fn(&Nets) -> f64,
) -> (f64, f64) {
    let p = group(n);
    let dirs: Vec<Tensor> = (0..p.len())
        .map(|i| random_input(p.get(i).shape(), Domain::Any, seed + i as u64))
        .collect();
    let along: f64 = grads
        .iter()
        .zip(&dirs)
        .map(|(g, d)| ops::sum_all(&(g * d)).to_vec_f64()[0])
        .sum();
    let base: Vec<Tensor> = p.params().iter().map(|t| t.detach()).collect();
    let mut at = |s: f64| {
        let p = group(n);
        for (i, (b, d)) in base.iter().zip(&dirs).enumerate() {
            p.set(i, &(b + &ops::mul_scalar(d, s)));
        }
        value(n)
    };
    (along, (at(eps) - at(-eps)) / (2.0 * eps))
}

/// R1's parameter gradient on the CPU (f64) against a central difference along a random
/// direction in every parameter of D; on the GPU finite and close to the CPU's.
#[test]
fn r1_second_order_on_both_devices() {
    let mut n = nets(Place::Cpu64);
    let (penalty, grads) = r1(&n, Place::Cpu64);
    assert!(penalty.is_finite() && penalty > 0.0);
    let (along, fd) = along_a_direction(
        &mut n,
        |n| &mut n.dp,
        &grads,
        500,
        1e-5,
        |n| r1(n, Place::Cpu64).0,
    );
    let rel = (fd - along).abs() / along.abs();
    println!(
        "R1 gradient along a direction: {along:.9e}, central difference {fd:.9e} (rel {rel:.1e})"
    );
    assert!(rel < 1e-6, "R1 gradient {along} vs finite difference {fd}");

    let cpu = nets(Place::Cpu64);
    let (cpu_pen, cpu_grads) = r1(&cpu, Place::Cpu64);
    let gpu = nets(Place::Gpu);
    let (gpu_pen, gpu_grads) = r1(&gpu, Place::Gpu);
    assert!(gpu_pen.is_finite());
    let flat = |gs: &[Tensor]| gs.iter().flat_map(|g| g.to_vec_f64()).collect::<Vec<f64>>();
    let (gg, cg) = (flat(&gpu_grads), flat(&cpu_grads));
    assert!(
        gg.iter().all(|v| v.is_finite()),
        "GPU R1 gradient not finite"
    );
    let e_pen = Errors::of(&[gpu_pen], &[cpu_pen], 0.0);
    let e = Errors::of(&gg, &cg, 1e-3);
    println!("R1 GPU against CPU: penalty {e_pen}, gradient {e}");
    assert!(
        e_pen.max_rel < 1e-4 && e.max_rel < 1e-3,
        "penalty {e_pen}, gradient {e}"
    );
}

/// Path length's core: J = sum_i |d sum(G(ws) * y) / d ws_i|^2 and its gradient w.r.t. G's
/// parameters (second order through the modulated convs, the noise epilogue and the FIR
/// upsampling of the skip images).
fn path_length(n: &Nets, place: Place) -> (f64, Vec<Tensor>) {
    let ws: Vec<Tensor> = (0..n.g.num_ws())
        .map(|i| {
            random_input(&[N, cfg().w_dim], Domain::Any, 60 + i as u64)
                .to_place(place)
                .requires_grad_()
        })
        .collect();
    let img = n.g.synthesis(&n.gp, &ws, NOISE);
    let y = weights_like(&img, 61);
    let g = sgw::grad(&[ops::sum_all(&(&img * &y))], &ws, true);
    let j = g
        .iter()
        .map(|g| ops::sum_all(&ops::square(g)))
        .reduce(|a, b| &a + &b)
        .unwrap();
    let grads = sgw::grad(std::slice::from_ref(&j), n.gp.params(), false);
    (j.to_vec_f64()[0], grads)
}

/// The path-length term's parameter gradient on the CPU against a central difference along
/// a random direction in every parameter of G; on the GPU finite and close to the CPU's.
#[test]
fn path_length_second_order_on_both_devices() {
    let mut n = nets(Place::Cpu64);
    let (_, grads) = path_length(&n, Place::Cpu64);
    let (along, fd) = along_a_direction(
        &mut n,
        |n| &mut n.gp,
        &grads,
        700,
        1e-6,
        |n| path_length(n, Place::Cpu64).0,
    );
    let rel = (fd - along).abs() / along.abs();
    println!("path length gradient along a direction: {along:.9e}, central difference {fd:.9e} (rel {rel:.1e})");
    assert!(rel < 1e-6, "gradient {along} vs finite difference {fd}");

    let (cpu_j, cpu_grads) = path_length(&nets(Place::Cpu64), Place::Cpu64);
    let (gpu_j, gpu_grads) = path_length(&nets(Place::Gpu), Place::Gpu);
    let flat = |gs: &[Tensor]| gs.iter().flat_map(|g| g.to_vec_f64()).collect::<Vec<f64>>();
    let (gg, cg) = (flat(&gpu_grads), flat(&cpu_grads));
    assert!(gg.iter().all(|v| v.is_finite()), "GPU gradient not finite");
    let e_j = Errors::of(&[gpu_j], &[cpu_j], 0.0);
    let e = Errors::of(&gg, &cg, 1e-3);
    println!("path length GPU against CPU: value {e_j}, gradient {e}");
    assert!(
        e_j.max_rel < 1e-4 && e.max_rel < 1e-3,
        "value {e_j}, gradient {e}"
    );
}

/// On meta tensors (memory planning) G, D and R1 make shape-only tensors of the right sizes.
#[test]
fn meta_tensors_pass_through() {
    let n = nets(Place::Meta);
    let [z1, z2, w_avg] = latents(Place::Meta);
    let img = n.g.synthesis(&n.gp, &styles(&n, &z1, &z2, &w_avg), NOISE);
    assert_eq!(
        (img.place(), img.shape()),
        (Place::Meta, &[N, 3, 16, 16][..])
    );
    let (_, grads) = r1(&n, Place::Meta);
    for (g, p) in grads.iter().zip(n.dp.params()) {
        assert_eq!((g.place(), g.shape()), (Place::Meta, p.shape()));
    }
}
