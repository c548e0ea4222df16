//! Gradient accumulation (`--accumulate K`): K = 1 is the step as it was before accumulation
//! existed, bit for bit; K micro-batches give the same step as one batch to f64 rounding
//! when the minibatch-stddev groups are the same; a batch K does not divide is refused
//! before any work; a run with accumulation resumes exactly. K micro-batches are the
//! single-process reference of K data-parallel ranks.

mod common;

use std::fs;
use std::path::Path;

use common::{losses, scratch};
use sgw::train::device::DeviceChoice;
use sgw::train::run::{train, TrainArgs};
use sgw::train::{Loss, TrainConfig, Trainer};
use sgw::Place;

/// The tiny model of `common::tiny`, with batch 8 so that it splits in 2 and 4.
fn tiny(loss: Loss, accumulate: usize) -> TrainConfig {
    let mut c = TrainConfig::small();
    c.model.z_dim = 16;
    c.model.w_dim = 16;
    c.model.mapping_layers = 2;
    c.model.fmap_base = 32;
    c.model.fmap_max = 8;
    c.model.max_res = 8;
    c.set_batch(8);
    c.kimg_per_phase = 0.016;
    c.loss = loss;
    c.accumulate = accumulate;
    c.validate().unwrap();
    c
}

/// A trainer (f64 CPU reference) at the 8x8 fade-in, so the blends are exercised.
fn at_fade(cfg: TrainConfig) -> Trainer {
    let mut t = Trainer::new(cfg, Place::Cpu64);
    t.progress.images = 24;
    t.progress.phase = 1;
    t
}

fn reals(step: u64) -> sgw::Tensor {
    sgw::ops::rand_uniform(&[8, 1, 8, 8], 9 + step, 0, -1.0, 1.0, Place::Cpu64)
}

/// FNV-1a over the bits of the values.
fn fnv(v: &[f64]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for x in v {
        for b in x.to_bits().to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// Three steps with K = 1 give the losses and weights the code made before accumulation
/// existed (recorded from commit 86eb079 with this very loop, f64 CPU reference; the CPU
/// kernels are deterministic whatever the thread count). If a deliberate change to the
/// model or the step moves them, record them again from the code before that change.
/// A loss, the bits of (D loss, G loss) of each step, and the hashes of G, D, G_ema, w_avg.
type Golden = (Loss, [(u64, u64); 3], [u64; 4]);

#[test]
fn one_micro_batch_is_bit_identical_to_the_step_before_accumulation() {
    let golden: [Golden; 2] = [
        (
            Loss::WganGp,
            [
                (0x4014a95504350607, 0xbfc538fc95614037),
                (0x4012c1d421808442, 0x3fb5c9e8a6e3d95e),
                (0x40115c72686b7ae3, 0x3fd36283c41aad00),
            ],
            [
                0x337cf1269c37ece3,
                0x20b812364f035ecc,
                0x367369825c4269f0,
                0xbfd0bac37c4b2f3d,
            ],
        ),
        (
            Loss::LogisticR1,
            [
                (0x4001f26dae2a5af5, 0x3fe41be619a8232b),
                (0x40007b053bda0a52, 0x3fe6502f1947d398),
                (0x3ffef64941ef9c77, 0x3fea5743aef4a43d),
            ],
            [
                0xaf0ad858458cea56,
                0xecf6fba91fc38d44,
                0x2a02d13ccf3790ff,
                0xfa6b97c247cddd3b,
            ],
        ),
    ];
    for (loss, steps, hashes) in golden {
        let mut t = at_fade(tiny(loss, 1));
        for (s, (d, g)) in steps.into_iter().enumerate() {
            let r = t.step(&reals(s as u64)).unwrap();
            assert_eq!(
                (r.d_loss.item().to_bits(), r.g_loss.item().to_bits()),
                (d, g),
                "{loss:?} step {s}: losses {} {} moved",
                r.d_loss.item(),
                r.g_loss.item()
            );
        }
        let got = [
            fnv(&t.gp.flat().to_vec_f64()),
            fnv(&t.dp.flat().to_vec_f64()),
            fnv(&t.g_ema.flat().to_vec_f64()),
            fnv(&t.w_avg.to_vec_f64()),
        ];
        assert_eq!(
            got, hashes,
            "{loss:?}: G, D, G_ema, w_avg after 3 steps moved"
        );
    }
}

/// Largest |a - b| relative to the largest |b| (a whole vector's scale, so a value that
/// happens to be near zero does not blow up the ratio).
fn rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// The tiny model with minibatch-stddev groups of 1, so that splitting the batch keeps them.
///
/// The official grouping (ours too) is strided: in a batch of N with groups of G, sample i is
/// in group i mod (N / G). A micro-batch (or a rank) holds a contiguous share and groups
/// within it, so with G > 1 the groups of the split batch hold other samples than those of
/// the whole batch (G = 4, N = 8: {0, 2, 4, 6} whole, {0, 1, 2, 3} in the first half): a
/// legitimate difference, the same one K ranks make. With G = 1 the groups coincide, and
/// every other part of the step is a per-sample mean, so K micro-batches must equal the
/// whole batch up to the rounding of summing in another order.
fn same_groups(loss: Loss, k: usize) -> TrainConfig {
    let mut c = tiny(loss, k);
    c.model.mbstd_group = 1;
    c
}

/// The averaged losses, flat gradients and mean w of 2 and 4 micro-batches against those of
/// the whole batch of 8, from the same weights, at three points of training.
#[test]
fn accumulated_gradients_equal_the_whole_batch_to_f64_rounding() {
    for loss in [Loss::WganGp, Loss::LogisticR1] {
        let mut t = at_fade(same_groups(loss, 1));
        for s in 0..3 {
            let x = reals(s);
            let pt = t.point().unwrap();
            t.cfg.accumulate = 1;
            let (dl1, dg1) = t.d_grads(&x, &pt);
            let (gl1, gg1, w1) = t.g_grads(8, &pt);
            for k in [2, 4] {
                t.cfg.accumulate = k;
                let (dl, dg) = t.d_grads(&x, &pt);
                let (gl, gg, w) = t.g_grads(8, &pt);
                let errs = [
                    ("D loss", rel(&[dl.item()], &[dl1.item()])),
                    ("D grad", rel(&dg.to_vec_f64(), &dg1.to_vec_f64())),
                    ("G loss", rel(&[gl.item()], &[gl1.item()])),
                    ("G grad", rel(&gg.to_vec_f64(), &gg1.to_vec_f64())),
                    ("mean w", rel(&w.to_vec_f64(), &w1.to_vec_f64())),
                ];
                println!("{loss:?} K={k} step {s}: {errs:?}");
                for (what, e) in errs {
                    assert!(
                        e < 1e-12,
                        "{loss:?} K={k} step {s}: {what} differs by {e:e}"
                    );
                }
            }
            t.cfg.accumulate = 1;
            t.step(&x).unwrap();
        }
    }
}

/// Values of parameter `i` of `g` from its flat layout `flat`.
fn part<'a>(g: &sgw::params::ParamGroup, flat: &'a [f64], i: usize) -> &'a [f64] {
    &flat[g.offset(i)..][..g.get(i).numel()]
}

