//! Datasets on disk: OASIS slices, MNIST IDX files, folders of PNG/JPEG.

use std::fs;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use rayon::prelude::*;

use super::{phantom, DataError, Dataset, OpenOptions, Source};

const OASIS: &str = "keras_png_slices_data";
const SPLITS: [&str; 3] = [
    "keras_png_slices_train",
    "keras_png_slices_validate",
    "keras_png_slices_test",
];

/// `dir` itself, `dir/keras_png_slices_data`, or one level deeper.
fn oasis_in(dir: &Path) -> Option<PathBuf> {
    let is_root = |d: &Path| SPLITS.iter().any(|s| d.join(s).is_dir());
    if is_root(dir) {
        return Some(dir.to_path_buf());
    }
    if is_root(&dir.join(OASIS)) {
        return Some(dir.join(OASIS));
    }
    let mut subs: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    subs.into_iter()
        .find_map(|s| [s.clone(), s.join(OASIS)].into_iter().find(|d| is_root(d)))
}

/// The OASIS folder: explicit path, then SGW_OASIS_DIR / OASIS_DIR, then ./data.
pub fn locate_oasis(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return oasis_in(p);
    }
    let env = ["SGW_OASIS_DIR", "OASIS_DIR"]
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from);
    env.chain([PathBuf::from("data")])
        .find_map(|d| oasis_in(&d))
}

/// OASIS, or the phantom when no OASIS folder is found (an explicit path that does not
/// exist is an error, not a fallback).
pub fn open_oasis(o: &OpenOptions) -> Result<Dataset, DataError> {
    if let Some(p) = &o.data {
        if !p.exists() {
            return Err(DataError::NotFound {
                path: p.clone(),
                what: "expected the OASIS keras_png_slices_data folder (or its parent)".into(),
            });
        }
    }
    let Some(root) = locate_oasis(o.data.as_deref()) else {
        if let Some(p) = &o.data {
            return Err(DataError::Empty {
                path: p.clone(),
                what: format!("OASIS split folders ({})", SPLITS.join(", ")),
            });
        }
        let mut ds = phantom(o.phantom_count, o.resolution, 1);
        ds.description = format!(
            "no OASIS data found (looked at --data, SGW_OASIS_DIR, OASIS_DIR and ./data); training on the built-in synthetic brain phantom ({} images). Point --data at keras_png_slices_data (or set SGW_OASIS_DIR) to train on the real slices.",
            ds.len
        );
        return Ok(ds);
    };
    let mut files = Vec::new();
    for s in SPLITS {
        files.extend(list_files(&root.join(s), false));
    }
    let mut ds = load_images(&root, files, o, Some(1))?;
    ds.name = "oasis".into();
    ds.source = Source::Oasis;
    ds.description = format!(
        "OASIS slices at {}: {} images at {}x{}",
        root.display(),
        ds.len,
        ds.resolution,
        ds.resolution
    );
    Ok(ds)
}

