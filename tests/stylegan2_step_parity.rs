//! Whole StyleGAN2 training steps (issue 14): four `Trainer::step`s of a tiny 8x8 model on
//! the CPU reference (f64) against an independent PyTorch f64 re-implementation of
//! stylegan2-ada-pytorch's `training_loop.py` + `loss.py` (StyleGAN2Loss's Dmain, Dreg,
//! Gmain and Greg phases, lazy regularisation with its optimiser scaling) and the networks
//! of `networks.py` (`stylegan2_step_parity.py`). R1 every 2 steps and path length every 3,
//! so the steps run both regularisers (step 0), neither (1), R1 alone (2) and path length
//! alone (3). Both sides start from the same perturbed parameters and take the same
//! latents, style-mixing decisions, noise maps, path-length directions and reals (drawn
//! here the way the trainer draws them, keyed by (seed, step), and passed to the script).
//! After the steps every G, D and G_ema parameter, both Adams' moments, w_avg and the
//! path-length mean agree to 1e-10 relative, and so do the main losses of every step.

mod common;

use sgw::check::Errors;
use sgw::params::ParamGroup;
use sgw::train::trainer::hash;
use sgw::train::{Loss, TrainConfig, Trainer};
use sgw::{ops, Place, Tensor};

const N: usize = 4;
const RES: usize = 8;
const STEPS: u64 = 4;

/// The trainer's Philox keys and the path length step's latent purpose (private constants
/// of `train::trainer` and `train::lazy_reg`, copied: if they change, this test's draws no
/// longer match the step's and the parity fails at the first phase).
const NOISE_KEY: u64 = 0x5eed_0015_e000_0002;
const PL_NOISE_KEY: u64 = 0x5eed_9a7b_0000_0003;
const PL_DIRECTION_KEY: u64 = 0x5eed_d1ec_0000_0004;
const PL_PURPOSE: u64 = 6;

