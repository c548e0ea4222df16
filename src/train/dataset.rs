//! The dataset of a run: opened from the configuration, described to the user, and checked
//! against what the model was built for (its channels) or, on resume, trained on (its
//! fingerprint).

use std::path::PathBuf;
use std::sync::Arc;

use super::args::TrainArgs;
use super::config::TrainConfig;
use super::error::{Result, TrainError};
use crate::data::{self, Dataset, Loader};
use crate::tensor::{Place, Tensor};

/// The dataset the configuration names, at the model's final resolution. Its channels are
/// the images' own (OASIS, MNIST and NIfTI are grayscale; a folder is RGB when any image is
/// colour).
pub fn open_dataset(cfg: &TrainConfig) -> Result<Dataset> {
    let opts = data::OpenOptions {
        data: cfg.data.path.as_ref().map(PathBuf::from),
        resolution: cfg.model.max_res,
        channels: if cfg.data.dataset == "folder" {
            None
        } else {
            Some(1)
        },
        limit: cfg.data.limit,
        phantom_count: 2048,
    };
    let ds = match cfg.data.dataset.as_str() {
        "oasis" => data::open_oasis(&opts),
        "mnist" => data::open_mnist(&opts),
        "folder" => data::open_folder(&opts),
        "nifti" => data::open_nifti(&opts, cfg.data.slice_axis),
        other => {
            return Err(TrainError::Invalid(format!(
                "unknown dataset {other:?}: use oasis, mnist, folder or nifti"
            )))
        }
    };
    Ok(ds?)
}

/// What the dataset is, its notices and what was skipped, for the terminal.
pub fn describe(ds: &Dataset) {
    if ds.source == data::Source::Phantom {
        println!("{}", ds.description);
    } else {
        println!("dataset: {}", ds.description);
    }
    for n in &ds.notices {
        println!("note: {n}");
    }
    if let Some(s) = ds.skipped_summary() {
        println!("{s}");
    }
}

/// The channel count of a new run's model: the dataset's, which a count the user asked for
/// (`asked`: the count and where it was asked) must match.
pub fn channels(ds: &Dataset, asked: Option<(usize, String)>) -> Result<usize> {
    match asked {
        Some((c, source)) if c != ds.channels => Err(TrainError::Invalid(format!(
            "the dataset has {} channel{} ({}) but {source} asks for {c}; leave it out to follow the dataset",
            ds.channels,
            if ds.channels == 1 { "" } else { "s" },
            if ds.channels == 1 { "grayscale" } else { "RGB" },
        ))),
        _ => Ok(ds.channels),
    }
}

/// On resume: is `ds` (opened with the resumed configuration `cfg`) the dataset the run
/// trained on (`saved`, the checkpoint's configuration)? A note is pushed to `changes` when
/// that cannot be checked. Returns the dataset's fingerprint.
pub fn check_resumed(
    a: &TrainArgs,
    cfg: &TrainConfig,
    saved: &TrainConfig,
    ds: &Dataset,
    changes: &mut Vec<String>,
) -> Result<String> {
    let print = ds.fingerprint();
    // A fingerprint hashes the pixels at the native resolution: after --max-res changed, only
    // the image count and channels can be compared.
    let shape = |f: &str| {
        let mut w = f.split(' ');
        (
            w.next().map(str::to_string),
            w.nth(1).map(|s| s.split('x').next().map(str::to_string)),
        )
    };
    let same_res = cfg.model.max_res == saved.model.max_res;
    match &saved.data.fingerprint {
        Some(saved) if !same_res && shape(saved) != shape(&print) => {
            return Err(TrainError::Invalid(format!(
                "--resume: the dataset at {} is not the one this run trained on (it holds {print}; the run's is {saved})",
                cfg.data.path.as_deref().unwrap_or("the default place")
            )))
        }
        Some(saved) if same_res && *saved != print => {
            return Err(TrainError::Invalid(format!(
                "--resume: the dataset at {} is not the one this run trained on (it holds {print}; the run's is {saved})",
                cfg.data.path.as_deref().unwrap_or("the default place")
            )))
        }
        Some(_) => {}
        None if a.data.is_some() => changes.push(
            "(this checkpoint predates dataset fingerprints: the new --data was not checked to hold the same images)".into(),
        ),
        None => {}
    }
    if ds.channels != cfg.model.channels {
        return Err(TrainError::Invalid(format!(
            "--resume: the dataset has {} channels but the run's model {}",
            ds.channels, cfg.model.channels
        )));
    }
    Ok(print)
}

/// Training batches from the background loader, which is restarted when the resolution or
/// the batch size changes.
pub(super) struct Batches {
    ds: Arc<Dataset>,
    seed: u64,
    mirror: bool,
    /// The loader and the (resolution, batch) it makes.
    loader: Option<(usize, usize, Loader)>,
}

impl Batches {
    pub fn new(ds: Arc<Dataset>, seed: u64, mirror: bool) -> Self {
        Batches {
            ds,
            seed,
            mirror,
            loader: None,
        }
    }

    /// The batch of `batch` real images at `res` for step `step`, in [-1, 1], at `place`.
    pub fn next(&mut self, res: usize, batch: usize, step: u64, place: Place) -> Tensor {
        if self
            .loader
            .as_ref()
            .is_none_or(|(r, b, _)| *r != res || *b != batch)
        {
            let loader = Loader::new(self.ds.clone(), res, batch, self.seed, self.mirror, step);
            self.loader = Some((res, batch, loader));
        }
        let b = self.loader.as_mut().unwrap().2.next_batch();
        Tensor::from_vec(b.data, &[b.n, b.channels, b.res, b.res], place)
    }
}
