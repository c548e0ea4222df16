//! The StyleGAN ops: gradients against f64 finite differences (first and second order) and
//! the GPU kernels against the CPU reference on awkward shapes with NaN-poisoned outputs.
//! Cases live in `sgw::check::suite::stylegan_cases`, shared with `gradcheck`.

use sgw::check::suite::{run_case, stylegan_cases};
use sgw::check::table;

fn check(prefix: &str) {
    let cases: Vec<_> = stylegan_cases()
        .into_iter()
        .filter(|c| c.op.starts_with(prefix))
        .collect();
    assert!(!cases.is_empty(), "no case matches {prefix}");
    for c in &cases {
        let rows = run_case(c);
        let bad: Vec<_> = rows.iter().filter(|r| !r.pass).cloned().collect();
        assert!(bad.is_empty(), "failures:\n{}", table(&bad));
        for check in [
            "grad vs FD",
            "grad2 vs FD",
            "gpu value",
            "gpu grad",
            "gpu grad2",
        ] {
            assert!(
                rows.iter().any(|r| r.check == check),
                "{} lacks {check}",
                c.op
            );
        }
    }
}

#[test]
fn conv2d() {
    check("conv2d ");
}
#[test]
fn conv2d_backward_data() {
    check("conv2d_backward_data");
}
#[test]
fn conv2d_backward_weight() {
    check("conv2d_backward_weight");
}
#[test]
fn linear() {
    check("linear");
}
#[test]
fn adain() {
    check("adain");
}
#[test]
fn noise_bias_act() {
    check("noise_bias_act");
}
#[test]
fn upsample2x() {
    check("upsample2x");
}
#[test]
fn downsample2x() {
    check("downsample2x");
}
#[test]
fn blur() {
    check("blur");
}
#[test]
fn pixel_norm() {
    check("pixel_norm");
}
#[test]
fn minibatch_stddev() {
    check("minibatch_stddev");
}

/// The fused AdaIN backward kernel (first order) and the composite one (used when a graph is
/// recorded) give the same gradients, on both devices.
#[test]
fn adain_fused_and_composite_backward_agree() {
    use sgw::check::{random_input, Domain, Errors};
    use sgw::ops::adain::{composite_backward, fused_backward};
    use sgw::Place;
    let x = random_input(&[2, 5, 7, 3], Domain::Any, 1);
    let ys = random_input(&[2, 5], Domain::Any, 2);
    let g = random_input(&[2, 5, 7, 3], Domain::Any, 3);
    let reference = composite_backward(&x, &ys, &g);
    for place in [Place::Cpu64, Place::Gpu] {
        let (x, ys, g) = (x.to_place(place), ys.to_place(place), g.to_place(place));
        let fused = fused_backward(&x, &ys, &g);
        for (a, b) in [
            (&fused.0, &reference.0),
            (&fused.1, &reference.1),
            (&fused.2, &reference.2),
        ] {
            let e = Errors::of(&a.to_vec_f64(), &b.to_vec_f64(), 1e-2);
            let tol = if place == Place::Gpu { 1e-4 } else { 1e-12 };
            assert!(e.max_rel < tol, "{place:?}: {e}");
        }
    }
}

/// Noise maps: the same numbers (to f32 rounding) on GPU and CPU for the same (seed, step, layer), and
/// different maps for different steps and layers.
#[test]
fn noise_maps_are_reproducible_and_distinct() {
    use sgw::ops::noise_map;
    use sgw::Place;
    let a = noise_map(2, 9, 7, 42, 3, 5, Place::Gpu).to_vec();
    let b = noise_map(2, 9, 7, 42, 3, 5, Place::Cpu32).to_vec();
    // Same counters, same uniforms; Box-Muller's log and cos differ in the last bits.
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-5, "GPU and CPU maps differ by {worst}");
    let other_step = noise_map(2, 9, 7, 42, 4, 5, Place::Cpu32).to_vec();
    let other_layer = noise_map(2, 9, 7, 42, 3, 6, Place::Cpu32).to_vec();
    assert_ne!(a, other_step);
    assert_ne!(a, other_layer);
    let mean = a.iter().sum::<f32>() / a.len() as f32;
    let var = a.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / a.len() as f32;
    assert!(
        mean.abs() < 0.3 && (var - 1.0).abs() < 0.4,
        "mean {mean} var {var}"
    );
}
