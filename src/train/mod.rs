//! Floor 8: training. `config` (what is trained), `schedule` (progressive growing), `loss`
//! (WGAN-GP, logistic + R1), `path_length` and `lazy_reg` (StyleGAN2's regularisers and their steps; `reg_config` their settings), `trainer` (one step) with `augmenting` (ADA in the step) and
//! `ada` (its p), `checkpoint` (atomic safetensors), `metrics` (SWD, generator variance,
//! adversarial balance), `pictures` (grids, GIF), `plots`, `run` (the loop behind `train`)
//! with `args` (flags, configuration), `dataset`, `run_dir` (logs and files of a run) and
//! `sampling`, `generate`; `error` (why they stop).

mod accumulate;
pub mod ada;
pub mod args;
mod augmenting;
pub mod checkpoint;
pub mod config;
pub mod config_file;
pub mod dataset;
pub mod device;
pub mod error;
pub mod generate;
pub mod lazy_reg;
pub mod loss;
pub mod metrics;
pub mod path_length;
pub mod pictures;
pub mod plots;
mod ranks;
pub mod reg_config;
pub mod resume;
pub mod run;
pub mod run_dir;
mod sampling;
pub mod schedule;
pub mod trainer;

pub use config::{Loss, TrainConfig};
pub use error::{FileOp, TrainError};
pub use schedule::{Point, Schedule};
pub use trainer::{Progress, StepRecord, Trainer};
