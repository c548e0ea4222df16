//! A deterministic, procedurally generated axial brain-MRI phantom: dark background, skull
//! ring, CSF gap, a folded grey-matter cortex over brighter white matter, and two dark
//! ventricles, varying per sample in size, rotation, folds, ventricles and contrast.

use rayon::prelude::*;

use super::{Dataset, Source};
use crate::train::trainer::hash;

fn smooth(edge0: f64, edge1: f64, x: f64) -> f64 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A uniform number in [a, b) for (seed, image, k).
fn draw(seed: u64, i: u64, k: u64, a: f64, b: f64) -> f64 {
    a + (b - a) * ((hash(seed, i, k) >> 11) as f64 / (1u64 << 53) as f64)
}

fn slice(seed: u64, i: u64, res: usize) -> Vec<u8> {
    let d = |k, a, b| draw(seed, i, k, a, b);
    let (ax, ay) = (d(0, 0.70, 0.82), d(1, 0.80, 0.92));
    let rot = d(2, -0.25, 0.25);
    let folds = d(3, 9.0, 16.0).round();
    let fold_phase = d(4, 0.0, std::f64::consts::TAU);
    let fold_depth = d(5, 0.04, 0.09);
    let vent = d(6, 0.10, 0.22);
    let (grey, white) = (d(7, 0.45, 0.55), d(8, 0.68, 0.80));
    let skull = d(9, 0.80, 0.95);
    let (cs, sn) = (rot.cos(), rot.sin());
    let px = 1.0 / res as f64;
    let mut out = vec![0u8; res * res];
    for y in 0..res {
        for x in 0..res {
            let (u, v) = (
                (x as f64 + 0.5) * 2.0 * px - 1.0,
                (y as f64 + 0.5) * 2.0 * px - 1.0,
            );
            let (u, v) = (cs * u - sn * v, sn * u + cs * v);
            let r = ((u / ax).powi(2) + (v / ay).powi(2)).sqrt();
            let theta = v.atan2(u);
            let aa = 2.0 * px;
            let skull_ring = smooth(0.93 - aa, 0.93, r) * (1.0 - smooth(1.0 - aa, 1.0 + aa, r));
            let brain = 1.0 - smooth(0.88 - aa, 0.88 + aa, r);
            let boundary = 0.72
                + fold_depth * (folds * theta + fold_phase).sin()
                + 0.5 * fold_depth * (2.3 * folds * theta).sin();
            let wm = 1.0 - smooth(boundary - aa, boundary + aa, r);
            // Two ventricle lobes, a butterfly either side of the midline.
            let lobe = |cx: f64| ((u - cx) / (vent * 0.55)).powi(2) + ((v + 0.05) / vent).powi(2);
            let vents = 1.0 - smooth(0.8, 1.0, lobe(-0.09).min(lobe(0.09)));
            let mut val = skull * skull_ring;
            val += brain * (grey + (white - grey) * wm);
            val -= brain * vents * (white - 0.12);
            let noise = draw(
                seed ^ 0x9e37,
                i * (res * res) as u64 + (y * res + x) as u64,
                17,
                -0.02,
                0.02,
            );
            out[y * res + x] = ((val + noise * brain).clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    out
}

/// `n` phantom slices at `res` x `res`, grayscale.
pub fn phantom(n: usize, res: usize, seed: u64) -> Dataset {
    let pixels: Vec<u8> = (0..n)
        .into_par_iter()
        .flat_map_iter(|i| slice(seed, i as u64, res))
        .collect();
    Dataset::new(
        "phantom",
        Source::Phantom,
        format!("synthetic brain phantom: {n} images at {res}x{res}"),
        1,
        res,
        pixels,
    )
}
