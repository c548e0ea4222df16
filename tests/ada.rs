//! ADA's geometric augmentations (`nn::augment`) and its probability controller
//! (`train::ada`, unit-tested there): p = 0 is the identity exactly; draws are keyed by the
//! image's place in the whole batch; the GPU pipeline matches the CPU one.

use sgw::check::{random_input, Domain, Errors};
use sgw::nn::augment::{augment_geometric, geometric_thetas, Geometric, IDENTITY};
use sgw::Place;

#[test]
fn an_augmentation_with_p_zero_is_the_identity_exactly() {
    let g = Geometric::default();
    let theta = geometric_thetas(&g, 0.0, 64, 9, 7, 42, 3, 0);
    assert!(theta.iter().all(|t| *t == IDENTITY));
    let x = random_input(&[5, 3, 9, 7], Domain::Any, 1);
    for place in [Place::Cpu64, Place::Cpu32, Place::Gpu] {
        let xp = x.to_place(place);
        let y = augment_geometric(&xp, &g, 0.0, 42, 3, 0);
        assert_eq!(y.to_vec_f64(), xp.to_vec_f64(), "{place:?}");
    }
}

#[test]
fn draws_follow_p_and_the_image_index() {
    let g = Geometric::default();
    let (h, w) = (16, 12);
    let all = geometric_thetas(&g, 1.0, 64, h, w, 7, 11, 0);
    // At p = 1 every image draws x-flip, quarter turn, shifts, scales and rotations; an
    // identity would need all of them to cancel.
    assert!(all.iter().all(|t| *t != IDENTITY));
    for t in &all {
        let det = t[0] * t[4] - t[1] * t[3];
        assert!(t.iter().all(|v| v.is_finite()) && det.abs() > 1e-3, "{t:?}");
    }
    // A micro-batch starting at image 40 draws what the whole batch drew there.
    assert_eq!(geometric_thetas(&g, 1.0, 8, h, w, 7, 11, 40), all[40..48]);
    // Another step, another draw; the same step, the same draw.
    assert_ne!(geometric_thetas(&g, 1.0, 64, h, w, 7, 12, 0), all);
    assert_eq!(geometric_thetas(&g, 1.0, 64, h, w, 7, 11, 0), all);
    // At p = 0.2 some images are left alone and some are not.
    let some = geometric_thetas(&g, 0.2, 64, h, w, 7, 11, 0);
    let untouched = some.iter().filter(|t| **t == IDENTITY).count();
    assert!(
        untouched > 0 && untouched < 64,
        "{untouched} of 64 untouched"
    );
}

#[test]
fn gpu_pipeline_matches_cpu() {
    let g = Geometric::default();
    let x = random_input(&[6, 3, 16, 12], Domain::Any, 2);
    let cpu = augment_geometric(&x, &g, 1.0, 5, 1, 0).to_vec_f64();
    let gpu = {
        let _poison = sgw::gpu::set_poison(true);
        augment_geometric(&x.to_place(Place::Gpu), &g, 1.0, 5, 1, 0).to_vec_f64()
    };
    let e = Errors::of(&gpu, &cpu, 1e-2);
    assert!(
        e.max_rel < sgw::check::suite::GRID_SAMPLE_GPU_TOL,
        "GPU augmentation: {e}"
    );
}
