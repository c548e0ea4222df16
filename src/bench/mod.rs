//! Floor 9: kernel benchmarks, the `bench` subcommand and `cargo bench`.
//!
//! Each kernel is timed on the GPU (timestamp queries, after warm-up, over repeated runs),
//! converted to GFLOP/s and GB/s from counted work, put next to the device's own ceilings
//! measured in the same run, and next to the CPU reference running the same op at the
//! same shape.
//!
//! - [`kernels`]: the benchmark list (name, shape, counted work, setup and run closures),
//!   with the optimiser's rows in [`optim_rows`], StyleGAN2's and ADA's in [`stylegan2_rows`],
//!   and what a row is in [`row`].
//! - [`timing`]: timestamps or wall clock, the median and spread, the CPU cost estimate.
//! - [`ceilings`]: FMA throughput and copy bandwidth.
//! - [`report`]: the table and the JSON.
//! - [`tiles`]: which tile configuration a conv or matmul row ran (rule, tuned, forced).
//! - [`train_step`]: whole training steps per resolution, with the kernel families' shares;
//!   StyleGAN2's (`--arch stylegan2`, its lazy regularisers weighted in) in [`stylegan2_step`].
//! - [`memory_plan`]: the 256x256 schedule's peak memory per phase, on meta tensors.

pub mod ceilings;
pub mod kernels;
pub mod memory_plan;
pub mod optim_rows;
pub mod report;
pub mod row;
pub mod stylegan2_rows;
pub mod stylegan2_step;
pub mod tiles;
pub mod timing;
pub mod train_step;

pub use report::{KernelRow, Report};
pub use train_step::TrainStepRow;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::gpu::{self, GpuContext, GpuError};
use crate::nn::Arch;
use crate::ops::conv::{self, TilingPolicy};
use crate::ops::tune;
use crate::tensor::Place;
use report::DeviceInfo;
use timing::{cpu_runs, summarize, time_cpu, time_gpu, CpuRates, Method, CPU_LIMIT_S};

/// Options of `stylegan-wgpu bench`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct BenchArgs {
    /// Small shapes (minutes on a software device such as lavapipe) instead of the
    /// shapes StyleGAN training runs.
    #[arg(long)]
    pub quick: bool,
    /// The training shapes even on a software adapter (where --quick is the default: the
    /// full set would take hours on a CPU).
    #[arg(long, conflicts_with = "quick")]
    pub full: bool,
    /// Also write the results to this file as JSON (schema in BENCHMARKS.md).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Timed repetitions per kernel [default: 20, with --quick 5].
    #[arg(long, value_name = "N")]
    pub repeats: Option<usize>,
    /// Only kernels whose name or shape contains this.
    #[arg(long, value_name = "SUBSTR")]
    pub filter: Option<String>,
    /// Skip the CPU reference side by side.
    #[arg(long)]
    pub no_cpu: bool,
    /// Time with the synchronised host clock even where timestamp queries exist.
    #[arg(long)]
    pub wall_clock: bool,
    /// Skip the whole-training-step section (also skipped when --filter is given, unless
    /// the filter is "train_step").
    #[arg(long)]
    pub no_steps: bool,
    /// Convolution tiles: auto (by size, as training runs), or force narrow (ROWS x 64) or
    /// wide (128 x 128) everywhere, or Winograd F(2x2, 3x3) wherever it applies (3x3
    /// forward and input gradient; the rule elsewhere), to compare them on this device.
    #[arg(long, value_name = "auto|narrow|wide|winograd", value_parser = ["auto", "narrow", "wide", "winograd"])]
    pub conv_tiling: Option<String>,
    /// Which StyleGAN the training-step section steps: stylegan1 (default) or stylegan2
    /// (a model built at each resolution, the lazy R1 and path length steps weighted in).
    #[arg(long, value_name = "stylegan1|stylegan2")]
    pub arch: Option<Arch>,
    /// Only the memory plan: the 256x256 schedule's peak per phase (meta tensors, no GPU).
    #[arg(long)]
    pub memory_plan: bool,
    /// The device memory the plan checks against, GiB.
    #[arg(long, value_name = "GIB", default_value_t = 8.0)]
    pub memory_budget: f64,
}

struct Plan {
    warmup: usize,
    repeats: usize,
    cpu_repeats: usize,
    /// Warm-up and timed repetitions of a whole training step.
    step_runs: (usize, usize),
}

