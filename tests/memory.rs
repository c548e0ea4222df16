//! Memory does not grow over a run: 200 steps of a tiny model through the WGSL kernels (the
//! software device), with each loss and across a change of resolution. After 20 steps of
//! warm-up (and again 20 steps after a new resolution or phase) the pool's live bytes, its
//! idle (pooled) bytes and the count of buffers ever created, sampled at the same point of
//! every step, stay exactly where they were. The CPU path's live tensor bytes do the same.

use std::sync::Mutex;

use sgw::gpu::{self, MemoryStats};
use sgw::train::trainer::Trainer;
use sgw::train::{Loss, TrainConfig};
use sgw::{Place, Tensor};

/// The pool and the CPU counter are process-wide: one measurement at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const BATCH: usize = 4;
const STEPS: usize = 200;
const WARMUP: usize = 20;

/// The tiny model of `tests/train.rs`; `phases` are the phase lengths in steps.
fn config(loss: Loss, max_res: usize, phases: &[u64]) -> TrainConfig {
    let mut cfg = TrainConfig::small();
    cfg.model.z_dim = 16;
    cfg.model.w_dim = 16;
    cfg.model.mapping_layers = 2;
    cfg.model.fmap_base = 32;
    cfg.model.fmap_max = 8;
    cfg.model.max_res = max_res;
    cfg.set_batch(BATCH);
    cfg.loss = loss;
    cfg.phase_images = phases.iter().map(|s| s * BATCH as u64).collect();
    cfg
}

/// What must stay flat: live bytes (size class and requested), pooled bytes, buffers
/// created. (Peaks are not compared: they only ever rise, and a reuse count grows. On the
/// CPU there is no pool: every tensor is a new allocation, so `buffers_created` grows
/// there by design and reads 0 here.)
fn flat_part(m: &MemoryStats, place: Place) -> [u64; 5] {
    [
        m.live_bytes,
        m.live_requested_bytes,
        m.live_buffers,
        m.pooled_bytes,
        if place == Place::Gpu {
            m.buffers_created
        } else {
            0
        },
    ]
}

/// Run `STEPS` steps; after each, read the losses back (as the loop does, so nothing is
/// held for a batched readback) and take `memory()`. Returns the samples and each step's
/// resolution and phase.
fn run(cfg: TrainConfig, place: Place, memory: fn() -> MemoryStats) -> Vec<(usize, MemoryStats)> {
    let mut t = Trainer::new(cfg, place);
    let mut samples = Vec::new();
    for step in 0..STEPS {
        let pt = t.point().expect("the schedule outlasts the test");
        let c = t.cfg.model.channels;
        let n = BATCH * c * pt.res * pt.res;
        let data: Vec<f32> = (0..n)
            .map(|i| ((i * 37 + step * 11) % 200) as f32 / 100.0 - 1.0)
            .collect();
        let reals = Tensor::from_vec(data, &[BATCH, c, pt.res, pt.res], place);
        let rec = t.step(&reals).expect("a step");
        let (d, g) = (rec.d_loss.item(), rec.g_loss.item());
        assert!(
            d.is_finite() && g.is_finite(),
            "step {step}: losses {d} {g}"
        );
        drop((rec, reals));
        samples.push((pt.phase, memory()));
    }
    samples
}

/// From `WARMUP` steps into each phase to its end, the figures equal those at that point.
fn assert_flat(what: &str, place: Place, samples: &[(usize, MemoryStats)]) {
    let mut start = 0;
    while start < samples.len() {
        let phase = samples[start].0;
        let end = (start..samples.len())
            .find(|&i| samples[i].0 != phase)
            .unwrap_or(samples.len());
        let from = start + WARMUP;
        if from < end {
            let base = flat_part(&samples[from].1, place);
            for (i, (_, m)) in samples.iter().enumerate().take(end).skip(from) {
                assert_eq!(
                    flat_part(m, place),
                    base,
                    "{what}: memory grew in phase {phase} at step {i} (steps {start}..{end}; \
                     [live, requested, live buffers, pooled, created]): at step {from}: {}; \
                     now: {}",
                    samples[from].1.describe(),
                    m.describe()
                );
            }
            eprintln!(
                "{what}, phase {phase}, steps {from}..{end}: flat at {}",
                samples[from].1.describe()
            );
        }
        start = end;
    }
}

fn gpu_memory() -> MemoryStats {
    gpu::gpu().memory()
}

#[test]
fn training_on_the_gpu_does_not_grow_with_either_loss() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for loss in [Loss::WganGp, Loss::LogisticR1] {
        // One resolution (4x4) for all 200 steps.
        let s = run(config(loss, 4, &[1000]), Place::Gpu, gpu_memory);
        assert!(s.iter().all(|(p, _)| *p == 0));
        assert_flat(&format!("{loss:?} 4x4"), Place::Gpu, &s);
    }
}

