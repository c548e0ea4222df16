//! Whole training steps per resolution: one full step (D step with its gradient penalty,
//! G step, both Adams, the EMA of G and the w average) exactly as `train` runs it.
//!
//! The model is built once at its final resolution, as in a real run (every parameter is
//! stepped at every resolution), and stepped in the stable phase of each resolution on a
//! random batch. Two clocks: the host's wall clock around each step with a sync after it
//! (what the PyTorch script measures, so `images_per_s` compares like with like), and GPU
//! timestamps around each step. One more step runs under the kernel profiler
//! (`gpu::profile`) for the GPU time per kernel family, and one more with the buffer pool's
//! peak reset before it, for the step's memory (then the D loss alone, phase by phase, for
//! the split of that memory: see [`StepMemory`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::timing::{summarize, time_gpu, Method};
use crate::gpu::{profile, GpuContext, MemoryStats};
use crate::nn::Arch;
use crate::ops;
use crate::tensor::{host_memory, reset_host_peak, Place, Tensor};
use crate::train::config::TrainConfig;
use crate::train::loss::LossPoint;
use crate::train::schedule::Point;
use crate::train::trainer::Trainer;

/// One resolution's full training step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainStepRow {
    pub res: u32,
    pub batch: u32,
    /// Wall clock per step, synchronised after each one (median).
    pub median_ms: f64,
    /// p10 and p90 of the wall-clock repetitions.
    pub spread_ms: [f64; 2],
    /// batch / median_ms.
    pub images_per_s: f64,
    /// GPU time per step from timestamp queries (median); None without them.
    pub gpu_ms: Option<f64>,
    /// Host time to record and submit one step (no wait): above gpu_ms, the step is bound
    /// by the CPU side (op dispatch, bind groups), not by the kernels.
    pub host_ms: f64,
    /// Kernel dispatches in one step.
    pub dispatches: u64,
    /// GPU milliseconds per kernel family (shader folder: conv, adain, optim, ...) in one
    /// profiled step; empty without timestamp queries.
    pub families: BTreeMap<String, f64>,
    /// The most device memory the buffer pool held during one step (live + idle), MiB.
    #[serde(default)]
    pub peak_mib: f64,
    /// Live tensor bytes before the step, the batch of reals left out: G, D, G_ema, both
    /// Adams' moments (and the w average), MiB.
    #[serde(default)]
    pub params_mib: f64,
    /// Activations D's scores hold for the backward: the peak of live tensor bytes while
    /// the D loss makes its scores, above the live bytes before it, MiB.
    #[serde(default)]
    pub activations_mib: f64,
    /// The penalty's second-order graph: the extra peak of live tensor bytes, above the
    /// scores' peak, while its `create_graph` gradient and the backward through it run, MiB.
    #[serde(default)]
    pub penalty_mib: f64,
    /// Pool slack at the step: the pool's peak minus the peak of live requested bytes
    /// (idle buffers and size-class rounding), MiB.
    #[serde(default)]
    pub slack_mib: f64,
    /// Which StyleGAN the row stepped; rows written before StyleGAN2 read as stylegan1.
    #[serde(default)]
    pub arch: Arch,
    /// StyleGAN2: which lazy regularisers the timed steps ran and how the row's times
    /// weight them (see `bench::stylegan2_step`); absent for StyleGAN 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lazy: Option<LazyTiming>,
}

/// How the lazy steps enter a StyleGAN2 row: `method` says how, `kinds` holds every kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LazyTiming {
    /// "weighted": the row's times are the kinds' medians weighted by their share of steps.
    pub method: String,
    pub r1_interval: u64,
    pub pl_interval: u64,
    pub kinds: Vec<LazyKind>,
}

/// One kind of step: which regularisers it runs, the step counter it was timed at, its share
/// of a real run's steps and its median wall-clock time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LazyKind {
    pub r1: bool,
    pub pl: bool,
    pub step: u64,
    pub weight: f64,
    pub median_ms: f64,
}