impl Plan {
    fn new(args: &BenchArgs) -> Plan {
        Plan {
            warmup: if args.quick { 2 } else { 3 },
            repeats: args
                .repeats
                .unwrap_or(if args.quick { 5 } else { 20 })
                .max(1),
            cpu_repeats: if args.quick { 3 } else { 5 },
            step_runs: if args.quick { (1, 3) } else { (2, 10) },
        }
    }
}

fn device_info(ctx: &GpuContext) -> DeviceInfo {
    let i = &ctx.info;
    DeviceInfo {
        name: i.name.clone(),
        backend: i.backend.to_str().to_string(),
        software: ctx.is_software(),
        driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
    }
}

/// `args` as run on this device: a software adapter gets the quick set unless `--full`.
fn effective_args(ctx: &GpuContext, args: &BenchArgs, notes: &mut Vec<String>) -> BenchArgs {
    let mut args = args.clone();
    if ctx.is_software() && !args.quick && !args.full {
        args.quick = true;
        let note =
            "software adapter: running the --quick set (--full asks for the training shapes)";
        eprintln!("bench: {note}");
        notes.push(note.to_string());
    }
    args
}

/// The `--conv-tiling` the user asked for.
fn requested_tiling(args: &BenchArgs) -> TilingPolicy {
    match args.conv_tiling.as_deref() {
        Some("narrow") => TilingPolicy::Narrow,
        Some("wide") => TilingPolicy::Wide,
        _ => TilingPolicy::Auto,
    }
}

/// Run the benchmarks `args` select and return the report; progress goes to stderr.
pub fn run(args: &BenchArgs) -> Result<Report, GpuError> {
    let ctx = gpu::try_gpu()?;
    let mut notes = Vec::new();
    let args = &effective_args(ctx, args, &mut notes);
    let tiling = requested_tiling(args);
    let _tiling = conv::set_tiling_policy(tiling);
    if tiling != TilingPolicy::Auto {
        notes.push(format!("convolution tiling forced: {tiling:?}"));
    }
    let winograd = args.conv_tiling.as_deref() == Some("winograd");
    let _winograd = winograd.then(|| {
        notes.push("convolution: Winograd F(2x2, 3x3) forced where it applies".into());
        tune::force_conv(Some(tune::ConvConfig {
            tiling: conv::Tiling::Winograd,
            k_step: 16,
            split_target: 512,
        }))
    });
    // Poisoning fills every new buffer with NaN: an extra dispatch per op that would be
    // timed with it. It is off here (whatever a test set) until the guard drops.
    let _poison = gpu::set_poison(false);
    let plan = Plan::new(args);
    let method = Method::choose(ctx, args.wall_clock);
    let device = device_info(ctx);
    eprintln!(
        "bench: {} ({}{}), timing: {}",
        device.name,
        device.backend,
        if device.software { ", software" } else { "" },
        method.name()
    );
    if method == Method::Wall {
        let why = if args.wall_clock {
            "--wall-clock"
        } else {
            "the adapter has no timestamp queries"
        };
        notes.push(format!(
            "timing is synchronised wall clock ({why}); each time includes submit and wait"
        ));
    }

    let sizes = ceilings::Sizes::for_device(ctx, args.quick || ctx.is_software());
    let ceil = ceilings::measure(ctx, method, sizes, plan.warmup, plan.repeats);
    eprintln!(
        "bench: ceilings FMA {:.1} GFLOP/s, copy {:.1} GB/s ({} MiB)",
        ceil.fma_gflops,
        ceil.copy_gbs,
        sizes.copy_bytes >> 20
    );
    let only_steps = args.filter.as_deref() == Some("train_step");
    let kernels = if only_steps {
        Vec::new()
    } else {
        kernel_rows(ctx, args, &plan, method, ceil, &mut notes)
    };
    notes.push(tiles::status_note());
    let steps = if args.no_steps || (args.filter.is_some() && !only_steps) {
        Vec::new()
    } else {
        step_rows(ctx, args, &plan, &mut notes)
    };
    Ok(Report {
        device,
        timing: method.name().to_string(),
        ceilings: ceil,
        kernels,
        train_step: steps,
        notes,
    })
}