#[test]
fn training_on_the_gpu_does_not_grow_across_a_resolution_change() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 4x4 for 60 steps, the 8x8 fade-in for 50, then 8x8: each flat 20 steps after it
    // begins.
    let s = run(
        config(Loss::WganGp, 8, &[60, 50, 1000]),
        Place::Gpu,
        gpu_memory,
    );
    assert_eq!((s[59].0, s[60].0, s[110].0), (0, 1, 2));
    assert_flat("WganGp 4x4 -> 8x8", Place::Gpu, &s);
}

#[test]
fn training_on_the_cpu_does_not_grow() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = run(
        config(Loss::WganGp, 8, &[60, 50, 1000]),
        Place::Cpu32,
        sgw::tensor::host_memory,
    );
    assert_flat("CPU WganGp 4x4 -> 8x8", Place::Cpu32, &s);
}

/// The default 256x256 model (`TrainConfig::full`) at batches 1, 2 and 3: one step's
/// memory through the software device, per resolution up to `SGW_MEMORY_MAX_RES` (16 by
/// default: 32 and above take many minutes on 2 cores). D's saved activations are linear
/// in the batch (checked to 1% at batch 3) and are evaluated at the schedule's batch: an
/// extrapolation in the batch only. The step's peak and the penalty's extra peak are maxima
/// over moments of the step (at these batches the gradient gather, whose size does not
/// depend on the batch), so they are printed as measured and not extrapolated.
/// `cargo test --release --test memory -- --ignored --nocapture`; BENCHMARKS.md keeps its
/// output.
#[test]
#[ignore]
fn full_model_memory_per_resolution() {
    use sgw::bench::train_step::{MemorySource, StepMemory};
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let max_res: usize = std::env::var("SGW_MEMORY_MAX_RES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let ctx = gpu::gpu();
    let mut cfg = TrainConfig::full();
    // One graph per step (style mixing draws a second mapping pass on some steps only).
    cfg.style_mixing_prob = 0.0;
    let mib = |b: f64| b / (1u64 << 20) as f64;
    let mut t = Trainer::new(cfg.clone(), Place::Gpu);
    for res in cfg
        .model
        .resolutions()
        .into_iter()
        .filter(|&r| r <= max_res)
    {
        let start = t
            .schedule
            .phases
            .iter()
            .rev()
            .find(|p| p.res == res)
            .unwrap()
            .start;
        let mut rows = Vec::new();
        for b in 1..=3usize {
            let c = cfg.model.channels;
            let reals = sgw::ops::rand_uniform(&[b, c, res, res], 5, 0, -1.0, 1.0, Place::Gpu);
            ctx.sync();
            ctx.trim_pool();
            let t0 = std::time::Instant::now();
            let m = StepMemory::measure(MemorySource::Gpu(ctx), &mut t, &reals, start);
            eprintln!(
                "full {res}x{res} batch {b}: peak {:.1} MiB (live tensors {:.1}), params {:.1}, \
                 activations {:.1}, penalty {:.1}, slack {:.1} ({:.0} s)",
                mib(m.peak as f64),
                mib((m.peak - m.slack) as f64),
                mib(m.params as f64),
                mib(m.activations as f64),
                mib(m.penalty as f64),
                mib(m.slack as f64),
                t0.elapsed().as_secs_f64()
            );
            rows.push(m);
        }
        // Activations: a + b * batch from batches 1 and 2; batch 3 checks it (to 1%).
        let y: Vec<f64> = rows.iter().map(|m| m.activations as f64).collect();
        let (a, b) = (2.0 * y[0] - y[1], y[1] - y[0]);
        assert!(
            (a + 3.0 * b - y[2]).abs() <= 0.01 * y[2] + 4096.0,
            "{res}x{res}: activations not linear in the batch: {y:?}"
        );
        let batch = cfg.batch_at(res) as f64;
        eprintln!(
            "EXTRAPOLATED {res}x{res} batch {batch}: D's saved activations {:.0} MiB \
             ({:.2} MiB per image), on top of {:.0} MiB of parameters and Adam state",
            mib(a + b * batch),
            mib(b),
            mib(rows[0].params as f64),
        );
    }
}

/// Memory is a property of the graph, not of the device: what one step adds to the live
/// tensor bytes at its peak is the same, to the byte, through the WGSL kernels and on the
/// CPU path. The live bytes before it differ by the GPU's padding of each parameter to 256
/// bytes inside its arena. (A kernel taking a scratch buffer, e.g. split-K partial sums at
/// bigger shapes, would add to the GPU's figure.)
#[test]
fn a_steps_peak_is_nearly_the_same_on_the_gpu_and_the_cpu() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let peak = |place: Place| {
        let mut t = Trainer::new(config(Loss::WganGp, 8, &[1000]), place);
        let reals = sgw::ops::rand_uniform(&[BATCH, 1, 4, 4], 3, 0, -1.0, 1.0, place);
        for _ in 0..2 {
            t.step(&reals).unwrap().d_loss.item();
        }
        let (before, after) = if place == Place::Gpu {
            let ctx = gpu::gpu();
            ctx.sync();
            ctx.reset_peak();
            let before = ctx.memory();
            t.step(&reals).unwrap().d_loss.item();
            (before, ctx.memory())
        } else {
            sgw::tensor::reset_host_peak();
            let before = sgw::tensor::host_memory();
            t.step(&reals).unwrap().d_loss.item();
            (before, sgw::tensor::host_memory())
        };
        (before.live_requested_bytes, after.peak_requested_bytes)
    };
    let (g_live, g_peak) = peak(Place::Gpu);
    let (c_live, c_peak) = peak(Place::Cpu32);
    eprintln!("live before a step: GPU {g_live} B, CPU {c_live} B; step peak: GPU {g_peak} B, CPU {c_peak} B");
    assert_eq!(g_peak - g_live, c_peak - c_live, "a step's own bytes");
    assert!(g_live >= c_live && (g_live - c_live) as f64 <= 0.25 * c_live as f64);
}

