//! How a benchmark is timed: GPU timestamp queries around each repetition (or synchronised
//! wall clock where the adapter has none), the CPU side by wall clock, and the summary
//! (median and p10..p90) of the samples.
//!
//! Only the kernel is timed. Inputs are recorded and the batch synchronised before the first
//! mark, so uploads, random fills and pipeline compilation (done in the warm-up runs) fall
//! outside the timed region. Ops allocate their outputs from the pool while they record;
//! that is CPU-side work and costs the GPU nothing.

use std::time::Instant;

use crate::gpu::{GpuContext, GpuTimer};
use crate::ops;
use crate::tensor::Place;

/// Where the GPU times come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Timestamp queries written between repetitions: the GPU's own clock, no host overhead.
    Timestamp,
    /// Host clock around record + submit + wait, one repetition at a time. Includes the
    /// submission and wake-up latency, so small kernels look slower than they are.
    Wall,
}

impl Method {
    /// Timestamps when the adapter has them (inside encoders) and they are not refused.
    pub fn choose(ctx: &GpuContext, force_wall: bool) -> Method {
        if ctx.has_timestamps() && !force_wall {
            Method::Timestamp
        } else {
            Method::Wall
        }
    }

    /// The JSON spelling (`"timing"`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Timestamp => "timestamp",
            Method::Wall => "wall",
        }
    }
}

/// The median and the p10..p90 spread of a set of samples, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
}

/// Percentile with linear interpolation between order statistics, the same rule as
/// `tools/pytorch_bench.py`, so the two spreads mean the same thing.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub fn summarize(samples: &[f64]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    Stats {
        median: percentile(&s, 0.5),
        p10: percentile(&s, 0.1),
        p90: percentile(&s, 0.9),
    }
}

/// Most timestamps one query set may hold (wgpu's `QUERY_SET_MAX_QUERIES`).
const MAX_MARKS: usize = 4096;

/// Milliseconds of each of `repeats` runs of `run` on the GPU, after `warmup` runs.
///
/// Timestamp method: one mark before the first run and one after each run, all recorded
/// into the batch and submitted together, so the GPU runs the repetitions back to back and
/// each interval is one repetition's GPU time.
pub fn time_gpu(
    ctx: &GpuContext,
    method: Method,
    warmup: usize,
    repeats: usize,
    run: &mut dyn FnMut(),
) -> Vec<f64> {
    for _ in 0..warmup {
        run();
    }
    // Everything recorded so far (inputs, warm-up) finishes before the first mark.
    ctx.sync();
    let repeats = repeats.max(1);
    let mut ms = Vec::with_capacity(repeats);
    match method {
        Method::Timestamp => {
            let mut left = repeats;
            while left > 0 {
                let now = left.min(MAX_MARKS - 1);
                let mut timer =
                    GpuTimer::new(ctx, now as u32 + 1).expect("adapter reported timestamps");
                timer.mark(ctx);
                for _ in 0..now {
                    run();
                    timer.mark(ctx);
                }
                ms.extend(timer.read_ns(ctx).into_iter().map(|ns| ns * 1e-6));
                left -= now;
            }
        }
        Method::Wall => {
            for _ in 0..repeats {
                let t = Instant::now();
                run();
                ctx.sync();
                ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    ms
}

/// Milliseconds of each of `repeats` runs of `run` on the CPU (wall clock), after `warmup`.
pub fn time_cpu(warmup: usize, repeats: usize, run: &mut dyn FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        run();
    }
    (0..repeats.max(1))
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// What the CPU reference sustains on this machine, measured once per run, so a benchmark
/// whose CPU side would take too long can be skipped before it is started.
#[derive(Clone, Copy, Debug)]
pub struct CpuRates {
    /// Convolution throughput of `cpu::conv` (GFLOP/s).
    pub gflops: f64,
    /// Elementwise throughput of `cpu::resample::blur` (GB/s moved).
    pub gbs: f64,
}

impl CpuRates {
    /// A small conv (19 MFLOP) and a 4 M-element blur: a few tens of ms in all.
    pub fn measure() -> CpuRates {
        let x = ops::rand_normal(&[1, 32, 32, 32], 1, 0, 0.0, 1.0, Place::Cpu32);
        let w = ops::rand_normal(&[32, 32, 3, 3], 1, 1 << 32, 0.0, 1.0, Place::Cpu32);
        let conv_flops = 2.0 * 32.0 * 32.0 * 1024.0 * 9.0;
        let conv = summarize(&time_cpu(1, 3, &mut || {
            let _ = ops::conv2d(&x, &w, None, 1.0, 0.0);
        }));
        let e = 1usize << 22;
        let y = ops::rand_normal(&[1, 16, 512, 512], 1, 2 << 32, 0.0, 1.0, Place::Cpu32);
        let blur = summarize(&time_cpu(1, 3, &mut || {
            let _ = ops::blur(&y);
        }));
        CpuRates {
            gflops: conv_flops / (conv.median.max(1e-6) * 1e-3) / 1e9,
            gbs: (8 * e) as f64 / (blur.median.max(1e-6) * 1e-3) / 1e9,
        }
    }

    /// Estimated seconds for one run: the compute and the traffic, as if not overlapped.
    pub fn estimate_s(&self, flops: f64, bytes: f64) -> f64 {
        flops / (self.gflops * 1e9) + bytes / (self.gbs * 1e9)
    }
}

/// A CPU run estimated longer than this is skipped (and printed as "-").
pub(super) const CPU_LIMIT_S: f64 = 5.0;
/// The CPU side of one kernel takes about this long at most, repetitions included.
const CPU_BUDGET_S: f64 = 10.0;

/// (warm-up runs, timed runs) for a CPU side estimated at `est_s` seconds a run, or None
/// when one run would exceed the limit. Slow ones get no warm-up and fewer repetitions.
pub(super) fn cpu_runs(est_s: f64, max_repeats: usize) -> Option<(usize, usize)> {
    if est_s > CPU_LIMIT_S {
        return None;
    }
    let reps = ((CPU_BUDGET_S / est_s.max(1e-9)) as usize).clamp(1, max_repeats.max(1));
    Some((usize::from(est_s < 1.0), reps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_the_pytorch_script() {
        let s = summarize(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.median, 3.0);
        assert!((s.p10 - 1.4).abs() < 1e-12);
        assert!((s.p90 - 4.6).abs() < 1e-12);
        assert_eq!(summarize(&[7.0]).median, 7.0);
    }
}
