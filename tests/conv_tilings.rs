//! Both convolution kernels on every conv case: the narrow ROWS x 64 tiles and the wide
//! 128 x 128 tiles, each forced in turn (real work picks one by size, and the test shapes are
//! too small for the wide one to be picked). GPU values, gradients and second-order
//! gradients against the CPU reference with NaN-poisoned outputs, and f64 finite differences.
//! Then Winograd (a tuner candidate), and every configuration the autotuner may pick
//! (`ops::tune`), forced one by one, on awkward shapes. The policy and the forced configuration are global to the process, so
//! the two tests take turns (`KNOBS`).

use std::sync::Mutex;

use sgw::check::suite::{run_case, stylegan_cases};
use sgw::check::table;
use sgw::cpu::conv::ConvDims;
use sgw::gpu;
use sgw::ops::conv::{set_tiling_policy, tiling, Tiling, TilingPolicy};
use sgw::ops::tune::{self, ConvConfig};
use sgw::ops::{self, conv2d, conv2d_backward_data, conv2d_backward_weight};
use sgw::tensor::{Place, Tensor};

static KNOBS: Mutex<()> = Mutex::new(());

#[test]
fn every_conv_case_passes_with_each_tiling() {
    let _turn = KNOBS.lock().unwrap_or_else(|e| e.into_inner());
    let cases: Vec<_> = stylegan_cases()
        .into_iter()
        .filter(|c| c.op.starts_with("conv2d"))
        .collect();
    assert_eq!(
        cases.len(),
        4,
        "conv2d 3x3, 1x1, backward_data, backward_weight"
    );
    for policy in [TilingPolicy::Narrow, TilingPolicy::Wide] {
        let _forced = set_tiling_policy(policy);
        let forced = tiling(5, 7, false);
        assert_eq!(
            matches!(forced, Tiling::Wide),
            policy == TilingPolicy::Wide,
            "{policy:?} gave {forced:?}"
        );
        for c in &cases {
            let rows = run_case(c);
            assert!(rows.iter().any(|r| r.check == "gpu grad2"), "{}", c.op);
            let bad: Vec<_> = rows.iter().filter(|r| !r.pass).cloned().collect();
            assert!(bad.is_empty(), "{policy:?} tiling:\n{}", table(&bad));
        }
    }
    // Winograd F(2x2, 3x3) in every pass it applies to (the 3x3 forward and input
    // gradient, so R1's second-order gradients too); the rule elsewhere.
    let winograd = ConvConfig {
        tiling: Tiling::Winograd,
        k_step: 16,
        split_target: 512,
    };
    let _forced = tune::force_conv(Some(winograd));
    for c in &cases {
        let rows = run_case(c);
        let bad: Vec<_> = rows.iter().filter(|r| !r.pass).cloned().collect();
        assert!(bad.is_empty(), "Winograd:\n{}", table(&bad));
    }
    drop(_forced);
    let _auto = set_tiling_policy(TilingPolicy::Auto);
    // Auto: wide only for big GEMMs with enough tiles, or a splittable reduction.
    assert_eq!(tiling(512, 64 * 128 * 128, false), Tiling::Wide);
    assert_eq!(tiling(512, 2048, false), Tiling::Narrow(64));
    assert_eq!(tiling(512, 4608, true), Tiling::Wide);
    assert_eq!(tiling(64, 1 << 20, false), Tiling::Narrow(64));
    assert_eq!(tiling(16, 4096, true), Tiling::Narrow(16));
}

fn rand(shape: &[usize], block: u64) -> Tensor {
    ops::rand_normal(shape, 11, block << 32, 0.0, 1.0, Place::Cpu64)
}

/// Largest |gpu - cpu| over the largest |cpu|; NaN (an element left unwritten under
/// poisoning) counts as infinitely wrong.
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

/// Batch 1, odd channel counts, sizes no tile divides, a rectangular kernel, more rows than
/// one narrow tile, and enough pixels for the weight gradient to split 1, 2 or 3 ways.
fn awkward() -> Vec<ConvDims> {
    let d = |n, c, k, h, w, kh, kw| ConvDims {
        n,
        c,
        k,
        h,
        w,
        kh,
        kw,
    };
    vec![
        d(1, 3, 5, 7, 9, 3, 3),
        d(2, 17, 19, 17, 17, 3, 3),
        d(3, 9, 70, 6, 5, 1, 1),
        d(1, 4, 6, 5, 7, 1, 3),
        d(2, 5, 130, 12, 11, 3, 3),
    ]
}

#[test]
fn every_autotune_candidate_matches_the_cpu_reference() {
    let _turn = KNOBS.lock().unwrap_or_else(|e| e.into_inner());
    let configs = ConvConfig::all();
    assert_eq!(
        configs.len(),
        48,
        "(3 narrow tiles x 3 K-steps + wide + wide with prefetch + Winograd) x 4 split targets"
    );
    let mut splits_seen = std::collections::BTreeSet::new();
    for d in awkward() {
        let x = rand(&[d.n, d.c, d.h, d.w], 1);
        let w = rand(&[d.k, d.c, d.kh, d.kw], 2);
        let b = rand(&[d.k], 3);
        let g = rand(&[d.n, d.k, d.h, d.w], 4);
        let scale = 0.7;
        let want = [
            conv2d(&x, &w, Some(&b), scale, 0.3),
            conv2d_backward_data(&g, &w, scale),
            conv2d_backward_weight(&x, &g, [d.kh, d.kw], scale),
        ];
        let (xg, wg, bg, gg) = (x.to_gpu(), w.to_gpu(), b.to_gpu(), g.to_gpu());
        // Each candidate the tuner would time here is one of `all`.
        for mode in 0..3 {
            for c in tune::conv_candidates(mode, &d) {
                assert!(configs.contains(&c), "{c:?} is not in ConvConfig::all");
            }
        }
        for &c in &configs {
            let _forced = tune::force_conv(Some(c));
            let _poison = gpu::set_poison(true);
            splits_seen.insert(c.splits(&d).0);
            // The split target only changes the weight gradient: the other passes once per
            // tiling and K-step.
            let once = c.split_target == configs[0].split_target;
            let got = [
                once.then(|| conv2d(&xg, &wg, Some(&bg), scale, 0.3)),
                once.then(|| conv2d_backward_data(&gg, &wg, scale)),
                Some(conv2d_backward_weight(&xg, &gg, [d.kh, d.kw], scale)),
            ];
            for (pass, (got, want)) in got.iter().zip(&want).enumerate() {
                let Some(got) = got else { continue };
                let e = rel_err(got, want);
                assert!(e < 1e-5, "{c:?} pass {pass} at {d:?}: relative error {e:e}");
            }
        }
    }
    assert!(
        [1, 2, 3].iter().all(|s| splits_seen.contains(s)),
        "the shapes should split the weight gradient 1, 2 and 3 ways: {splits_seen:?}"
    );
}
