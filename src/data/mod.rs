//! Floor 1: datasets, what the trainer learns from, as u8 images kept in memory, with batches prepared
//! on a background thread.
//!
//! Sources:
//! - **OASIS** ([`open_oasis`]): the preprocessed brain-MRI slices as commonly distributed, a
//!   folder `keras_png_slices_data` holding `keras_png_slices_train`, `keras_png_slices_validate`
//!   and `keras_png_slices_test` (256x256 grayscale PNGs such as `case_001_slice_0.nii.png`).
//!   All three image splits are used; the `keras_png_slices_seg_*` mask folders are never read.
//!   The folder is looked for ([`locate_oasis`]), in this order, in:
//!   1. the explicit `--data DIR` (then nowhere else; a path that does not exist is an error),
//!   2. the environment variables `SGW_OASIS_DIR`, then `OASIS_DIR`,
//!   3. `./data/`.
//!
//!   Each place may be `keras_png_slices_data` itself (any folder holding one of the split
//!   folders), its parent, or one level above that (`data/oasis/keras_png_slices_data` is found
//!   from `data`). An explicit path may also name one split folder, which is then used alone.
//!   When nothing is found (and no `--data` was given) [`open_oasis`] returns the built-in
//!   phantom, with [`phantom_notice`]'s text as its `description`.
//! - **Phantom** ([`phantom`]): a deterministic, procedurally generated axial brain-MRI slice
//!   (skull ring, CSF, folded cortex, white matter, ventricles), varying per sample.
//! - **MNIST** ([`open_mnist`]): the uncompressed IDX files `train-images-idx3-ubyte` and
//!   `t10k-images-idx3-ubyte` (default folder `./data/mnist`), zero-padded 28 -> 32 and resized.
//! - **Folder** ([`open_folder`]): any folder of PNG/JPEG/GIF, recursively, centre-cropped to a
//!   square and resized; grayscale or colour.
//! - **NIfTI** ([`open_nifti`]): MRI volumes, one `.nii`/`.nii.gz` file or a folder searched
//!   recursively for them (`--data PATH`, no default place; `tools/fetch_mni.sh` fetches the
//!   MNI152 template into `data/`). Each volume is reoriented to the closest canonical RAS
//!   orientation, clipped to its 0.5th-99.5th intensity percentiles, cut into 2-D slices along
//!   a [`SliceAxis`] (axial by default), slices with too little tissue dropped, and padded to
//!   a square field of view in millimetres before resizing, so the voxel aspect is kept.
//!   Always grayscale.
//!
//! Bad data never panics: a missing or empty folder is a [`DataError`]; files that are not
//! images, or are corrupt or truncated, are skipped and listed in [`Dataset::skipped`]; images
//! whose size differs from the most common size in the set are cropped/resized like the rest
//! and counted in [`Dataset::resized`] (OASIS slices that are not 256x256 included); images
//! whose channel count differs from the dataset's are converted and counted in
//! [`Dataset::converted`]. Only when no file at all is usable is it an error
//! ([`DataError::AllBad`]).
//!
//! Files are decoded in parallel (rayon), in chunks so that a `limit` stops early. Images are
//! stored at the native resolution (a power of two); copies at lower resolutions are
//! made once per resolution by exact box filtering ([`Dataset::at_resolution`]) and cached. The
//! [`Loader`] prepares deterministic batches ([`batch_at`]) a few steps ahead on its own thread.

mod error;
mod fingerprint;
mod folder;
mod image_ops;
mod loader;
mod mnist;
mod nifti;
mod oasis;
mod phantom;

pub use self::nifti::{open_nifti, SliceAxis};
pub use error::DataError;
pub use folder::open_folder;
pub use loader::{batch_at, batch_indices, mirror_flag, Batch, Loader, PREFETCH_DEPTH};
pub use mnist::open_mnist;
pub use oasis::{
    locate_oasis, oasis_search_paths, open_oasis, phantom_notice, OASIS_ENV, OASIS_ROOT,
    OASIS_SPLITS,
};
pub use phantom::phantom;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

/// Where a dataset's images came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Oasis,
    Mnist,
    Folder,
    Phantom,
    Nifti,
}

/// How to open a dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// The `--data` path; `None` searches the default places.
    pub data: Option<PathBuf>,
    /// Native resolution to load at, e.g. 256 (a power of two).
    pub resolution: usize,
    /// 1 (grayscale) or 3 (colour); `None`: OASIS and MNIST 1, a folder 3 if any image is colour.
    pub channels: Option<usize>,
    /// At most this many images: the first usable ones in sorted path order (MNIST: file
    /// order, train first). `Some(0)` is an error.
    pub limit: Option<usize>,
    /// How many phantom images the OASIS fallback generates (0 means the default, 2048).
    pub phantom_count: usize,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions {
            data: None,
            resolution: 256,
            channels: None,
            limit: None,
            phantom_count: 2048,
        }
    }
}

