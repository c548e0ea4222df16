//! ADA's augmentations (`nn::augment`: geometric and colour) and its probability controller
//! (`train::ada`, unit-tested there): p = 0 is the identity exactly; the draws follow the
//! official distributions and are keyed by the image's place in the whole batch; the GPU
//! pipeline matches the CPU one. In training (`--augment`): a tiny `ada` run to the end,
//! resumed exactly, then `generate`; `none` and `fixed:0` are the same step bit for bit while
//! `fixed:P` changes it; with D's sign on reals fixed positive, p rises by the official step.

mod common;

use std::fs;
use std::path::Path;

use common::{losses, scratch, tiny};
use sgw::check::{random_input, Domain, Errors};
use sgw::nn::augment::{
    augment_colour, augment_geometric, colour_matrices, geometric_thetas, Colour, Geometric,
    Pipeline, COLOUR_IDENTITY, IDENTITY,
};
use sgw::train::device::DeviceChoice;
use sgw::train::generate::{generate, GenerateArgs};
use sgw::train::run::{train, TrainArgs};
use sgw::train::{TrainConfig, Trainer};
use sgw::{Place, Tensor};

#[test]
fn an_augmentation_with_p_zero_is_the_identity_exactly() {
    let g = Geometric::default();
    let theta = geometric_thetas(&g, 0.0, 64, 9, 7, 42, 3, 0);
    assert!(theta.iter().all(|t| *t == IDENTITY));
    let x = random_input(&[5, 3, 9, 7], Domain::Any, 1);
    for place in [Place::Cpu64, Place::Cpu32, Place::Gpu] {
        let xp = x.to_place(place);
        let y = augment_geometric(&xp, &g, 0.0, 42, 3, 0);
        assert_eq!(y.to_vec_f64(), xp.to_vec_f64(), "{place:?}");
    }
}

#[test]
fn draws_follow_p_and_the_image_index() {
    let g = Geometric::default();
    let (h, w) = (16, 12);
    let all = geometric_thetas(&g, 1.0, 64, h, w, 7, 11, 0);
    // At p = 1 every image draws x-flip, quarter turn, shifts, scales and rotations; an
    // identity would need all of them to cancel.
    assert!(all.iter().all(|t| *t != IDENTITY));
    for t in &all {
        let det = t[0] * t[4] - t[1] * t[3];
        assert!(t.iter().all(|v| v.is_finite()) && det.abs() > 1e-3, "{t:?}");
    }
    // A micro-batch starting at image 40 draws what the whole batch drew there.
    assert_eq!(geometric_thetas(&g, 1.0, 8, h, w, 7, 11, 40), all[40..48]);
    // Another step, another draw; the same step, the same draw.
    assert_ne!(geometric_thetas(&g, 1.0, 64, h, w, 7, 12, 0), all);
    assert_eq!(geometric_thetas(&g, 1.0, 64, h, w, 7, 11, 0), all);
    // At p = 0.2 some images are left alone and some are not.
    let some = geometric_thetas(&g, 0.2, 64, h, w, 7, 11, 0);
    let untouched = some.iter().filter(|t| **t == IDENTITY).count();
    assert!(
        untouched > 0 && untouched < 64,
        "{untouched} of 64 untouched"
    );
}

#[test]
fn gpu_pipeline_matches_cpu() {
    let g = Geometric::default();
    let x = random_input(&[6, 3, 16, 12], Domain::Any, 2);
    let cpu = augment_geometric(&x, &g, 1.0, 5, 1, 0).to_vec_f64();
    let gpu = {
        let _poison = sgw::gpu::set_poison(true);
        augment_geometric(&x.to_place(Place::Gpu), &g, 1.0, 5, 1, 0).to_vec_f64()
    };
    let e = Errors::of(&gpu, &cpu, 1e-2);
    assert!(
        e.max_rel < sgw::check::suite::GRID_SAMPLE_GPU_TOL,
        "GPU augmentation: {e}"
    );
}

#[test]
fn colour_with_p_zero_is_the_identity_exactly() {
    let c = Colour::default();
    for ch in [1, 3] {
        let m = colour_matrices(&c, 0.0, 64, ch, 42, 3, 0);
        assert!(m.iter().all(|m| *m == COLOUR_IDENTITY));
        let x = random_input(&[4, ch, 5, 7], Domain::Any, 3);
        for place in [Place::Cpu64, Place::Cpu32, Place::Gpu] {
            let xp = x.to_place(place);
            let y = augment_colour(&xp, &c, 0.0, 42, 3, 0).to_vec_f64();
            assert_eq!(y, xp.to_vec_f64(), "{ch} channels, {place:?}");
            let y = Pipeline::default().apply(&xp, 0.0, 42, 3, 0).to_vec_f64();
            assert_eq!(y, xp.to_vec_f64(), "pipeline, {ch} channels, {place:?}");
        }
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt(),
    )
}

