//! The benchmark tool end to end on whatever device is here (lavapipe in CI): rows have the
//! fields the issue asks for, rates follow from the counted work, the JSON round-trips, and a
//! whole training step is timed with its kernel families. Speed itself is not asserted:
//! that is what the benchmark reports.

use sgw::bench::{self, kernels, train_step, BenchArgs, Report};
use sgw::gpu;

#[test]
fn kernel_rows_follow_from_counted_work_and_round_trip_as_json() {
    let args = BenchArgs {
        quick: true,
        filter: Some("adain".into()),
        repeats: Some(2),
        no_steps: true,
        ..Default::default()
    };
    let report = bench::run(&args).expect("a GPU adapter (lavapipe in CI)");
    let names: Vec<&str> = report.kernels.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["adain_forward", "adain_backward"]);
    assert!(report.ceilings.fma_gflops > 0.0 && report.ceilings.copy_gbs > 0.0);
    let counted = kernels::filtered(kernels::set(true), Some("adain"));
    for (row, b) in report.kernels.iter().zip(&counted) {
        assert_eq!(row.shape, b.shape);
        assert!(row.median_ms > 0.0);
        assert!(row.spread_ms[0] <= row.median_ms && row.median_ms <= row.spread_ms[1]);
        let secs = row.median_ms * 1e-3;
        assert!((row.gflops - b.flops / secs / 1e9).abs() <= 1e-9 * row.gflops.max(1.0));
        assert!((row.gbs - b.bytes / secs / 1e9).abs() <= 1e-9 * row.gbs.max(1.0));
        assert!((row.frac_fma - row.gflops / report.ceilings.fma_gflops).abs() < 1e-12);
        assert!((row.frac_copy - row.gbs / report.ceilings.copy_gbs).abs() < 1e-12);
        let cpu = row.cpu_ms.expect("quick adain rows are cheap on the CPU");
        assert!((row.speedup_vs_cpu.unwrap() - cpu / row.median_ms).abs() < 1e-9);
    }
    assert!(report.train_step.is_empty(), "--no-steps");
    // serde_json's float parsing may differ in the last bit: compare to 1e-12.
    let back: Report = serde_json::from_str(&report.to_json()).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
    assert_eq!(back.kernels.len(), report.kernels.len());
    for (a, b) in back.kernels.iter().zip(&report.kernels) {
        assert_eq!((&a.name, &a.shape), (&b.name, &b.shape));
        for (x, y) in [
            (a.median_ms, b.median_ms),
            (a.spread_ms[1], b.spread_ms[1]),
            (a.gflops, b.gflops),
            (a.frac_copy, b.frac_copy),
            (a.cpu_ms.unwrap(), b.cpu_ms.unwrap()),
        ] {
            assert!(close(x, y), "{x} != {y}");
        }
    }
    assert!(close(back.ceilings.fma_gflops, report.ceilings.fma_gflops));
    let table = bench::report::table(&report);
    assert!(table.contains("adain_backward") && table.contains("%FMA"));
}

#[test]
fn a_training_step_is_timed_with_its_kernel_families() {
    let ctx = gpu::gpu();
    let mut set = train_step::step_set(true);
    set.resolutions = vec![4];
    let mut notes = Vec::new();
    let rows = train_step::measure(ctx, &set, (0, 1), &mut notes);
    assert_eq!(rows.len(), 1, "{notes:?}");
    let r = &rows[0];
    assert_eq!((r.res, r.batch), (4, 8));
    assert!(r.median_ms > 0.0);
    assert!((r.images_per_s - 8.0 / (r.median_ms * 1e-3)).abs() < 1e-9 * r.images_per_s);
    // Mapping, synthesis, D three times, the penalty's double backward, Adam twice, EMA.
    assert!(r.dispatches > 100, "{} dispatches", r.dispatches);
    assert!(r.host_ms > 0.0);
    // Memory: the step's peak holds at least the parameters and the D scores' activations;
    // the first-order D loss needs saved activations, the penalty a second-order graph.
    assert!(r.params_mib > 0.0 && r.activations_mib > 0.0, "{r:?}");
    assert!(r.peak_mib >= r.params_mib + r.activations_mib, "{r:?}");
    assert!(r.slack_mib >= 0.0 && r.slack_mib <= r.peak_mib, "{r:?}");
    let json = serde_json::to_value(r).unwrap();
    for field in [
        "peak_mib",
        "params_mib",
        "activations_mib",
        "penalty_mib",
        "slack_mib",
    ] {
        assert!(json[field].as_f64().is_some(), "no {field} in {json}");
    }
    if ctx.can_profile() {
        // A step runs convolutions, AdaIN, the mapping network's matmuls and both optimisers.
        for family in ["conv", "adain", "matmul", "optim"] {
            let ms = r.families.get(family).copied().unwrap_or(0.0);
            assert!(ms > 0.0, "no GPU time for {family}: {:?}", r.families);
        }
        assert!(r.gpu_ms.is_some_and(|g| g > 0.0));
    }
}

