//! Our checkpoints drive the independent PyTorch StyleGAN of `tools/pytorch_bench.py` to the
//! same pictures: a tiny model is trained on the CPU reference into the middle of a fade-in,
//! its G_ema and w average are perturbed so that every parameter matters, and then our
//! `generate --npy` and `pytorch_bench.py --load ... --npy` draw the same grid (truncated, with
//! a cutoff below the layer count) and must agree to f32 precision. Skipped, with a notice,
//! where Python has no torch or numpy.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{scratch, tiny};
use sgw::train::checkpoint::{self, Checkpoint};
use sgw::train::generate::{generate, read_npy, write_npy, GenerateArgs};
use sgw::train::run::{train, TrainArgs};
use sgw::train::trainer::Trainer;
use sgw::{nn::NoiseMode, no_grad, ops, Place, Tensor};

const PSI: f64 = 0.6;
/// Below the 4 style layers of an 8x8 model, so the cutoff is exercised.
const CUTOFF: usize = 3;

/// Both sides compute in f32 from the same stored weights; they differ only in the order of
/// the sums (conv and matmul accumulation, the instance norm's mean and variance) and in the
/// rounding of fused against separate operations. Each op then contributes a relative error
/// of a few f32 ulps (~1e-7 x the sum of |terms|), and the ~12 layers between z and the image
/// compound that to about 1e-6 in practice; 1e-4 of the images' scale leaves room for larger
/// models and other BLAS while still catching any difference in the model (the perturbations
/// checked below move the images by 1e-2 or more).
const TOL: f32 = 1e-4;

fn python_has(modules: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// max |a - b| and max |a|.
fn diff(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len(), "image counts differ");
    let d = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    (d, a.iter().map(|x| x.abs()).fold(0.0, f32::max))
}

/// Train into the fade-in, then make every G_ema parameter and w_avg matter (after five steps
/// the EMA is still almost the initialisation: zero biases and noise weights) and save.
fn make_checkpoint(root: &Path) -> PathBuf {
    let cfg = root.join("tiny.toml");
    fs::write(&cfg, tiny(1.0)).unwrap();
    train(&TrainArgs {
        dataset: "oasis".into(),
        out: Some(root.join("run")),
        config: Some(cfg),
        preset: Some("small".into()),
        cpu: true,
        quiet: true,
        stop_after_steps: Some(5),
        ..TrainArgs::default()
    })
    .unwrap();
    let path = root.join("run").join(checkpoint::FILE);
    let mut t = Checkpoint::load(&path)
        .unwrap()
        .trainer(Place::Cpu32)
        .unwrap();
    for i in 0..t.g_ema.len() {
        let p = t.g_ema.get(i);
        // Mapping biases are scaled by lr_mul (0.01) at use.
        let std = if t.g_ema.names()[i].starts_with("g.mapping") {
            30.0
        } else {
            0.3
        };
        let d = ops::rand_normal(p.shape(), 77, (i as u64) << 32, 0.0, std, Place::Cpu32);
        let v = p + &d;
        t.g_ema.set(i, &v);
    }
    t.w_avg = ops::rand_normal(&[1, t.cfg.model.w_dim], 78, 0, 0.0, 1.0, Place::Cpu32);
    checkpoint::save(&t, &path).unwrap();
    path
}

/// Our grid for z with the test's truncation, on the CPU reference.
fn ours(t: &Trainer, z: &Tensor, res: usize, alpha: f64, psi: f64, cutoff: usize) -> Vec<f32> {
    no_grad(|| {
        let w = t.g.mapping(&t.g_ema, z);
        let s =
            t.g.truncate(&t.g.broadcast_styles(&w), &t.w_avg, psi, cutoff);
        t.g.synthesis(&t.g_ema, &s, res, alpha, NoiseMode::None)
            .to_vec()
    })
}

