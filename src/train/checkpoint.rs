//! Checkpoints: one safetensors file holding everything a run needs to continue exactly.
//!
//! Tensor names (f32, row-major): `G/<param>`, `D/<param>`, `G_ema/<param>` with the parameter
//! names of `nn` (for example `G/g.synthesis.8x8.0.conv.weight` [K, C, 3, 3], stored unscaled:
//! multiply by sqrt(2 / fan_in) (gain 1 for toRGB and styles) at use, and mapping weights also by
//! lr_mul 0.01); `opt_G/m`, `opt_G/v`, `opt_D/m`, `opt_D/v` (Adam moments in the group's flat
//! layout, parameters in file order, each padded to a multiple of 64); `w_avg` [1, w_dim].
//! Metadata (strings): `format`, `config` (the run's TOML), `images`, `step`, `phase`,
//! `skipped_d`, `skipped_g`, `adam_g_t`, `adam_d_t`, `ada` (ADA's controller as JSON: p and
//! the sums since its last update; absent in older checkpoints, which load with p = 0).
//!
//! Written atomically: to `<file>.tmp`, flushed to disk, then renamed over the old file.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use super::ada::AdaController;
use super::config::TrainConfig;
use super::trainer::{Progress, Trainer};
use crate::nn::{DiscNet, GenNet};
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

pub const FORMAT: &str = "sgw-stylegan1-v2";
/// The format before the generator's unused synthesis conv biases were removed: its G, G_ema
/// and opt_G hold `g.synthesis.*.conv.bias` too. It still loads (the biases are dropped).
pub const FORMAT_V1: &str = "sgw-stylegan1-v1";
pub const FILE: &str = "checkpoint.safetensors";

pub use super::error::CheckpointError;

fn err(path: &Path, what: impl std::fmt::Display) -> CheckpointError {
    CheckpointError(format!("checkpoint {}: {what}", path.display()))
}

/// A checkpoint file, or the newest checkpoint in a run directory.
pub fn resolve(path: &Path) -> Result<PathBuf, CheckpointError> {
    if path.is_dir() {
        let f = path.join(FILE);
        if f.is_file() {
            return Ok(f);
        }
        return Err(err(
            path,
            format!("no {FILE} in this directory (is it a run directory?)"),
        ));
    }
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    Err(err(path, "no such file or directory"))
}

fn push_group(out: &mut Vec<(String, Vec<usize>, Vec<f32>)>, prefix: &str, g: &ParamGroup) {
    for ((name, p), v) in g.names().iter().zip(g.params()).zip(g.to_vecs()) {
        out.push((format!("{prefix}/{name}"), p.shape().to_vec(), v));
    }
}

/// Save the whole training state.
pub fn save(t: &Trainer, path: &Path) -> Result<(), CheckpointError> {
    let mut tensors = Vec::new();
    push_group(&mut tensors, "G", &t.gp);
    push_group(&mut tensors, "D", &t.dp);
    push_group(&mut tensors, "G_ema", &t.g_ema);
    for (name, adam) in [("opt_G", &t.adam_g), ("opt_D", &t.adam_d)] {
        let (m, v) = adam.moments();
        tensors.push((format!("{name}/m"), m.shape().to_vec(), m.to_vec()));
        tensors.push((format!("{name}/v"), v.shape().to_vec(), v.to_vec()));
    }
    tensors.push(("w_avg".into(), t.w_avg.shape().to_vec(), t.w_avg.to_vec()));
    if t.lazy() {
        tensors.push(("pl_mean".into(), vec![1], t.pl_mean.to_vec()));
    }
    let p = &t.progress;
    let meta: HashMap<String, String> = [
        ("format", FORMAT.to_string()),
        ("config", t.cfg.to_toml()),
        ("images", p.images.to_string()),
        ("step", p.step.to_string()),
        ("phase", p.phase.to_string()),
        ("skipped_d", p.skipped_d.to_string()),
        ("skipped_g", p.skipped_g.to_string()),
        ("adam_g_t", t.adam_g.t.to_string()),
        ("adam_d_t", t.adam_d.t.to_string()),
        (
            "ada",
            serde_json::to_string(&t.ada_state()).expect("the controller serialises"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, s, v)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), bytemuck::cast_slice(v))
                    .expect("sizes match"),
            )
        })
        .collect();
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| err(path, e))?;
    let tmp = path.with_extension("safetensors.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| err(path, format!("could not write: {e}")))
}

