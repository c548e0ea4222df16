//! Every configuration the autotuner may pick for `matmul.wgsl` (`ops::MatmulConfig`: tile
//! rows, K-step, split-K parts), forced one by one, against the CPU reference with
//! NaN-poisoned outputs: one-element products, sizes no tile divides, K no split divides and
//! K shorter than the parts, transposed and batched operands, a shared rank-2 operand, and
//! the gradients (the backward's own products run forced too).

use sgw::autograd;
use sgw::gpu;
use sgw::ops::matmul::{self as mm, MatmulConfig, MatmulShape};
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
    // The last four have K long enough for every split count to have several parts, and
    // no split (nor K-step) divides it: the last part is short.
    let cases: [(&[usize], &[usize], bool, bool); 11] = [
        (&[1, 1], &[1, 1], false, false),
        (&[17, 33], &[33, 65], false, false),
        (&[100, 33], &[7, 100], true, true),
        (&[3, 70, 17], &[17, 130], false, false),
        (&[2, 5, 19], &[2, 67, 19], false, true),
        (&[129, 8], &[129, 31], true, false),
        (&[5, 1001], &[1001, 70], false, false),
        (&[700, 9], &[33, 700], true, true),
        (&[3, 9, 603], &[603, 20], false, false),
        (&[2, 610, 6], &[2, 66, 610], true, true),
        // Two batches of more than one wide tile each way, none of them full.
        (&[2, 130, 37], &[2, 37, 260], false, false),
    ];
    let all = MatmulConfig::all();
    assert_eq!(
        all.len(),
        46,
        "3 tile heights x 3 K-steps x 5 part counts, and the wide tiles"
    );
    for (i, &(sa, sb, ta, tb)) in cases.iter().enumerate() {
        let a = rand(sa, 2 * i as u64);
        let b = rand(sb, 2 * i as u64 + 1);
        let want = matmul_scaled(&a, &b, ta, tb, 0.6);
        let (ag, bg) = (a.to_gpu(), b.to_gpu());
        for &c in &all {
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

/// The gradients of sum(r * alpha op(a) op(b)) for both operands, in every configuration:
/// the backward's products (dA with K = n, dB with K = m, summed over the batch for a shared
/// operand) run forced as well.
#[test]
fn every_matmul_candidate_gives_the_cpu_gradients() {
    // Long K in the forward (a transposed, K = 520), in dA (K = n = 530, batched against a
    // shared b^T), and in the forward again with b shared and not transposed (K = 515).
    let cases: [(&[usize], &[usize], bool, bool); 3] = [
        (&[520, 3], &[520, 40], true, false),
        (&[2, 3, 33], &[530, 33], false, true),
        (&[2, 3, 515], &[515, 6], false, false),
    ];
    for (i, &(sa, sb, ta, tb)) in cases.iter().enumerate() {
        let a = rand(sa, 40 + 3 * i as u64);
        let b = rand(sb, 41 + 3 * i as u64);
        let grads = |a: &Tensor, b: &Tensor, r: &Tensor| {
            let (a, b) = (a.requires_grad_(), b.requires_grad_());
            let y = &matmul_scaled(&a, &b, ta, tb, 1.7) * r;
            autograd::grad(&[ops::sum_all(&y)], &[a, b], false)
        };
        let y_shape = matmul_scaled(&a, &b, ta, tb, 1.0).shape().to_vec();
        let r = rand(&y_shape, 42 + 3 * i as u64);
        let want = grads(&a, &b, &r);
        let (ag, bg, rg) = (a.to_gpu(), b.to_gpu(), r.to_gpu());
        for c in MatmulConfig::all() {
            let _forced = mm::force_matmul(Some(c));
            let _poison = gpu::set_poison(true);
            for (j, (got, want)) in grads(&ag, &bg, &rg).iter().zip(&want).enumerate() {
                assert_eq!(got.shape(), want.shape());
                let e = rel_err(got, want);
                assert!(
                    e < 1e-5,
                    "{c:?}, case {i}, gradient {j}: relative error {e:e}"
                );
            }
        }
    }
}

/// The candidates are configurations the tests above force, and long-K products with few
/// output tiles get split-K candidates (so those tests cover what the tuner may pick).
#[test]
fn split_k_candidates_are_among_the_tested_configurations() {
    let all = MatmulConfig::all();
    let shape = |batches, m, n, k| MatmulShape { batches, m, n, k };
    let mut split = 0;
    for d in [
        shape(1, 128, 512, 8192),
        shape(1, 128, 512, 512),
        shape(4, 9, 20, 3000),
        shape(1, 1, 1, 1),
        shape(1, 512, 512, 128),
        shape(64, 300, 300, 5000),
    ] {
        for c in mm::matmul_candidates(d) {
            assert!(all.contains(&c), "{c:?} at {d:?}");
            split += (c.splits > 1) as usize;
        }
    }
    assert!(split >= 8, "{split} split candidates");
    assert!(mm::matmul_candidates(shape(16, 512, 2048, 512)).contains(&MatmulConfig::WIDE));
    assert!(!mm::matmul_candidates(shape(1, 32, 2048, 512)).contains(&MatmulConfig::WIDE));
}
