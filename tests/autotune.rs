//! The autotuner's cache and switches: a file round-trips, a corrupt or foreign file is
//! ignored (never a panic), `SGW_AUTOTUNE_CACHE` moves it, `SGW_AUTOTUNE=off` and the
//! default (off until a program enables it) keep the fixed rules, and a tuned convolution
//! still matches the CPU. Environment variables are global to the process, so the GPU part
//! is one test.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sgw::cpu::conv::ConvDims;
use sgw::gpu::{self, autotune};
use sgw::ops::{self, conv2d_backward_weight, tune};
use sgw::tensor::{Place, Tensor};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sgw-autotune-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_cache_file_round_trips_and_bad_files_are_ignored() {
    let dir = scratch("file");
    let path = autotune::cache_file(&dir, "dev A");
    assert_ne!(
        path,
        autotune::cache_file(&dir, "dev B"),
        "one file per identity"
    );
    let mut entries = BTreeMap::new();
    entries.insert(
        "conv0 k3x3 m64 n512 r512".to_string(),
        "narrow32".to_string(),
    );
    entries.insert(
        "matmul z1 m64 n64 k64 l11".to_string(),
        "rows16".to_string(),
    );
    let file = autotune::CacheFile {
        device: "dev A".into(),
        entries: entries.clone(),
    };
    autotune::save(&path, &file).unwrap();
    assert_eq!(autotune::load(&path, "dev A"), entries);
    // Atomic write: no temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // Written for another adapter: not used.
    assert!(autotune::load(&path, "dev B").is_empty());
    // Corrupt, empty, or the wrong shape: ignored.
    for bad in [
        "{not json",
        "",
        "[1, 2]",
        "{\"device\": \"dev A\", \"entries\": 3}",
    ] {
        std::fs::write(&path, bad).unwrap();
        assert!(autotune::load(&path, "dev A").is_empty(), "{bad:?}");
    }
    assert!(autotune::load(&dir.join("missing.json"), "dev A").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand(shape: &[usize], block: u64) -> Tensor {
    ops::rand_normal(shape, 3, block << 32, 0.0, 1.0, Place::Cpu64)
}

/// A weight gradient with several candidates (tilings and split-K), on the GPU, checked
/// against the CPU.
fn tuned_weight_gradient(d: &ConvDims) {
    let x = rand(&[d.n, d.c, d.h, d.w], 1);
    let g = rand(&[d.n, d.k, d.h, d.w], 2);
    let want = conv2d_backward_weight(&x, &g, [d.kh, d.kw], 0.5).to_vec_f64();
    let got = conv2d_backward_weight(&x.to_gpu(), &g.to_gpu(), [d.kh, d.kw], 0.5).to_vec_f64();
    let scale = want.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() / scale < 1e-5, "tuned wgrad {a} vs cpu {b}");
    }
}