impl LazyKind {
    /// "R1+PL", "R1", "PL" or "plain".
    pub fn label(&self) -> &'static str {
        match (self.r1, self.pl) {
            (true, true) => "R1+PL",
            (true, false) => "R1",
            (false, true) => "PL",
            (false, false) => "plain",
        }
    }
}

/// One step's memory in bytes; the fields of [`TrainStepRow`] of the same names. `peak`
/// and `slack` are read around a whole `Trainer::step`; `activations` and `penalty` from
/// the step's D pass run again with a probe at its inputs and between its scores and its
/// penalty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepMemory {
    pub peak: u64,
    pub params: u64,
    pub activations: u64,
    pub penalty: u64,
    pub slack: u64,
}

/// Where a step's memory figures come from: the GPU pool, or the CPU accounting (the CPU
/// path and meta tensors, `tensor::host_memory`).
#[derive(Clone, Copy)]
pub enum MemorySource<'a> {
    Gpu(&'a GpuContext),
    Host,
}

impl MemorySource<'_> {
    /// The figures now (on the GPU after the queued work has run).
    pub fn read(&self) -> MemoryStats {
        match self {
            MemorySource::Gpu(ctx) => {
                ctx.sync();
                ctx.memory()
            }
            MemorySource::Host => host_memory(),
        }
    }

    pub fn reset_peak(&self) {
        match self {
            MemorySource::Gpu(ctx) => ctx.reset_peak(),
            MemorySource::Host => reset_host_peak(),
        }
    }
}

impl StepMemory {
    /// Measure a steady-state step of `t` (already warmed up) at images `start`.
    pub fn measure(src: MemorySource, t: &mut Trainer, reals: &Tensor, start: u64) -> Self {
        let before = src.read();
        src.reset_peak();
        t.progress.images = start;
        drop(t.step(reals));
        let step = src.read();
        t.progress.images = start;
        let pt = t.point().expect("a point of the schedule");
        // The D pass of one micro-batch: what a step with `--accumulate` holds at once.
        let (_, m) = t.micro(reals.dim(0));
        let part = ops::slice(reals, 0, 0, m);
        let (activations, penalty) = d_loss_phases(src, t, &part, &pt);
        StepMemory {
            peak: step.peak_bytes,
            params: before
                .live_requested_bytes
                .saturating_sub(reals.numel() as u64 * 4),
            activations,
            penalty,
            slack: step.peak_bytes.saturating_sub(step.peak_requested_bytes),
        }
    }
}

/// (activations, penalty) bytes of the D pass of `t` at `pt`, run again through the step's
/// own `Trainer::d_pass_probed`: the peak from its inputs to its scores, then the extra peak
/// of the penalty and the backward. See [`StepMemory`].
fn d_loss_phases(src: MemorySource, t: &Trainer, reals: &Tensor, pt: &Point) -> (u64, u64) {
    let (mut base, mut scores) = (0, 0);
    let mut probe = |at: LossPoint| {
        let m = src.read();
        match at {
            LossPoint::InputsReady => base = m.live_requested_bytes,
            LossPoint::ScoresDone => scores = m.peak_requested_bytes,
        }
        src.reset_peak();
    };
    let pass = t.d_pass_probed(reals, 0, pt, &mut probe);
    drop(pass);
    let after = src.read().peak_requested_bytes;
    (scores.saturating_sub(base), after.saturating_sub(scores))
}

pub(super) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// The model and the resolutions a step benchmark runs.
pub struct StepSet {
    pub cfg: TrainConfig,
    pub resolutions: Vec<usize>,
}

/// `quick`: the PyTorch script's `--quick` model (z/w 64, fmap_base 256, fmap_max 64, built
/// to 16x16, batch 8) at 4, 8 and 16. Otherwise the default full run (StyleGAN's single-GPU
/// table, built to 256x256) at every resolution of its schedule.
pub fn step_set(quick: bool) -> StepSet {
    let cfg = if quick {
        TrainConfig::bench_quick()
    } else {
        TrainConfig::full()
    };
    let resolutions = cfg.model.resolutions();
    StepSet { cfg, resolutions }
}

