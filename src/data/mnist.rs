//! MNIST digits from the IDX image files.

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::image_ops::fit_plane;
use super::{DataError, Dataset, OpenOptions, Source};

/// The image files, each under the name it is distributed with and the dotted variant.
const SETS: [[&str; 2]; 2] = [
    ["train-images-idx3-ubyte", "train-images.idx3-ubyte"],
    ["t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"],
];
/// Zero padding on each side (28 -> 32, as the ProGAN/StyleGAN MNIST ports do).
const PAD: usize = 2;

/// One IDX image file: count, height, width and the pixels (n * h * w bytes).
struct Idx {
    n: usize,
    h: usize,
    w: usize,
    pixels: Vec<u8>,
}

fn format_err(path: &Path, reason: String) -> DataError {
    DataError::Format {
        path: path.to_path_buf(),
        reason,
    }
}

fn read_idx(path: &Path) -> Result<Idx, DataError> {
    let bytes = fs::read(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(format_err(
            path,
            format!(
                "is gzip-compressed; run `gunzip {}` and use the uncompressed file",
                path.display()
            ),
        ));
    }
    if bytes.len() < 16 {
        return Err(format_err(
            path,
            format!(
                "is {} bytes, too short for an IDX header: truncated or not an MNIST image file",
                bytes.len()
            ),
        ));
    }
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    match be(0) {
        0x0803 => {}
        0x0801 => {
            return Err(format_err(
                path,
                "is an IDX label file (magic 0x00000801), not images; use train-images-idx3-ubyte"
                    .into(),
            ))
        }
        m => {
            return Err(format_err(
                path,
                format!("is not an MNIST IDX image file (magic 0x{m:08x}, expected 0x00000803)"),
            ))
        }
    }
    let (n, h, w) = (be(4) as usize, be(8) as usize, be(12) as usize);
    if h == 0 || w == 0 {
        return Err(format_err(path, format!("holds images of {h}x{w} pixels")));
    }
    let need = n.saturating_mul(h * w);
    let have = bytes.len() - 16;
    if have < need {
        return Err(format_err(
            path,
            format!(
                "is truncated: its header promises {n} images of {h}x{w} ({need} bytes) but only {have} bytes follow; download and gunzip it again"
            ),
        ));
    }
    let mut pixels = bytes;
    pixels.truncate(16 + need);
    pixels.drain(..16);
    Ok(Idx { n, h, w, pixels })
}

/// MNIST from the folder `o.data` (default `./data/mnist`) holding `train-images-idx3-ubyte`
/// and/or `t10k-images-idx3-ubyte` (uncompressed; `.gz` files are not read, the error says to
/// gunzip them); `o.data` may also name one IDX file. Both files are used, train first. Each
/// digit is zero-padded by 2 on every side (28x28 -> 32x32) and brought to `o.resolution`
/// (box-averaged below 32, bilinear above). Grayscale unless `o.channels` is `Some(3)`.
pub fn open_mnist(o: &OpenOptions) -> Result<Dataset, DataError> {
    let dir = o
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from("data/mnist"));
    let res = o.resolution;
    if res == 0 || !res.is_power_of_two() {
        return Err(format_err(
            &dir,
            format!("the resolution to load at must be a power of two, not {res}"),
        ));
    }
    let channels = o.channels.unwrap_or(1);
    if channels != 1 && channels != 3 {
        return Err(format_err(
            &dir,
            format!("images can be loaded with 1 or 3 channels, not {channels}"),
        ));
    }
    if o.limit == Some(0) {
        return Err(format_err(
            &dir,
            "the image limit must be at least 1".into(),
        ));
    }
    if !dir.exists() {
        return Err(DataError::NotFound {
            path: dir,
            what: "a folder holding the MNIST file train-images-idx3-ubyte (gunzipped); pass it with --data".into(),
        });
    }
    let mut files = Vec::new();
    let mut gz = Vec::new();
    if dir.is_file() {
        files.push(dir.clone());
    } else {
        for set in SETS {
            if let Some(f) = set.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
                files.push(f);
            } else if let Some(g) = set
                .iter()
                .map(|n| dir.join(format!("{n}.gz")))
                .find(|p| p.is_file())
            {
                gz.push(g);
            }
        }
    }
    if files.is_empty() {
        return Err(match gz.first() {
            Some(g) => format_err(
                g,
                format!(
                    "is gzip-compressed and there is no uncompressed copy; run `gunzip {}` first",
                    g.display()
                ),
            ),
            None => DataError::Empty {
                path: dir,
                what: format!("MNIST image files ({} or {})", SETS[0][0], SETS[1][0]),
            },
        });
    }
    let idx = files
        .iter()
        .map(|f| read_idx(f))
        .collect::<Result<Vec<Idx>, DataError>>()?;
    let limit = o.limit.unwrap_or(usize::MAX);
    let mut take = Vec::new();
    let mut total = 0usize;
    for i in &idx {
        let t = i.n.min(limit - total);
        take.push(t);
        total += t;
    }
    if total == 0 {
        return Err(DataError::Empty {
            path: files[0].clone(),
            what: "images (its header says 0)".into(),
        });
    }
    let per = channels * res * res;
    let mut pixels = vec![0u8; total * per];
    let mut start = 0;
    for (i, &t) in idx.iter().zip(&take) {
        let (h, w) = (i.h, i.w);
        let (ph, pw) = (h + 2 * PAD, w + 2 * PAD);
        pixels[start * per..(start + t) * per]
            .par_chunks_mut(per)
            .enumerate()
            .for_each(|(j, dst)| {
                let mut padded = vec![0u8; ph * pw];
                for y in 0..h {
                    let src = &i.pixels[(j * h + y) * w..(j * h + y + 1) * w];
                    padded[(y + PAD) * pw + PAD..(y + PAD) * pw + PAD + w].copy_from_slice(src);
                }
                let plane = fit_plane(&padded, pw, ph, res);
                for c in dst.chunks_exact_mut(res * res) {
                    c.copy_from_slice(&plane);
                }
            });
        start += t;
    }
    let mut ds = Dataset::from_u8("mnist", Source::Mnist, channels, res, pixels);
    let counts: Vec<String> = take.iter().map(|t| t.to_string()).collect();
    ds.description = format!(
        "MNIST at {}: {} digits padded to {}x{}, at {res}x{res}",
        dir.display(),
        counts.join("+"),
        idx[0].w + 2 * PAD,
        idx[0].h + 2 * PAD
    );
    ds.skipped = gz
        .into_iter()
        .map(|g| (g, "gzip-compressed; gunzip it to use it too".to_string()))
        .collect();
    Ok(ds)
}
