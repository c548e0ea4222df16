//! The command line: parse, then call one function per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "stylegan-wgpu",
    version,
    about = "Train StyleGAN on any GPU with hand-written WGSL kernels"
)]
struct Cli {
    /// Use the adapter whose name contains this (case-insensitive); see `info`.
    #[arg(long, global = true)]
    adapter: Option<String>,
    /// Keep the fixed tile rules for conv and matmul: no timing of candidate kernels on first
    /// use of a shape, no autotune cache (as SGW_AUTOTUNE=off).
    #[arg(long, global = true)]
    no_autotune: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the GPU adapter, its limits and features.
    Info,
    /// Check every op's GPU kernels and gradients against the CPU reference and finite differences.
    Gradcheck {
        /// Only ops whose name contains this.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Train StyleGAN: `train oasis` (the built-in phantom when no OASIS data is found),
    /// `train mnist`, `train folder --data DIR`.
    Train(sgw::train::run::TrainArgs),
    /// Pictures from a checkpoint (grid, single images, interpolation, style mixing).
    Generate(sgw::train::generate::GenerateArgs),
    /// Time each kernel against the device's FMA and copy ceilings and the CPU reference.
    Bench(sgw::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // MPI (feature `mpi`, under mpirun/srun) or one process; finalised when this drops.
    let comm = sgw::dist::Comm::init();
    let group = comm.group();
    // The library keeps its fixed rules unless a program opts in (tests stay deterministic).
    sgw::gpu::autotune::enable(!cli.no_autotune);
    if cli.adapter.is_some() {
        sgw::gpu::context::configure(sgw::gpu::AdapterChoice {
            name_contains: cli.adapter.clone(),
            kind: sgw::gpu::AdapterKind::Any,
        });
    }
    let result = match cli.command {
        Command::Info => info(),
        Command::Gradcheck { filter } => gradcheck(filter.as_deref()),
        Command::Train(a) => sgw::train::run::train_in(&a, group)
            .map(|_| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Generate(a) => sgw::train::generate::generate(&a)
            .map(|_| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Bench(args) => sgw::bench::run_cli(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if group.size > 1 {
                // The other ranks may be waiting in a collective: end them all.
                eprintln!("error on {group}: {e}");
                group.abort(1);
            }
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn info() -> Result<ExitCode> {
    let ctx = sgw::gpu::try_gpu()?;
    print!("{}", ctx.describe());
    Ok(ExitCode::SUCCESS)
}

fn gradcheck(filter: Option<&str>) -> Result<ExitCode> {
    let ctx = sgw::gpu::try_gpu()?;
    println!("adapter: {} ({:?})", ctx.info.name, ctx.info.backend);
    let rows = sgw::check::suite::run_all(filter);
    print!("{}", sgw::check::table(&rows));
    let failed = rows.iter().filter(|r| !r.pass).count();
    println!("{} passed, {} failed", rows.len() - failed, failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