/// Images as u8, `len` x `channels` x `resolution` x `resolution` (NCHW, row-major), at the
/// native resolution, a power of two.
pub struct Dataset {
    /// Short name: "oasis", "phantom", "mnist", "folder" or "nifti".
    pub name: String,
    pub source: Source,
    /// One line for the user, e.g. "OASIS keras_png_slices_data at /x: 9664+1120+544 slices at
    /// 256x256". For the phantom fallback of [`open_oasis`] it is [`phantom_notice`]'s text.
    pub description: String,
    pub channels: usize,
    pub resolution: usize,
    pub len: usize,
    /// Files that were not used, with the reason, in path order.
    pub skipped: Vec<(PathBuf, String)>,
    /// Images whose width x height differed from the most common size in the set (for OASIS:
    /// slices that are not 256x256); they were cropped and resized like the rest.
    pub resized: usize,
    /// Images whose channel count differed from the dataset's (an RGB file in a grayscale set,
    /// or the reverse) and were converted.
    pub converted: usize,
    /// Lines the user should see besides `description`, e.g. that only the first volume of a
    /// 4-D NIfTI file was used; empty for most sources.
    pub notices: Vec<String>,
    pixels: Arc<Vec<u8>>,
    cache: Mutex<HashMap<usize, Arc<Vec<u8>>>>,
}

impl Dataset {
    /// A dataset from NCHW u8 pixels at `resolution` (source `source`). Panics unless
    /// `channels` is 1 or 3, `resolution` is a power of two and `pixels` holds a whole, nonzero
    /// number of images.
    pub fn from_u8(
        name: impl Into<String>,
        source: Source,
        channels: usize,
        resolution: usize,
        pixels: Vec<u8>,
    ) -> Dataset {
        assert!(
            channels == 1 || channels == 3,
            "channels must be 1 or 3, got {channels}"
        );
        assert!(
            resolution.is_power_of_two(),
            "resolution must be a power of two, got {resolution}"
        );
        let per = channels * resolution * resolution;
        assert!(
            !pixels.is_empty() && pixels.len().is_multiple_of(per),
            "{} bytes is not a whole, nonzero number of {channels}x{resolution}x{resolution} images",
            pixels.len()
        );
        let name = name.into();
        Dataset {
            description: format!("{name}: {} images", pixels.len() / per),
            name,
            source,
            channels,
            resolution,
            len: pixels.len() / per,
            skipped: Vec::new(),
            resized: 0,
            converted: 0,
            notices: Vec::new(),
            pixels: Arc::new(pixels),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// "skipped 3 files (first: path: reason)", or `None` when nothing was skipped.
    pub fn skipped_summary(&self) -> Option<String> {
        let (p, why) = self.skipped.first()?;
        let n = self.skipped.len();
        Some(format!(
            "skipped {n} file{} (first: {}: {why})",
            if n == 1 { "" } else { "s" },
            p.display()
        ))
    }

    /// Bytes per image at resolution `res`.
    pub fn image_bytes(&self, res: usize) -> usize {
        self.channels * res * res
    }

    /// Image `i` at the native resolution, `channels * resolution * resolution` bytes (CHW).
    /// Panics if `i >= len`.
    pub fn image_u8(&self, i: usize) -> &[u8] {
        assert!(i < self.len, "image {i} of a dataset of {}", self.len);
        let n = self.image_bytes(self.resolution);
        &self.pixels[i * n..(i + 1) * n]
    }

    /// All images at `res` (NCHW u8). Below the native resolution each output pixel is the
    /// mean of its f x f block (f = native / res), i.e. the 2x2 box filter repeated from the
    /// native resolution as ProGAN does, computed exactly and rounded once (half up). Computed
    /// once per resolution and cached: later calls return the same `Arc`. At the native
    /// resolution no copy is made.
    ///
    /// Panics if `res` is not a power of two or exceeds the native resolution (the trainer
    /// checks its resolutions against [`Dataset::resolution`] first).
    pub fn at_resolution(&self, res: usize) -> Arc<Vec<u8>> {
        assert!(
            res.is_power_of_two() && res <= self.resolution,
            "resolution {res} is not available: the dataset is {0}x{0} and can be read at powers of two up to that",
            self.resolution
        );
        if res == self.resolution {
            return self.pixels.clone();
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(&res) {
            return v.clone();
        }
        let (r, c) = (self.resolution, self.channels);
        let per_in = c * r * r;
        let per_out = c * res * res;
        let mut out = vec![0u8; self.len * per_out];
        out.par_chunks_mut(per_out)
            .zip(self.pixels.par_chunks(per_in))
            .for_each(|(dst, src)| image_ops::box_down_into(src, c, r, res, dst));
        let v = Arc::new(out);
        cache.insert(res, v.clone());
        v
    }

    /// Mean and variance over all pixels at `res`, in [-1, 1] units (x / 127.5 - 1), as the
    /// batches see them.
    pub fn pixel_stats(&self, res: usize) -> (f64, f64) {
        let v = self.at_resolution(res);
        let mut hist = [0u64; 256];
        for &x in v.iter() {
            hist[x as usize] += 1;
        }
        let n = v.len().max(1) as f64;
        let unit = |b: usize| b as f64 / 127.5 - 1.0;
        let mean = hist
            .iter()
            .enumerate()
            .map(|(b, &k)| k as f64 * unit(b))
            .sum::<f64>()
            / n;
        let var = hist
            .iter()
            .enumerate()
            .map(|(b, &k)| k as f64 * (unit(b) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var)
    }
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("description", &self.description)
            .field("channels", &self.channels)
            .field("resolution", &self.resolution)
            .field("len", &self.len)
            .field("skipped", &self.skipped.len())
            .field("resized", &self.resized)
            .field("converted", &self.converted)
            .finish_non_exhaustive()
    }
}

/// splitmix64's finaliser.
pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A well-mixed 64-bit hash of three words (splitmix64 chained).
pub(crate) fn hash3(a: u64, b: u64, c: u64) -> u64 {
    splitmix(a ^ splitmix(b ^ splitmix(c)))
}