#[test]
fn colour_draws_follow_the_official_distributions() {
    let n = 4000;
    let c = Colour::default();
    // Grayscale: brightness and contrast only, C = contrast * (x + brightness).
    let m = colour_matrices(&c, 1.0, n, 1, 9, 2, 0);
    let gain: Vec<f64> = m.iter().map(|m| m[0][0]).collect();
    assert!(m.iter().all(|m| m[0][1] == 0.0 && m[1][1] == m[0][0]));
    let (lm, ls) = mean_std(&gain.iter().map(|g| g.log2()).collect::<Vec<_>>());
    assert!(
        lm.abs() < 0.04 && (ls - 0.5).abs() < 0.03,
        "log2 contrast {lm} {ls}"
    );
    let b: Vec<f64> = m.iter().map(|m| m[0][3] / m[0][0]).collect();
    let (bm, bs) = mean_std(&b);
    assert!(
        bm.abs() < 0.015 && (bs - 0.2).abs() < 0.012,
        "brightness {bm} {bs}"
    );
    // Each with probability p, independently.
    let m = colour_matrices(&c, 0.3, n, 1, 9, 2, 0);
    let frac =
        |f: &dyn Fn(&[[f64; 4]; 3]) -> bool| m.iter().filter(|m| f(m)).count() as f64 / n as f64;
    let (fb, fc) = (frac(&|m| m[0][3] != 0.0), frac(&|m| m[0][0] != 1.0));
    assert!(
        (fb - 0.3).abs() < 0.03 && (fc - 0.3).abs() < 0.03,
        "{fb} {fc}"
    );
    // RGB: hue and saturation keep the luma axis; luma flip reverses it half the time.
    let only = |f: fn(&mut Colour)| {
        let mut c = Colour {
            brightness: 0.0,
            contrast: 0.0,
            lumaflip: 0.0,
            hue: 0.0,
            saturation: 0.0,
            ..Colour::default()
        };
        f(&mut c);
        colour_matrices(&c, 1.0, n, 3, 4, 1, 0)
    };
    let axis = |m: &[[f64; 4]; 3]| -> [f64; 3] { std::array::from_fn(|i| m[i][..3].iter().sum()) };
    for m in only(|c| (c.hue, c.saturation) = (1.0, 1.0)) {
        assert!(axis(&m).iter().all(|v| (v - 1.0).abs() < 1e-12) && m.iter().all(|r| r[3] == 0.0));
        assert_ne!(m, COLOUR_IDENTITY);
    }
    let flips = only(|c| c.lumaflip = 1.0);
    let flipped = flips
        .iter()
        .filter(|m| axis(m).iter().all(|v| (v + 1.0).abs() < 1e-12))
        .count();
    let kept = flips.iter().filter(|m| **m == COLOUR_IDENTITY).count();
    assert_eq!(flipped + kept, n);
    assert!((flipped as f64 / n as f64 - 0.5).abs() < 0.03, "{flipped}");
    // Hue angles are uniform over a whole turn: the mean rotation of (1, -1, 0) is ~0.
    let hue = only(|c| c.hue = 1.0);
    let cos: Vec<f64> = hue
        .iter()
        .map(|m| (m[0][0] - m[0][1] - m[1][0] + m[1][1]) / 2.0)
        .collect();
    assert!(mean_std(&cos).0.abs() < 0.03);
    // A micro-batch starting at image 40 draws what the whole batch drew there.
    let all = colour_matrices(&c, 0.7, 64, 3, 4, 1, 0);
    assert_eq!(colour_matrices(&c, 0.7, 8, 3, 4, 1, 40), all[40..48]);
}

#[test]
fn gpu_colour_and_whole_pipeline_match_cpu() {
    for (ch, p) in [(3, 1.0), (1, 1.0), (3, 0.4)] {
        let x = random_input(&[6, ch, 12, 8], Domain::Any, 5);
        let pipe = Pipeline::default();
        let cpu = pipe.apply(&x, p, 5, 1, 0).to_vec_f64();
        assert_ne!(cpu, x.to_vec_f64());
        let (gpu, colour) = {
            let _poison = sgw::gpu::set_poison(true);
            let xg = x.to_place(Place::Gpu);
            let c = augment_colour(&xg, &pipe.colour, p, 5, 1, 0).to_vec_f64();
            (pipe.apply(&xg, p, 5, 1, 0).to_vec_f64(), c)
        };
        let e = Errors::of(&gpu, &cpu, 1e-2);
        assert!(
            e.max_rel < sgw::check::suite::GRID_SAMPLE_GPU_TOL,
            "{ch} ch, p {p}: {e}"
        );
        let want = augment_colour(&x, &pipe.colour, p, 5, 1, 0).to_vec_f64();
        let e = Errors::of(&colour, &want, 1e-2);
        assert!(e.max_rel < 1e-5, "colour, {ch} ch, p {p}: {e}");
    }
}

