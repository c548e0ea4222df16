//! Any folder of PNG/JPEG images, and the decoding pipeline OASIS shares with it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::image_ops::{decode, has_image_ext, is_hidden, prepare, probe_colour};
use super::{DataError, Dataset, OpenOptions, Source};

/// Every image under `--data` (recursively; hidden entries and symlinked folders are not
/// followed), centre-cropped to a square and resized to `o.resolution`, with `o.channels`
/// channels or, when `None`, 3 if any image is colour and 1 otherwise.
pub fn open_folder(o: &OpenOptions) -> Result<Dataset, DataError> {
    let Some(root) = o.data.clone() else {
        return Err(DataError::NotFound {
            path: PathBuf::new(),
            what: "`train folder` needs --data DIR, a folder of PNG or JPEG images".into(),
        });
    };
    if !root.exists() {
        return Err(DataError::NotFound {
            path: root,
            what: "a folder of PNG or JPEG images (check the --data path)".into(),
        });
    }
    if !root.is_dir() {
        return Err(DataError::Format {
            path: root,
            reason: "is a file; --data should name a folder of PNG or JPEG images".into(),
        });
    }
    let (files, unreadable) = list_files(&root, true)?;
    let mut l = load_images(&root, files, o.resolution, o.channels, o.limit)?;
    l.skipped.extend(unreadable);
    l.skipped.sort();
    let res = o.resolution;
    let mut ds = Dataset::from_u8("folder", Source::Folder, l.channels, res, l.pixels);
    ds.description = format!(
        "{} images from {} at {res}x{res}, {}{}",
        ds.len,
        root.display(),
        if l.channels == 3 { "RGB" } else { "grayscale" },
        notes(l.resized, l.converted, l.channels)
    );
    ds.skipped = l.skipped;
    ds.resized = l.resized;
    ds.converted = l.converted;
    Ok(ds)
}

/// ", 3 resized, 2 converted to grayscale", or "".
pub(crate) fn notes(resized: usize, converted: usize, channels: usize) -> String {
    let mut s = String::new();
    if resized > 0 {
        s += &format!(", {resized} of another size resized");
    }
    if converted > 0 {
        let to = if channels == 3 { "RGB" } else { "grayscale" };
        s += &format!(", {converted} converted to {to}");
    }
    s
}

/// Files skipped, with the reason.
pub(crate) type Skipped = Vec<(PathBuf, String)>;