/// One whole step (D, G, Adam, EMA, w average) with K = 2 and 4 micro-batches against one
/// batch of 8 from the same weights, at three points: the first step of the 8x8 fade and
/// after one and two steps (taken with K = 1 by both, so the weights are bit-identical).
///
/// One exception is made, and bounded: a parameter whose gradient is only rounding noise.
/// The bias of the first 4x4 layer is added just before an instance normalisation, which
/// removes it, so its exact gradient is 0 and the computed one is ~1e-13 of noise, different
/// for every order of summation; Adam (beta1 = 0) divides it by its own running size plus
/// eps = 1e-8, so it moves by up to lr * sqrt(t) in a direction the noise picks, whichever
/// the split. Such parameters (and their EMA) are held to that bound instead of 1e-12; the
/// noise does not reach anything else within a step (the normalisation removes the bias),
/// but over several steps it does at ~1e-13, which is why the steps start from equal weights.
#[test]
fn micro_batches_give_the_step_of_the_whole_batch_to_f64_rounding() {
    for loss in [Loss::WganGp, Loss::LogisticR1] {
        for s in 0..3u64 {
            let mut whole = at_fade(same_groups(loss, 1));
            let pt = whole.point().unwrap();
            let (_, g0, _) = whole.g_grads(8, &pt);
            let g0 = g0.to_vec_f64();
            let gscale = g0.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let noise_only: Vec<bool> = (0..whole.gp.len())
                .map(|i| {
                    part(&whole.gp, &g0, i)
                        .iter()
                        .all(|x| x.abs() < 1e-12 * gscale)
                })
                .collect();
            assert!(
                noise_only.iter().filter(|&&n| n).count() <= 1,
                "{loss:?}: more gradient-free parameters than expected: {noise_only:?}"
            );
            let mut splits = [
                (2, at_fade(same_groups(loss, 1))),
                (4, at_fade(same_groups(loss, 1))),
            ];
            for i in 0..s {
                whole.step(&reals(i)).unwrap();
                for (_, t) in &mut splits {
                    t.step(&reals(i)).unwrap();
                }
            }
            let x = reals(s);
            let r1 = whole.step(&x).unwrap();
            let lr = whole.adam_g.cfg.lr;
            let bound = lr * ((1.0 - 0.99f64.powi(s as i32 + 1)) / 0.01).sqrt();
            for (k, t) in &mut splits {
                t.cfg.accumulate = *k;
                let rk = t.step(&x).unwrap();
                let dl = rel(&[rk.d_loss.item()], &[r1.d_loss.item()]);
                let gl = rel(&[rk.g_loss.item()], &[r1.g_loss.item()]);
                let d = rel(&t.dp.flat().to_vec_f64(), &whole.dp.flat().to_vec_f64());
                let w = rel(&t.w_avg.to_vec_f64(), &whole.w_avg.to_vec_f64());
                let (mut g, mut noisy) = (0.0f64, 0.0f64);
                for (a, b) in [(&t.gp, &whole.gp), (&t.g_ema, &whole.g_ema)] {
                    let (fa, fb) = (a.flat().to_vec_f64(), b.flat().to_vec_f64());
                    for (i, &n) in noise_only.iter().enumerate() {
                        let (pa, pb) = (part(a, &fa, i), part(b, &fb, i));
                        if n {
                            let e = pa
                                .iter()
                                .zip(pb)
                                .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
                            noisy = noisy.max(e);
                        } else {
                            g = g.max(rel(pa, pb));
                        }
                    }
                }
                println!(
                    "{loss:?} K={k} step {s}: D loss {dl:.1e}, G loss {gl:.1e}, D {d:.1e}, G and G_ema {g:.1e} (gradient-free bias {noisy:.1e} absolute, bound {bound:.1e}), w_avg {w:.1e}"
                );
                for (what, e) in [
                    ("D loss", dl),
                    ("G loss", gl),
                    ("D", d),
                    ("G", g),
                    ("w_avg", w),
                ] {
                    assert!(
                        e < 1e-12,
                        "{loss:?} K={k} step {s}: {what} differs by {e:e}"
                    );
                }
                assert!(
                    noisy <= 2.0 * bound,
                    "{loss:?} K={k} step {s}: gradient-free bias moved {noisy:e} apart"
                );
                assert_eq!(t.progress, whole.progress, "K={k}: counters");
            }
        }
    }
}

