//! burn-wgpu side by side (issue 17): times burn's conv2d forward and forward + backward
//! (input and weight gradients through autodiff) and its matmul, at the shapes of
//! `stylegan-wgpu bench` (src/bench/kernels.rs), on wgpu's default adapter, and writes JSON
//! that `tools/burn_compare.py` sets beside the engine's own `bench --json`.
//!
//! Timing: burn exposes no GPU timestamps, so every figure is host wall clock around one run
//! followed by `device.sync()`. The first run of each op (kernel compilation and burn's
//! autotune, which benchmarks candidate kernels for each new shape key) is reported apart as
//! `warmup_*_ms`; one more untimed run follows, then the median of the timed runs. burn is
//! built without its `persistence` feature, so the autotune cache lives in memory only and
//! every run tunes afresh (the warm-up column means the same thing in every run).
//!
//!     cargo run --release -- [--set quick|full|all] [--json FILE] [--repeats N]
//!                            [--budget-s S] [--filter SUBSTR] [--skip SUBSTR]
//!                            [--no-bwd]

use std::time::Instant;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, DeviceKind, Distribution, Tensor};

/// burn's version, as pinned in Cargo.toml (and Cargo.lock).
const BURN_VERSION: &str = "0.22.1";

/// (N, C, K, H, W, k): conv3x3 (pad 1) and conv1x1 (pad 0), stride 1, no bias.
type Conv = (usize, usize, usize, usize, usize, usize);

/// `bench --quick`'s conv shapes (src/bench/kernels.rs `quick_set`), then the large shape of
/// issue 17 (in the engine's full set, not in its quick set).
const QUICK_CONVS: &[Conv] = &[
    (2, 17, 16, 16, 16, 3),
    (1, 3, 8, 8, 8, 1),
    (4, 32, 32, 16, 16, 3),
    (32, 512, 512, 8, 8, 3),
];
const QUICK_MATS: &[usize] = &[64, 256];

/// `bench`'s full set (src/bench/kernels.rs `full_set`): per resolution of
/// `TrainConfig::full()` (batch 128/128/128/64/32/16/8, nf = min(16384 / res, 512)) the 3x3
/// conv C = K = nf and the 1x1 toRGB (K = 3), then the extra shapes. Hours on a CPU device.
const FULL_CONVS: &[Conv] = &[
    (128, 512, 512, 4, 4, 3),
    (128, 512, 3, 4, 4, 1),
    (128, 512, 512, 8, 8, 3),
    (128, 512, 3, 8, 8, 1),
    (128, 512, 512, 16, 16, 3),
    (128, 512, 3, 16, 16, 1),
    (64, 512, 512, 32, 32, 3),
    (64, 512, 3, 32, 32, 1),
    (32, 256, 256, 64, 64, 3),
    (32, 256, 3, 64, 64, 1),
    (16, 128, 128, 128, 128, 3),
    (16, 128, 3, 128, 128, 1),
    (8, 64, 64, 256, 256, 3),
    (8, 64, 3, 256, 256, 1),
    (16, 256, 256, 32, 32, 3),
    (8, 64, 64, 128, 128, 3),
    (32, 512, 512, 8, 8, 3),
    (16, 64, 3, 64, 64, 1),
];
const FULL_MATS: &[usize] = &[1024, 4096];

struct Args {
    set: String,
    json: Option<String>,
    repeats: usize,
    budget_s: f64,
    filter: Option<String>,
    skip: Option<String>,
    no_bwd: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: burn_bench [--set quick|full|all] [--json FILE] [--repeats N] [--budget-s S]\n\
         \x20                 [--filter SUBSTR] [--skip SUBSTR] [--no-bwd]\n\
         --set        quick: bench --quick's convs and matmuls plus N=32 C=K=512 8x8 (default);\n\
         \x20            full: bench's full set (GPU only); all: both\n\
         --repeats    most timed runs per measurement (default 10; at least 3 are taken)\n\
         --budget-s   timed runs per measurement stop at about this many seconds (default 3)\n\
         --filter     only rows whose op or shape string contains SUBSTR\n\
         --skip       leave out rows whose op or shape string contains SUBSTR\n\
         --no-bwd     forward only"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        set: "quick".into(),
        json: None,
        repeats: 10,
        budget_s: 3.0,
        filter: None,
        skip: None,
        no_bwd: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--set" => a.set = val(),
            "--json" => a.json = Some(val()),
            "--repeats" => a.repeats = val().parse().unwrap_or_else(|_| usage()),
            "--budget-s" => a.budget_s = val().parse().unwrap_or_else(|_| usage()),
            "--filter" => a.filter = Some(val()),
            "--skip" => a.skip = Some(val()),
            "--no-bwd" => a.no_bwd = true,
            _ => usage(),
        }
    }
    if !["quick", "full", "all"].contains(&a.set.as_str()) || a.repeats == 0 {
        usage();
    }
    a
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// One measurement: the first run (compile + autotune) timed apart, one more warm-up run,
/// then between 3 and `repeats` timed runs (fewer when a run is long: about `budget_s` in
/// all). Each run ends with a device sync inside the timed region.
struct Timing {
    warmup_ms: f64,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
    runs: usize,
}

