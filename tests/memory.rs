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
