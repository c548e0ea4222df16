//! Deterministic batches, prefetched on a background thread. Batch k depends only on
//! (seed, res, batch size, k): images come from a per-epoch permutation, mirrored per image by
//! a hash, so a resumed run sees exactly the batches it would have seen.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread;

use super::Dataset;
use crate::train::trainer::hash;

/// A batch in [-1, 1], NCHW.
pub struct Batch {
    pub data: Vec<f32>,
    pub n: usize,
    pub channels: usize,
    pub res: usize,
    pub index: u64,
}

/// Position `j` of the permutation of `len` items for `epoch` (Fisher-Yates over a
/// splitmix stream; cached per epoch by the caller).
fn permutation(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        let j = (hash(seed, epoch, i as u64) % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

/// The function the loader thread runs: batch `k`.
pub fn batch_at(ds: &Dataset, res: usize, batch: usize, seed: u64, mirror: bool, k: u64) -> Batch {
    let pixels = ds.at_resolution(res);
    let per = ds.channels * res * res;
    let len = ds.len.max(1);
    let mut data = Vec::with_capacity(batch * per);
    let mut perm_epoch = u64::MAX;
    let mut perm = Vec::new();
    for slot in 0..batch {
        let pos = k * batch as u64 + slot as u64;
        let epoch = pos / len as u64;
        if epoch != perm_epoch {
            perm = permutation(len, seed, epoch);
            perm_epoch = epoch;
        }
        let img = &pixels[perm[(pos % len as u64) as usize] * per..][..per];
        let flip = mirror && hash(seed ^ 0x3141, k, slot as u64) & 1 == 1;
        for c in 0..ds.channels {
            for y in 0..res {
                let row = &img[(c * res + y) * res..][..res];
                for x in 0..res {
                    let v = row[if flip { res - 1 - x } else { x }];
                    data.push(v as f32 / 127.5 - 1.0);
                }
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

/// Batches k = start, start + 1, ... prepared `DEPTH` ahead on a background thread.
pub struct Loader {
    rx: Receiver<Batch>,
}

const DEPTH: usize = 4;

impl Loader {
    pub fn new(
        ds: Arc<Dataset>,
        res: usize,
        batch: usize,
        seed: u64,
        mirror: bool,
        start: u64,
    ) -> Loader {
        let (tx, rx) = sync_channel(DEPTH);
        thread::spawn(move || {
            ds.at_resolution(res);
            for k in start.. {
                if tx.send(batch_at(&ds, res, batch, seed, mirror, k)).is_err() {
                    break;
                }
            }
        });
        Loader { rx }
    }

    /// The next batch (blocks only when the thread has fallen behind).
    pub fn next_batch(&mut self) -> Batch {
        self.rx.recv().expect("loader thread alive")
    }
}