fn list_files(dir: &Path, recursive: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if recursive {
                out.extend(list_files(&p, true));
            }
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// Centre crop to a square, resize to `res`, convert to `channels`.
fn prepare(img: image::DynamicImage, res: usize, channels: usize) -> (Vec<u8>, bool) {
    let (w, h) = (img.width(), img.height());
    let side = w.min(h);
    let resized = w != res as u32 || h != res as u32;
    let img = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    let img = if side != res as u32 {
        img.resize_exact(res as u32, res as u32, FilterType::Triangle)
    } else {
        img
    };
    let bytes = if channels == 1 {
        img.to_luma8().into_raw()
    } else {
        // HWC -> CHW
        let rgb = img.to_rgb8().into_raw();
        (0..3)
            .flat_map(|c| rgb.iter().skip(c).step_by(3).copied().collect::<Vec<_>>())
            .collect()
    };
    (bytes, resized)
}

/// Decode `files` in parallel; skip what is not an image or fails to decode.
fn load_images(
    root: &Path,
    files: Vec<PathBuf>,
    o: &OpenOptions,
    channels: Option<usize>,
) -> Result<Dataset, DataError> {
    if files.is_empty() {
        return Err(DataError::Empty {
            path: root.to_path_buf(),
            what: "image files".into(),
        });
    }
    let mut skipped: Vec<(PathBuf, String)> = Vec::new();
    let (images, others): (Vec<PathBuf>, Vec<PathBuf>) =
        files.into_iter().partition(|p| is_image(p));
    skipped.extend(
        others
            .into_iter()
            .map(|p| (p, "not a PNG or JPEG".to_string())),
    );
    let images: Vec<PathBuf> = images
        .into_iter()
        .take(o.limit.unwrap_or(usize::MAX))
        .collect();
    let decoded: Vec<(PathBuf, Result<image::DynamicImage, String>)> = images
        .into_par_iter()
        .map(|p| {
            let r = image::ImageReader::open(&p)
                .map_err(|e| e.to_string())
                .and_then(|r| r.with_guessed_format().map_err(|e| e.to_string()))
                .and_then(|r| {
                    r.decode()
                        .map_err(|e| format!("corrupt or truncated image: {e}"))
                });
            (p, r)
        })
        .collect();
    let channels = channels.or(o.channels).unwrap_or_else(|| {
        let colour = decoded
            .iter()
            .any(|(_, r)| r.as_ref().is_ok_and(|i| i.color().has_color()));
        if colour {
            3
        } else {
            1
        }
    });
    let mut pixels = Vec::new();
    let mut resized = 0;
    let res = o.resolution;
    let prepared: Vec<_> = decoded
        .into_par_iter()
        .map(|(p, r)| match r {
            Ok(img) => {
                let (bytes, resized) = prepare(img, res, channels);
                (p, Ok((bytes, resized)))
            }
            Err(e) => (p, Err(e)),
        })
        .collect();
    for (p, r) in prepared {
        match r {
            Ok((bytes, r)) => {
                pixels.extend_from_slice(&bytes);
                resized += r as usize;
            }
            Err(e) => skipped.push((p, e)),
        }
    }
    if pixels.is_empty() {
        let first = skipped
            .first()
            .map_or(String::new(), |(p, why)| format!("{}: {why}", p.display()));
        return Err(DataError::AllBad {
            path: root.to_path_buf(),
            skipped: skipped.len(),
            first,
        });
    }
    let mut ds = Dataset::new(
        "folder",
        Source::Folder,
        String::new(),
        channels,
        res,
        pixels,
    );
    ds.skipped = skipped;
    ds.resized = resized;
    ds.description = format!(
        "{} images from {} at {res}x{res}, {channels} channel(s)",
        ds.len,
        root.display()
    );
    Ok(ds)
}

/// Any folder of PNG/JPEG (recursive), centre-cropped and resized.
pub fn open_folder(o: &OpenOptions) -> Result<Dataset, DataError> {
    let root = o.data.clone().ok_or_else(|| DataError::NotFound {
        path: PathBuf::from("(none)"),
        what: "train folder needs --data DIR".into(),
    })?;
    if !root.is_dir() {
        return Err(DataError::NotFound {
            path: root,
            what: "expected a folder of PNG or JPEG images".into(),
        });
    }
    let files = list_files(&root, true);
    let mut ds = load_images(&root, files, o, None)?;
    ds.name = "folder".into();
    Ok(ds)
}

fn read_idx(path: &Path) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    let bytes = fs::read(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            reason: "gzip-compressed: run gunzip on it first".into(),
        });
    }
    let be = |i: usize| {
        u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]) as usize
    };
    if bytes.len() < 16 || be(0) != 0x0803 {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            reason: "not an IDX image file (magic 0x00000803)".into(),
        });
    }
    let (n, h, w) = (be(4), be(8), be(12));
    if bytes.len() < 16 + n * h * w {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            reason: format!(
                "truncated: {n} images of {h}x{w} need {} bytes, the file has {}",
                16 + n * h * w,
                bytes.len()
            ),
        });
    }
    Ok((n, h, w, bytes[16..16 + n * h * w].to_vec()))
}

/// MNIST from its IDX files (default ./data/mnist), padded 28 -> 32 and resized.
pub fn open_mnist(o: &OpenOptions) -> Result<Dataset, DataError> {
    let dir = o
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from("data/mnist"));
    if !dir.is_dir() {
        return Err(DataError::NotFound {
            path: dir,
            what: "expected a folder with train-images-idx3-ubyte (from the MNIST site, gunzipped)"
                .into(),
        });
    }
    let names = [
        "train-images-idx3-ubyte",
        "train-images.idx3-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-images.idx3-ubyte",
    ];
    let files: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.join(n))
        .chain(names.iter().map(|n| dir.join(format!("{n}.gz"))))
        .filter(|p| p.is_file())
        .collect();
    if files.is_empty() {
        return Err(DataError::Empty {
            path: dir,
            what: "MNIST IDX files (train-images-idx3-ubyte)".into(),
        });
    }
    let res = o.resolution;
    let mut pixels = Vec::new();
    for f in &files {
        let (n, h, w, data) = read_idx(f)?;
        let n = n.min(
            o.limit
                .unwrap_or(usize::MAX)
                .saturating_sub(pixels.len() / (res * res)),
        );
        let imgs: Vec<Vec<u8>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let (ph, pw) = (h + 4, w + 4);
                let mut padded = vec![0u8; ph * pw];
                for y in 0..h {
                    padded[(y + 2) * pw + 2..(y + 2) * pw + 2 + w]
                        .copy_from_slice(&data[(i * h + y) * w..(i * h + y + 1) * w]);
                }
                let img =
                    image::GrayImage::from_raw(pw as u32, ph as u32, padded).expect("sizes match");
                prepare(image::DynamicImage::ImageLuma8(img), res, 1).0
            })
            .collect();
        pixels.extend(imgs.into_iter().flatten());
    }
    let mut ds = Dataset::new("mnist", Source::Mnist, String::new(), 1, res, pixels);
    ds.description = format!(
        "MNIST at {}: {} digits padded to 32x32, at {res}x{res}",
        dir.display(),
        ds.len
    );
    Ok(ds)
}
