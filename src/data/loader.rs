//! Deterministic batches, prefetched on a background thread.
//!
//! Batch `k` depends only on (dataset, seed, res, batch size, k): the images at positions
//! `k * batch .. (k + 1) * batch` of an endless sequence of epochs, each epoch a permutation
//! of the dataset (Fisher-Yates driven by splitmix64 hashes of (seed, epoch, i)), so every
//! image appears once per epoch; with `mirror`, each image is flipped horizontally when a
//! hash of (seed, k, slot) says so. A run resumed at step k therefore sees the same batches
//! as one that never stopped.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use super::{hash3, Dataset};

/// Batches the loader thread prepares ahead of the one being used.
pub const PREFETCH_DEPTH: usize = 4;

/// A batch in [-1, 1] (u8 x -> x / 127.5 - 1), NCHW: `n` images of `channels` x `res` x `res`.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub data: Vec<f32>,
    pub n: usize,
    pub channels: usize,
    pub res: usize,
    /// Which batch this is (k).
    pub index: u64,
}

/// The permutation of one epoch, kept while consecutive batches fall in it.
struct Epochs {
    len: usize,
    seed: u64,
    epoch: u64,
    perm: Vec<u32>,
}

impl Epochs {
    fn new(len: usize, seed: u64) -> Epochs {
        assert!(len > 0 && len <= u32::MAX as usize);
        Epochs {
            len,
            seed,
            epoch: u64::MAX,
            perm: Vec::new(),
        }
    }

    /// The image at position `pos` of the endless sequence.
    fn at(&mut self, pos: u64) -> usize {
        let epoch = pos / self.len as u64;
        if epoch != self.epoch {
            self.perm.clear();
            self.perm.extend(0..self.len as u32);
            for i in (1..self.len).rev() {
                let h = hash3(self.seed, epoch, i as u64 ^ 0x7065_726d_0000_0000);
                // Lemire's multiply-shift: uniform in 0..=i.
                let j = ((h as u128 * (i as u128 + 1)) >> 64) as usize;
                self.perm.swap(i, j);
            }
            self.epoch = epoch;
        }
        self.perm[(pos % self.len as u64) as usize] as usize
    }
}

/// Whether slot `slot` of batch `k` is mirrored (when mirroring is on).
pub fn mirror_flag(seed: u64, k: u64, slot: usize) -> bool {
    hash3(seed ^ 0x6d69_7272_6f72, k, slot as u64) >> 63 == 1
}

/// The dataset indices of the images in batch `k` of a dataset of `len` images.
pub fn batch_indices(len: usize, batch: usize, seed: u64, k: u64) -> Vec<usize> {
    let mut e = Epochs::new(len, seed);
    (0..batch as u64)
        .map(|s| e.at(k * batch as u64 + s))
        .collect()
}

fn check(ds: &Dataset, res: usize, batch: usize) {
    assert!(batch > 0, "batch size must be positive");
    assert!(
        res.is_power_of_two() && res <= ds.resolution,
        "resolution {res} is not available: the dataset is {0}x{0}",
        ds.resolution
    );
}

/// What a batch is drawn with, besides the dataset and k.
#[derive(Clone, Copy)]
struct Spec {
    res: usize,
    batch: usize,
    seed: u64,
    mirror: bool,
}

fn make(ds: &Dataset, pixels: &[u8], epochs: &mut Epochs, s: Spec, k: u64) -> Batch {
    let Spec {
        res,
        batch,
        seed,
        mirror,
    } = s;
    let per = ds.channels * res * res;
    let mut data = Vec::with_capacity(batch * per);
    for slot in 0..batch {
        let i = epochs.at(k * batch as u64 + slot as u64);
        let img = &pixels[i * per..(i + 1) * per];
        let flip = mirror && mirror_flag(seed, k, slot);
        for row in img.chunks_exact(res) {
            if flip {
                data.extend(row.iter().rev().map(|&v| v as f32 / 127.5 - 1.0));
            } else {
                data.extend(row.iter().map(|&v| v as f32 / 127.5 - 1.0));
            }
        }
    }
    Batch {
        data,
        n: batch,
        channels: ds.channels,
        res,
        index: k,
    }
}

/// Batch `k` (the function the [`Loader`] thread runs). Panics if `batch` is 0 or `res` is
/// not available (see [`Dataset::at_resolution`]).
pub fn batch_at(ds: &Dataset, res: usize, batch: usize, seed: u64, mirror: bool, k: u64) -> Batch {
    check(ds, res, batch);
    let pixels = ds.at_resolution(res);
    let spec = Spec {
        res,
        batch,
        seed,
        mirror,
    };
    make(ds, &pixels, &mut Epochs::new(ds.len, seed), spec, k)
}

/// Batches `start`, `start + 1`, ... ([`batch_at`]), prepared [`PREFETCH_DEPTH`] ahead on a
/// background thread (which also makes the downscaled copy of the dataset the first time a
/// resolution is used). Dropping the loader stops its thread.
pub struct Loader {
    rx: Option<Receiver<Batch>>,
    thread: Option<JoinHandle<()>>,
    next_index: u64,
}

impl Loader {
    /// Starts the thread. Panics if `batch` is 0 or `res` is not available (see
    /// [`Dataset::at_resolution`]); the check is made here, not on the thread.
    pub fn new(
        ds: Arc<Dataset>,
        res: usize,
        batch: usize,
        seed: u64,
        mirror: bool,
        start: u64,
    ) -> Loader {
        check(&ds, res, batch);
        let spec = Spec {
            res,
            batch,
            seed,
            mirror,
        };
        let (tx, rx) = sync_channel(PREFETCH_DEPTH);
        let thread = thread::Builder::new()
            .name("sgw-data-loader".into())
            .spawn(move || {
                let pixels = ds.at_resolution(res);
                let mut epochs = Epochs::new(ds.len, seed);
                for k in start.. {
                    let b = make(&ds, &pixels, &mut epochs, spec, k);
                    if tx.send(b).is_err() {
                        break;
                    }
                }
            })
            .expect("spawning the data loader thread");
        Loader {
            rx: Some(rx),
            thread: Some(thread),
            next_index: start,
        }
    }

    /// The next batch; blocks only when the thread has fallen behind.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Batch {
        let b = self
            .rx
            .as_ref()
            .and_then(|rx| rx.recv().ok())
            .expect("the data loader thread stopped unexpectedly");
        debug_assert_eq!(b.index, self.next_index);
        self.next_index += 1;
        b
    }

    /// Same as [`Loader::next`].
    pub fn next_batch(&mut self) -> Batch {
        self.next()
    }

    /// The index of the batch [`Loader::next`] returns next.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channel makes the thread's next send fail, so it ends after at most
        // the batch it is making.
        drop(self.rx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