/// A loaded checkpoint: tensors by name and metadata.
pub struct Checkpoint {
    pub path: PathBuf,
    pub config: TrainConfig,
    pub meta: HashMap<String, String>,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Checkpoint {
    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let path = resolve(path)?;
        let bytes = fs::read(&path).map_err(|e| err(&path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| {
            err(
                &path,
                format!("not a valid safetensors file (truncated or corrupt?): {e}"),
            )
        })?;
        let (_, md) = SafeTensors::read_metadata(&bytes).map_err(|e| err(&path, e))?;
        let meta = md.metadata().clone().unwrap_or_default();
        let format = meta.get("format").map(String::as_str);
        if format != Some(FORMAT) && format != Some(FORMAT_V1) {
            return Err(err(&path, format!("not a {FORMAT} checkpoint")));
        }
        let config = TrainConfig::from_toml(meta.get("config").map_or("", |s| s))
            .map_err(|e| err(&path, e))?;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(err(&path, format!("tensor {name} is not f32")));
            }
            tensors.insert(
                name,
                (
                    view.shape().to_vec(),
                    bytemuck::pod_collect_to_vec(view.data()),
                ),
            );
        }
        Ok(Checkpoint {
            path,
            config,
            meta,
            tensors,
        })
    }

    pub fn number(&self, key: &str) -> Result<u64, CheckpointError> {
        self.meta
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| err(&self.path, format!("missing metadata {key}")))
    }

    fn take(&self, name: &str, shape: &[usize]) -> Result<&Vec<f32>, CheckpointError> {
        let (s, v) = self
            .tensors
            .get(name)
            .ok_or_else(|| err(&self.path, format!("missing tensor {name}")))?;
        if s != shape {
            return Err(err(
                &self.path,
                format!("tensor {name} has shape {s:?}, the model expects {shape:?}"),
            ));
        }
        Ok(v)
    }

    /// Overwrite a group's parameters with the tensors under `prefix`. With `grown` (the
    /// model gained resolutions since), parameters the checkpoint lacks keep their fresh
    /// initial values.
    pub fn fill(&self, prefix: &str, g: &mut ParamGroup) -> Result<(), CheckpointError> {
        self.fill_some(prefix, g, false)
    }

    fn fill_some(
        &self,
        prefix: &str,
        g: &mut ParamGroup,
        grown: bool,
    ) -> Result<(), CheckpointError> {
        for i in 0..g.len() {
            let name = format!("{prefix}/{}", g.names()[i]);
            if grown && !self.tensors.contains_key(&name) {
                continue;
            }
            let shape = g.get(i).shape().to_vec();
            let v = self.take(&name, &shape)?.clone();
            g.set(i, &Tensor::from_vec(v, &shape, Place::Cpu32));
        }
        Ok(())
    }

    /// Names and sizes of the parameters behind the flat layout saved under `prefix`, in
    /// order: the group's own when the model is unchanged, else those of the model this
    /// checkpoint was written from. A v1 checkpoint's G also held `<layer>.conv.bias` right
    /// after each synthesis conv weight.
    fn saved_layout(
        &self,
        prefix: &str,
        group: &ParamGroup,
        same_model: bool,
    ) -> Vec<(String, usize)> {
        let own = |g: &ParamGroup| -> Vec<(String, usize)> {
            g.names()
                .iter()
                .zip(g.params())
                .map(|(n, p)| (n.clone(), p.numel()))
                .collect()
        };
        let base = if same_model {
            own(group)
        } else {
            let m = &self.config.model;
            let seed = self.config.seed;
            if prefix == "opt_G" {
                own(&GenNet::build(m, seed, Place::Cpu32).1)
            } else {
                own(&DiscNet::build(m, seed, Place::Cpu32).1)
            }
        };
        let v1 = self.meta.get("format").map(String::as_str) == Some(FORMAT_V1);
        let mut out = Vec::with_capacity(base.len());
        for (name, n) in base {
            let bias = name
                .strip_suffix(".conv.weight")
                .filter(|_| v1 && name.starts_with("g.synthesis."))
                .map(|stem| format!("{stem}.conv.bias"));
            out.push((name, n));
            if let Some(b) = bias {
                if let Some((shape, _)) = self.tensors.get(&format!("G/{b}")) {
                    out.push((b, shape.iter().product()));
                }
            }
        }
        out
    }

    /// Adam's moments under `prefix` in `group`'s flat layout, mapped by parameter name;
    /// parameters the checkpoint lacks (new layers) start at zero.
    fn moments(
        &self,
        prefix: &str,
        group: &ParamGroup,
        same_model: bool,
    ) -> Result<(Vec<f32>, Vec<f32>), CheckpointError> {
        let saved = self.saved_layout(prefix, group, same_model);
        let (offsets, len) = ParamGroup::layout(saved.iter().map(|(_, n)| *n));
        let m = self.take(&format!("{prefix}/m"), &[len])?;
        let v = self.take(&format!("{prefix}/v"), &[len])?;
        let at: HashMap<&str, usize> = saved
            .iter()
            .zip(&offsets)
            .map(|((name, _), &o)| (name.as_str(), o))
            .collect();
        let mut out = (vec![0.0; group.flat_len()], vec![0.0; group.flat_len()]);
        for (i, name) in group.names().iter().enumerate() {
            if let Some(&from) = at.get(name.as_str()) {
                let (to, n) = (group.offset(i), group.get(i).numel());
                out.0[to..to + n].copy_from_slice(&m[from..from + n]);
                out.1[to..to + n].copy_from_slice(&v[from..from + n]);
            }
        }
        Ok(out)
    }

    /// A trainer at `place` in exactly the saved state.
    pub fn trainer(&self, place: Place) -> Result<Trainer, CheckpointError> {
        self.trainer_with(self.config.clone(), place)
    }

    /// A trainer with configuration `cfg` (the saved one, or one a resume changed: more
    /// resolutions, other phase lengths, intervals) holding the saved state.
    pub fn trainer_with(&self, cfg: TrainConfig, place: Place) -> Result<Trainer, CheckpointError> {
        let same_model = cfg.model == self.config.model;
        let mut t = Trainer::new(cfg, place);
        self.fill_some("G", &mut t.gp, !same_model)?;
        self.fill_some("D", &mut t.dp, !same_model)?;
        self.fill_some("G_ema", &mut t.g_ema, !same_model)?;
        for (name, adam, t_key, group) in [
            ("opt_G", &mut t.adam_g, "adam_g_t", &t.gp),
            ("opt_D", &mut t.adam_d, "adam_d_t", &t.dp),
        ] {
            let (m, v) = self.moments(name, group, same_model)?;
            adam.load(self.number(t_key)?, m, v);
        }
        let w_dim = t.cfg.model.w_dim;
        let w = self.take("w_avg", &[1, w_dim])?.clone();
        t.w_avg = Tensor::from_vec(w, &[1, w_dim], place);
        if t.lazy() {
            // StyleGAN2's path length mean; absent (a run before it existed): 0, a fresh start.
            if self.tensors.contains_key("pl_mean") {
                let v = self.take("pl_mean", &[1])?.clone();
                t.pl_mean = Tensor::from_vec(v, &[], place);
            }
        }
        if let Some(text) = self.meta.get("ada") {
            let mut ada: AdaController = serde_json::from_str(text)
                .map_err(|e| err(&self.path, format!("bad ADA state {text:?}: {e}")))?;
            // p and the sums carry on; target and speed are the configuration's.
            (ada.target, ada.kimg_to_one) = (t.cfg.ada_target, t.cfg.ada_kimg);
            t.ada = ada;
        }
        t.progress = Progress {
            images: self.number("images")?,
            step: self.number("step")?,
            phase: self.number("phase")? as usize,
            skipped_d: self.number("skipped_d")?,
            skipped_g: self.number("skipped_g")?,
        };
        Ok(t)
    }
}
