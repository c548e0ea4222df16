//! `train`: the training algorithm around [`Trainer`]. Start a new run or resume one, then
//! for each step take a batch from the background loader and step; the losses are read back
//! in groups (no sync per step); samples and checkpoints are made at intervals, and on
//! Ctrl-C the run checkpoints and stops. The parts live next to it: `args` (flags and
//! configuration), `dataset`, `run_dir` (logs and files), `sampling`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::checkpoint::{self, Checkpoint};
use super::dataset::{self, Batches};
use super::device::{self, DeviceChoice};
use super::error::{FileOp, Result};
use super::ranks;
use super::resume;
use super::run_dir::{self, KernelProfile, LossLog, RunDir};
use super::sampling::Sampler;
use super::trainer::Trainer;
use crate::data::Dataset;
use crate::dist::Group;
use crate::gpu::context::configure_index;
use crate::tensor::Place;

pub use super::args::{check_flags, resolve_config, TrainArgs};
pub use super::dataset::open_dataset;
pub use super::run_dir::LOSSES_HEADER;

/// The `train` subcommand, one process.
pub fn train(a: &TrainArgs) -> Result<()> {
    train_in(a, Group::single())
}

/// The `train` subcommand as one of the data-parallel ranks `group` (each takes its share
/// of every global batch; only rank 0 writes the run directory).
pub fn train_in(a: &TrainArgs, group: Group) -> Result<()> {
    check_flags(a)?;
    let choice = if a.cpu { DeviceChoice::Cpu } else { a.device };
    // Ranks on one host spread over its adapters (all share it when there is one).
    configure_index(group.local_rank);
    let placement = device::place(choice)?;
    if group.size > 1 {
        println!(
            "{group} (local rank {}) on {}: {}",
            group.local_rank,
            group.host(),
            placement.note
        );
    } else {
        println!("{}", placement.note);
    }
    let (mut t, ds, dir, changes) = match &a.resume {
        Some(p) => resume_run(a, p, placement.place)?,
        None => new_run(a, &placement)?,
    };
    ranks::check_parts(&t.cfg, group)?;
    t.group = group;
    if !group.is_root() {
        let stop = ctrl_c();
        ranks::follow(&mut t, Arc::new(ds), a.stop_after_steps, || {
            stop.load(Ordering::SeqCst)
        });
        return Ok(());
    }
    dataset::describe(&ds);
    fs::create_dir_all(&dir).map_err(FileOp::CreateDir.on(&dir))?;
    run_dir::write_atomic(&dir.join("config.toml"), &t.cfg.to_toml())?;
    println!("run directory: {}", dir.display());
    run_loop(a, t, Arc::new(ds), dir, &changes)
}

/// A new run: configuration, dataset (whose channels the model takes), trainer, directory.
fn new_run(
    a: &TrainArgs,
    placement: &device::Placement,
) -> Result<(Trainer, Dataset, PathBuf, Vec<String>)> {
    let (mut cfg, asked) = resolve_config(a, placement.slow)?;
    if a.preset.is_none() && placement.slow {
        println!("no fast GPU: using the small preset (up to {0}x{0}, at most {1} channels); --preset full asks for the whole model", cfg.model.max_res, cfg.model.fmap_max);
    }
    let ds = open_dataset(&cfg)?;
    cfg.model.channels = dataset::channels(&ds, asked)?;
    cfg.data.fingerprint = Some(ds.fingerprint());
    cfg.validate()?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| run_dir::default_dir(&cfg.data.dataset));
    Ok((Trainer::new(cfg, placement.place), ds, dir, Vec::new()))
}

/// A run continued from its checkpoint, with the flags that may change applied.
fn resume_run(
    a: &TrainArgs,
    from: &Path,
    place: Place,
) -> Result<(Trainer, Dataset, PathBuf, Vec<String>)> {
    let ck = Checkpoint::load(from)?;
    let resume::Resumed {
        mut cfg,
        mut changes,
    } = resume::apply_flags(a, &ck)?;
    let ds = open_dataset(&cfg)?;
    let print = dataset::check_resumed(a, &cfg, &ck.config, &ds, &mut changes)?;
    cfg.data.fingerprint = Some(print);
    let dir = a.out.clone().unwrap_or_else(|| {
        ck.path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    });
    println!(
        "resuming {} at {:.3} kimg",
        ck.path.display(),
        ck.number("images").unwrap_or(0) as f64 / 1000.0
    );
    let t = ck.trainer_with(cfg, place)?;
    Ok((t, ds, dir, changes))
}

/// A run in progress: the trainer, its data and what it writes.
struct Run {
    t: Trainer,
    ds: Arc<Dataset>,
    out: RunDir,
    losses: LossLog,
    sampler: Sampler,
    batches: Batches,
    profile: KernelProfile,
    started: Instant,
    images_at_start: u64,
}

impl Run {
    /// Read back the losses of the steps taken and write them out.
    fn flush(&mut self) -> Result<()> {
        if self.losses.flush(&self.out, &mut self.t.progress)? {
            self.profile.collect();
        }
        Ok(())
    }

