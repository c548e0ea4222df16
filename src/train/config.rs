//! The run's configuration: everything that decides what is trained, saved as TOML in the run
//! directory and inside every checkpoint, so `generate` and `--resume` need no size flags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::TrainError;
use crate::data::SliceAxis;
use crate::nn::ModelConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// WGAN-GP with drift (lambda 10, epsilon 0.001): the default of OASIS StyleGAN reports.
    WganGp,
    /// Non-saturating logistic with R1 (gamma 10): the official StyleGAN loss.
    LogisticR1,
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Loss::WganGp => "wgan-gp",
            Loss::LogisticR1 => "logistic-r1",
        })
    }
}

impl std::str::FromStr for Loss {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self, TrainError> {
        match s {
            "wgan-gp" => Ok(Loss::WganGp),
            "logistic-r1" => Ok(Loss::LogisticR1),
            _ => Err(TrainError::Invalid(format!(
                "unknown loss {s:?}: use wgan-gp or logistic-r1"
            ))),
        }
    }
}

/// Which images D sees augmented (ADA, Karras et al. 2020), as `--augment` spells it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AugmentMode {
    /// D sees the images as they are (the run is what it was before augmentation existed).
    None,
    /// Every image D sees is augmented with probability p, which adapts to D's overfitting.
    Ada,
    /// Every image D sees is augmented with a fixed probability p in [0, 1].
    Fixed(f64),
}

impl std::fmt::Display for AugmentMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AugmentMode::None => f.write_str("none"),
            AugmentMode::Ada => f.write_str("ada"),
            AugmentMode::Fixed(p) => write!(f, "fixed:{p}"),
        }
    }
}

impl std::str::FromStr for AugmentMode {
    type Err = TrainError;
    /// `ada`, `none` or `fixed:P` with 0 <= P <= 1.
    fn from_str(s: &str) -> Result<Self, TrainError> {
        let bad = |why: String| {
            TrainError::Invalid(format!(
                "augment {s:?}: {why}; use ada (adaptive p), fixed:P (a constant p, 0 <= P <= 1, e.g. fixed:0.2) or none"
            ))
        };
        match s.trim() {
            "none" => Ok(AugmentMode::None),
            "ada" => Ok(AugmentMode::Ada),
            t => match t.strip_prefix("fixed:") {
                Some(v) => match v.trim().parse::<f64>() {
                    Ok(p) if (0.0..=1.0).contains(&p) => Ok(AugmentMode::Fixed(p)),
                    Ok(p) => Err(bad(format!("the probability {p} is not in [0, 1]"))),
                    Err(_) => Err(bad(format!("{v:?} is not a number"))),
                },
                None => Err(bad("unknown mode".into())),
            },
        }
    }
}

/// Which dataset and where.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// oasis, mnist, folder, nifti (phantom when OASIS is not found).
    pub dataset: String,
    pub path: Option<String>,
    /// At most this many images (all when absent).
    pub limit: Option<usize>,
    pub mirror: bool,
    /// NIfTI volumes: the axis slices are taken along.
    #[serde(default)]
    pub slice_axis: SliceAxis,
    /// What the run trained on ([`crate::data::Dataset::fingerprint`]): `--resume --data`
    /// elsewhere must find the same images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// "small" (software devices) or "full".
    pub preset: String,
    pub model: ModelConfig,
    pub data: DataConfig,
    pub loss: Loss,
    pub gp_lambda: f64,
    pub drift_epsilon: f64,
    pub r1_gamma: f64,
    /// StyleGAN2's lazy R1 and path length regularisation (used with `model.arch =
    /// "stylegan2"`); configurations written before it existed load the official defaults.
    #[serde(default)]
    pub stylegan2: super::reg_config::LazyReg,
    /// `none`, `ada` or `fixed:P` ([`AugmentMode`]): what D's images go through. Configurations
    /// written before it existed load with `none`.
    #[serde(default = "no_augment")]
    pub augment: String,
    /// ADA's target for r_t = E[sign(D(real))] (official: 0.6).
    #[serde(default = "ada_target")]
    pub ada_target: f64,
    /// ADA's speed: thousands of images over which p may go from 0 to 1 (official: 500).
    #[serde(default = "ada_kimg")]
    pub ada_kimg: f64,
    /// Images (thousands) per fade and per stable phase.
    pub kimg_per_phase: f64,
    /// Lengths in images of the first phases, fixed when a resume changed `kimg_per_phase`
    /// (the phases already trained keep their length); later phases take `kimg_per_phase`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phase_images: Vec<u64>,
    /// Minibatch per resolution: the global batch of a step, whatever `accumulate` is.
    #[serde(with = "res_map")]
    pub batch: BTreeMap<usize, usize>,
    /// Gradient accumulation: each step's batch is split, in order, into this many equal
    /// micro-batches whose gradients are averaged before one optimiser step (1: no split).
    /// Configurations written before it existed load with 1.
    #[serde(default = "one")]
    pub accumulate: usize,
    /// Learning rate per resolution (Adam, both networks).
    #[serde(with = "res_map")]
    pub lr: BTreeMap<usize, f64>,
    pub beta1: f64,
    pub beta2: f64,
    pub style_mixing_prob: f64,
    pub ema_half_life_kimg: f64,
    pub w_avg_beta: f64,
    pub seed: u64,
    /// Sample grid every this many kimg.
    pub sample_every_kimg: f64,
    pub checkpoint_every_kimg: f64,
    /// Side of the n x n sample grid.
    pub grid: usize,
}

