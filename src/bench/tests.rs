//! Unit tests of the benchmark's counts, sets and JSON schema.

use super::kernels::{conv_counts, conv_dims, matmul_counts, plane_counts};
use super::*;

#[test]
fn conv_and_matmul_counts_match_hand_computed_numbers() {
    // N=2 C=3 K=4 H=5 W=6 k=3: MACs = 2*4*30*3*9 = 6480.
    let d = conv_dims((2, 3, 4, 5, 6, 3));
    let (flops, bytes) = conv_counts(&d);
    assert_eq!(flops, 12960.0);
    // x 2*3*30 = 180, w 4*3*9 = 108, y 2*4*30 = 240: 528 floats.
    assert_eq!(bytes, 2112.0);
    // The shape: 2 * 16*256*1024*256*9 = 19.327 GFLOP.
    let (f, _) = conv_counts(&conv_dims((16, 256, 256, 32, 32, 3)));
    assert_eq!(f, 19_327_352_832.0);
    // M=2 N=3 K=4: 2*24 = 48 FLOP; 8 + 12 + 6 = 26 floats.
    assert_eq!(matmul_counts(2, 3, 4), (48.0, 104.0));
    // upsample2x of 2x17x16x16 = 8704 values: read once, 4x written.
    assert_eq!(
        plane_counts("upsample2x", [2, 17, 16, 16]),
        (0.0, 5.0 * 8704.0 * 4.0)
    );
}

#[test]
fn the_sets_hold_the_rows_the_pytorch_script_matches() {
    let rows = |quick| -> Vec<String> {
        kernels::set(quick)
            .iter()
            .map(|b| format!("{} {}", b.name, b.shape))
            .collect()
    };
    let full = rows(false);
    for want in [
        "conv2d_forward N=16 C=256 K=256 H=32 W=32 k=3",
        "conv2d_backward_data N=16 C=256 K=256 H=32 W=32 k=3",
        "conv2d_backward_weight N=8 C=64 K=64 H=128 W=128 k=3",
        "conv2d_forward N=128 C=512 K=3 H=4 W=4 k=1",
        "matmul M=4096 N=4096 K=4096",
        "adain_backward N=16 C=256 H=32 W=32",
        "blur N=8 C=64 H=128 W=128",
        "pixel_norm N=128 C=512",
        "minibatch_stddev N=16 C=512 H=4 W=4",
        "adam params=26000000",
        "ema params=26000000",
    ] {
        assert!(full.contains(&want.to_string()), "full set lacks {want}");
    }
    let quick = rows(true);
    for want in [
        "conv2d_forward N=2 C=17 K=16 H=16 W=16 k=3",
        "conv2d_backward_weight N=1 C=3 K=8 H=8 W=8 k=1",
        "matmul M=256 N=256 K=256",
        "noise_bias_act N=2 C=17 H=16 W=16",
        "pixel_norm N=8 C=64",
        "minibatch_stddev N=8 C=32 H=4 W=4",
        "adam params=100000",
    ] {
        assert!(quick.contains(&want.to_string()), "quick set lacks {want}");
    }
    // No duplicate rows: the schedule's shapes and the named ones overlap.
    let mut dedup = full.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), full.len());
}

#[test]
fn slow_cpu_sides_are_skipped_or_shortened() {
    assert_eq!(cpu_runs(0.001, 3), Some((1, 3)));
    assert_eq!(cpu_runs(4.0, 5), Some((0, 2)));
    assert_eq!(cpu_runs(6.0, 5), None);
}

#[test]
fn json_has_the_schema_keys() {
    let report = Report {
        device: DeviceInfo {
            name: "dev".into(),
            backend: "vulkan".into(),
            software: true,
            driver: "drv".into(),
        },
        timing: "timestamp".into(),
        ceilings: ceilings::Ceilings {
            fma_gflops: 10.0,
            copy_gbs: 5.0,
        },
        kernels: vec![KernelRow {
            name: "matmul".into(),
            shape: "M=64 N=64 K=64".into(),
            median_ms: 1.0,
            spread_ms: [0.9, 1.1],
            gflops: 0.5,
            gbs: 0.05,
            frac_fma: 0.05,
            frac_copy: 0.01,
            cpu_ms: None,
            speedup_vs_cpu: None,
        }],
        train_step: Vec::new(),
        notes: vec!["not in the JSON".into()],
    };
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&v),
        ["ceilings", "device", "kernels", "timing", "train_step"]
    );
    assert_eq!(
        keys(&v["device"]),
        ["backend", "driver", "name", "software"]
    );
    assert_eq!(keys(&v["ceilings"]), ["copy_gbs", "fma_gflops"]);
    assert_eq!(
        keys(&v["kernels"][0]),
        [
            "cpu_ms",
            "frac_copy",
            "frac_fma",
            "gbs",
            "gflops",
            "median_ms",
            "name",
            "shape",
            "speedup_vs_cpu",
            "spread_ms"
        ]
    );
    assert!(v["kernels"][0]["cpu_ms"].is_null());
    assert_eq!(v["kernels"][0]["spread_ms"].as_array().unwrap().len(), 2);
    assert!(v["train_step"].as_array().unwrap().is_empty());
    assert_eq!(v["timing"], "timestamp");
}