fn args(root: &Path, out: &str) -> TrainArgs {
    let cfg = root.join("tiny.toml");
    fs::write(&cfg, common::tiny(0.024)).unwrap();
    TrainArgs {
        dataset: "oasis".into(),
        out: Some(root.join(out)),
        config: Some(cfg),
        preset: Some("small".into()),
        device: DeviceChoice::Cpu,
        quiet: true,
        accumulate: Some(2),
        ..TrainArgs::default()
    }
}

#[test]
fn a_batch_that_accumulate_does_not_divide_is_refused_before_any_work() {
    let root = scratch("acc-indivisible");
    let out = root.join("run");
    let a = TrainArgs {
        dataset: "oasis".into(),
        out: Some(out.clone()),
        device: DeviceChoice::Cpu,
        quiet: true,
        batch: Some(8),
        accumulate: Some(3),
        ..TrainArgs::default()
    };
    let e = train(&a).unwrap_err().to_string();
    for part in ["batch size 8", "4x4", "accumulate 3"] {
        assert!(e.contains(part), "{part:?} missing from: {e}");
    }
    assert!(!out.exists(), "the run directory was made before the error");
    let zero = TrainArgs {
        accumulate: Some(0),
        ..a
    };
    let e = train(&zero).unwrap_err().to_string();
    assert!(e.contains("--accumulate must be at least 1"), "{e}");
    // A table where one resolution does not divide: that resolution is named.
    let mut cfg = TrainConfig::small();
    cfg.accumulate = 4;
    cfg.set_batch(16);
    cfg.batch.insert(16, 6);
    let e = cfg.validate().unwrap_err().to_string();
    assert!(e.contains("batch size 6 at 16x16"), "{e}");
}

#[test]
fn configurations_without_accumulate_load_with_one() {
    let mut c = TrainConfig::small();
    c.accumulate = 2;
    let text = c.to_toml();
    assert!(text.contains("accumulate = 2"), "{text}");
    let old: String = text
        .lines()
        .filter(|l| !l.starts_with("accumulate"))
        .map(|l| format!("{l}\n"))
        .collect();
    let back = TrainConfig::from_toml(&old).unwrap();
    assert_eq!(back.accumulate, 1);
    assert_eq!(TrainConfig::from_toml(&text).unwrap(), c);
}

/// As `tests/train.rs` does for K = 1: stopped after 5 steps and resumed, a run with two
/// micro-batches per step writes the losses of the run that never stopped.
#[test]
fn a_run_with_accumulation_resumes_exactly() {
    let root = scratch("acc-resume");
    train(&args(&root, "a")).unwrap();
    let a = root.join("a");
    let la = losses(&a);
    assert_eq!(la.len(), 1 + 12, "header + 12 steps");
    let saved = fs::read_to_string(a.join("config.toml")).unwrap();
    assert!(saved.contains("accumulate = 2"), "{saved}");

    let mut first = args(&root, "b");
    first.stop_after_steps = Some(5);
    train(&first).unwrap();
    assert_eq!(losses(&root.join("b")).len(), 1 + 5);
    // No --accumulate: the run's own (2) is kept.
    train(&TrainArgs {
        dataset: "oasis".into(),
        resume: Some(root.join("b")),
        device: DeviceChoice::Cpu,
        quiet: true,
        ..TrainArgs::default()
    })
    .unwrap();
    assert_eq!(
        losses(&root.join("b")),
        la,
        "resumed run differs from the straight run"
    );

    // And the split is not a no-op: K = 1 on the same run gives other losses (the
    // minibatch-stddev groups of 4 become groups of 2 within each micro-batch).
    let mut one = args(&root, "c");
    one.accumulate = None;
    train(&one).unwrap();
    assert_ne!(losses(&root.join("c")), la);
}