/// The tiny model of `common::tiny` as a configuration, with `augment`.
fn tiny_cfg(augment: &str) -> TrainConfig {
    let mut cfg = TrainConfig::small();
    cfg.model.z_dim = 16;
    cfg.model.w_dim = 16;
    cfg.model.mapping_layers = 2;
    cfg.model.fmap_base = 32;
    cfg.model.fmap_max = 8;
    cfg.model.max_res = 8;
    cfg.model.channels = 1;
    cfg.kimg_per_phase = 0.016;
    cfg.set_batch(4);
    cfg.augment = augment.into();
    cfg.validate().unwrap();
    cfg
}

fn reals(step: u64) -> Tensor {
    random_input(&[4, 1, 4, 4], Domain::Any, 100 + step).to_place(Place::Cpu32)
}

#[test]
fn none_and_fixed_zero_are_the_same_step_and_fixed_p_changes_it() {
    let pt = Trainer::new(tiny_cfg("none"), Place::Cpu32)
        .point()
        .unwrap();
    let d_loss = |augment: &str| {
        let t = Trainer::new(tiny_cfg(augment), Place::Cpu32);
        let (loss, flat) = t.d_grads(&reals(0), &pt);
        let (g, gflat, _) = t.g_grads(4, &pt);
        [loss.to_vec(), flat.to_vec(), g.to_vec(), gflat.to_vec()]
    };
    let none = d_loss("none");
    assert_eq!(d_loss("fixed:0"), none);
    assert_eq!(d_loss("ada"), none, "ada starts at p = 0");
    let fixed = d_loss("fixed:0.5");
    assert_ne!(fixed[0], none[0], "D's loss did not change");
    assert_ne!(fixed[2], none[2], "G's loss did not change");
}

#[test]
fn p_rises_by_the_official_step_when_d_calls_every_real_real() {
    let mut cfg = tiny_cfg("ada");
    cfg.accumulate = 2;
    cfg.kimg_per_phase = 0.064; // 16 steps at 4x4

    let mut t = Trainer::new(cfg, Place::Cpu32);
    let bias = t.dp.index("d.4x4.dense1.bias").unwrap();
    t.dp.set(bias, &Tensor::full(&[1], 1000.0, Place::Cpu32));
    let step = 4.0 * 4.0 / 500_000.0;
    for k in 0..8u64 {
        assert_eq!(
            t.augment_p(),
            Some((k / 4) as f64 * step),
            "before step {k}"
        );
        t.step(&reals(k)).unwrap();
        // The checkpoint's state holds the steps since the last update.
        assert_eq!(t.ada_state().batches(), ((k + 1) % 4) as usize);
    }
    assert!((t.ada.p - 2.0 * step).abs() < 1e-18, "p = {}", t.ada.p);
}

fn ada_args(root: &Path, out: &str) -> TrainArgs {
    let cfg = root.join("tiny.toml");
    // p moves fast (0 -> 1 in 50 images) and always up (r_t >= -1 = the target), so the
    // short run trains with p well above 0 and resumes with pending sums.
    let text = tiny(0.024).replacen(
        "grid = 2",
        "grid = 2\nada_target = -1.0\nada_kimg = 0.05",
        1,
    );
    fs::write(&cfg, text).unwrap();
    TrainArgs {
        dataset: "oasis".into(),
        out: Some(root.join(out)),
        config: Some(cfg),
        preset: Some("small".into()),
        augment: Some("ada".into()),
        device: DeviceChoice::Software,
        quiet: true,
        ..TrainArgs::default()
    }
}