    fn show_progress(&self) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let ips = (self.t.progress.images - self.images_at_start) as f64 / secs;
        self.out.show_progress(&self.t, ips, &self.losses);
    }

    fn sample(&mut self, res: usize, alpha: f64) -> Result<()> {
        let balance = &self.losses.balance;
        self.sampler
            .sample(&self.t, &self.ds, balance, &self.out, res, alpha)
    }

    fn checkpoint(&mut self) -> Result<()> {
        self.flush()?;
        Ok(checkpoint::save(
            &self.t,
            &self.out.dir.join(checkpoint::FILE),
        )?)
    }

    /// Stopped before the end: checkpoint, and say how to continue.
    fn stop(mut self) -> Result<()> {
        self.checkpoint()?;
        self.profile.finish(&self.out)?;
        self.out.log(&format!(
            "stopped at {:.3} kimg; checkpoint written; continue with --resume {}",
            self.t.progress.images as f64 / 1000.0,
            self.out.dir.display()
        ));
        self.out.log(&ranks::parameter_line(&self.t));
        self.out.abandon_bar();
        Ok(())
    }

    /// The schedule is done: the last sample, checkpoint, GIF and plots.
    fn finish(mut self) -> Result<()> {
        self.flush()?;
        self.show_progress();
        self.out.finish_bar();
        let last = self.t.schedule.phases.last().copied();
        if let Some(p) = last {
            self.sample(p.res, 1.0)?;
        }
        self.checkpoint()?;
        self.out.finish_pictures()?;
        self.profile.finish(&self.out)?;
        let p = &self.t.progress;
        self.out.log(&format!(
            "done: {:.3} kimg in {:.1} s, {} D and {} G steps skipped as non-finite; see {}",
            p.images as f64 / 1000.0,
            self.started.elapsed().as_secs_f64(),
            p.skipped_d,
            p.skipped_g,
            self.out.dir.display()
        ));
        self.out.log(&ranks::parameter_line(&self.t));
        Ok(())
    }
}

/// A flag that Ctrl-C sets.
fn ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // Only the first handler registration in a process succeeds; tests run several loops.
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    stop
}

/// The loop: step until the schedule ends (or Ctrl-C, or `--stop-after-steps`), reading the
/// losses back about once a second, sampling and checkpointing at their intervals.
fn run_loop(
    a: &TrainArgs,
    t: Trainer,
    ds: Arc<Dataset>,
    dir: PathBuf,
    changes: &[String],
) -> Result<()> {
    let stop = ctrl_c();
    let cfg = t.cfg.clone();
    let out = RunDir::new(dir, a.quiet, t.schedule.total());
    for c in changes {
        out.log(&format!("resume: {c}"));
    }
    let mut losses = LossLog::new();
    if t.progress.images > 0 {
        let p = t.progress;
        let dropped = run_dir::reconcile_logs(&out.dir, p.step, p.images, &mut losses.balance)?;
        if dropped > 0 {
            out.log(&format!(
                "resume: dropped {dropped} log rows written after the checkpoint (they are trained again)"
            ));
        }
    }
    let mut run = Run {
        profile: KernelProfile::start(&out, t.place),
        sampler: Sampler::new(&cfg, &t),
        batches: Batches::new(ds.clone(), cfg.seed, cfg.data.mirror),
        images_at_start: t.progress.images,
        started: Instant::now(),
        t,
        ds,
        out,
        losses,
    };
    let every = |kimg: f64| ((kimg * 1000.0).round() as u64).max(1);
    let (sample_every, ckpt_every) = (
        every(cfg.sample_every_kimg),
        every(cfg.checkpoint_every_kimg),
    );
    let mut last_flush = Instant::now();
    let mut steps_here = 0u64;
    if run.t.progress.images == 0 {
        run.sample(cfg.model.start_res, 1.0)?;
    }
    while let Some(pt) = run.t.point() {
        let here =
            stop.load(Ordering::SeqCst) || a.stop_after_steps.is_some_and(|s| steps_here >= s);
        if ranks::agree_stop(run.t.group, here) {
            return run.stop();
        }
        let reals = run.batches.next(
            pt.res,
            cfg.batch_at(pt.res),
            run.t.progress.step,
            run.t.place,
        );
        let before = run.t.progress.images;
        let rec = run.t.step(&reals).expect("point() said training continues");
        run.losses.push(rec);
        steps_here += 1;
        let after = run.t.progress.images;
        if last_flush.elapsed() > Duration::from_secs(1) || run.losses.pending() >= 64 {
            run.flush()?;
            run.show_progress();
            last_flush = Instant::now();
        }
        if after / sample_every != before / sample_every {
            run.flush()?;
            run.sample(pt.res, pt.alpha)?;
        }
        if after / ckpt_every != before / ckpt_every {
            run.checkpoint()?;
        }
    }
    run.finish()
}
