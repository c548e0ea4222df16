//! A whole StyleGAN2 training step in f32 on the GPU against the CPU reference in f64: the
//! same perturbed weights and seeds, the augmentation on (fixed p), each phase's loss and
//! every parameter's gradient (D main, lazy R1, G main, lazy path length), then whole steps
//! (Adam, EMA, the path length mean) with and without the lazy phases.

mod common;

use sgw::check::Errors;
use sgw::train::{Loss, TrainConfig, Trainer};
use sgw::{ops, Place, Tensor};

const N: usize = 4;
const RES: usize = 8;

/// `common::stylegan2_8x8`, batch 4; R1 every 2 steps and the path length every
/// 3, so step 0 runs both lazy phases and step 1 neither. Augmentation fixed at p = 0.5, so
/// D's passes and G's backward go through the affine resample and the colour matrices.
fn config() -> TrainConfig {
    let mut cfg = TrainConfig::small();
    cfg.model = common::stylegan2_8x8();
    cfg.loss = Loss::LogisticR1;
    cfg.augment = "fixed:0.5".into();
    cfg.set_batch(N);
    cfg.kimg_per_phase = 0.1;
    cfg.r1_gamma = 3.0;
    cfg.stylegan2.r1_interval = 2;
    cfg.stylegan2.pl_interval = 3;
    cfg.style_mixing_prob = 0.5;
    cfg.seed = 7;
    cfg.validate().unwrap();
    cfg
}

/// f32 through two networks, a second-order gradient (R1; the path length's Jacobian-vector
/// product) and the parameter gradients: rounding compounds over ~100 ops, so the bound is
/// 1e-3 relative with a floor of 1% of each tensor's largest value (as the StyleGAN 1 step
/// test), not a single op's 1e-4.
const TOL: f64 = 1e-3;
const FLOOR: f64 = 1e-2;

fn close(what: &str, got: &Tensor, want: &Tensor) -> f64 {
    let e = Errors::of(&got.to_vec_f64(), &want.to_vec_f64(), FLOOR);
    assert!(e.max_rel < TOL, "{what}: {e}");
    e.max_rel
}

/// Every parameter's gradient, judged against the whole gradient's scale: the R1 and path
/// length gradients of some biases are cancellations (for layers after minibatch stddev,
/// whose R1 gradient is exactly 0: D is piecewise linear in them), tiny next to their
/// terms, and f32 rounds those terms at the scale of the whole gradient, not of the
/// cancelled result. Gives the worst relative error.
fn grads_close(what: &str, names: &[String], got: &[Tensor], want: &[Tensor]) -> f64 {
    assert_eq!(got.len(), names.len());
    assert_eq!(want.len(), names.len());
    let want: Vec<Vec<f64>> = want.iter().map(|w| w.to_vec_f64()).collect();
    let scale = want.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "{what}: a zero gradient would check nothing");
    let floor = FLOOR * scale;
    let mut worst: f64 = 0.0;
    let mut bad = Vec::new();
    for ((name, g), w) in names.iter().zip(got).zip(&want) {
        let g = g.to_vec_f64();
        assert_eq!(g.len(), w.len(), "{what}: {name}'s gradient size");
        let rel = g
            .iter()
            .zip(w)
            .map(|(g, w)| (g - w).abs() / (w.abs() + floor))
            .fold(
                0.0f64,
                |m, e| if e.is_nan() { f64::INFINITY } else { m.max(e) },
            );
        if rel >= TOL {
            bad.push(format!("{name}: rel {rel:.2e}"));
        }
        worst = worst.max(rel);
    }
    assert!(
        bad.is_empty(),
        "{what} gradients (scale {scale:.3e}): {bad:?}"
    );
    worst
}

fn trainers() -> (Trainer, Trainer) {
    let mut tc = Trainer::new(config(), Place::Cpu64);
    common::perturb(&mut tc.gp, 1);
    common::perturb(&mut tc.dp, 2);
    tc.g_ema = tc.gp.duplicate();
    let mut tg = Trainer::new(config(), Place::Gpu);
    tg.gp = tc.gp.to_place(Place::Gpu);
    tg.dp = tc.dp.to_place(Place::Gpu);
    tg.g_ema = tc.g_ema.to_place(Place::Gpu);
    (tg, tc)
}

#[test]
fn a_stylegan2_step_on_the_gpu_matches_the_cpu_reference() {
    let (mut tg, mut tc) = trainers();
    let pt = tc.point().unwrap();
    assert_eq!((pt.res, pt.fade), (RES, false));
    let reals = ops::rand_uniform(&[N, 3, RES, RES], 11, 0, -1.0, 1.0, Place::Cpu64);
    let gpu_reals = reals.to_gpu();
    let (dn, gn) = (tc.dp.names().to_vec(), tc.gp.names().to_vec());
    let mut worst = Vec::new();

    let (lg, gg) = tg.d_pass(&gpu_reals, &pt);
    let (lc, gc) = tc.d_pass(&reals, &pt);
    close("D main loss", &lg, &lc);
    worst.push(("D main", grads_close("D main", &dn, &gg, &gc)));

    let (lg, gg) = tg.r1_pass(&gpu_reals, 0, &pt);
    let (lc, gc) = tc.r1_pass(&reals, 0, &pt);
    assert!(lc.item() > 0.0, "a zero R1 would check nothing");
    close("R1 loss", &lg, &lc);
    worst.push(("R1", grads_close("R1", &dn, &gg, &gc)));

    let (lg, gg, _) = tg.g_pass(N, &pt);
    let (lc, gc, _) = tc.g_pass(N, &pt);
    close("G main loss", &lg, &lc);
    worst.push(("G main", grads_close("G main", &gn, &gg, &gc)));

    let half = N / tc.cfg.stylegan2.pl_batch_shrink;
    let (lg, gg, mg) = tg.pl_pass(0..half, &pt);
    let (lc, gc, mc) = tc.pl_pass(0..half, &pt);
    assert!(
        lc.item() > 0.0,
        "a zero path length penalty would check nothing"
    );
    close("path length loss", &lg, &lc);
    close("path length mean", &mg, &mc);
    worst.push(("path length", grads_close("path length", &gn, &gg, &gc)));
    println!("worst relative gradient errors: {worst:?}");

    // Whole steps: step 0 runs D main, R1, G main and the path length; step 1 only the main
    // phases. Adam's first step moves each weight by about lr whatever its gradient's size,
    // so the weights are compared, not just the losses.
    for s in 0..2u64 {
        let x = ops::rand_uniform(&[N, 3, RES, RES], 20 + s, 0, -1.0, 1.0, Place::Cpu64);
        let rg = tg.step(&x.to_gpu()).unwrap();
        let rc = tc.step(&x).unwrap();
        close(&format!("step {s} D loss"), &rg.d_loss, &rc.d_loss);
        close(&format!("step {s} G loss"), &rg.g_loss, &rc.g_loss);
        close(&format!("step {s} G"), &tg.gp.flat(), &tc.gp.flat());
        close(&format!("step {s} D"), &tg.dp.flat(), &tc.dp.flat());
        close(
            &format!("step {s} G_ema"),
            &tg.g_ema.flat(),
            &tc.g_ema.flat(),
        );
        close(
            &format!("step {s} path length mean"),
            &tg.pl_mean,
            &tc.pl_mean,
        );
    }
    assert_eq!(tc.adam_d.t, 3, "D main + R1 at step 0, D main at step 1");
    assert_eq!(
        tc.adam_g.t, 3,
        "G main + path length at step 0, G main at step 1"
    );
}
