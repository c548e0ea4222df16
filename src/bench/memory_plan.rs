//! The memory plan: a training step's peak at every phase of a schedule, at the schedule's
//! batch, for models too big to run here.
//!
//! The trainer runs on meta tensors (`Place::Meta`: shapes, no values, no arithmetic), whose
//! bytes the CPU accounting counts exactly as the CPU path's f32 tensors
//! (`tests/memory.rs` holds the two equal to the byte). So each row is the live-tensor
//! peak the CPU path and the GPU pool would reach for that step, in seconds instead of
//! hours. What it leaves out, and why the budget check adds a margin: the GPU pool's slack
//! (size-class rounding and idle buffers), kernels' scratch buffers (split-K partial sums)
//! and the driver's own context, none of which exist on the CPU.

use serde::{Deserialize, Serialize};

use std::process::ExitCode;

use super::train_step::{MemorySource, StepMemory};
use super::BenchArgs;
use crate::ops;
use crate::tensor::Place;
use crate::train::config::TrainConfig;
use crate::train::trainer::Trainer;

/// Room left for the GPU pool's slack when checking a budget: the slack target of the
/// memory issue (at most 20% of live bytes at the peak).
pub const SLACK_MARGIN: f64 = 0.20;

/// One phase of the schedule: a whole training step on meta tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    pub res: u32,
    /// The fade-in phase (measured halfway, alpha 0.5: both the old and the new toRGB run).
    pub fade: bool,
    /// The step's global batch.
    pub batch: u32,
    /// Micro-batches per step (`--accumulate`).
    pub accumulate: u32,
    /// The step's peak of live tensor bytes, MiB.
    pub peak_mib: f64,
    /// Live bytes before the step (G, D, G_ema, both Adams' moments, the w average), MiB.
    pub params_mib: f64,
    /// D's saved activations for one micro-batch (reals and fakes), MiB.
    pub activations_mib: f64,
    /// The penalty's extra peak above D's scores, MiB.
    pub penalty_mib: f64,
}

impl PlanRow {
    /// The peak with the pool's slack margin, MiB.
    pub fn with_margin_mib(&self) -> f64 {
        self.peak_mib * (1.0 + SLACK_MARGIN)
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// Every phase of `cfg`'s schedule (fade-ins halfway, stable phases at their start), one
/// meta step each after a warm-up step.
pub fn plan(cfg: &TrainConfig) -> Vec<PlanRow> {
    let mut t = Trainer::new(cfg.clone(), Place::Meta);
    let phases = t.schedule.phases.clone();
    let c = cfg.model.channels;
    let mut rows = Vec::new();
    for ph in phases {
        let images = if ph.fade {
            ph.start + ph.len / 2
        } else {
            ph.start
        };
        let batch = cfg.batch_at(ph.res);
        let reals = ops::rand_uniform(&[batch, c, ph.res, ph.res], 1, 0, -1.0, 1.0, Place::Meta);
        t.progress.images = images;
        drop(t.step(&reals));
        let m: StepMemory = StepMemory::measure(MemorySource::Host, &mut t, &reals, images);
        rows.push(PlanRow {
            res: ph.res as u32,
            fade: ph.fade,
            batch: batch as u32,
            accumulate: cfg.accumulate as u32,
            peak_mib: mib(m.peak),
            params_mib: mib(m.params),
            activations_mib: mib(m.activations),
            penalty_mib: mib(m.penalty),
        });
    }
    rows
}

/// The smallest `--accumulate` (a power of two dividing every resolution's batch) at which
/// every phase of `cfg` fits `budget_mib` with the slack margin, and the plan at it; None
/// when even the smallest micro-batch does not fit.
pub fn fitting_accumulate(cfg: &TrainConfig, budget_mib: f64) -> Option<(usize, Vec<PlanRow>)> {
    let min_batch = cfg
        .model
        .resolutions()
        .into_iter()
        .map(|r| cfg.batch_at(r))
        .min()?;
    let mut k = cfg.accumulate.max(1);
    while min_batch.is_multiple_of(k) {
        let mut c = cfg.clone();
        c.accumulate = k;
        let rows = plan(&c);
        if rows.iter().all(|r| r.with_margin_mib() <= budget_mib) {
            return Some((k, rows));
        }
        k *= 2;
    }
    None
}

/// The plan as a markdown table, each row checked against `budget_mib`.
pub fn table(rows: &[PlanRow], budget_mib: f64) -> String {
    let mut s = format!(
        "| res | phase | batch | accumulate | step peak MiB | +{:.0}% slack MiB | params + Adam | D activations | penalty graph | fits {:.1} GiB |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        SLACK_MARGIN * 100.0,
        budget_mib / 1024.0
    );
    for r in rows {
        s += &format!(
            "| {0}x{0} | {1} | {2} | {3} | {4:.0} | {5:.0} | {6:.0} | {7:.0} | {8:.0} | {9} |\n",
            r.res,
            if r.fade { "fade-in" } else { "stable" },
            r.batch,
            r.accumulate,
            r.peak_mib,
            r.with_margin_mib(),
            r.params_mib,
            r.activations_mib,
            r.penalty_mib,
            if r.with_margin_mib() <= budget_mib {
                "yes"
            } else {
                "no"
            }
        );
    }
    s
}

/// `bench --memory-plan`: the table, and the accumulation that fits where the batch does not.
pub fn cli(args: &BenchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if !(args.memory_budget.is_finite() && args.memory_budget > 0.0) {
        return Err(format!(
            "--memory-budget must be > 0 GiB, not {}",
            args.memory_budget
        )
        .into());
    }
    let budget = args.memory_budget * 1024.0;
    let cfg = TrainConfig::full();
    eprintln!("bench: memory plan of the default 256x256 schedule (meta tensors)");
    let rows = plan(&cfg);
    println!("{}", table(&rows, budget));
    if rows.iter().any(|r| r.with_margin_mib() > budget) {
        match fitting_accumulate(&cfg, budget) {
            Some((k, fit)) => {
                println!(
                    "The default batches do not fit {} GiB; with --accumulate {k} (micro-batches \
                     of batch/{k}, the same global batch per step) every phase does:\n",
                    args.memory_budget
                );
                println!("{}", table(&fit, budget));
            }
            None => println!(
                "Even the smallest micro-batch does not fit {} GiB.",
                args.memory_budget
            ),
        }
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)? + "\n")
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
