//! What a data-parallel run adds around the loop: the check that every global batch splits
//! into ranks × accumulate micro-batches, the line each rank prints at start, the agreed
//! stop, the loop of the ranks other than 0 (they step and write nothing), and a hash of
//! the parameters that shows the ranks stayed identical.

use std::sync::Arc;

use super::config::TrainConfig;
use super::dataset::Batches;
use super::error::{Result, TrainError};
use super::trainer::Trainer;
use crate::data::Dataset;
use crate::dist::Group;

/// Every resolution's batch must split into `group.size` × `accumulate` equal micro-batches.
pub(super) fn check_parts(cfg: &TrainConfig, group: Group) -> Result<()> {
    if group.size == 1 {
        return Ok(());
    }
    let k = cfg.accumulate.max(1);
    for r in cfg.model.resolutions() {
        let b = cfg.batch_at(r);
        if !b.is_multiple_of(k * group.size) {
            return Err(TrainError::Invalid(format!(
                "batch size {b} at {r}x{r} does not split over {n} ranks x accumulate {k}: each rank takes {k} micro-batches of the global batch, so it must be a multiple of {p} at every resolution (--batch, or another -np / --accumulate)",
                n = group.size,
                p = k * group.size
            )));
        }
    }
    Ok(())
}

/// True on every rank when any rank wants to stop (Ctrl-C, `--stop-after-steps`), so all
/// leave the loop at the same step.
pub(super) fn agree_stop(group: Group, here: bool) -> bool {
    if group.size == 1 {
        return here;
    }
    let mut v = [here as u8 as f32];
    group.sum_f32(&mut v);
    v[0] > 0.0
}

/// FNV-1a over the bits of G, D, G_ema and w_avg: equal on every rank of a run.
pub fn parameter_hash(t: &Trainer) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |v: &[f32]| {
        for x in v {
            for b in x.to_bits().to_le_bytes() {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        }
    };
    for g in [&t.gp, &t.dp, &t.g_ema] {
        for v in g.to_vecs() {
            eat(&v);
        }
    }
    eat(&t.w_avg.to_vec());
    h
}

/// The line each rank prints when it ends.
pub(super) fn parameter_line(t: &Trainer) -> String {
    format!(
        "{}: step {} parameter hash {:016x}",
        t.group,
        t.progress.step,
        parameter_hash(t)
    )
}

/// The loop of a rank other than 0: the same steps on its share of each batch, no files.
pub(super) fn follow(
    t: &mut Trainer,
    ds: Arc<Dataset>,
    stop_after: Option<u64>,
    stop: impl Fn() -> bool,
) {
    let mut batches = Batches::new(ds, t.cfg.seed, t.cfg.data.mirror);
    let mut steps = 0u64;
    while let Some(pt) = t.point() {
        if agree_stop(t.group, stop() || stop_after.is_some_and(|s| steps >= s)) {
            break;
        }
        let reals = batches.next(pt.res, t.cfg.batch_at(pt.res), t.progress.step, t.place);
        drop(t.step(&reals));
        steps += 1;
    }
    println!("{}", parameter_line(t));
}