/// A meta step (shapes only, no arithmetic) holds what a step on the GPU holds: what the
/// step adds at its peak and what it leaves are the pool's requested bytes through the WGSL
/// kernels, to the byte, with both losses and in a fade-in (the live bytes before differ
/// only by the arenas' 256-byte padding of each parameter). This is what makes
/// `bench --memory-plan`'s figures for models too big to run here measurements of the
/// step's tensors, not an estimate. (The CPU path matches too, except where its optimiser
/// makes new moment vectors instead of updating in place.)
#[test]
fn a_meta_step_holds_the_same_bytes_as_a_gpu_step() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let measure = |loss: Loss, images: u64, place: Place| {
        let mut t = Trainer::new(config(loss, 8, &[2, 2, 1000]), place);
        let reals =
            |res: usize| sgw::ops::rand_uniform(&[BATCH, 1, res, res], 3, 0, -1.0, 1.0, place);
        let res = t.point().unwrap().res;
        for _ in 0..2 {
            t.step(&reals(res)).unwrap().d_loss.item();
        }
        t.progress.images = images;
        let res = t.point().unwrap().res;
        let x = reals(res);
        let read = || match place {
            Place::Gpu => {
                let ctx = gpu::gpu();
                ctx.sync();
                ctx.memory()
            }
            _ => sgw::tensor::host_memory(),
        };
        match place {
            Place::Gpu => gpu::gpu().reset_peak(),
            _ => sgw::tensor::reset_host_peak(),
        }
        let before = read();
        t.step(&x).unwrap().d_loss.item();
        let after = read();
        let live = before.live_requested_bytes;
        (
            (
                res,
                after.peak_requested_bytes - live,
                after.live_requested_bytes - live,
            ),
            live,
        )
    };
    for loss in [Loss::WganGp, Loss::LogisticR1] {
        // 4x4, then the 8x8 fade-in, then 8x8.
        for images in [0, 2 * BATCH as u64 + 1, 10 * BATCH as u64] {
            let (gpu_step, gpu_live) = measure(loss, images, Place::Gpu);
            let (meta_step, meta_live) = measure(loss, images, Place::Meta);
            eprintln!("{loss:?} at image {images}: gpu {gpu_step:?}, meta {meta_step:?}");
            assert_eq!(
                gpu_step, meta_step,
                "{loss:?} at image {images}: (res, step peak, step leaves)"
            );
            assert!(gpu_live >= meta_live && gpu_live - meta_live < 3 * 64 * 256);
        }
    }
}

/// The tiny model of `config`, batch 8, for the memory plan.
fn plan_config() -> TrainConfig {
    let mut cfg = config(Loss::WganGp, 8, &[1000]);
    cfg.set_batch(8);
    cfg.phase_images = Vec::new();
    cfg
}

#[test]
fn the_plan_has_a_row_per_phase_and_grows_with_resolution_and_shrinks_with_accumulation() {
    use sgw::bench::memory_plan::plan;
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cfg = plan_config();
    let rows = plan(&cfg);
    // 4x4 stable, 8x8 fade-in, 8x8 stable.
    let kinds: Vec<_> = rows.iter().map(|r| (r.res, r.fade)).collect();
    assert_eq!(kinds, [(4, false), (8, true), (8, false)]);
    assert!(rows[0].peak_mib < rows[2].peak_mib, "{rows:?}");
    assert!(rows.iter().all(|r| r.peak_mib > r.params_mib));
    // Same parameters at every resolution (the model is built at its final size).
    assert!(rows.iter().all(|r| r.params_mib == rows[0].params_mib));
    let mut half = cfg.clone();
    half.accumulate = 2;
    let split = plan(&half);
    for (a, b) in rows.iter().zip(&split) {
        assert!(b.activations_mib < a.activations_mib, "{a:?} vs {b:?}");
        assert!(b.peak_mib < a.peak_mib, "{a:?} vs {b:?}");
    }
}

