//! StyleGAN2 in training (`--arch stylegan2`): one resolution, the logistic loss with lazy R1
//! and path length regularisation as their own optimiser steps, ADA in front of D; a run
//! interrupted and resumed equals one that never stopped (the path length mean is in the
//! checkpoint); `generate` draws from it; flags that can't apply are clear errors.

mod common;

use std::fs;
use std::path::Path;

use common::{losses, scratch};
use sgw::nn::Arch;
use sgw::tensor::Place;
use sgw::train::device::DeviceChoice;
use sgw::train::generate::{generate, GenerateArgs};
use sgw::train::reg_config::LazyReg;
use sgw::train::run::{train, TrainArgs};
use sgw::train::{Loss, TrainConfig, Trainer};

/// 8x8, 8 feature maps, batch 4, 40 images: 10 steps; R1 every 3 steps, path length every 2.
const TINY2: &str = r#"
kimg_per_phase = 0.04
sample_every_kimg = 0.02
checkpoint_every_kimg = 1.0
grid = 2
[model]
z_dim = 16
w_dim = 16
mapping_layers = 2
fmap_base = 32
fmap_max = 8
max_res = 8
[batch]
8 = 4
[stylegan2]
r1_interval = 3
pl_interval = 2
"#;

fn args(root: &Path, out: &str) -> TrainArgs {
    let cfg = root.join("tiny2.toml");
    fs::write(&cfg, TINY2).unwrap();
    TrainArgs {
        dataset: "oasis".into(),
        out: Some(root.join(out)),
        config: Some(cfg),
        preset: Some("small".into()),
        arch: Some(Arch::Stylegan2),
        augment: Some("ada".into()),
        device: DeviceChoice::Cpu,
        quiet: true,
        ..TrainArgs::default()
    }
}

#[test]
fn a_stylegan2_run_trains_resumes_exactly_and_generates() {
    let root = scratch("sg2-train");
    train(&args(&root, "a")).unwrap();
    let a = root.join("a");
    let la = losses(&a);
    assert_eq!(la.len(), 1 + 10, "header + 10 steps of 4 images at 8x8");
    for line in &la[1..] {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[3], "8", "one resolution from the start: {line}");
        for v in [f[6], f[7]] {
            assert!(
                v.parse::<f64>().unwrap().is_finite(),
                "non-finite loss in {line}"
            );
        }
    }
    let cfg = fs::read_to_string(a.join("config.toml")).unwrap();
    assert!(cfg.contains("arch = \"stylegan2\""), "{cfg}");
    assert!(cfg.contains("loss = \"logistic-r1\""), "{cfg}");

    // Interrupted after 5 steps (a path length step and an R1 step behind it), resumed.
    let mut first = args(&root, "b");
    first.stop_after_steps = Some(5);
    train(&first).unwrap();
    let resume = TrainArgs {
        dataset: "oasis".into(),
        resume: Some(root.join("b")),
        device: DeviceChoice::Cpu,
        quiet: true,
        ..TrainArgs::default()
    };
    train(&resume).unwrap();
    assert_eq!(
        losses(&root.join("b")),
        la,
        "resumed run differs from the straight run"
    );

    let out = root.join("g.png");
    generate(&GenerateArgs {
        ckpt: a.clone(),
        grid: 2,
        out: Some(out.clone()),
        noise: "const".into(),
        ..GenerateArgs::default()
    })
    .unwrap();
    assert!(image::open(&out).unwrap().width() >= 2 * 8);
}

#[test]
fn lazy_steps_run_when_due_and_scale_the_optimisers() {
    let mut cfg: TrainConfig =
        toml::from_str(&toml::to_string(&TrainConfig::small()).unwrap()).unwrap();
    cfg.model.arch = Arch::Stylegan2;
    cfg.model.z_dim = 16;
    cfg.model.w_dim = 16;
    cfg.model.fmap_base = 32;
    cfg.model.fmap_max = 8;
    cfg.model.max_res = 8;
    cfg.model.start_res = 8;
    cfg.loss = Loss::LogisticR1;
    cfg.set_batch(4);
    cfg.stylegan2.pl_interval = 2;
    cfg.validate().unwrap();
    let mut t = Trainer::new(cfg.clone(), Place::Cpu32);
    // c = interval / (interval + 1) on the learning rate and as the betas' power.
    let (cd, cg) = (16.0 / 17.0, 2.0 / 3.0);
    assert!((t.adam_d.cfg.lr - cfg.lr_at(8) * cd).abs() < 1e-15);
    assert!((t.adam_g.cfg.lr - cfg.lr_at(8) * cg).abs() < 1e-15);
    assert!((t.adam_g.cfg.beta2 - cfg.beta2.powf(cg)).abs() < 1e-15);
    assert_eq!(
        cfg.stylegan2.ratios(Arch::Stylegan2, cfg.r1_gamma),
        (cd, cg)
    );
    assert_eq!(LazyReg::ratio(16), cd);
    let reals = sgw::ops::rand_uniform(&[4, 1, 8, 8], 3, 0, -1.0, 1.0, Place::Cpu32);
    // Step 0: both regularisers run; the path length mean leaves 0.
    assert_eq!(t.pl_mean.item(), 0.0);
    let (g_t, d_t) = (t.adam_g.t, t.adam_d.t);
    t.step(&reals).unwrap();
    assert_eq!(t.adam_d.t, d_t + 2, "D main + R1 at step 0");
    assert_eq!(t.adam_g.t, g_t + 2, "G main + path length at step 0");
    let m0 = t.pl_mean.item();
    assert!(m0 > 0.0 && m0.is_finite(), "pl mean {m0}");
    // Step 1: no regulariser is due.
    t.step(&reals).unwrap();
    assert_eq!((t.adam_d.t, t.adam_g.t), (d_t + 3, g_t + 3));
    assert_eq!(
        t.pl_mean.item(),
        m0,
        "the mean moves only on path length steps"
    );
    // Step 2: path length again, R1 not (every 16).
    t.step(&reals).unwrap();
    assert_eq!((t.adam_d.t, t.adam_g.t), (d_t + 4, g_t + 5));
    assert_ne!(t.pl_mean.item(), m0);
}