#[test]
fn tuning_is_off_by_default_switchable_and_its_cache_movable() {
    let d = ConvDims {
        n: 2,
        c: 9,
        k: 20,
        h: 17,
        w: 17,
        kh: 3,
        kw: 3,
    };
    assert!(
        tune::conv_candidates(2, &d).len() > 1,
        "a shape worth tuning"
    );
    let key = tune::conv_key(2, &d);
    let dir = scratch("env");
    std::env::set_var("SGW_AUTOTUNE_CACHE", &dir);
    std::env::remove_var("SGW_AUTOTUNE");
    assert_eq!(autotune::cache_dir(), Some(dir.clone()));

    // Off unless enabled: the rule runs and nothing is written.
    assert!(!autotune::enabled(), "tests must not tune unless they ask");
    autotune::forget();
    tuned_weight_gradient(&d);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);

    // SGW_AUTOTUNE=off wins over enable.
    let on = autotune::set_enabled(true);
    std::env::set_var("SGW_AUTOTUNE", "off");
    assert!(!autotune::enabled());
    tuned_weight_gradient(&d);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::env::remove_var("SGW_AUTOTUNE");
    assert!(autotune::enabled());

    // On: the first use tunes and writes the winner under SGW_AUTOTUNE_CACHE.
    tuned_weight_gradient(&d);
    let file = autotune::file_in_use().expect("a cache file");
    assert!(file.starts_with(&dir), "{file:?} is not under {dir:?}");
    let identity = autotune::identity(&gpu::gpu().info);
    let winner = autotune::load(&file, &identity)
        .get(&key)
        .cloned()
        .expect("the winner is cached");
    let labels: Vec<_> = tune::conv_candidates(2, &d)
        .iter()
        .map(|c| c.label(2))
        .collect();
    assert!(labels.contains(&winner), "{winner} among {labels:?}");
    assert!(tune::describe_conv(2, &d).contains("tuned"));

    // A corrupt file is ignored on the next start and replaced by a good one.
    std::fs::write(&file, "{ half a file").unwrap();
    autotune::forget();
    tuned_weight_gradient(&d);
    assert!(autotune::load(&file, &identity).contains_key(&key));

    drop(on);
    assert!(!autotune::enabled());
    assert!(tune::describe_conv(2, &d).contains("rule"));
    autotune::forget();
    std::env::remove_var("SGW_AUTOTUNE_CACHE");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn candidate_lists_start_with_the_rule_and_hold_no_duplicates() {
    let d = |n, c, k, h, w, ks| ConvDims {
        n,
        c,
        k,
        h,
        w,
        kh: ks,
        kw: ks,
    };
    let big = d(32, 512, 512, 8, 8, 3);
    let tiny = d(1, 3, 8, 8, 8, 1);
    for (dims, mode) in [(big, 0), (big, 1), (big, 2), (tiny, 0), (tiny, 2)] {
        let c = tune::conv_candidates(mode, &dims);
        assert_eq!(
            c[0],
            tune::conv_rule(mode, &dims),
            "mode {mode} at {dims:?}"
        );
        let mut seen: Vec<_> = c
            .iter()
            .map(|x| (x.tiling, x.k_step, (mode == 2).then(|| x.splits(&dims))))
            .collect();
        seen.sort_by_key(|s| format!("{s:?}"));
        seen.dedup();
        assert_eq!(
            seen.len(),
            c.len(),
            "duplicates for mode {mode} at {dims:?}"
        );
    }
    // A large 3x3 layer: the rule is narrow here; Winograd is the next to be timed (in every
    // pass, once), then the wide tiles.
    let c = tune::conv_candidates(0, &big);
    assert_eq!(c[0].tiling, tune::Tiling::Narrow(64));
    assert_eq!(c[1].tiling, tune::Tiling::Winograd);
    assert_eq!(c[2].tiling, tune::Tiling::Wide);
    for mode in 0..3 {
        let c = tune::conv_candidates(mode, &big);
        let winograd = c.iter().filter(|x| x.tiling == tune::Tiling::Winograd);
        assert_eq!(winograd.count(), 1, "mode {mode}: {c:?}");
        // Not for a 1x1 kernel.
        let c = tune::conv_candidates(mode, &tiny);
        assert!(
            c.iter().all(|x| x.tiling != tune::Tiling::Winograd),
            "{c:?}"
        );
    }
    // A three-channel 1x1 layer: 8 rows, one tile height. Forward: a reduction of 3, so no
    // K-step above 16. Weight gradient: 64 pixels, too few to split; all three K-steps.
    let c = tune::conv_candidates(0, &tiny);
    assert_eq!(c.len(), 2, "{c:?}");
    assert_eq!(
        tune::conv_candidates(2, &tiny).len(),
        3,
        "K-steps 16, 32, 8"
    );
    // Matmul: the rule, the wide tiles, then fewer rows and other K-steps; no split-K where K is short or
    // the output already has many tiles.
    use sgw::ops::matmul::{matmul_candidates, rule_splits, MatmulShape};
    let shape = |batches, m, n, k| MatmulShape { batches, m, n, k };
    let m = matmul_candidates(shape(1, 256, 256, 256));
    assert_eq!(m[0].label(), "rows64");
    assert_eq!(
        m[1].label(),
        "wide",
        "an output of 256 x 256 fits the wide tiles"
    );
    assert_eq!(m.len(), 10);
    assert_eq!(matmul_candidates(shape(1, 8, 8, 4)).len(), 2);
    assert!(matmul_candidates(shape(1, 2048, 2048, 8192))
        .iter()
        .all(|c| c.splits == 1));
    // D's last FC at 4x4, batch 128 (8192 inputs, 512 outputs): 16 tiles walking K = 8192.
    // The rule splits it into 16 parts of 512 (256 workgroups); the tuner may try 2..16,
    // at BK 16 and 32, and the unsplit rule.
    let fc = shape(1, 128, 512, 8192);
    assert_eq!(rule_splits(fc, 64), 16);
    let m = matmul_candidates(fc);
    assert_eq!(m[0].label(), "rows64s16");
    let labels: Vec<String> = m.iter().map(|c| c.label()).collect();
    for l in ["rows64s2", "rows64k32s16", "rows64", "rows32k8"] {
        assert!(labels.contains(&l.to_string()), "{l} in {labels:?}");
    }
    assert!(
        !labels.contains(&"wide".to_string()),
        "4 wide tiles: {labels:?}"
    );
    assert_eq!(m.len(), 9 + 8, "{labels:?}");
    // The rule splits only long K (>= 2048) with few tiles (< 64), parts >= 256.
    assert_eq!(rule_splits(shape(1, 128, 512, 512), 64), 1, "mapping FC");
    assert_eq!(rule_splits(shape(1, 512, 512, 8192), 64), 1, "64 tiles");
    assert_eq!(rule_splits(shape(1, 128, 512, 2048), 64), 8, "parts of 256");
    assert_eq!(
        rule_splits(shape(2, 16, 64, 4096), 16),
        16,
        "batched, 2 tiles"
    );
    // The mapping's 512 x 512 at batch 128 (K = 512): the tuner may try 2 parts of 256.
    let m = matmul_candidates(shape(1, 128, 512, 512));
    assert_eq!(m[0].splits, 1);
    assert!(m.iter().any(|c| c.splits == 2) && m.iter().all(|c| c.splits <= 2));
}
