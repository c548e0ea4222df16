//! Every configuration the autotuner may pick for `matmul.wgsl` (`ops::MatmulConfig`:
//! tile rows and K-step), forced one by one, against the CPU reference with NaN-poisoned outputs: one-element
//! products, sizes no tile divides, transposed and batched operands, a shared rank-2 operand.

use sgw::gpu;
use sgw::ops::matmul::{self as mm, MatmulConfig};
use sgw::ops::{self, matmul_scaled};
use sgw::tensor::{Place, Tensor};

fn rand(shape: &[usize], block: u64) -> Tensor {
    ops::rand_normal(shape, 5, block << 32, 0.0, 1.0, Place::Cpu64)
}

/// Largest |gpu - cpu| over the largest |cpu|, NaN counting as infinitely wrong.
fn rel_err(gpu: &Tensor, cpu: &Tensor) -> f64 {
    let (g, c) = (gpu.to_vec_f64(), cpu.to_vec_f64());
    assert_eq!(g.len(), c.len());
    let scale = c.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
    g.iter().zip(&c).fold(0.0, |m, (a, b)| {
        let e = (a - b).abs() / scale;
        if e.is_nan() {
            f64::INFINITY
        } else {
            m.max(e)
        }
    })
}

#[test]
fn every_matmul_tile_candidate_matches_the_cpu_reference() {
    // (a shape, b shape, transpose a, transpose b)
    let cases: [(&[usize], &[usize], bool, bool); 6] = [
        (&[1, 1], &[1, 1], false, false),
        (&[17, 33], &[33, 65], false, false),
        (&[100, 33], &[7, 100], true, true),
        (&[3, 70, 17], &[17, 130], false, false),
        (&[2, 5, 19], &[2, 67, 19], false, true),
        (&[129, 8], &[129, 31], true, false),
    ];
    assert_eq!(MatmulConfig::all().len(), 9, "3 tile heights x 3 K-steps");
    for (i, &(sa, sb, ta, tb)) in cases.iter().enumerate() {
        for c in mm::matmul_candidates(sa[sa.len() - 2], sa[sa.len() - 1]) {
            assert!(MatmulConfig::all().contains(&c), "{c:?}");
        }
        let a = rand(sa, 2 * i as u64);
        let b = rand(sb, 2 * i as u64 + 1);
        let want = matmul_scaled(&a, &b, ta, tb, 0.6);
        let (ag, bg) = (a.to_gpu(), b.to_gpu());
        for c in MatmulConfig::all() {
            let _forced = mm::force_matmul(Some(c));
            let _poison = gpu::set_poison(true);
            let got = matmul_scaled(&ag, &bg, ta, tb, 0.6);
            assert_eq!(got.shape(), want.shape());
            let e = rel_err(&got, &want);
            assert!(
                e < 1e-5,
                "{c:?}, {sa:?} (t={ta}) x {sb:?} (t={tb}): relative error {e:e}"
            );
        }
    }
}