/// The largest tensor a step at `res` makes, in bytes (an estimate from the widest
/// activation: the batch at `res` with the channels of `res` or of the layer before it).
pub fn largest_activation(cfg: &TrainConfig, res: usize) -> u64 {
    let c = cfg.model.nf(res).max(cfg.model.nf((res / 2).max(4)));
    (cfg.batch_at(res) * c * res * res) as u64 * 4
}

/// Time the steps of `set`; rows that cannot run here (a tensor over the binding limit) are
/// skipped with a note.
pub fn measure(
    ctx: &GpuContext,
    set: &StepSet,
    (warmup, repeats): (usize, usize),
    notes: &mut Vec<String>,
) -> Vec<TrainStepRow> {
    let mut t = Trainer::new(set.cfg.clone(), Place::Gpu);
    let limit = ctx.limits.max_storage_buffer_binding_size;
    let mut rows = Vec::new();
    for &res in &set.resolutions {
        let batch = set.cfg.batch_at(res);
        if largest_activation(&set.cfg, res) > limit {
            let note = format!(
                "train step {res}x{res} batch {batch} skipped: its activations exceed the \
                 device's {} MiB binding limit",
                limit >> 20
            );
            eprintln!("bench: {note}");
            notes.push(note);
            continue;
        }
        // The stable phase at `res`; the step counter moves on, the phase does not.
        let start = t
            .schedule
            .phases
            .iter()
            .rev()
            .find(|p| p.res == res)
            .expect("every resolution has a phase")
            .start;
        let c = set.cfg.model.channels;
        let reals = ops::rand_uniform(&[batch, c, res, res], 0x5EED, 0, -1.0, 1.0, Place::Gpu);
        let mut step = || {
            t.progress.images = start;
            drop(t.step(&reals));
        };
        let wall = summarize(&time_gpu(ctx, Method::Wall, warmup, repeats, &mut step));
        let gpu_ms = (Method::choose(ctx, false) == Method::Timestamp)
            .then(|| summarize(&time_gpu(ctx, Method::Timestamp, 0, repeats, &mut step)).median);
        ctx.sync();
        let (d0, _) = ctx.counters();
        let t0 = std::time::Instant::now();
        step();
        let host_ms = t0.elapsed().as_secs_f64() * 1e3;
        let dispatches = ctx.counters().0 - d0;
        ctx.sync();
        let families = if ctx.profile_start() {
            step();
            profile::by_family(&ctx.profile_take(true))
        } else {
            BTreeMap::new()
        };
        // A steady step's memory: the pool starts from what the step itself leaves idle,
        // not from one-off buffers (the autotuner's trial outputs, earlier resolutions).
        ctx.sync();
        ctx.trim_pool();
        step();
        ctx.sync();
        let mem = StepMemory::measure(MemorySource::Gpu(ctx), &mut t, &reals, start);
        let row = TrainStepRow {
            res: res as u32,
            batch: batch as u32,
            median_ms: wall.median,
            spread_ms: [wall.p10, wall.p90],
            images_per_s: batch as f64 / (wall.median * 1e-3),
            gpu_ms,
            host_ms,
            dispatches,
            families,
            peak_mib: mib(mem.peak),
            params_mib: mib(mem.params),
            activations_mib: mib(mem.activations),
            penalty_mib: mib(mem.penalty),
            slack_mib: mib(mem.slack),
            arch: Arch::Stylegan1,
            lazy: None,
        };
        eprintln!(
            "bench: train step {res}x{res} batch {batch}: {:.2} ms, {:.1} img/s, \
             {dispatches} dispatches recorded in {host_ms:.1} ms, peak {:.1} MiB",
            row.median_ms, row.images_per_s, row.peak_mib
        );
        rows.push(row);
        ctx.pool.trim();
    }
    rows
}