/// 8x8 RGB, nf 8 / 4 at 4 / 8, a mapping of 2 layers, z 8, w 6, batch 4 (minibatch-stddev
/// groups of 2). Not the official values where those would hide a mistake: beta1 0.5 (so
/// beta1^c and its bias correction count), a path length decay of 0.1, an EMA half-life of
/// 10 images and a w_avg beta of 0.9 (so one step moves them visibly), lr 0.01.
fn config() -> TrainConfig {
    let mut cfg = TrainConfig::small();
    cfg.model = common::stylegan2_8x8();
    cfg.loss = Loss::LogisticR1;
    cfg.augment = "none".into();
    cfg.set_batch(N);
    cfg.set_lr(0.01);
    cfg.kimg_per_phase = 0.1;
    cfg.beta1 = 0.5;
    cfg.beta2 = 0.99;
    cfg.r1_gamma = 3.0;
    cfg.stylegan2.r1_interval = 2;
    cfg.stylegan2.pl_interval = 3;
    cfg.stylegan2.pl_weight = 2.0;
    cfg.stylegan2.pl_batch_shrink = 2;
    cfg.stylegan2.pl_decay = 0.1;
    cfg.style_mixing_prob = 0.5;
    cfg.ema_half_life_kimg = 0.01;
    cfg.w_avg_beta = 0.9;
    cfg.seed = 5;
    cfg.validate().unwrap();
    cfg
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

/// The style-mixing crossover of (step, purpose) as `Trainer::styles` decides it, in the
/// official form: ws[:, cutoff:] come from the second latent; num_ws when no mixing.
fn cutoff(t: &Trainer, step: u64, purpose: u64) -> usize {
    let layers = t.g.layers_at(RES);
    let unit = (hash(t.cfg.seed, step, purpose) >> 11) as f64 / (1u64 << 53) as f64;
    if unit < t.cfg.style_mixing_prob {
        1 + (hash(t.cfg.seed, step, purpose + 1) % (layers as u64 - 1)) as usize
    } else {
        layers
    }
}

/// Appends one phase's draws (its latents z, the mixing latents z2 and a noise map per conv
/// layer, for `n` images) and returns where they start.
fn phase_draws(
    t: &Trainer,
    words: &mut Vec<f64>,
    n: usize,
    step: u64,
    purpose: u64,
    noise: (u64, u64),
) -> usize {
    let at = words.len();
    words.extend(t.latents(n, step, purpose).to_vec_f64());
    words.extend(t.latents(n, step, purpose + 1).to_vec_f64());
    let layers = match &t.g {
        sgw::nn::GenNet::V2(g) => g.num_conv_layers(),
        sgw::nn::GenNet::V1(_) => unreachable!("a StyleGAN2 trainer"),
    };
    for j in 0..layers {
        let r = 4 << j.div_ceil(2);
        let map = ops::noise_map_rows(0..n, (r, r), noise.0, noise.1, j as u32, Place::Cpu64);
        words.extend(map.to_vec_f64());
    }
    at
}

/// One parameter group's values in parameter order (no layout padding), from a flat tensor
/// in the group's layout (Adam's moments).
fn unflatten(p: &ParamGroup, flat: &Tensor) -> Vec<f64> {
    let flat = flat.to_vec_f64();
    (0..p.len())
        .flat_map(|i| flat[p.offset(i)..p.offset(i) + p.get(i).numel()].to_vec())
        .collect()
}

#[test]
fn stylegan2_steps_match_pytorch_when_torch_is_installed() {
    if !common::has_torch() {
        println!("torch not installed: skipping the PyTorch StyleGAN2 training step check");
        return;
    }
    let cfg = config();
    let mut t = Trainer::new(cfg.clone(), Place::Cpu64);
    common::perturb(&mut t.gp, 1);
    common::perturb(&mut t.dp, 2);
    t.g_ema = t.gp.duplicate();

    let mut words = Vec::new();
    let gparams = py_params(&t.gp, &mut words);
    let dparams = py_params(&t.dp, &mut words);
    let seed = cfg.seed;
    let mut steps = String::from("[");
    let mut reals = Vec::new();
    for s in 0..STEPS {
        let x = ops::rand_uniform(&[N, 3, RES, RES], 100 + s, 0, -1.0, 1.0, Place::Cpu64);
        let reals_at = words.len();
        words.extend(x.to_vec_f64());
        reals.push(x);
        // D main: purposes 0 (and 1), noise pass 0; G main: 3 (4), pass 1; path length: its
        // own purpose, noise and directions, on batch / pl_batch_shrink.
        let d_at = phase_draws(&t, &mut words, N, s, 0, (seed ^ NOISE_KEY, 2 * s));
        let g_at = phase_draws(&t, &mut words, N, s, 3, (seed ^ NOISE_KEY, 2 * s + 1));
        let n_pl = N / cfg.stylegan2.pl_batch_shrink;
        let pl_at = phase_draws(
            &t,
            &mut words,
            n_pl,
            s,
            PL_PURPOSE,
            (seed ^ PL_NOISE_KEY, s),
        );
        let dir = ops::rand_normal(
            &[n_pl, 3, RES, RES],
            seed ^ PL_DIRECTION_KEY,
            s << 32,
            0.0,
            1.0,
            Place::Cpu64,
        );
        words.extend(dir.to_vec_f64());
        steps += &format!(
            "({reals_at}, {d_at}, {}, {g_at}, {}, {pl_at}, {}), ",
            cutoff(&t, s, 0),
            cutoff(&t, s, 3),
            cutoff(&t, s, PL_PURPOSE)
        );
    }
    steps += "]";
    println!("steps (reals, D at, cutoff, G at, cutoff, PL at, cutoff): {steps}");

    let mut losses = Vec::new();
    for x in &reals {
        let rec = t.step(x).expect("the schedule runs these steps");
        losses.extend([rec.d_loss.item(), rec.g_loss.item()]);
    }
    assert_eq!(t.progress.step, STEPS);
    let (r1_steps, pl_steps) = (STEPS.div_ceil(2), STEPS.div_ceil(3));
    assert_eq!(t.adam_d.t, STEPS + r1_steps, "D main steps + R1 steps");
    assert_eq!(
        t.adam_g.t,
        STEPS + pl_steps,
        "G main steps + path length steps"
    );

    let mut ours = losses.clone();
    let mut parts = vec![("main losses (D, G per step)".to_string(), losses.len())];
    for (label, p) in [("G", &t.gp), ("D", &t.dp), ("G_ema", &t.g_ema)] {
        for (i, name) in p.names().iter().enumerate() {
            ours.extend(p.get(i).to_vec_f64());
            parts.push((format!("{label} {name}"), p.get(i).numel()));
        }
    }
    for (label, p, adam) in [("G", &t.gp, &t.adam_g), ("D", &t.dp, &t.adam_d)] {
        let (m, v) = adam.moments();
        for (moment, flat) in [("m", m), ("v", v)] {
            ours.extend(unflatten(p, flat));
            for (i, name) in p.names().iter().enumerate() {
                parts.push((format!("Adam {label} {moment} {name}"), p.get(i).numel()));
            }
        }
    }
    ours.extend(t.w_avg.to_vec_f64());
    parts.push(("w_avg".into(), cfg.model.w_dim));
    ours.push(t.pl_mean.item());
    parts.push(("pl_mean".into(), 1));

    let dir = common::scratch("stylegan2-step-parity");
    let input = dir.join("in.bin");
    std::fs::write(&input, bytemuck::cast_slice::<f64, u8>(&words)).unwrap();
    let c = &cfg.model;
    let r = &cfg.stylegan2;
    let script = format!(
        "N, ZD, WD, C, RES, LR_MUL, MBSTD = {N}, {}, {}, {}, {RES}, {:?}, {}\n\
         LR, BETA1, BETA2, EPS = {:?}, {:?}, {:?}, 1e-8\n\
         R1_GAMMA, R1_INTERVAL = {:?}, {}\n\
         PL_WEIGHT, PL_INTERVAL, PL_BATCH_SHRINK, PL_DECAY = {:?}, {}, {}, {:?}\n\
         EMA_HALF_LIFE_KIMG, W_AVG_BETA = {:?}, {:?}\n\
         GPARAMS = {gparams}\nDPARAMS = {dparams}\nSTEPS = {steps}\n\
         FMAP_BASE, FMAP_MAX, MAPPING_LAYERS = {}, {}, {}\nTOOLS = {:?}\n\
         V = open({input:?}, 'rb').read()\n{}",
        c.z_dim,
        c.w_dim,
        c.channels,
        c.mapping_lr_mul,
        c.mbstd_group,
        cfg.lr_at(RES),
        cfg.beta1,
        cfg.beta2,
        cfg.r1_gamma,
        r.r1_interval,
        r.pl_weight,
        r.pl_interval,
        r.pl_batch_shrink,
        r.pl_decay,
        cfg.ema_half_life_kimg,
        cfg.w_avg_beta,
        c.fmap_base,
        c.fmap_max,
        c.mapping_layers,
        concat!(env!("CARGO_MANIFEST_DIR"), "/tools"),
        include_str!("stylegan2_step_parity.py")
    );
    let torch = common::python_f64s(&script);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(torch.len(), ours.len());

    let (mut start, mut worst) = (0, Errors::default());
    let mut failures = Vec::new();
    for (name, len) in &parts {
        let e = Errors::of(&ours[start..start + len], &torch[start..start + len], 1e-3);
        // A NaN on either side shows as an infinite absolute error.
        if e.max_rel >= 1e-10 || !e.max_abs.is_finite() {
            failures.push(format!("{name}: {e}"));
        }
        worst = worst.max(e);
        start += len;
    }
    assert!(
        failures.is_empty(),
        "{} of {} parts differ from PyTorch:\n{}\nlosses ours {:?}\nlosses torch {:?}",
        failures.len(),
        parts.len(),
        failures.join("\n"),
        &ours[..losses.len()],
        &torch[..losses.len()]
    );
    println!(
        "{STEPS} StyleGAN2 training steps against PyTorch (f64), {} numbers: {worst}",
        ours.len()
    );
}