fn time_op(device: &Device, repeats: usize, budget_s: f64, mut run: impl FnMut()) -> Timing {
    let timed = |run: &mut dyn FnMut()| {
        let t = Instant::now();
        run();
        device.sync().expect("device sync");
        t.elapsed().as_secs_f64() * 1e3
    };
    let warmup_ms = timed(&mut run);
    let second = timed(&mut run);
    let n = ((budget_s * 1e3 / second.max(1e-3)).floor() as usize).clamp(3, repeats.max(3));
    let mut v: Vec<f64> = (0..n).map(|_| timed(&mut run)).collect();
    let min_ms = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max_ms = v.iter().cloned().fold(0.0, f64::max);
    Timing {
        warmup_ms,
        median_ms: median(&mut v),
        min_ms,
        max_ms,
        runs: n,
    }
}

fn timing_json(t: &Timing) -> serde_json::Value {
    serde_json::json!({
        "median_ms": t.median_ms, "min_ms": t.min_ms, "max_ms": t.max_ms,
        "runs": t.runs, "warmup_ms": t.warmup_ms,
    })
}

fn row(
    op: &str,
    shape: String,
    fwd: &Timing,
    bwd: Option<&Timing>,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut r = serde_json::json!({
        "op": op,
        "shape": shape,
        "fwd_ms": fwd.median_ms,
        "fwd_bwd_ms": bwd.map(|t| t.median_ms),
        "warmup_fwd_ms": fwd.warmup_ms,
        "warmup_fwd_bwd_ms": bwd.map(|t| t.warmup_ms),
        "fwd": timing_json(fwd),
        "fwd_bwd": bwd.map(timing_json),
    });
    if let (Some(o), Some(e)) = (r.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    r
}

fn main() {
    let args = parse_args();
    let (convs, mats): (Vec<Conv>, Vec<usize>) = match args.set.as_str() {
        "quick" => (QUICK_CONVS.to_vec(), QUICK_MATS.to_vec()),
        "full" => (FULL_CONVS.to_vec(), FULL_MATS.to_vec()),
        _ => {
            let mut c = QUICK_CONVS.to_vec();
            c.extend(FULL_CONVS.iter().filter(|s| !QUICK_CONVS.contains(s)));
            let mut m = QUICK_MATS.to_vec();
            m.extend(FULL_MATS);
            (c, m)
        }
    };
    let hit = |f: &Option<String>, op: &str, shape: &str| {
        f.as_ref()
            .map(|f| op.contains(f.as_str()) || shape.contains(f.as_str()))
    };
    let keep = |op: &str, shape: &str| {
        hit(&args.filter, op, shape).unwrap_or(true) && !hit(&args.skip, op, shape).unwrap_or(false)
    };

    let device = Device::wgpu(DeviceKind::DefaultDevice);
    let ad = device.clone().autodiff();
    let ident = device.identity();
    let adapter = ident
        .as_ref()
        .map(|i| i.name.clone())
        .unwrap_or_else(|| "unknown".into());
    let fingerprint = ident
        .as_ref()
        .map(|i| i.fingerprint.clone())
        .unwrap_or_default();
    println!("burn {BURN_VERSION}, wgpu backend (DeviceKind::DefaultDevice)");
    println!("adapter: {adapter}  [compiler target: {fingerprint}]");
    println!(
        "timing: host wall clock around each run plus device.sync() (burn exposes no GPU \
         timestamps); warm-up = first run incl. kernel compile + autotune (in-memory \
         autotune cache: every run tunes afresh)"
    );
    println!();
    println!(
        "{:<8} {:<34} {:>11} {:>11} {:>13} {:>13} {:>5}",
        "op", "shape", "fwd ms", "fwd+bwd ms", "warmup fwd", "warmup f+b", "runs"
    );

    let mut rows = Vec::new();
    let t_all = Instant::now();
    for &(n, c, k, h, w, ks) in &convs {
        let shape = format!("N={n} C={c} K={k} H={h} W={w} k={ks}");
        if !keep("conv2d", &shape) {
            continue;
        }
        let pad = ks / 2;
        let opts = || ConvOptions::new([1, 1], [pad, pad], [1, 1], 1);
        let dist = Distribution::Normal(0.0, 1.0);
        let x = Tensor::<4>::random([n, c, h, w], dist, &device);
        let wt = Tensor::<4>::random([k, c, ks, ks], dist, &device);
        device.sync().expect("sync");
        let fwd = time_op(&device, args.repeats, args.budget_s, || {
            let y = conv2d(x.clone(), wt.clone(), None, opts());
            drop(y);
        });
        let bwd = (!args.no_bwd).then(|| {
            let xa = Tensor::<4>::random([n, c, h, w], dist, &ad).require_grad();
            let wa = Tensor::<4>::random([k, c, ks, ks], dist, &ad).require_grad();
            ad.sync().expect("sync");
            time_op(&ad, args.repeats, args.budget_s, || {
                let y = conv2d(xa.clone(), wa.clone(), None, opts());
                // backward seeds dL/dy with ones of y's shape: dgrad + wgrad follow.
                let grads = y.backward();
                let gx = xa.grad(&grads).expect("input gradient");
                let gw = wa.grad(&grads).expect("weight gradient");
                drop((gx, gw, grads));
            })
        });
        print_row("conv2d", &shape, &fwd, bwd.as_ref());
        rows.push(row(
            "conv2d",
            shape,
            &fwd,
            bwd.as_ref(),
            serde_json::json!({"n": n, "c": c, "k": k, "h": h, "w": w, "ks": ks, "pad": pad}),
        ));
    }
    for &m in &mats {
        let shape = format!("M={m} N={m} K={m}");
        if !keep("matmul", &shape) {
            continue;
        }
        let a = Tensor::<2>::random([m, m], Distribution::Default, &device);
        let b = Tensor::<2>::random([m, m], Distribution::Default, &device);
        device.sync().expect("sync");
        let fwd = time_op(&device, args.repeats, args.budget_s, || {
            drop(a.clone().matmul(b.clone()));
        });
        let bwd = (!args.no_bwd).then(|| {
            let aa = Tensor::<2>::random([m, m], Distribution::Default, &ad).require_grad();
            let ba = Tensor::<2>::random([m, m], Distribution::Default, &ad).require_grad();
            ad.sync().expect("sync");
            time_op(&ad, args.repeats, args.budget_s, || {
                let grads = aa.clone().matmul(ba.clone()).backward();
                let ga = aa.grad(&grads).expect("gradient of a");
                let gb = ba.grad(&grads).expect("gradient of b");
                drop((ga, gb, grads));
            })
        });
        print_row("matmul", &shape, &fwd, bwd.as_ref());
        rows.push(row(
            "matmul",
            shape,
            &fwd,
            bwd.as_ref(),
            serde_json::json!({"m": m, "n": m, "k": m}),
        ));
    }
    let total_s = t_all.elapsed().as_secs_f64();
    println!("\ntotal {total_s:.1} s");

    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "framework": "burn",
            "burn_version": BURN_VERSION,
            "backend": "wgpu (burn::tensor::Device::wgpu(DeviceKind::DefaultDevice)), fusion off, autotune on",
            "adapter": adapter,
            "compiler_target": fingerprint,
            "timing": "wall",
            "timing_note": "host wall clock around each run plus device.sync(); burn exposes no GPU timestamps. warmup_* = the first run (kernel compilation and autotune), excluded from the median",
            "fwd_bwd_note": "conv2d: forward, then backward from dL/dy = ones (burn's seed) with input and weight gradients (dgrad + wgrad); matmul: forward, then both operands' gradients",
            "persistent_autotune_cache": false,
            "set": args.set,
            "total_s": total_s,
            "rows": rows,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap() + "\n")
            .unwrap_or_else(|e| panic!("writing {path}: {e}"));
        println!("wrote {path}");
    }
}

fn print_row(op: &str, shape: &str, fwd: &Timing, bwd: Option<&Timing>) {
    let f = |t: Option<&Timing>, g: fn(&Timing) -> f64| {
        t.map(|t| format!("{:.3}", g(t)))
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "{:<8} {:<34} {:>11} {:>11} {:>13} {:>13} {:>5}",
        op,
        shape,
        f(Some(fwd), |t| t.median_ms),
        f(bwd, |t| t.median_ms),
        f(Some(fwd), |t| t.warmup_ms),
        f(bwd, |t| t.warmup_ms),
        format!("{}/{}", fwd.runs, bwd.map(|t| t.runs).unwrap_or(0)),
    );
}
