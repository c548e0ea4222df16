//! Helpers shared by the integration tests: the tiny model every training test uses, scratch
//! folders, and a run's loss log. Each test binary uses some of them.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// Three phases of 16 images (4x4, 8x8 fade, 8x8) of a model with 8 feature maps, batch 4:
/// twelve steps end to end. `sample_every_kimg` is the one value the tests vary.
pub fn tiny(sample_every_kimg: f64) -> String {
    format!(
        r#"
kimg_per_phase = 0.016
sample_every_kimg = {sample_every_kimg}
checkpoint_every_kimg = 1.0
grid = 2
[model]
z_dim = 16
w_dim = 16
mapping_layers = 2
fmap_base = 32
fmap_max = 8
max_res = 8
[batch]
4 = 4
8 = 4
"#
    )
}

/// An empty folder of this process for `name`.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sgw-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// The lines of a run's losses.csv, header first.
pub fn losses(run: &Path) -> Vec<String> {
    fs::read_to_string(run.join("losses.csv"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}
