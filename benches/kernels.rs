//! `cargo bench`: the quick kernel set (small shapes, fine on a software device), printed as
//! the same table as `stylegan-wgpu bench --quick`. A word after `--` filters kernels:
//! `cargo bench -- conv`. For the real shapes and JSON use the subcommand.

use std::process::ExitCode;

fn main() -> ExitCode {
    // cargo passes `--bench`; any other word is a filter.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let args = sgw::bench::BenchArgs {
        quick: true,
        filter,
        ..Default::default()
    };
    match sgw::bench::run(&args) {
        Ok(report) => {
            print!("{}", sgw::bench::report::table(&report));
            ExitCode::SUCCESS
        }
        Err(e) => {
            // No GPU is not a failure of the code under test: say so and pass.
            eprintln!("kernel benchmarks skipped, no GPU: {e}");
            ExitCode::SUCCESS
        }
    }
}
