//! Helpers shared by the integration tests: the tiny model every training test uses, scratch
//! folders, a run's loss log, and the full check of one gradcheck case. Each test binary uses
//! some of them.
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

/// Run the case named `name` among `cases` (a suite list from `sgw::check::suite`) and
/// require every row to pass and every kind of check to be there: first and second order
/// against finite differences, and the GPU's value, gradient and second order.
pub fn check_case(cases: Vec<sgw::check::suite::Case>, name: &str) {
    let cases: Vec<_> = cases.into_iter().filter(|c| c.op == name).collect();
    assert_eq!(cases.len(), 1, "no case named {name}");
    let rows = sgw::check::suite::run_case(&cases[0]);
    let bad: Vec<_> = rows.iter().filter(|r| !r.pass).cloned().collect();
    assert!(bad.is_empty(), "failures:\n{}", sgw::check::table(&bad));
    for check in [
        "grad vs FD",
        "grad2 vs FD",
        "gpu value",
        "gpu grad",
        "gpu grad2",
    ] {
        assert!(
            rows.iter().any(|r| r.check == check),
            "{name} lacks {check}"
        );
    }
}

/// True when `python3` can import torch (the PyTorch cross-checks skip otherwise).
pub fn has_torch() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run a Python script that prints one number per line (`%.17g`) and return them.
pub fn python_f64s(script: &str) -> Vec<f64> {
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// Every parameter plus 0.3 U(-1, 1) (f64): zero-initialised biases and noise strengths then
/// matter to a comparison.
pub fn perturb(p: &mut sgw::params::ParamGroup, seed: u64) {
    use sgw::check::{random_input, Domain};
    for i in 0..p.len() {
        let r = random_input(p.get(i).shape(), Domain::Any, seed * 1000 + i as u64);
        let v = p.get(i) + &sgw::ops::mul_scalar(&r, 0.3);
        p.set(i, &v);
    }
}

/// The StyleGAN2 of the whole-step tests: 8x8 RGB, nf 8 / 4 at 4 / 8, a mapping of 2 layers,
/// z 8, w 6, minibatch-stddev groups of 2.
pub fn stylegan2_8x8() -> sgw::nn::ModelConfig {
    sgw::nn::ModelConfig {
        arch: sgw::nn::Arch::Stylegan2,
        z_dim: 8,
        w_dim: 6,
        mapping_layers: 2,
        fmap_base: 32,
        fmap_max: 8,
        channels: 3,
        start_res: 8,
        max_res: 8,
        mbstd_group: 2,
        ..sgw::nn::ModelConfig::default()
    }
}
