//! NIfTI-1 volumes (`.nii`, `.nii.gz`) cut into 2-D slices: the MRI dataset source for users
//! who hold volumes rather than PNG slices.
//!
//! Each volume is read with the `nifti` crate after its header has been checked here (so that
//! a malformed file is a counted skip with a reason, never a panic), reoriented to the closest
//! canonical RAS orientation, normalised to 0..=255 per volume, and cut into slices along one
//! [`SliceAxis`]. Slices with too little tissue are dropped; the rest are padded to a square
//! field of view (keeping the voxel aspect) and resampled to the requested resolution.
//!
//! Orientation of the slices (what a viewer shows, as in nilearn's plots, i.e. the
//! *neurological* convention): every slice is drawn like a plot of world coordinates, the
//! horizontal world axis increasing to the right and the vertical one increasing upwards.
//! - axial: columns run from the patient's left (image left) to right (image right), rows
//!   from anterior (top) to posterior (bottom); slices go inferior to superior.
//! - coronal: columns left to right as for axial, rows superior (top) to inferior (bottom);
//!   slices go posterior to anterior.
//! - sagittal: columns posterior (image left) to anterior (image right), so the face looks
//!   right; rows superior (top) to inferior; slices go left to right.

mod orient;
mod read;
mod slices;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use self::slices::{slices_of, Slices};
use super::folder::list_files;
use super::{DataError, Dataset, OpenOptions, Source};

/// A voxel counts as tissue when it is above this fraction of its volume's robust maximum
/// (the [`CLIP_HIGH_PERCENTILE`]); 10% sits well above the noise floor of air in MRI and
/// well below grey matter, CSF aside.
const TISSUE_LEVEL: f32 = 0.10;
/// A slice is kept when at least this fraction of its voxels is tissue; 5% drops the empty
/// slices at the ends of a scan and the tips of the skull, which teach a generator nothing.
const MIN_TISSUE_FRACTION: f64 = 0.05;
/// Intensities are clipped to these percentiles (of the volume's nonzero voxels) before
/// being mapped linearly to 0..=255, so that a few extreme voxels (vessels, artefacts, a
/// corrupt voxel) do not squash the rest of the range.
const CLIP_LOW_PERCENTILE: f64 = 0.5;
const CLIP_HIGH_PERCENTILE: f64 = 99.5;

/// Which way volumes are cut into slices: perpendicular to the superior (axial), anterior
/// (coronal) or right (sagittal) axis of the canonical RAS orientation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SliceAxis {
    /// Horizontal slices (perpendicular to inferior-superior); the default.
    #[default]
    Axial,
    /// Frontal slices (perpendicular to posterior-anterior).
    Coronal,
    /// Side slices (perpendicular to left-right).
    Sagittal,
}

impl SliceAxis {
    /// All three, in the order axial, coronal, sagittal.
    pub const ALL: [SliceAxis; 3] = [SliceAxis::Axial, SliceAxis::Coronal, SliceAxis::Sagittal];

    /// "axial", "coronal" or "sagittal".
    pub fn name(self) -> &'static str {
        match self {
            SliceAxis::Axial => "axial",
            SliceAxis::Coronal => "coronal",
            SliceAxis::Sagittal => "sagittal",
        }
    }

    /// The RAS axes (0 = R, 1 = A, 2 = S) of a slice's columns, rows and normal. Rows are
    /// drawn with their axis increasing upwards (see the module docs).
    fn axes(self) -> (usize, usize, usize) {
        match self {
            SliceAxis::Axial => (0, 1, 2),
            SliceAxis::Coronal => (0, 2, 1),
            SliceAxis::Sagittal => (1, 2, 0),
        }
    }
}

impl fmt::Display for SliceAxis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SliceAxis {
    type Err = String;

    /// "axial", "coronal" or "sagittal" (any case, surrounding spaces ignored).
    fn from_str(s: &str) -> Result<SliceAxis, String> {
        let t = s.trim();
        SliceAxis::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| format!("unknown slice axis {s:?}: expected axial, coronal or sagittal"))
    }
}

/// Whether `p` is named like a NIfTI volume: `.nii` or `.nii.gz`, in any case.
fn is_nifti_name(p: &Path) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        let n = n.to_ascii_lowercase();
        n.ends_with(".nii") || n.ends_with(".nii.gz")
    })
}

