//! Floor 7: training. `config` (what is trained), `schedule` (progressive growing), `loss`
//! (WGAN-GP, logistic + R1), `trainer` (one step), `checkpoint` (atomic safetensors),
//! `metrics` (SWD, generator variance, adversarial balance), `pictures` (grids, GIF, plot),
//! `run` (the loop behind `train`), `generate`.

pub mod checkpoint;
pub mod config;
pub mod config_file;
pub mod device;
pub mod generate;
pub mod loss;
pub mod metrics;
pub mod pictures;
pub mod plots;
pub mod resume;
pub mod run;
pub mod schedule;
pub mod trainer;

pub use config::{Loss, TrainConfig};
pub use schedule::{Point, Schedule};
pub use trainer::{Progress, StepRecord, Trainer};