fn pytorch(ckpt: &Path, out: &Path, extra: &[&str]) {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/pytorch_bench.py");
    let (psi, cutoff) = (PSI.to_string(), CUTOFF.to_string());
    let mut args = vec![
        tool.to_str().unwrap(),
        "--device",
        "cpu",
        "--load",
        ckpt.to_str().unwrap(),
        "--truncation",
        &psi,
        "--cutoff",
        &cutoff,
        "--out",
    ];
    let png = out.with_extension("png");
    args.push(png.to_str().unwrap());
    args.extend(["--npy", out.to_str().unwrap()]);
    args.extend(extra);
    let o = Command::new("python3").args(&args).output().unwrap();
    assert!(
        o.status.success(),
        "pytorch_bench.py {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn pytorch_draws_our_checkpoints_pictures() {
    if !python_has("torch, numpy") {
        let what = if python_has("torch") {
            "numpy"
        } else {
            "torch"
        };
        println!("{what} not installed: skipping the PyTorch parity check");
        return;
    }
    let start = Instant::now();
    let root = scratch("parity-pytorch-parity");
    let ckpt = make_checkpoint(&root);
    let t = Checkpoint::load(&ckpt)
        .unwrap()
        .trainer(Place::Cpu32)
        .unwrap();
    let pt = t.point().expect("the run is not finished");
    assert!(
        pt.res == 8 && pt.alpha > 0.0 && pt.alpha < 1.0,
        "the checkpoint should be mid-fade: {pt:?}"
    );

    // 1. Shared latents, no noise.
    let zd = t.cfg.model.z_dim;
    let n = 5;
    let zv = ops::rand_normal(&[n, zd], 5, 0, 0.0, 1.0, Place::Cpu32).to_vec();
    let z_npy = root.join("z.npy");
    write_npy(&z_npy, &zv, &[n, zd]).unwrap();
    let base = GenerateArgs {
        ckpt: ckpt.clone(),
        truncation: PSI,
        cutoff: CUTOFF,
        cpu: true,
        ..Default::default()
    };
    let ours_npy = root.join("ours.npy");
    generate(&GenerateArgs {
        out: Some(root.join("ours.png")),
        latents: Some(z_npy.clone()),
        noise: "none".into(),
        npy: Some(ours_npy.clone()),
        ..base.clone()
    })
    .unwrap();
    let torch_npy = root.join("torch.npy");
    pytorch(
        &ckpt,
        &torch_npy,
        &["--latents", z_npy.to_str().unwrap(), "--noise", "none"],
    );
    let (a, sa) = read_npy(&ours_npy).unwrap();
    let (b, sb) = read_npy(&torch_npy).unwrap();
    assert_eq!(sa, [n, 1, 8, 8]);
    assert_eq!(sa, sb);
    let (d, scale) = diff(&a, &b);
    println!("latents, no noise: max |ours - pytorch| = {d:.3e} on images of max |x| {scale:.3}");
    assert!(d <= TOL * scale.max(1.0), "PyTorch differs by {d}");

    // The comparison is sensitive: handling the truncation, its cutoff, w_avg or the fade
    // differently moves the images far more than the tolerance.
    let z = Tensor::from_vec(zv, &[n, zd], Place::Cpu32);
    let same = ours(&t, &z, 8, pt.alpha, PSI, CUTOFF);
    assert_eq!(
        diff(&same, &a).0,
        0.0,
        "generate's grid is not the model's output"
    );
    let mut zero_avg = Checkpoint::load(&ckpt)
        .unwrap()
        .trainer(Place::Cpu32)
        .unwrap();
    zero_avg.w_avg = Tensor::zeros(&[1, t.cfg.model.w_dim], Place::Cpu32);
    for (what, v) in [
        ("no truncation", ours(&t, &z, 8, pt.alpha, 1.0, CUTOFF)),
        ("cutoff 8", ours(&t, &z, 8, pt.alpha, PSI, 8)),
        ("w_avg 0", ours(&zero_avg, &z, 8, pt.alpha, PSI, CUTOFF)),
        ("alpha 1", ours(&t, &z, 8, 1.0, PSI, CUTOFF)),
        (
            "alpha + 0.05",
            ours(&t, &z, 8, pt.alpha + 0.05, PSI, CUTOFF),
        ),
    ] {
        let (dv, _) = diff(&v, &a);
        println!("  {what}: the images move by {dv:.3e}");
        assert!(
            dv > 100.0 * TOL * scale.max(1.0),
            "{what} moves the images by only {dv}"
        );
    }

    // 2. Latents and noise maps drawn from seeds on both sides (Philox reproduced in Python):
    // the run's constant noise, so the noise weights are compared too.
    let seeded = root.join("ours-seeded.npy");
    generate(&GenerateArgs {
        out: Some(root.join("ours-seeded.png")),
        grid: 2,
        seed: 7,
        noise: "const".into(),
        npy: Some(seeded.clone()),
        ..base.clone()
    })
    .unwrap();
    let torch_seeded = root.join("torch-seeded.npy");
    pytorch(
        &ckpt,
        &torch_seeded,
        &["--grid", "2", "--seed", "7", "--noise", "const"],
    );
    let (a2, _) = read_npy(&seeded).unwrap();
    let (b2, sb2) = read_npy(&torch_seeded).unwrap();
    assert_eq!(sb2, [4, 1, 8, 8]);
    let (d2, scale2) = diff(&a2, &b2);
    println!(
        "seeded, const noise: max |ours - pytorch| = {d2:.3e} on images of max |x| {scale2:.3}"
    );
    assert!(d2 <= TOL * scale2.max(1.0), "PyTorch differs by {d2}");
    let z7 = ops::rand_normal(&[4, zd], 7, 0, 0.0, 1.0, Place::Cpu32);
    let (dn, _) = diff(&ours(&t, &z7, 8, pt.alpha, PSI, CUTOFF), &a2);
    assert!(
        dn > 100.0 * TOL * scale2.max(1.0),
        "the noise moves the images by only {dn}"
    );
    println!("PyTorch parity in {:.1} s", start.elapsed().as_secs_f64());
    let _ = fs::remove_dir_all(&root);
}