/// Every kernel of the selected set: GPU time, rates against the ceilings, the CPU twin.
fn kernel_rows(
    ctx: &GpuContext,
    args: &BenchArgs,
    plan: &Plan,
    method: Method,
    ceil: ceilings::Ceilings,
    notes: &mut Vec<String>,
) -> Vec<KernelRow> {
    let cpu_rates = (!args.no_cpu).then(CpuRates::measure);
    if let Some(r) = cpu_rates {
        eprintln!(
            "bench: CPU reference ~{:.1} GFLOP/s (conv), ~{:.1} GB/s (blur); CPU runs \
             estimated over {CPU_LIMIT_S} s are skipped",
            r.gflops, r.gbs
        );
    }
    let limit = ctx.limits.max_storage_buffer_binding_size;
    let mut rows = Vec::new();
    for b in kernels::filtered(kernels::set(args.quick), args.filter.as_deref()) {
        if b.largest_buffer > limit {
            let note = format!(
                "{} {} skipped: a {} MiB tensor exceeds the device's {} MiB binding limit",
                b.name,
                b.shape,
                b.largest_buffer >> 20,
                limit >> 20
            );
            eprintln!("bench: {note}");
            notes.push(note);
            continue;
        }
        let gpu_ms = {
            let mut run = (b.setup)(Place::Gpu);
            summarize(&time_gpu(ctx, method, plan.warmup, plan.repeats, &mut run))
        };
        // The inputs are gone; give their memory back before the next shape.
        ctx.pool.trim();
        let cpu_ms = cpu_rates.and_then(|r| {
            let (warm, reps) = cpu_runs(r.estimate_s(b.flops, b.bytes), plan.cpu_repeats)?;
            let mut run = (b.setup)(Place::Cpu32);
            Some(summarize(&time_cpu(warm, reps, &mut run)).median)
        });
        let row = KernelRow::new(&b, gpu_ms, cpu_ms, ceil);
        eprintln!(
            "bench: {:<24} {:<34} {:>10.4} ms{}",
            row.name,
            row.shape,
            row.median_ms,
            cpu_ms.map_or(String::new(), |c| format!("  (CPU {c:.3} ms)"))
        );
        notes.extend(tiles::describe(&b).map(|t| format!("tiles: {} {}: {t}", b.name, b.shape)));
        rows.push(row);
    }
    notes.push(format!(
        "GPU: median of {} repetitions after {} warm-up runs; CPU: median of up to {}, \
         skipped (-) when estimated over {CPU_LIMIT_S} s{}",
        plan.repeats,
        plan.warmup,
        plan.cpu_repeats,
        if args.no_cpu { " (--no-cpu)" } else { "" }
    ));
    rows
}

/// Whole training steps of the quick or the full model.
fn step_rows(
    ctx: &GpuContext,
    args: &BenchArgs,
    plan: &Plan,
    notes: &mut Vec<String>,
) -> Vec<TrainStepRow> {
    let sg2 = args.arch == Some(Arch::Stylegan2);
    let set = if sg2 {
        stylegan2_step::stylegan2_set(args.quick)
    } else {
        train_step::step_set(args.quick)
    };
    let m = &set.cfg.model;
    notes.push(format!(
        "train step ({}): z/w {}, fmap_base {}, fmap_max {}, {} channel(s), built to {}; \
         wall clock = median of {} synchronised steps after {} warm-up{}",
        m.arch,
        m.z_dim,
        m.fmap_base,
        m.fmap_max,
        m.channels,
        if sg2 {
            "each timed resolution".to_string()
        } else {
            format!("{r}x{r}", r = m.max_res)
        },
        plan.step_runs.1,
        plan.step_runs.0,
        if sg2 {
            "; StyleGAN2: per kind of step (R1 and path length, path length alone, neither), \
             weighted by its share of the official intervals' steps"
        } else {
            ""
        },
    ));
    if sg2 {
        stylegan2_step::measure(ctx, &set, plan.step_runs, notes)
    } else {
        train_step::measure(ctx, &set, plan.step_runs, notes)
    }
}

/// The `bench` subcommand: run, print the table, write the JSON if asked.
pub fn run_cli(args: &BenchArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if args.memory_plan {
        return memory_plan::cli(args);
    }
    let report = run(args)?;
    print!("{}", report::table(&report));
    if let Some(path) = &args.json {
        std::fs::write(path, report.to_json() + "\n")
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
