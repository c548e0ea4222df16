//! The results: a table for people and JSON for tools (`tools/pytorch_bench.py --ours`).
//! The JSON schema is fixed (documented in BENCHMARKS.md); fields that only explain the
//! run to a reader are `#[serde(skip)]`.

use serde::{Deserialize, Serialize};

use super::ceilings::Ceilings;
use super::kernels::KernelBench;
use super::timing::Stats;
use super::train_step::TrainStepRow;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub name: String,
    pub backend: String,
    /// A CPU-backed implementation (lavapipe, SwiftShader, WARP): its numbers say nothing
    /// about GPUs.
    pub software: bool,
    pub driver: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelRow {
    pub name: String,
    pub shape: String,
    pub median_ms: f64,
    /// p10 and p90 of the repetitions.
    pub spread_ms: [f64; 2],
    pub gflops: f64,
    pub gbs: f64,
    /// gflops / ceilings.fma_gflops.
    pub frac_fma: f64,
    /// gbs / ceilings.copy_gbs.
    pub frac_copy: f64,
    /// None when the CPU side was skipped (too slow, or `--no-cpu`).
    pub cpu_ms: Option<f64>,
    pub speedup_vs_cpu: Option<f64>,
}

impl KernelRow {
    /// The row of benchmark `b` from its GPU time statistics and the optional CPU median:
    /// rates from the counted work, fractions of the ceilings.
    pub fn new(b: &KernelBench, gpu_ms: Stats, cpu_ms: Option<f64>, ceil: Ceilings) -> Self {
        // A kernel below the timestamp resolution reads as 0 ns; 1 ns keeps rates finite.
        let secs = (gpu_ms.median * 1e-3).max(1e-9);
        let gflops = b.flops / secs / 1e9;
        let gbs = b.bytes / secs / 1e9;
        let frac = |x: f64, c: f64| if c > 0.0 { x / c } else { 0.0 };
        KernelRow {
            name: b.name.to_string(),
            shape: b.shape.clone(),
            median_ms: gpu_ms.median,
            spread_ms: [gpu_ms.p10, gpu_ms.p90],
            gflops,
            gbs,
            frac_fma: frac(gflops, ceil.fma_gflops),
            frac_copy: frac(gbs, ceil.copy_gbs),
            cpu_ms,
            speedup_vs_cpu: cpu_ms.map(|c| c / gpu_ms.median),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub device: DeviceInfo,
    /// "timestamp" (GPU timestamp queries) or "wall" (synchronised host clock).
    pub timing: String,
    pub ceilings: Ceilings,
    pub kernels: Vec<KernelRow>,
    pub train_step: Vec<TrainStepRow>,
    /// Lines for the table's header and footer (repetitions, skipped rows).
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }
}

/// Milliseconds with about four significant digits, whatever the magnitude.
fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

fn rate(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}", 100.0 * v)
}

/// The header (device, timing, ceilings), one line per kernel, then the notes.
pub fn table(r: &Report) -> String {
    let d = &r.device;
    let mut s = String::new();
    s += &format!(
        "adapter : {} ({}, {}), driver {}\n",
        d.name,
        d.backend,
        if d.software { "software" } else { "hardware" },
        d.driver
    );
    s += &format!(
        "timing  : {}\n",
        match r.timing.as_str() {
            "timestamp" => "GPU timestamp queries around each repetition",
            _ => "synchronised wall clock per repetition: includes submit + wait latency",
        }
    );
    s += &format!(
        "ceilings: FMA {} GFLOP/s (shaders/bench/fma.wgsl), copy {} GB/s (shaders/bench/copy.wgsl)\n",
        rate(r.ceilings.fma_gflops),
        rate(r.ceilings.copy_gbs)
    );
    let header = format!(
        "{:<24} {:<34} {:>10} {:>19} {:>9} {:>8} {:>6} {:>6} {:>10} {:>9}",
        "kernel",
        "shape",
        "median ms",
        "spread p10..p90",
        "GFLOP/s",
        "GB/s",
        "%FMA",
        "%copy",
        "CPU ms",
        "speed-up"
    );
    s += &format!("{header}\n{}\n", "-".repeat(header.len()));
    for k in &r.kernels {
        let spread = format!("{}..{}", ms(k.spread_ms[0]), ms(k.spread_ms[1]));
        let (cpu, up) = match (k.cpu_ms, k.speedup_vs_cpu) {
            (Some(c), Some(u)) => (ms(c), format!("{u:.1}x")),
            _ => ("-".into(), "-".into()),
        };
        s += &format!(
            "{:<24} {:<34} {:>10} {:>19} {:>9} {:>8} {:>6} {:>6} {:>10} {:>9}\n",
            k.name,
            k.shape,
            ms(k.median_ms),
            spread,
            rate(k.gflops),
            rate(k.gbs),
            pct(k.frac_fma),
            pct(k.frac_copy),
            cpu,
            up
        );
    }
    if !r.train_step.is_empty() {
        s += &steps_table(&r.train_step);
    }
    for n in &r.notes {
        s += &format!("note: {n}\n");
    }
    s
}

/// Whole training steps: time, images/s, memory, and each kernel family's share of the GPU
/// time.
fn steps_table(rows: &[TrainStepRow]) -> String {
    let header = format!(
        "{:<12} {:>6} {:>10} {:>19} {:>9} {:>10} {:>9} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8}  {}",
        "train step",
        "batch",
        "median ms",
        "spread p10..p90",
        "img/s",
        "GPU ms",
        "host ms",
        "dispatches",
        "peak MiB",
        "params",
        "activ.",
        "penalty",
        "slack",
        "GPU time by family"
    );
    let mut s = format!("\n{header}\n{}\n", "-".repeat(header.len() + 30));
    for t in rows {
        s += &format!(
            "{:<12} {:>6} {:>10} {:>19} {:>9} {:>10} {:>9} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8}  {}\n",
            match t.arch {
                crate::nn::Arch::Stylegan1 => format!("{0}x{0}", t.res),
                crate::nn::Arch::Stylegan2 => format!("{0}x{0} sg2", t.res),
            },
            t.batch,
            ms(t.median_ms),
            format!("{}..{}", ms(t.spread_ms[0]), ms(t.spread_ms[1])),
            rate(t.images_per_s),
            t.gpu_ms.map_or("-".into(), ms),
            ms(t.host_ms),
            t.dispatches,
            format!("{:.2}", t.peak_mib),
            format!("{:.2}", t.params_mib),
            format!("{:.2}", t.activations_mib),
            format!("{:.2}", t.penalty_mib),
            format!("{:.2}", t.slack_mib),
            crate::gpu::profile::family_shares(&t.families, 6)
        );
    }
    for (t, l) in rows.iter().filter_map(|t| Some((t, t.lazy.as_ref()?))) {
        let kinds: Vec<String> = l
            .kinds
            .iter()
            .map(|k| format!("{} {} ms x {:.4}", k.label(), ms(k.median_ms), k.weight))
            .collect();
        s += &format!(
            "sg2 {0}x{0}: the steps' medians weighted by share (R1 every {1}, path length \
             every {2}): {3}\n",
            t.res,
            l.r1_interval,
            l.pl_interval,
            kinds.join(", ")
        );
    }
    s += "memory (MiB): peak = the most the buffer pool held in one step; params = G, D, \
          G_ema and Adam moments; activ. = what D's scores hold for the backward; penalty = \
          the extra peak of the penalty's second-order graph; slack = idle pooled buffers and \
          size-class rounding at the peak\n";
    s
}
