//! Floor 6: datasets. OASIS brain MRI slices (`keras_png_slices_data`, found through `--data`,
//! `SGW_OASIS_DIR`/`OASIS_DIR`, or `./data/`, also one level deeper; the `seg` mask folders are
//! skipped), MNIST (IDX files), any folder of PNG/JPEG, and a built-in deterministic brain
//! phantom used when no OASIS folder is found. Images are kept as u8 at the native resolution;
//! downscaled copies are made once per resolution; the [`Loader`] prefetches batches on a
//! background thread. Bad files are skipped and counted, never a panic.

mod error;
mod files;
mod loader;
mod phantom;

pub use error::DataError;
pub use files::{locate_oasis, open_folder, open_mnist, open_oasis};
pub use loader::{batch_at, Batch, Loader};
pub use phantom::phantom;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Oasis,
    Mnist,
    Folder,
    Phantom,
}

/// How to open a dataset.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    pub data: Option<PathBuf>,
    /// Native resolution to load at (a power of two).
    pub resolution: usize,
    /// 1 (grayscale) or 3 (colour); None: 3 if any image is colour.
    pub channels: Option<usize>,
    /// At most this many images (the first in sorted path order).
    pub limit: Option<usize>,
    /// Phantom images to generate when falling back to it.
    pub phantom_count: usize,
}

/// Images as u8, N x C x R x R at the native resolution R.
pub struct Dataset {
    pub name: String,
    pub source: Source,
    /// One line for the user (for the phantom: why, and how to use real data).
    pub description: String,
    pub channels: usize,
    pub resolution: usize,
    pub len: usize,
    /// Files that were not used, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Images whose size differed and were resized.
    pub resized: usize,
    pixels: Vec<u8>,
    cache: Mutex<HashMap<usize, Arc<Vec<u8>>>>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Dataset({}: {} x {}ch {}x{})",
            self.name, self.len, self.channels, self.resolution, self.resolution
        )
    }
}

impl Dataset {
    pub(crate) fn new(
        name: &str,
        source: Source,
        description: String,
        channels: usize,
        resolution: usize,
        pixels: Vec<u8>,
    ) -> Dataset {
        let len = pixels.len() / (channels * resolution * resolution);
        Dataset {
            name: name.into(),
            source,
            description,
            channels,
            resolution,
            len,
            skipped: Vec::new(),
            resized: 0,
            pixels,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Image i at the native resolution, C * R * R bytes.
    pub fn image_u8(&self, i: usize) -> &[u8] {
        let n = self.channels * self.resolution * self.resolution;
        &self.pixels[i * n..(i + 1) * n]
    }

    /// All images at `res` (a power of two <= native), by repeated 2x2 box averaging from the
    /// native resolution, computed once and cached.
    pub fn at_resolution(&self, res: usize) -> Arc<Vec<u8>> {
        assert!(
            res.is_power_of_two() && res <= self.resolution,
            "resolution {res} not available (native {})",
            self.resolution
        );
        let mut cache = self.cache.lock().unwrap();
        if let Some(v) = cache.get(&res) {
            return v.clone();
        }
        let mut cur: Vec<f32> = self.pixels.iter().map(|&v| v as f32).collect();
        let mut r = self.resolution;
        let planes = self.len * self.channels;
        while r > res {
            cur = crate::cpu::resample::downsample2x(&cur, planes, r, r);
            r /= 2;
        }
        let v = Arc::new(
            cur.iter()
                .map(|&x| x.round().clamp(0.0, 255.0) as u8)
                .collect::<Vec<u8>>(),
        );
        cache.insert(res, v.clone());
        v
    }

    /// Mean and variance of all pixels at `res`, in [-1, 1] units.
    pub fn pixel_stats(&self, res: usize) -> (f64, f64) {
        let v = self.at_resolution(res);
        let n = v.len().max(1) as f64;
        let mean = v.iter().map(|&x| x as f64 / 127.5 - 1.0).sum::<f64>() / n;
        let var = v
            .iter()
            .map(|&x| (x as f64 / 127.5 - 1.0 - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var)
    }
}
