//! OASIS brain-MRI slices (`keras_png_slices_data`), found on disk or replaced by the phantom.

use std::fs;
use std::path::{Path, PathBuf};

use super::folder::{list_files, load_images, notes};
use super::{phantom, DataError, Dataset, OpenOptions, Source};

/// The name of the folder the OASIS slices are distributed in.
pub const OASIS_ROOT: &str = "keras_png_slices_data";
/// The image splits inside it, all used (the `keras_png_slices_seg_*` masks are not).
pub const OASIS_SPLITS: [&str; 3] = [
    "keras_png_slices_train",
    "keras_png_slices_validate",
    "keras_png_slices_test",
];
/// Environment variables naming the OASIS folder, in the order they are read.
pub const OASIS_ENV: [&str; 2] = ["SGW_OASIS_DIR", "OASIS_DIR"];
/// The seed the phantom fallback is generated with.
const PHANTOM_SEED: u64 = 0x0A51_5B0A;

fn is_split_dir(d: &Path) -> bool {
    d.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| OASIS_SPLITS.contains(&n))
        && d.is_dir()
}

fn holds_splits(d: &Path) -> bool {
    OASIS_SPLITS.iter().any(|s| d.join(s).is_dir())
}

/// The OASIS root at `dir`: `dir` itself if it holds a split folder (or is one), else
/// `dir/keras_png_slices_data`, else the first (in name order) subfolder `s` of `dir` for
/// which `s` or `s/keras_png_slices_data` holds a split folder.
fn root_in(dir: &Path) -> Option<PathBuf> {
    if !dir.is_dir() {
        return None;
    }
    if is_split_dir(dir) || holds_splits(dir) {
        return Some(dir.to_path_buf());
    }
    let inner = dir.join(OASIS_ROOT);
    if holds_splits(&inner) {
        return Some(inner);
    }
    let mut subs: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subs.sort();
    subs.into_iter().find_map(|s| {
        if holds_splits(&s) {
            Some(s)
        } else {
            let inner = s.join(OASIS_ROOT);
            holds_splits(&inner).then_some(inner)
        }
    })
}

/// The places OASIS is looked for, in order: only `explicit` when given; otherwise the
/// folders named by `SGW_OASIS_DIR` and `OASIS_DIR` (when set), then `./data`.
pub fn oasis_search_paths(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    let mut v: Vec<PathBuf> = OASIS_ENV
        .iter()
        .filter_map(std::env::var_os)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect();
    v.push(PathBuf::from("data"));
    v
}

/// The OASIS root folder (the one holding the split folders, normally
/// `keras_png_slices_data`), searched for in [`oasis_search_paths`]`(explicit)`, each of
/// which may be the root itself, its parent, or one level above that. `None` when not found.
pub fn locate_oasis(explicit: Option<&Path>) -> Option<PathBuf> {
    oasis_search_paths(explicit).iter().find_map(|d| root_in(d))
}

/// The one line to print when training falls back to the phantom; `looked` are the places
/// searched (as [`oasis_search_paths`] gives them).
pub fn phantom_notice(looked: &[PathBuf]) -> String {
    let places = if looked.is_empty() {
        "nowhere".to_string()
    } else {
        looked
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "no OASIS data found (looked in {places}); training on the built-in synthetic brain phantom. Point --data at keras_png_slices_data (or set SGW_OASIS_DIR) to train on real OASIS slices."
    )
}

/// The OASIS slices at `o.resolution` (grayscale unless `o.channels` says 3), from the
/// folder [`locate_oasis`] finds.
///
/// With no `--data` and nothing found, returns the phantom instead ([`Source::Phantom`],
/// `o.phantom_count` images, or 2048 when 0, capped by `o.limit`) whose `description` is
/// [`phantom_notice`]'s text, for the caller to print. An explicit `--data` never falls
/// back: a path that does not exist is [`DataError::NotFound`], a folder without OASIS split
/// folders is [`DataError::Empty`].
pub fn open_oasis(o: &OpenOptions) -> Result<Dataset, DataError> {
    let root = match &o.data {
        Some(p) => {
            if !p.exists() {
                return Err(DataError::NotFound {
                    path: p.clone(),
                    what: format!("the OASIS folder {OASIS_ROOT} or a folder holding it (check the --data path)"),
                });
            }
            if !p.is_dir() {
                return Err(DataError::Format {
                    path: p.clone(),
                    reason: format!("is a file; --data should name the {OASIS_ROOT} folder"),
                });
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("keras_png_slices_seg") {
                return Err(DataError::Format {
                    path: p.clone(),
                    reason: format!("holds segmentation masks, not training slices; point --data at {OASIS_ROOT}"),
                });
            }
            root_in(p).ok_or_else(|| DataError::Empty {
                path: p.clone(),
                what: format!(
                    "OASIS slices: expected {} in it, in {OASIS_ROOT} inside it, or one level deeper",
                    OASIS_SPLITS.join(", ")
                ),
            })?
        }
        None => {
            let looked = oasis_search_paths(None);
            match looked.iter().find_map(|d| root_in(d)) {
                Some(r) => r,
                None => {
                    if !o.resolution.is_power_of_two() {
                        return Err(DataError::Format {
                            path: PathBuf::from("phantom"),
                            reason: format!(
                                "the resolution must be a power of two, not {}",
                                o.resolution
                            ),
                        });
                    }
                    let n = if o.phantom_count == 0 {
                        2048
                    } else {
                        o.phantom_count
                    };
                    let n = n.min(o.limit.unwrap_or(usize::MAX)).max(1);
                    let mut ds = phantom(n, o.resolution, PHANTOM_SEED);
                    ds.description = phantom_notice(&looked);
                    return Ok(ds);
                }
            }
        }
    };
    load(&root, o)
}

fn load(root: &Path, o: &OpenOptions) -> Result<Dataset, DataError> {
    let splits: Vec<PathBuf> = if is_split_dir(root) {
        vec![root.to_path_buf()]
    } else {
        OASIS_SPLITS
            .iter()
            .map(|s| root.join(s))
            .filter(|d| d.is_dir())
            .collect()
    };
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for s in &splits {
        let (f, bad) = list_files(s, false)?;
        files.extend(f);
        unreadable.extend(bad);
    }
    if files.is_empty() {
        return Err(DataError::Empty {
            path: root.to_path_buf(),
            what: format!("PNG slices in {}", OASIS_SPLITS.join(", ")),
        });
    }
    let res = o.resolution;
    let mut l = load_images(root, files, res, Some(o.channels.unwrap_or(1)), o.limit)?;
    l.skipped.extend(unreadable);
    l.skipped.sort();
    let counts: Vec<String> = splits
        .iter()
        .map(|s| {
            l.used
                .iter()
                .filter(|p| p.parent() == Some(s.as_path()))
                .count()
                .to_string()
        })
        .collect();
    let what = root
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(OASIS_ROOT);
    let description = format!(
        "OASIS {what} at {}: {} slices at {res}x{res}{}",
        root.display(),
        counts.join("+"),
        notes(l.resized, l.converted, l.channels)
    );
    let mut ds = Dataset::from_u8("oasis", Source::Oasis, l.channels, res, l.pixels);
    ds.description = description;
    ds.skipped = l.skipped;
    ds.resized = l.resized;
    ds.converted = l.converted;
    Ok(ds)
}