#[test]
fn flags_that_cannot_apply_to_stylegan2_are_clear_errors() {
    let root = scratch("sg2-flags");
    let mut a = args(&root, "x");
    a.loss = Some(Loss::WganGp);
    let e = train(&a).unwrap_err().to_string();
    assert!(
        e.contains("StyleGAN2 trains with the non-saturating logistic loss"),
        "{e}"
    );

    let mut b = args(&root, "y");
    b.stop_after_steps = Some(1);
    train(&b).unwrap();
    let resume = TrainArgs {
        dataset: "oasis".into(),
        resume: Some(root.join("y")),
        max_res: Some(16),
        device: DeviceChoice::Cpu,
        quiet: true,
        ..TrainArgs::default()
    };
    let e = train(&resume).unwrap_err().to_string();
    assert!(
        e.contains("cannot change a StyleGAN2 run trained at 8x8"),
        "{e}"
    );
    let e = train(&TrainArgs {
        max_res: None,
        arch: Some(Arch::Stylegan1),
        ..resume
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("--arch stylegan1 cannot change a run trained with stylegan2"),
        "{e}"
    );
}

/// `--arch stylegan2` takes the official "auto" config for what neither a flag nor the file
/// sets (stylegan2-ada-pytorch `train.py`, one GPU), and leaves what they set alone.
#[test]
fn stylegan2_takes_the_official_auto_config_where_nothing_is_set() {
    use sgw::train::run::resolve_config;
    let full = TrainArgs {
        dataset: "oasis".into(),
        preset: Some("full".into()),
        arch: Some(Arch::Stylegan2),
        ..TrainArgs::default()
    };
    let (cfg, _) = resolve_config(&full, false).unwrap();
    assert_eq!((cfg.model.start_res, cfg.model.max_res), (256, 256));
    assert_eq!(cfg.model.mapping_layers, 2);
    assert_eq!(cfg.lr_at(256), 0.0025);
    assert_eq!(cfg.batch_at(256), 16, "min(4096 / 256, 32)");
    assert_eq!(cfg.ema_half_life_kimg, 5.0, "16 * 10 / 32");
    assert!((cfg.r1_gamma - 0.0002 * 65536.0 / 16.0).abs() < 1e-12);
    assert_eq!(cfg.loss, Loss::LogisticR1);
    // At 32x32: the batch caps at 32.
    let (c32, _) = resolve_config(
        &TrainArgs {
            max_res: Some(32),
            ..full.clone()
        },
        false,
    )
    .unwrap();
    assert_eq!(c32.batch_at(32), 32);
    assert!((c32.r1_gamma - 0.0002 * 1024.0 / 32.0).abs() < 1e-12);
    // Flags win, and gamma follows the batch asked for.
    let (mine, _) = resolve_config(
        &TrainArgs {
            lr: Some(0.001),
            batch: Some(8),
            ..full.clone()
        },
        false,
    )
    .unwrap();
    assert_eq!((mine.lr_at(256), mine.batch_at(256)), (0.001, 8));
    assert!((mine.r1_gamma - 0.0002 * 65536.0 / 8.0).abs() < 1e-12);
    // StyleGAN 1 is untouched.
    let (sg1, _) = resolve_config(&TrainArgs { arch: None, ..full }, false).unwrap();
    assert_eq!(sg1.model.mapping_layers, 8);
    assert_eq!(sg1.batch_at(256), 8);
}

/// Bad `[stylegan2]` settings in a configuration are refused with their key named.
#[test]
fn bad_lazy_regularisation_settings_are_clear_errors() {
    let root = scratch("sg2-bad");
    for (body, want) in [
        (
            "[stylegan2]\nr1_interval = 0\n",
            "r1_interval, pl_interval and pl_batch_shrink must be at least 1",
        ),
        ("[stylegan2]\npl_decay = 2.0\n", "pl_decay 2 in [0, 1]"),
        (
            "[stylegan2]\npl_intervall = 4\n",
            "unknown key `pl_intervall` in [stylegan2]",
        ),
    ] {
        let cfg = root.join("bad.toml");
        fs::write(&cfg, body).unwrap();
        let a = TrainArgs {
            dataset: "oasis".into(),
            out: Some(root.join("never")),
            config: Some(cfg),
            preset: Some("small".into()),
            arch: Some(Arch::Stylegan2),
            device: DeviceChoice::Cpu,
            quiet: true,
            ..TrainArgs::default()
        };
        let e = train(&a).unwrap_err().to_string();
        assert!(e.contains(want), "{body}: {e}");
        assert!(
            !root.join("never").exists(),
            "{body}: a run directory was made"
        );
    }
}