/// The slices of the NIfTI volumes at `o.data` (one `.nii`/`.nii.gz` file, or a folder
/// searched recursively for them, hidden entries skipped, in sorted path order), cut along
/// `axis`, at `o.resolution`, grayscale (`o.channels` must be `None` or `Some(1)`).
///
/// Per volume: the first 3-D volume of a 4-D file is used (with a line in
/// [`Dataset::notices`]); NaN and Inf voxels become 0 (counted); the data is reoriented to
/// the closest canonical RAS orientation from the sform, else the qform, else the pixdim
/// diagonal; intensities are clipped to the 0.5th and 99.5th percentiles of the nonzero
/// voxels and mapped to 0..=255; slices with under 5% of their voxels above 10% of the
/// 99.5th percentile are dropped; the rest are padded with 0 to a square field of view in
/// millimetres (so the voxel aspect is kept) and resampled (triangle filter, widened when
/// shrinking). `o.limit` keeps the first slices in order (volumes in path order, slices in
/// increasing world coordinate).
///
/// Files that cannot be used are skipped with the reason ([`Dataset::skipped`]); when none
/// can, [`DataError::AllBad`]. No `--data` is [`DataError::NotFound`], a folder without
/// volumes [`DataError::Empty`], and so is a set of volumes in which no slice has enough
/// tissue.
pub fn open_nifti(o: &OpenOptions, axis: SliceAxis) -> Result<Dataset, DataError> {
    let Some(root) = o.data.clone() else {
        return Err(DataError::NotFound {
            path: PathBuf::new(),
            what: "`train nifti` needs --data PATH, a .nii or .nii.gz volume or a folder of them"
                .into(),
        });
    };
    let res = o.resolution;
    if res == 0 || !res.is_power_of_two() {
        return Err(DataError::Format {
            path: root,
            reason: format!("the resolution to load at must be a power of two, not {res}"),
        });
    }
    if let Some(c) = o.channels.filter(|&c| c != 1) {
        return Err(DataError::Format {
            path: root,
            reason: format!("NIfTI volumes are loaded as grayscale (1 channel), not {c}"),
        });
    }
    if o.limit == Some(0) {
        return Err(DataError::Format {
            path: root,
            reason: "the slice limit must be at least 1".into(),
        });
    }
    if !root.exists() {
        return Err(DataError::NotFound {
            path: root,
            what: "a .nii or .nii.gz volume or a folder of them (check the --data path)".into(),
        });
    }
    let (files, mut skipped) = if root.is_dir() {
        let (all, unreadable) = list_files(&root, true)?;
        let files: Vec<PathBuf> = all.into_iter().filter(|p| is_nifti_name(p)).collect();
        if files.is_empty() && unreadable.is_empty() {
            return Err(DataError::Empty {
                path: root,
                what: "NIfTI volumes (.nii or .nii.gz files, searched recursively)".into(),
            });
        }
        (files, unreadable)
    } else if is_nifti_name(&root) {
        (vec![root.clone()], Vec::new())
    } else {
        return Err(DataError::Format {
            path: root,
            reason: "is not a .nii or .nii.gz file; --data should name a NIfTI volume or a folder of them".into(),
        });
    };

    let limit = o.limit.unwrap_or(usize::MAX);
    let per = res * res;
    let chunk = rayon::current_num_threads().max(1);
    let mut pixels: Vec<u8> = Vec::new();
    let (mut volumes, mut kept, mut total) = (0usize, 0usize, 0usize);
    let (mut nonfinite, mut four_d) = (0usize, 0usize);
    let mut notices = Vec::new();
    let mut at = 0;
    // Files looked at (used or skipped) before the limit was reached.
    let mut seen = 0;
    while pixels.len() / per < limit && at < files.len() {
        let n = chunk.min(files.len() - at);
        let results: Vec<Result<Slices, String>> = files[at..at + n]
            .par_iter()
            .map(|p| slices_of(p, axis, res))
            .collect();
        for (p, r) in files[at..at + n].iter().zip(results) {
            let room = limit - pixels.len() / per;
            if room == 0 {
                break;
            }
            seen += 1;
            match r {
                Err(why) => skipped.push((p.clone(), why)),
                Ok(s) => {
                    volumes += 1;
                    kept += s.kept;
                    total += s.total;
                    nonfinite += s.nonfinite;
                    if s.nonfinite > 0 {
                        notices.push(format!(
                            "{}: {} NaN/Inf voxel{} set to 0",
                            p.display(),
                            s.nonfinite,
                            plural(s.nonfinite)
                        ));
                    }
                    if let Some(n4) = s.four_d {
                        four_d += 1;
                        notices.push(format!("{}: {n4}", p.display()));
                    }
                    let take = s.kept.min(room);
                    pixels.extend_from_slice(&s.pixels[..take * per]);
                }
            }
        }
        at += n;
    }
    skipped.sort();
    if volumes == 0 {
        let first = skipped
            .first()
            .map_or_else(String::new, |(p, why)| format!("{}: {why}", p.display()));
        return Err(DataError::AllBad {
            path: root,
            skipped: skipped.len(),
            first,
        });
    }
    if pixels.is_empty() {
        return Err(DataError::Empty {
            path: root,
            what: format!(
                "{axis} slices with enough tissue: in all {total} slices of {volumes} volume{} fewer than {}% of the voxels are above {}% of the volume's {}th percentile",
                plural(volumes),
                MIN_TISSUE_FRACTION * 100.0,
                TISSUE_LEVEL * 100.0,
                CLIP_HIGH_PERCENTILE
            ),
        });
    }
    let mut ds = Dataset::from_u8("nifti", Source::Nifti, 1, res, pixels);
    let mut d = format!(
        "{volumes} volume{} from {}, {kept} of {total} {axis} slices kept (too little tissue in {})",
        plural(volumes),
        root.display(),
        total - kept
    );
    // The limit cut the set short: slices of a volume were left out, or volumes were not read.
    if ds.len < kept || seen < files.len() {
        d += &format!(", the first {} used (limit)", ds.len);
    }
    d += &format!(", at {res}x{res}, grayscale");
    if four_d > 0 {
        d += &format!(", {four_d} 4-D volume{}: first volume used", plural(four_d));
    }
    if nonfinite > 0 {
        d += &format!(", {nonfinite} NaN/Inf voxel{} set to 0", plural(nonfinite));
    }
    ds.description = d;
    ds.skipped = skipped;
    ds.notices = notices;
    Ok(ds)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