#[test]
fn tiny_ada_training_runs_resumes_exactly_and_generates() {
    let root = scratch("ada-train");
    train(&ada_args(&root, "a")).unwrap();
    let a = root.join("a");
    let la = losses(&a);
    assert_eq!(la.len(), 1 + 12);
    let metrics = fs::read_to_string(a.join("metrics.csv")).unwrap();
    assert!(
        metrics.lines().next().unwrap().ends_with(",p,rt"),
        "{metrics}"
    );
    let rows: Vec<Vec<f64>> = metrics
        .lines()
        .skip(2) // the header, and kimg 0 (no real scored yet: r_t empty)
        .map(|l| l.rsplit(',').take(2).map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{metrics}");
    // Three updates of 16 images each over 50 (ada_target -1: p always rises): 0.96.
    assert!((rows[1][1] - 0.96).abs() < 1e-6, "{metrics}");
    // r_t is a mean of signs over the 24 reals since the previous row: a multiple of 1/24.
    for r in &rows {
        let k = r[0] * 24.0;
        assert!(
            r[0].abs() <= 1.0 && (k - k.round()).abs() < 0.01,
            "{metrics}"
        );
    }
    assert!(a.join("metrics.png").is_file() && a.join("checkpoint.safetensors").is_file());
    // Stopped after 5 steps (one step past an update, pending in the checkpoint), resumed;
    // its metrics.csv made to look as a version before the r_t column wrote it.
    let mut first = ada_args(&root, "b");
    first.stop_after_steps = Some(5);
    train(&first).unwrap();
    let b_metrics = root.join("b").join("metrics.csv");
    let old: String = fs::read_to_string(&b_metrics)
        .unwrap()
        .lines()
        .map(|l| format!("{}\n", &l[..l.rfind(',').unwrap()]))
        .collect();
    assert!(old.lines().next().unwrap().ends_with(",p"));
    fs::write(&b_metrics, old).unwrap();
    train(&TrainArgs {
        dataset: "oasis".into(),
        resume: Some(root.join("b")),
        device: DeviceChoice::Software,
        quiet: true,
        ..TrainArgs::default()
    })
    .unwrap();
    assert_eq!(
        losses(&root.join("b")),
        la,
        "resumed ADA run differs from the straight run"
    );
    let b = fs::read_to_string(&b_metrics).unwrap();
    let header = b.lines().next().unwrap();
    assert!(
        header.ends_with(",p,rt"),
        "header not upgraded on resume: {b}"
    );
    let fields = |l: &str| l.split(',').count();
    assert!(
        b.lines().skip(1).all(|l| fields(l) <= fields(header)),
        "{b}"
    );
    let out = root.join("g.png");
    generate(&GenerateArgs {
        ckpt: a,
        grid: 2,
        seed: 5,
        truncation: 1.0,
        cutoff: 8,
        out: Some(out.clone()),
        noise: "const".into(),
        ..GenerateArgs::default()
    })
    .unwrap();
    assert!(out.is_file());
}

#[test]
fn bad_augment_values_are_clear_errors() {
    use sgw::train::run::{check_flags, resolve_config};
    for (bad, why) in [
        ("fixed:1.5", "not in [0, 1]"),
        ("adaa", "unknown mode"),
        ("fixed:x", "not a number"),
    ] {
        let a = TrainArgs {
            dataset: "oasis".into(),
            augment: Some(bad.into()),
            ..TrainArgs::default()
        };
        let e = check_flags(&a).unwrap_err().to_string();
        assert!(e.contains("--augment") && e.contains(why), "{e}");
        let mut cfg = TrainConfig::small();
        cfg.augment = bad.into();
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(why) && e.contains("fixed:P"), "{e}");
    }
    // In a --config file, too (a string of the wrong value, not a wrong type).
    let root = scratch("ada-config");
    let path = root.join("c.toml");
    fs::write(&path, "augment = \"fixed:2\"\n").unwrap();
    let a = TrainArgs {
        dataset: "oasis".into(),
        config: Some(path),
        ..TrainArgs::default()
    };
    let e = resolve_config(&a, true).unwrap_err().to_string();
    assert!(e.contains("not in [0, 1]"), "{e}");
    fs::write(root.join("c.toml"), "augment = \"fixed:0.25\"\n").unwrap();
    let (cfg, _) = resolve_config(&a, true).unwrap();
    assert_eq!(cfg.augment, "fixed:0.25");
}

/// The penalties differentiate D(aug(x)) with respect to x: the whole pipeline's first and
/// second derivatives (through the grid sample's adjoint and the colour matrix) against
/// finite differences in f64.
#[test]
fn the_pipeline_has_first_and_second_derivatives() {
    use sgw::check::{gradcheck, gradgradcheck};
    for ch in [3, 1] {
        let f = move |x: &[Tensor]| {
            let y = Pipeline::default().apply(&x[0], 1.0, 7, 2, 0);
            sgw::ops::square(&y)
        };
        let x = [random_input(&[2, ch, 6, 5], Domain::Any, 8)];
        let e = gradcheck(&f, &x, 1);
        assert!(e.max_rel < 1e-5, "{ch} channels, first order: {e}");
        let e = gradgradcheck(&f, &x, 2);
        assert!(e.max_rel < 1e-5, "{ch} channels, second order: {e}");
    }
}
