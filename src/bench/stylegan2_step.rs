//! Whole StyleGAN2 training steps (`bench --arch stylegan2`): `Trainer::step` as `train
//! --arch stylegan2` runs it (D main, lazy R1 when due, G main, lazy path length when due,
//! both Adams, the EMA, the w average), at each resolution of the set.
//!
//! StyleGAN2 does not grow, so each resolution gets its own trainer built AT it (start_res
//! = max_res = res), with `train --arch stylegan2`'s settings (logistic loss, gamma =
//! 0.0002 res^2 / batch, the official intervals: R1 every 16 steps, path length every 4).
//! Its D needs res >= 8, so the sets start at 8.
//!
//! The lazy regularisers make steps unequal: with the official intervals one step in 16
//! runs both, three run the path length alone and twelve run neither. Timing 16
//! consecutive steps would put them in that proportion, but its spread would mix kinds and
//! cost 16 steps a repetition. Instead each kind of step is timed on its own (the step
//! counter set to one of that kind before every repetition: the trainer decides from it)
//! and the row's times are the kinds' medians weighted by how often one period of the
//! intervals runs each: the mean step of a real run, with every kind's own time in
//! `lazy.kinds` of the JSON. Memory is measured on a step that runs both (the peak one).

use std::collections::BTreeMap;

use super::timing::{summarize, time_gpu, Method};
use super::train_step::{
    largest_activation, mib, LazyKind, LazyTiming, MemorySource, StepMemory, TrainStepRow,
};
use crate::gpu::{profile, GpuContext};
use crate::nn::Arch;
use crate::ops;
use crate::tensor::Place;
use crate::train::config::TrainConfig;
use crate::train::trainer::Trainer;
use crate::train::Loss;

/// The kinds of step one period (lcm of the intervals, at most 4096 steps) of `r1` and `pl`
/// runs: (runs R1, runs path length, first step counter of the kind, share of the steps).
pub fn step_kinds(r1: u64, pl: u64) -> Vec<(bool, bool, u64, f64)> {
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let period = (r1 / gcd(r1, pl) * pl).min(4096);
    let mut kinds: Vec<(bool, bool, u64, f64)> = Vec::new();
    for s in 0..period {
        let (a, b) = (s % r1 == 0, s % pl == 0);
        match kinds.iter_mut().find(|k| (k.0, k.1) == (a, b)) {
            Some(k) => k.3 += 1.0,
            None => kinds.push((a, b, s, 1.0)),
        }
    }
    for k in &mut kinds {
        k.3 /= period as f64;
    }
    kinds
}

/// The StyleGAN2 set: the base configuration (built per resolution by [`at_res`]) and its
/// resolutions. Quick: the quick model of [`TrainConfig::bench_quick`] at 8 and 16; full:
/// [`TrainConfig::full`]'s model and batch table at 8..256.
pub fn stylegan2_set(quick: bool) -> super::train_step::StepSet {
    let mut cfg = if quick {
        TrainConfig::bench_quick()
    } else {
        TrainConfig::full()
    };
    cfg.model.arch = Arch::Stylegan2;
    cfg.loss = Loss::LogisticR1;
    let resolutions = cfg
        .model
        .resolutions()
        .into_iter()
        .filter(|&r| r >= 8)
        .collect();
    super::train_step::StepSet { cfg, resolutions }
}

/// `base` built at `res` as `train --arch stylegan2 --max-res res` builds it.
pub fn at_res(base: &TrainConfig, res: usize) -> TrainConfig {
    let mut cfg = base.clone();
    cfg.model.start_res = res;
    cfg.model.max_res = res;
    cfg.r1_gamma = 0.0002 * (res * res) as f64 / cfg.batch_at(res) as f64;
    cfg
}

/// Time the StyleGAN2 steps of `set`; rows that cannot run here are skipped with a note.
pub fn measure(
    ctx: &GpuContext,
    set: &super::train_step::StepSet,
    (warmup, repeats): (usize, usize),
    notes: &mut Vec<String>,
) -> Vec<TrainStepRow> {
    let limit = ctx.limits.max_storage_buffer_binding_size;
    let mut rows = Vec::new();
    for &res in &set.resolutions {
        let cfg = at_res(&set.cfg, res);
        let batch = cfg.batch_at(res);
        if largest_activation(&cfg, res) > limit {
            let note = format!(
                "stylegan2 train step {res}x{res} batch {batch} skipped: its activations \
                 exceed the device's {} MiB binding limit",
                limit >> 20
            );
            eprintln!("bench: {note}");
            notes.push(note);
            continue;
        }
        rows.push(measure_res(ctx, cfg, res, (warmup, repeats)));
        ctx.pool.trim();
    }
    rows
}