impl TrainConfig {
    /// StyleGAN's defaults for one GPU at 256x256 (OASIS slices are grayscale).
    pub fn full() -> Self {
        let batch = [
            (4, 128),
            (8, 128),
            (16, 128),
            (32, 64),
            (64, 32),
            (128, 16),
            (256, 8),
            (512, 4),
            (1024, 4),
        ];
        let lr = [(128, 0.0015), (256, 0.002), (512, 0.003), (1024, 0.003)];
        TrainConfig {
            preset: "full".into(),
            model: ModelConfig::default(),
            data: DataConfig {
                dataset: "oasis".into(),
                path: None,
                limit: None,
                mirror: true,
                slice_axis: SliceAxis::Axial,
                fingerprint: None,
            },
            loss: Loss::WganGp,
            gp_lambda: 10.0,
            drift_epsilon: 0.001,
            r1_gamma: 10.0,
            stylegan2: Default::default(),
            augment: no_augment(),
            ada_target: ada_target(),
            ada_kimg: ada_kimg(),
            kimg_per_phase: 600.0,
            phase_images: Vec::new(),
            batch: batch.into_iter().collect(),
            accumulate: 1,
            lr: (2..=10).map(|k| (1usize << k, 0.001)).chain(lr).collect(),
            beta1: 0.0,
            beta2: 0.99,
            style_mixing_prob: 0.9,
            ema_half_life_kimg: 10.0,
            w_avg_beta: 0.995,
            seed: 1,
            sample_every_kimg: 20.0,
            checkpoint_every_kimg: 100.0,
            grid: 6,
        }
    }

    /// Small enough for a software (CPU) Vulkan device: up to 32x32, few channels.
    pub fn small() -> Self {
        let mut c = TrainConfig::full();
        c.preset = "small".into();
        c.model.z_dim = 64;
        c.model.w_dim = 64;
        c.model.fmap_base = 256;
        c.model.fmap_max = 32;
        c.model.max_res = 32;
        c.batch = c.batch.keys().map(|&r| (r, 16)).collect();
        c.kimg_per_phase = 2.0;
        c.sample_every_kimg = 0.5;
        c.checkpoint_every_kimg = 2.0;
        c.ema_half_life_kimg = 0.5;
        c.grid = 4;
        c
    }

    /// The training-step benchmark's quick model, the same as `tools/pytorch_bench.py
    /// --quick` builds: z/w 64, fmap_base 256, fmap_max 64, up to 16x16, batch 8 at every
    /// resolution (the rest as `full`). The benchmark's full set is [`TrainConfig::full`].
    pub fn bench_quick() -> Self {
        let mut c = TrainConfig::full();
        c.preset = "bench-quick".into();
        c.model.z_dim = 64;
        c.model.w_dim = 64;
        c.model.fmap_base = 256;
        c.model.fmap_max = 64;
        c.model.max_res = 16;
        c.set_batch(8);
        c
    }

    pub fn batch_at(&self, res: usize) -> usize {
        self.batch.get(&res).copied().unwrap_or(4)
    }

    pub fn lr_at(&self, res: usize) -> f64 {
        self.lr.get(&res).copied().unwrap_or(0.001)
    }

    /// The augmentation mode `augment` names (checked by [`Self::validate`]).
    pub fn augment_mode(&self) -> Result<AugmentMode, TrainError> {
        self.augment.parse()
    }

    /// Override every resolution's batch.
    pub fn set_batch(&mut self, b: usize) {
        for v in self.batch.values_mut() {
            *v = b;
        }
        for r in self.model.resolutions() {
            self.batch.insert(r, b);
        }
    }

