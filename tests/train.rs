//! A whole tiny training on the software device: finite losses, checkpoint, sample grids,
//! CSV and plot written; `generate` works on the result; a run interrupted and resumed gives
//! the same losses, step by step, as one that never stopped; a broken checkpoint is a clear
//! error.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{losses, scratch, tiny};
use sgw::train::device::DeviceChoice;
use sgw::train::generate::{generate, GenerateArgs};
use sgw::train::run::{train, TrainArgs};
use sgw::train::TrainError;

fn args(root: &Path, out: &str) -> TrainArgs {
    let cfg = root.join("tiny.toml");
    fs::write(&cfg, tiny(0.024)).unwrap();
    TrainArgs {
        dataset: "oasis".into(),
        // An empty folder with no OASIS layout would be an error; the phantom is used when
        // nothing is given and ./data holds no OASIS.
        out: Some(root.join(out)),
        config: Some(cfg),
        preset: Some("small".into()),
        // The WGSL kernels through the software adapter (auto would take the CPU there).
        device: DeviceChoice::Software,
        quiet: true,
        ..TrainArgs::default()
    }
}

#[test]
fn tiny_training_writes_everything_and_resumes_exactly() {
    let root = scratch("train-train");
    // Straight run.
    train(&args(&root, "a")).unwrap();
    let a = root.join("a");
    for f in [
        "checkpoint.safetensors",
        "config.toml",
        "losses.csv",
        "losses.png",
        "metrics.png",
        "metrics.csv",
        "progress.gif",
        "log.txt",
    ] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let grids = fs::read_dir(a.join("samples")).unwrap().count();
    assert!(grids >= 2, "only {grids} sample grids");
    let la = losses(&a);
    assert_eq!(
        la.len(),
        1 + 12,
        "header + 12 steps (3 phases x 16 images / batch 4)"
    );
    for line in &la[1..] {
        let f: Vec<&str> = line.split(',').collect();
        for v in [f[6], f[7]] {
            assert!(
                v.parse::<f64>().unwrap().is_finite(),
                "non-finite loss in {line}"
            );
        }
    }
    // Interrupted after 5 steps, then resumed.
    let mut first = args(&root, "b");
    first.stop_after_steps = Some(5);
    train(&first).unwrap();
    assert_eq!(losses(&root.join("b")).len(), 1 + 5);
    let resume = TrainArgs {
        dataset: "oasis".into(),
        resume: Some(root.join("b")),
        device: DeviceChoice::Software,
        quiet: true,
        ..TrainArgs::default()
    };
    train(&resume).unwrap();
    assert_eq!(
        losses(&root.join("b")),
        la,
        "resumed run differs from the straight run"
    );
    // Killed between checkpoints: the logs hold steps past the checkpoint. The resume drops
    // them and trains those steps again, so the log still reads as the straight run.
    let mut second = args(&root, "c");
    second.stop_after_steps = Some(5);
    train(&second).unwrap();
    let c = root.join("c");
    let mut extra = fs::OpenOptions::new()
        .append(true)
        .open(c.join("losses.csv"))
        .unwrap();
    use std::io::Write;
    for step in 5..8 {
        writeln!(extra, "{step},{},0.0,8,stable,1.0,9e9,9e9,0,0", step * 4).unwrap();
    }
    drop(extra);
    train(&TrainArgs {
        resume: Some(c.clone()),
        ..resume.clone()
    })
    .unwrap();
    assert_eq!(losses(&c), la, "rows past the checkpoint were not replaced");
    let log = fs::read_to_string(c.join("log.txt")).unwrap();
    assert!(log.contains("dropped 3 log rows"), "{log}");

    // generate on the result.
    let out = root.join("g.png");
    let g = GenerateArgs {
        ckpt: a.clone(),
        grid: 3,
        seed: 5,
        truncation: 0.7,
        cutoff: 8,
        out: Some(out.clone()),
        noise: "const".into(),
        ..GenerateArgs::default()
    };
    generate(&g).unwrap();
    let img = image::open(&out).unwrap();
    assert!(img.width() >= 3 * 8);
    for f in [
        "g-interp.png",
        "g-interp.gif",
        "g-mixing.png",
        "g-images/0008.png",
    ] {
        assert!(root.join(f).is_file(), "{f} missing");
    }
}

/// `generate` on the CPU with default flags.
fn generate_cpu(ckpt: PathBuf) -> Result<(), TrainError> {
    generate(&GenerateArgs {
        ckpt,
        grid: 2,
        seed: 1,
        truncation: 1.0,
        cutoff: 8,
        noise: "random".into(),
        cpu: true,
        ..GenerateArgs::default()
    })
}

#[test]
fn broken_checkpoints_are_clear_errors() {
    let root = scratch("train-ckpt");
    let e = generate_cpu(root.join("missing")).unwrap_err().to_string();
    assert!(e.contains("missing"), "{e}");
    // A run directory without a checkpoint.
    let e = generate_cpu(root.clone()).unwrap_err().to_string();
    assert!(e.contains("checkpoint.safetensors"), "{e}");
    // A truncated file.
    let f = root.join("checkpoint.safetensors");
    fs::write(&f, b"\x40\x00\x00\x00\x00\x00\x00\x00{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}").unwrap();
    let e = generate_cpu(f).unwrap_err().to_string();
    assert!(e.contains("truncated or corrupt"), "{e}");
}