/// The files in `dir` (and, when `recursive`, below it), sorted by path, without hidden
/// entries; subfolders that cannot be read come back as skipped entries.
pub(crate) fn list_files(
    dir: &Path,
    recursive: bool,
) -> Result<(Vec<PathBuf>, Skipped), DataError> {
    let mut files = Vec::new();
    let mut bad = Vec::new();
    let rd = fs::read_dir(dir).map_err(|e| DataError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut stack = vec![rd];
    while let Some(rd) = stack.pop() {
        for e in rd {
            let e = match e {
                Ok(e) => e,
                Err(err) => {
                    bad.push((
                        dir.to_path_buf(),
                        format!("folder entry unreadable ({err})"),
                    ));
                    continue;
                }
            };
            let p = e.path();
            if is_hidden(&p) {
                continue;
            }
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir {
                if recursive {
                    match fs::read_dir(&p) {
                        Ok(sub) => stack.push(sub),
                        Err(err) => bad.push((p, format!("folder unreadable ({err})"))),
                    }
                }
            } else if p.is_file() {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok((files, bad))
}

/// One decoded image: its pixels, whether its channels were converted, its original size.
type Prepared = (Vec<u8>, bool, (u32, u32));

/// What [`load_images`] made of a list of files.
pub(crate) struct Loaded {
    /// NCHW u8 at the requested resolution.
    pub pixels: Vec<u8>,
    pub channels: usize,
    /// The files used, in order.
    pub used: Vec<PathBuf>,
    pub skipped: Vec<(PathBuf, String)>,
    pub resized: usize,
    pub converted: usize,
}

/// Decodes `files` (sorted) in parallel, in chunks, until `limit` images are usable; files
/// without an image extension and files that do not decode are skipped with a reason.
/// `channels`: `Some(1 | 3)`, or `None` to pick 3 if any image's header says colour.
pub(crate) fn load_images(
    root: &Path,
    mut files: Vec<PathBuf>,
    res: usize,
    channels: Option<usize>,
    limit: Option<usize>,
) -> Result<Loaded, DataError> {
    if res == 0 || !res.is_power_of_two() {
        return Err(DataError::Format {
            path: root.to_path_buf(),
            reason: format!("the resolution to load at must be a power of two, not {res}"),
        });
    }
    if let Some(c) = channels.filter(|&c| c != 1 && c != 3) {
        return Err(DataError::Format {
            path: root.to_path_buf(),
            reason: format!("images can be loaded with 1 or 3 channels, not {c}"),
        });
    }
    if limit == Some(0) {
        return Err(DataError::Format {
            path: root.to_path_buf(),
            reason: "the image limit must be at least 1".into(),
        });
    }
    let limit = limit.unwrap_or(usize::MAX);
    files.sort();
    let (candidates, others): (Vec<PathBuf>, Vec<PathBuf>) =
        files.into_iter().partition(|p| has_image_ext(p));
    let mut skipped: Vec<(PathBuf, String)> = others
        .into_iter()
        .map(|p| (p, "not a PNG or JPEG image (by its extension)".to_string()))
        .collect();
    if candidates.is_empty() && skipped.is_empty() {
        return Err(DataError::Empty {
            path: root.to_path_buf(),
            what: "PNG or JPEG images".into(),
        });
    }
    let threads = rayon::current_num_threads();
    let chunk_for = |want: usize| (want.saturating_add(want / 8 + threads)).clamp(1, 64 * threads);

    let channels = match channels {
        Some(c) => c,
        None => {
            let mut colour = false;
            let (mut seen, mut at) = (0, 0);
            while !colour && seen < limit && at < candidates.len() {
                let n = chunk_for(limit - seen).min(candidates.len() - at);
                let probes: Vec<Option<bool>> = candidates[at..at + n]
                    .par_iter()
                    .map(|p| probe_colour(p))
                    .collect();
                for c in probes.into_iter().flatten() {
                    if seen < limit {
                        colour |= c;
                        seen += 1;
                    }
                }
                at += n;
            }
            if colour {
                3
            } else {
                1
            }
        }
    };

    let per = channels * res * res;
    let mut pixels = Vec::with_capacity(candidates.len().min(limit).saturating_mul(per));
    let mut used = Vec::new();
    let mut sizes: Vec<(u32, u32)> = Vec::new();
    let mut converted = 0;
    let mut at = 0;
    while used.len() < limit && at < candidates.len() {
        let n = chunk_for(limit - used.len()).min(candidates.len() - at);
        let results: Vec<Result<Prepared, String>> = candidates[at..at + n]
            .par_iter()
            .map(|p| {
                let img = decode(p)?;
                let size = (img.width(), img.height());
                let (bytes, conv) = prepare(img, res, channels);
                Ok((bytes, conv, size))
            })
            .collect();
        for (p, r) in candidates[at..at + n].iter().zip(results) {
            if used.len() >= limit {
                break;
            }
            match r {
                Ok((bytes, conv, size)) => {
                    pixels.extend_from_slice(&bytes);
                    converted += conv as usize;
                    sizes.push(size);
                    used.push(p.clone());
                }
                Err(why) => skipped.push((p.clone(), why)),
            }
        }
        at += n;
    }
    skipped.sort();
    if used.is_empty() {
        let first = skipped
            .first()
            .map_or_else(String::new, |(p, why)| format!("{}: {why}", p.display()));
        return Err(DataError::AllBad {
            path: root.to_path_buf(),
            skipped: skipped.len(),
            first,
        });
    }
    let mut counts: HashMap<(u32, u32), usize> = HashMap::new();
    for &s in &sizes {
        *counts.entry(s).or_default() += 1;
    }
    // The most common size; ties go to the larger, then wider, size (deterministic).
    let common = counts
        .iter()
        .max_by_key(|&(&(w, h), &k)| (k, w as u64 * h as u64, w))
        .map(|(&s, _)| s)
        .expect("at least one image");
    let resized = sizes.iter().filter(|&&s| s != common).count();
    Ok(Loaded {
        pixels,
        channels,
        used,
        skipped,
        resized,
        converted,
    })
}