    pub fn set_lr(&mut self, lr: f64) {
        for r in self.model.resolutions() {
            self.lr.insert(r, lr);
        }
    }

    /// A clear message for any value a run cannot use (named by its configuration key).
    pub fn validate(&self) -> Result<(), TrainError> {
        self.model.validate().map_err(TrainError::Invalid)?;
        self.stylegan2.validate().map_err(TrainError::Invalid)?;
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(TrainError::Invalid(format!(
                    "{key} must be a finite number > 0, got {v}"
                )))
            }
        };
        positive("kimg_per_phase", self.kimg_per_phase)?;
        positive("sample_every_kimg", self.sample_every_kimg)?;
        positive("checkpoint_every_kimg", self.checkpoint_every_kimg)?;
        positive("ema_half_life_kimg", self.ema_half_life_kimg)?;
        positive("ada_kimg", self.ada_kimg)?;
        if !(-1.0..=1.0).contains(&self.ada_target) {
            return Err(TrainError::Invalid(format!(
                "ada_target must be in [-1, 1] (a mean of signs), got {}",
                self.ada_target
            )));
        }
        self.augment_mode()?;
        if self.accumulate == 0 {
            return Err(TrainError::Invalid(
                "accumulate must be at least 1 (1: no gradient accumulation)".into(),
            ));
        }
        for r in self.model.resolutions() {
            let b = self.batch_at(r);
            if b == 0 {
                return Err(TrainError::Invalid(format!(
                    "batch size at {r}x{r} must be at least 1"
                )));
            }
            if !b.is_multiple_of(self.accumulate) {
                return Err(TrainError::Invalid(format!(
                    "batch size {b} at {r}x{r} is not a multiple of accumulate {k}: each step's batch is split into {k} equal micro-batches; choose a batch divisible by {k} at every resolution (or another --accumulate)",
                    k = self.accumulate
                )));
            }
            positive(&format!("lr at {r}x{r}"), self.lr_at(r))?;
        }
        for (key, v) in [
            ("beta1", self.beta1),
            ("beta2", self.beta2),
            ("w_avg_beta", self.w_avg_beta),
        ] {
            if !(0.0..1.0).contains(&v) {
                return Err(TrainError::Invalid(format!(
                    "{key} must be in [0, 1), got {v}"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.style_mixing_prob) {
            return Err(TrainError::Invalid(format!(
                "style_mixing_prob must be in [0, 1], got {}",
                self.style_mixing_prob
            )));
        }
        for (key, v) in [
            ("gp_lambda", self.gp_lambda),
            ("drift_epsilon", self.drift_epsilon),
            ("r1_gamma", self.r1_gamma),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(TrainError::Invalid(format!(
                    "{key} must be a finite number >= 0, got {v}"
                )));
            }
        }
        if self.grid == 0 {
            return Err(TrainError::Invalid("grid must be at least 1".into()));
        }
        Ok(())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    pub fn from_toml(s: &str) -> Result<Self, TrainError> {
        toml::from_str(s).map_err(|source| TrainError::Toml {
            context: "bad configuration".into(),
            source,
        })
    }
}

fn one() -> usize {
    1
}

fn no_augment() -> String {
    "none".into()
}

fn ada_target() -> f64 {
    0.6
}

fn ada_kimg() -> f64 {
    500.0
}

/// TOML tables need string keys: resolutions are written as "4", "8", ...
mod res_map {
    use std::collections::BTreeMap;

    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<V: Serialize, S: Serializer>(
        m: &BTreeMap<usize, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut keys: Vec<_> = m.iter().collect();
        keys.sort_by_key(|(k, _)| **k);
        let as_str: indexmap_free::Ordered<V> =
            indexmap_free::Ordered(keys.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        as_str.serialize(s)
    }

    pub fn deserialize<'de, V: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<usize, V>, D::Error> {
        let m = BTreeMap::<String, V>::deserialize(d)?;
        m.into_iter()
            .map(|(k, v)| {
                k.parse()
                    .map(|k| (k, v))
                    .map_err(|_| D::Error::custom(format!("resolution key {k:?} is not a number")))
            })
            .collect()
    }

    /// Keys in numeric order (a BTreeMap<String, _> would put "16" before "4").
    mod indexmap_free {
        use serde::ser::{Serialize, SerializeMap, Serializer};

        pub struct Ordered<'a, V>(pub Vec<(String, &'a V)>);

        impl<V: Serialize> Serialize for Ordered<'_, V> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in &self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}