#[test]
fn the_step_sets_match_the_pytorch_script() {
    // tools/pytorch_bench.py --quick: z/w 64, fmap_base 256, fmap_max 64, built to the
    // largest timed resolution (16), batch 8 at 4, 8 and 16.
    let q = train_step::step_set(true);
    let m = &q.cfg.model;
    assert_eq!(
        (
            m.z_dim,
            m.w_dim,
            m.fmap_base,
            m.fmap_max,
            m.max_res,
            m.channels
        ),
        (64, 64, 256, 64, 16, 1)
    );
    assert_eq!(q.resolutions, [4, 8, 16]);
    assert!(q.resolutions.iter().all(|&r| q.cfg.batch_at(r) == 8));
    // The default: 512-wide, built to 256, StyleGAN's single-GPU batch table.
    let f = train_step::step_set(false);
    let m = &f.cfg.model;
    assert_eq!(
        (m.z_dim, m.fmap_base, m.fmap_max, m.max_res),
        (512, 16384, 512, 256)
    );
    let batches: Vec<usize> = f.resolutions.iter().map(|&r| f.cfg.batch_at(r)).collect();
    assert_eq!(batches, [128, 128, 128, 64, 32, 16, 8]);
}

#[test]
fn the_ceiling_kernels_compute_what_they_count() {
    use sgw::bench::ceilings::{fma_reference, CopyParams, FmaParams};
    use sgw::gpu::batch::groups_1d;
    use sgw::gpu::Kernel;
    let ctx = gpu::gpu();
    // FMA: whole 256-wide groups (the ceiling launches whole groups; the kernel has no bound
    // check), output poisoned, every invocation against the f64 twin. The chains converge
    // to b / (1 - a), so f32 and f64 agree to rounding.
    let (threads, iters, a, b) = (1024u64, 37u32, 0.999f32, 0.001f32);
    let out = ctx.alloc(threads * 4);
    ctx.fill_u32(&out, f32::NAN.to_bits());
    ctx.dispatch(
        &Kernel::new("bench/fma.wgsl"),
        &FmaParams { iters, a, b },
        &[&out],
        groups_1d(threads),
    );
    let got: Vec<f32> = bytemuck::pod_collect_to_vec(&ctx.read(&out, threads * 4));
    for (i, &g) in got.iter().enumerate() {
        let want = fma_reference(i as u32, iters, a as f64, b as f64);
        assert!(
            (g as f64 - want).abs() <= 1e-5 * want.abs(),
            "fma out[{i}] = {g}, reference {want}"
        );
    }
    // Copy: 1001 vec4s (not a multiple of 256), destination poisoned one vec4 longer.
    let n4 = 1001u64;
    let src: Vec<f32> = (0..4 * n4).map(|i| i as f32 * 0.25).collect();
    let src_buf = ctx.upload(bytemuck::cast_slice(&src));
    let dst = ctx.alloc((n4 + 1) * 16);
    ctx.fill_u32(&dst, f32::NAN.to_bits());
    ctx.dispatch(
        &Kernel::new("bench/copy.wgsl"),
        &CopyParams { n: n4 as u32 },
        &[&src_buf, &dst],
        groups_1d(n4),
    );
    let got: Vec<f32> = bytemuck::pod_collect_to_vec(&ctx.read(&dst, (n4 + 1) * 16));
    assert_eq!(&got[..src.len()], &src[..]);
    assert!(got[src.len()..].iter().all(|v| v.is_nan()), "copied past n");
}

