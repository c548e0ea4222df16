//! The cost of the data-parallel step's communication: for the small and full presets, the
//! bytes of G's and D's flat gradient (what each step all-reduces, once per network) and the
//! time of one host all-reduce of that many f32 across the ranks (median of 20 after 3
//! warm-ups). Run under MPI:
//!
//!     cargo build --release --features mpi --example allreduce
//!     mpirun -np 2 target/release/examples/allreduce

use std::time::Instant;

use sgw::dist::Comm;
use sgw::nn::{Discriminator, Generator};
use sgw::train::config::TrainConfig;
use sgw::Place;

fn main() {
    let comm = Comm::init();
    let group = comm.group();
    if group.is_root() {
        println!("{} ranks on {}", group.size, group.host());
        println!("| preset | net | parameters | flat bytes | all-reduce median | min | GB/s |");
        println!("|---|---|---:|---:|---:|---:|---:|");
    }
    for (name, cfg) in [
        ("small", TrainConfig::small()),
        ("full", TrainConfig::full()),
    ] {
        let (_, gp) = Generator::build(&cfg.model, 1, Place::Cpu32);
        let (_, dp) = Discriminator::build(&cfg.model, 2, Place::Cpu32);
        for (net, p) in [("G", gp), ("D", dp)] {
            let n = p.flat_len();
            let mut buf = vec![1.0f32; n];
            let mut times = Vec::new();
            for i in 0..23 {
                group.barrier();
                let t = Instant::now();
                group.sum_f32(&mut buf);
                if i >= 3 {
                    times.push(t.elapsed().as_secs_f64());
                }
            }
            times.sort_by(f64::total_cmp);
            let med = times[times.len() / 2];
            if group.is_root() {
                println!(
                    "| {name} | {net} | {} | {:.1} MB | {:.2} ms | {:.2} ms | {:.2} |",
                    p.numel(),
                    n as f64 * 4.0 / 1e6,
                    med * 1e3,
                    times[0] * 1e3,
                    n as f64 * 4.0 / med / 1e9
                );
            }
        }
    }
}