fn measure_res(
    ctx: &GpuContext,
    cfg: TrainConfig,
    res: usize,
    (warmup, repeats): (usize, usize),
) -> TrainStepRow {
    let batch = cfg.batch_at(res);
    let r = cfg.stylegan2.clone();
    let mut t = Trainer::new(cfg, Place::Gpu);
    let start = t.schedule.phases.last().expect("one phase").start;
    let c = t.cfg.model.channels;
    let reals = ops::rand_uniform(&[batch, c, res, res], 0x5EED, 0, -1.0, 1.0, Place::Gpu);
    let timestamps = Method::choose(ctx, false) == Method::Timestamp;
    let (mut wall, mut spread, mut gpu, mut host, mut dispatches) = (0.0, [0.0; 2], 0.0, 0.0, 0.0);
    let mut families: BTreeMap<String, f64> = BTreeMap::new();
    let mut kinds = Vec::new();
    for (r1, pl, at, weight) in step_kinds(r.r1_interval, r.pl_interval) {
        let mut step = || {
            t.progress.images = start;
            t.progress.step = at;
            drop(t.step(&reals));
        };
        let w = summarize(&time_gpu(ctx, Method::Wall, warmup, repeats, &mut step));
        if timestamps {
            gpu +=
                weight * summarize(&time_gpu(ctx, Method::Timestamp, 0, repeats, &mut step)).median;
        }
        ctx.sync();
        let (d0, _) = ctx.counters();
        let t0 = std::time::Instant::now();
        step();
        host += weight * t0.elapsed().as_secs_f64() * 1e3;
        dispatches += weight * (ctx.counters().0 - d0) as f64;
        ctx.sync();
        if ctx.profile_start() {
            step();
            for (f, ms) in profile::by_family(&ctx.profile_take(true)) {
                *families.entry(f).or_default() += weight * ms;
            }
        }
        wall += weight * w.median;
        spread[0] += weight * w.p10;
        spread[1] += weight * w.p90;
        kinds.push(LazyKind {
            r1,
            pl,
            step: at,
            weight,
            median_ms: w.median,
        });
    }
    // The memory of the step that runs both regularisers: the pool from a steady step.
    ctx.sync();
    ctx.trim_pool();
    t.progress.step = 0;
    t.progress.images = start;
    drop(t.step(&reals));
    ctx.sync();
    t.progress.step = 0;
    let mem = StepMemory::measure(MemorySource::Gpu(ctx), &mut t, &reals, start);
    let row = TrainStepRow {
        res: res as u32,
        batch: batch as u32,
        median_ms: wall,
        spread_ms: spread,
        images_per_s: batch as f64 / (wall * 1e-3),
        gpu_ms: timestamps.then_some(gpu),
        host_ms: host,
        dispatches: dispatches.round() as u64,
        families,
        peak_mib: mib(mem.peak),
        params_mib: mib(mem.params),
        activations_mib: mib(mem.activations),
        penalty_mib: mib(mem.penalty),
        slack_mib: mib(mem.slack),
        arch: Arch::Stylegan2,
        lazy: Some(LazyTiming {
            method: "weighted".into(),
            r1_interval: r.r1_interval,
            pl_interval: r.pl_interval,
            kinds,
        }),
    };
    eprintln!(
        "bench: stylegan2 train step {res}x{res} batch {batch}: {:.2} ms ({}), {:.1} img/s, \
         peak {:.1} MiB",
        row.median_ms,
        row.lazy.as_ref().map_or(String::new(), |l| l
            .kinds
            .iter()
            .map(|k| format!("{}: {:.2} ms x {:.4}", k.label(), k.median_ms, k.weight))
            .collect::<Vec<_>>()
            .join(", ")),
        row.images_per_s,
        row.peak_mib
    );
    row
}

#[cfg(test)]
mod tests {
    use super::step_kinds;

    #[test]
    fn the_official_intervals_give_one_both_three_pl_and_twelve_plain_steps_in_16() {
        let k = step_kinds(16, 4);
        assert_eq!(
            k,
            [
                (true, true, 0, 1.0 / 16.0),
                (false, false, 1, 12.0 / 16.0),
                (false, true, 4, 3.0 / 16.0)
            ]
        );
        // R1 every 2, path length every 3: period 6 = both, plain, R1, PL, R1, plain.
        let k = step_kinds(2, 3);
        let w: Vec<(bool, bool, u64, f64)> = vec![
            (true, true, 0, 1.0 / 6.0),
            (false, false, 1, 2.0 / 6.0),
            (true, false, 2, 2.0 / 6.0),
            (false, true, 3, 1.0 / 6.0),
        ];
        assert_eq!(k, w);
    }
}