/// `bench --memory-plan` (the CLI users run to see whether the schedule fits their card):
/// one row per phase of the default 256x256 schedule, the verdicts follow the budget, a
/// budget too small for the batch names an accumulation, and a bad budget is an error.
#[test]
fn the_memory_plan_command_checks_a_budget_and_names_an_accumulation() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_stylegan-wgpu"))
            .args(["bench", "--memory-plan"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--memory-budget", "64"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("x"))
        .collect();
    // 4x4 stable, then a fade-in and a stable phase for each of 8..256.
    assert_eq!(rows.len(), 13, "{text}");
    assert!(rows.iter().all(|r| r.ends_with("| yes |")), "{text}");
    assert!(!text.contains("--accumulate"), "{text}");
    let tight = String::from_utf8_lossy(&run(&["--memory-budget", "6"]).stdout).to_string();
    assert!(tight.contains("with --accumulate 2"), "{tight}");
    let bad = run(&["--memory-budget", "0"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--memory-budget must be > 0"));
}

/// StyleGAN2's and ADA's resampling rows and the guard's sum of squares run on this device
/// and count the work written in `bench::kernels`' table, by hand for x = 2 x 17 x 16 x 16
/// (8704 values).
#[test]
fn the_stylegan2_and_guard_rows_run_and_count_their_work() {
    let rows = |f: &str| kernels::filtered(kernels::set(true), Some(f));
    let e = 8704.0;
    let fir = rows("_fir");
    assert_eq!(fir.len(), 2);
    // Up: 4e outputs, 2 x 2 nonzero taps each (8 FLOP); read e, write 4e.
    assert_eq!(
        (fir[0].name, fir[0].flops, fir[0].bytes),
        ("upsample2d_fir", 32.0 * e, 20.0 * e)
    );
    // Down: e / 4 outputs, 4 x 4 taps each (32 FLOP); read e, write e / 4.
    assert_eq!(
        (fir[1].name, fir[1].flops, fir[1].bytes),
        ("downsample2d_fir", 8.0 * e, 5.0 * e)
    );
    let aff = rows("affine");
    assert_eq!(aff.len(), 2);
    assert_eq!((aff[0].flops, aff[0].bytes), (8.0 * e, 8.0 * e));
    let sq = rows("sum_of_squares");
    assert_eq!((sq[0].flops, sq[0].bytes), (2e5, 4e5));
    let args = BenchArgs {
        quick: true,
        filter: Some("2d_fir".into()),
        repeats: Some(2),
        no_steps: true,
        ..Default::default()
    };
    let report = bench::run(&args).expect("a GPU adapter (lavapipe in CI)");
    let names: Vec<&str> = report.kernels.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["upsample2d_fir", "downsample2d_fir"]);
    assert!(report
        .kernels
        .iter()
        .all(|k| k.median_ms > 0.0 && k.cpu_ms.is_some()));
}

/// `bench --arch stylegan2`'s step section: a model built at the timed resolution, each kind
/// of step (both lazy regularisers, path length alone, neither) timed and weighted by its
/// share of the official intervals' steps, rows marked stylegan2 with the memory fields.
/// A tiny model at the quick set's first resolution keeps it to seconds.
#[test]
fn a_stylegan2_step_is_timed_with_its_lazy_regularisers_weighted_in() {
    use sgw::bench::stylegan2_step;
    use sgw::nn::Arch;
    let ctx = gpu::gpu();
    let mut set = stylegan2_step::stylegan2_set(true);
    assert_eq!(set.resolutions, [8, 16]);
    assert_eq!(set.cfg.model.arch, Arch::Stylegan2);
    // The full set: the default model at 8..256 (D needs 8), batches from the table.
    let full = stylegan2_step::stylegan2_set(false);
    assert_eq!(full.resolutions, [8, 16, 32, 64, 128, 256]);
    let c = stylegan2_step::at_res(&full.cfg, 256);
    assert_eq!(
        (c.model.start_res, c.model.max_res, c.batch_at(256)),
        (256, 256, 8)
    );
    assert!((c.r1_gamma - 0.0002 * 256.0 * 256.0 / 8.0).abs() < 1e-12);

    set.resolutions.truncate(1);
    set.cfg.model.fmap_max = 16;
    set.cfg.model.mapping_layers = 2;
    set.cfg.set_batch(4);
    let mut notes = Vec::new();
    let rows = stylegan2_step::measure(ctx, &set, (0, 1), &mut notes);
    assert_eq!(rows.len(), 1, "{notes:?}");
    let r = &rows[0];
    assert_eq!((r.res, r.batch, r.arch), (8, 4, Arch::Stylegan2));
    let lazy = r
        .lazy
        .as_ref()
        .expect("StyleGAN2 rows say how the lazy steps count");
    assert_eq!((lazy.r1_interval, lazy.pl_interval), (16, 4));
    let kinds: Vec<(&str, u64, f64)> = lazy
        .kinds
        .iter()
        .map(|k| (k.label(), k.step, k.weight))
        .collect();
    assert_eq!(
        kinds,
        [
            ("R1+PL", 0, 1.0 / 16.0),
            ("plain", 1, 0.75),
            ("PL", 4, 3.0 / 16.0)
        ]
    );
    // The row's time is the kinds' medians weighted; a lazy step costs more than a plain one.
    let weighted: f64 = lazy.kinds.iter().map(|k| k.weight * k.median_ms).sum();
    assert!((r.median_ms - weighted).abs() <= 1e-9 * weighted, "{r:?}");
    assert!(lazy.kinds.iter().all(|k| k.median_ms > 0.0));
    assert!(
        lazy.kinds[0].median_ms > lazy.kinds[1].median_ms,
        "{lazy:?}"
    );
    assert!((r.images_per_s - 4.0 / (r.median_ms * 1e-3)).abs() < 1e-9 * r.images_per_s);
    assert!(
        r.spread_ms[0] <= r.median_ms && r.median_ms <= r.spread_ms[1],
        "{r:?}"
    );
    assert!(r.dispatches > 100 && r.host_ms > 0.0, "{r:?}");
    assert!(r.params_mib > 0.0 && r.activations_mib > 0.0, "{r:?}");
    assert!(r.peak_mib >= r.params_mib + r.activations_mib, "{r:?}");
    let json = serde_json::to_value(r).unwrap();
    assert_eq!(json["arch"], "stylegan2");
    assert_eq!(json["lazy"]["kinds"].as_array().unwrap().len(), 3);
    assert!(json["peak_mib"].as_f64().is_some());
    // A StyleGAN 1 row written before `arch` existed reads as stylegan1, without `lazy`.
    let mut old = json.clone();
    let o = old.as_object_mut().unwrap();
    o.remove("arch");
    o.remove("lazy");
    let back: bench::TrainStepRow = serde_json::from_value(old).unwrap();
    assert_eq!((back.arch, back.lazy), (Arch::Stylegan1, None));
}
