//! Both convolution kernels on every conv case: the narrow ROWS x 64 tiles and the wide
//! 128 x 128 tiles, each forced in turn (real work picks one by size, and the test shapes are
//! too small for the wide one to be picked). GPU values, gradients and second-order
//! gradients against the CPU reference with NaN-poisoned outputs, and f64 finite differences.
//! The policy is global to the process, so this binary holds this one test alone.

use sgw::check::suite::{run_case, stylegan_cases};
use sgw::check::table;
use sgw::ops::conv::{set_tiling_policy, tiling, Tiling, TilingPolicy};

#[test]
fn every_conv_case_passes_with_each_tiling() {
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
    let _auto = set_tiling_policy(TilingPolicy::Auto);
    // Auto: wide only for big GEMMs with enough tiles, or a splittable reduction.
    assert_eq!(tiling(512, 64 * 128 * 128, false), Tiling::Wide);
    assert_eq!(tiling(512, 2048, false), Tiling::Narrow(64));
    assert_eq!(tiling(512, 4608, true), Tiling::Wide);
    assert_eq!(tiling(64, 1 << 20, false), Tiling::Narrow(64));
    assert_eq!(tiling(16, 4096, true), Tiling::Narrow(16));
}
