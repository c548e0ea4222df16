//! ADA's "bgc" pipeline (`nn::augment::Pipeline`, CPU f64) against `tools/ada_torch.py`: an
//! independent PyTorch f64 transcription of stylegan2-ada-pytorch's `AugmentPipe` that takes
//! its random numbers from a Python port of our Philox streams, so both sides draw the same
//! numbers for (seed, step, image). `tools/pytorch_bench.py --check-augment FILE` recomputes
//! every case with the official matrix composition and PyTorch's `affine_grid` +
//! `grid_sample` (bilinear, reflection; our stated simplification of the official resample)
//! and compares the per-image thetas, colour matrices, the geometric output and the whole
//! pipeline's output; it also prints, for information, how far the official resample (reflect
//! pad, 2x sym6 upsample, grid_sample, downsample) is from ours. The script uses the official
//! strengths of its own, not ours: a changed default here fails the check.
//!
//! Cases: batch 3 (and 8), grey and RGB, 8x12 and 12x8 (non-square) and 16x16, p 0.3, 0.8
//! and 1, nonzero `first` (the image's index in the whole batch keys its draws), and p = 0.
//! Skipped, with a notice, where python3 lacks torch.

mod common;

use sgw::check::{random_input, Domain};
use sgw::nn::augment::{augment_geometric, colour_matrices, geometric_thetas, Pipeline};
use sgw::Tensor;

/// Largest absolute difference the check accepts (both sides are f64; ~1e-15 is expected).
const TOL: f64 = 1e-9;

struct Case {
    name: &'static str,
    shape: [usize; 4],
    p: f64,
    seed: u64,
    step: u64,
    first: usize,
}

const CASES: [Case; 7] = [
    Case {
        name: "rgb 8x12 p=1",
        shape: [3, 3, 8, 12],
        p: 1.0,
        seed: 7,
        step: 3,
        first: 5,
    },
    Case {
        name: "grey 16x16 p=0.8",
        shape: [3, 1, 16, 16],
        p: 0.8,
        seed: 11,
        step: 0,
        first: 0,
    },
    Case {
        name: "rgb 16x16 p=0.3",
        shape: [3, 3, 16, 16],
        p: 0.3,
        seed: 0xDEAD_BEEF_0123_4567,
        step: 1234,
        first: 7,
    },
    Case {
        name: "grey 12x8 p=1",
        shape: [3, 1, 12, 8],
        p: 1.0,
        seed: 5,
        step: 9,
        first: 2,
    },
    Case {
        name: "rgb 8x8 p=0.8 batch 8",
        shape: [8, 3, 8, 8],
        p: 0.8,
        seed: 1,
        step: 77,
        first: 40,
    },
    Case {
        name: "grey 8x12 p=0.3 batch 8",
        shape: [8, 1, 8, 12],
        p: 0.3,
        seed: 2,
        step: 5,
        first: 3,
    },
    Case {
        name: "rgb 8x12 p=0",
        shape: [3, 3, 8, 12],
        p: 0.0,
        seed: 7,
        step: 3,
        first: 5,
    },
];

#[test]
fn pipeline_matches_the_pytorch_transcription_of_the_official_one() {
    if !common::has_torch() {
        println!("torch not installed: skipping the PyTorch ADA pipeline check");
        return;
    }
    let pipe = Pipeline::default();
    let cases: Vec<serde_json::Value> = CASES
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let [n, ch, h, w] = c.shape;
            let x: Tensor = random_input(&c.shape, Domain::Any, 100 + k as u64);
            let (p, seed, step, first) = (c.p, c.seed, c.step, c.first);
            let theta = geometric_thetas(&pipe.geometric, p, n, h, w, seed, step, first);
            let colour = colour_matrices(&pipe.colour, p, n, ch, seed, step, first);
            let geo = augment_geometric(&x, &pipe.geometric, p, seed, step, first);
            let y = pipe.apply(&x, p, seed, step, first);
            serde_json::json!({
                "name": c.name, "shape": c.shape, "p": p, "seed": seed, "step": step,
                "first": first, "x": x.to_vec_f64(), "theta": theta, "colour": colour,
                "geometric": geo.to_vec_f64(), "y": y.to_vec_f64(),
            })
        })
        .collect();
    let file = common::scratch("ada-pytorch").join("cases.json");
    // Ours leaves luma flip out on grey images; the official code applies it (x -> -x).
    let doc = serde_json::json!({"tol": TOL, "grey_lumaflip": false, "cases": cases});
    std::fs::write(&file, serde_json::to_string(&doc).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/pytorch_bench.py");
    let out = std::process::Command::new("python3")
        .args([script, "--check-augment", file.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "--check-augment failed:\n{text}");
    assert!(
        text.contains(&format!("check-augment: {} cases passed", CASES.len())),
        "{text}"
    );
}