/// The plan's rows are what a CPU step at that point holds (not a model of it): the 8x8
/// stable row against a real CPU step of the same trainer state.
#[test]
fn a_plan_row_is_the_cpu_steps_peak() {
    use sgw::bench::memory_plan::plan;
    use sgw::bench::train_step::{MemorySource, StepMemory};
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cfg = plan_config();
    let row = plan(&cfg).pop().unwrap();
    let mut t = Trainer::new(cfg.clone(), Place::Cpu32);
    let start = t.schedule.phases.last().unwrap().start;
    let reals = sgw::ops::rand_uniform(&[8, 1, 8, 8], 1, 0, -1.0, 1.0, Place::Cpu32);
    t.progress.images = start;
    t.step(&reals).unwrap();
    let m = StepMemory::measure(MemorySource::Host, &mut t, &reals, start);
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    assert_eq!(
        (
            row.peak_mib,
            row.params_mib,
            row.activations_mib,
            row.penalty_mib
        ),
        (
            mib(m.peak),
            mib(m.params),
            mib(m.activations),
            mib(m.penalty)
        )
    );
}

#[test]
fn the_accumulation_that_fits_is_the_smallest_that_does() {
    use sgw::bench::memory_plan::{fitting_accumulate, plan};
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cfg = plan_config();
    let top = plan(&cfg)
        .iter()
        .map(|r| r.with_margin_mib())
        .fold(0.0, f64::max);
    // A budget the whole batch fits needs no accumulation.
    assert_eq!(fitting_accumulate(&cfg, top + 1e-6).unwrap().0, 1);
    // Just under it: accumulation of 2 or more, and the rows it returns fit.
    let (k, rows) = fitting_accumulate(&cfg, top - 1e-6).unwrap();
    assert!(k >= 2);
    assert!(rows.iter().all(|r| r.with_margin_mib() < top));
    // Less than the parameters alone: nothing fits.
    assert!(fitting_accumulate(&cfg, rows[0].params_mib).is_none());
}

/// An op whose backward never reads an input records it as an edge only, so an activation
/// that feeds only such ops (here lrelu -> blur, as in D's blocks) is freed as soon as the
/// forward moves on, while a saved one (lrelu's input) stays; the gradient through the
/// edge is unchanged (gradcheck covers every op).
#[test]
fn an_activation_only_a_linear_op_reads_is_freed_when_the_forward_moves_on() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let live = || sgw::tensor::host_memory().live_bytes;
    let x = sgw::ops::rand_normal(&[2, 3, 16, 16], 1, 0, 0.0, 1.0, Place::Cpu32).requires_grad_();
    let bytes = x.numel() as u64 * 4;
    let a = sgw::ops::leaky_relu(&x, 0.2, 1.0);
    let with_a = live();
    let b = sgw::ops::blur(&a);
    let with_b = live();
    assert_eq!(with_b, with_a + bytes, "blur's output");
    drop(a);
    assert_eq!(live(), with_a, "a freed: blur recorded it as an edge");
    // A saved input is kept: a product reads both operands.
    let c = &b * &b;
    drop(b);
    assert_eq!(live(), with_a + bytes, "b kept: the product saved it");
    let g = sgw::autograd::grad_of(&sgw::ops::sum_all(&c), &x, false).to_vec();
    assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|&v| v != 0.0));
}

/// The optimiser's guard (loss + sum of g^2) makes no gradient-sized copy: during it the
/// pool's live bytes rise by a few kilobytes of row sums, not by the gradient's size.
#[test]
fn the_optimisers_guard_makes_no_gradient_sized_copy() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ctx = gpu::gpu();
    let n = 1usize << 20;
    let g = sgw::ops::rand_uniform(&[n], 1, 0, -1.0, 1.0, Place::Gpu);
    let loss = Tensor::scalar(1.0, Place::Gpu);
    ctx.sync();
    ctx.reset_peak();
    let before = ctx.memory().live_requested_bytes;
    let guard = sgw::optim::adam::guard(&loss, &g);
    assert!(guard.item().is_finite());
    let extra = ctx.memory().peak_requested_bytes - before;
    assert!(
        extra < 16 * 1024,
        "{extra} bytes for a guard of {} bytes",
        n * 4
    );
}
