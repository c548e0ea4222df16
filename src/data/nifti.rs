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

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ::nifti::{InMemNiftiVolume, IntoNdArray, NiftiHeader, NiftiType};
use flate2::bufread::MultiGzDecoder;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

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
/// Volumes with more voxels than this (in their first 3-D volume) are skipped rather than
/// risking running out of memory on a damaged header: 2^30 voxels is 4 GiB as f32, far above
/// any real scan (a 0.5 mm whole head is ~2^25).
const MAX_VOXELS: u64 = 1 << 30;
/// The NIfTI-1 header is this long; single-file data starts at `vox_offset`, at least 352
/// (the header plus the 4-byte extension flag).
const HEADER_LEN: usize = 348;
const MIN_VOX_OFFSET: u64 = 352;

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

/// What one volume gave.
struct Slices {
    /// `kept` slices of res x res, u8, in order.
    pixels: Vec<u8>,
    kept: usize,
    total: usize,
    nonfinite: usize,
    /// For a 4-D file, the notice saying only its first volume is used.
    four_d: Option<String>,
}

/// A volume reoriented to RAS: `data[r + nr * (a + na * s)]`.
struct Volume {
    dims: [usize; 3],
    /// Millimetres per voxel along R, A and S.
    spacing: [f64; 3],
    data: Vec<f32>,
}

/// The kept slices of the volume at `path`, or why it cannot be used.
fn slices_of(path: &Path, axis: SliceAxis, res: usize) -> Result<Slices, String> {
    let (vol, nonfinite, four_d) = read_volume(path)?;
    let (lo, hi) = intensity_range(&vol.data)?;
    let (ca, ra, na) = axis.axes();
    let (w, h, depth) = (vol.dims[ca], vol.dims[ra], vol.dims[na]);
    let fov = (w as f64 * vol.spacing[ca]).max(h as f64 * vol.spacing[ra]);
    let col_taps = taps(w, vol.spacing[ca], fov, res);
    let row_taps = taps(h, vol.spacing[ra], fov, res);
    let stride = [1, vol.dims[0], vol.dims[0] * vol.dims[1]];
    let tissue = TISSUE_LEVEL * hi;
    let scale = 255.0 / (hi - lo);
    let per_slice: Vec<Option<Vec<u8>>> = (0..depth)
        .into_par_iter()
        .map(|k| {
            // Row 0 is the top of the image: the largest coordinate along the row axis.
            let mut img = vec![0f32; w * h];
            let mut n_tissue = 0usize;
            for r in 0..h {
                let base = k * stride[na] + (h - 1 - r) * stride[ra];
                for c in 0..w {
                    let v = vol.data[base + c * stride[ca]];
                    n_tissue += (v > tissue) as usize;
                    img[r * w + c] = (v.clamp(lo, hi) - lo) * scale;
                }
            }
            if (n_tissue as f64) < MIN_TISSUE_FRACTION * (w * h) as f64 {
                return None;
            }
            Some(resample(&img, w, &col_taps, &row_taps, res))
        })
        .collect();
    let total = per_slice.len();
    let pixels: Vec<u8> = per_slice.into_iter().flatten().flatten().collect();
    Ok(Slices {
        kept: pixels.len() / (res * res),
        pixels,
        total,
        nonfinite,
        four_d,
    })
}

/// The clip range (0.5th and 99.5th percentiles of the nonzero voxels), or why the volume
/// has none.
///
/// Nonzero voxels, not all voxels: MRI volumes are often mostly zero background (a skull-
/// stripped scan or a template in a large field of view), so percentiles of all voxels would
/// depend on how much air was scanned; the low end would be 0 anyway and the high end would
/// clip more of the brain the more background there is.
fn intensity_range(data: &[f32]) -> Result<(f32, f32), String> {
    let mut v: Vec<f32> = data.iter().copied().filter(|&x| x != 0.0).collect();
    if v.is_empty() {
        return Err("every voxel is zero (or NaN/Inf): nothing to slice".into());
    }
    let rank = |q: f64| ((q / 100.0) * (v.len() - 1) as f64).round() as usize;
    let (klo, khi) = (rank(CLIP_LOW_PERCENTILE), rank(CLIP_HIGH_PERCENTILE));
    let hi = *v.select_nth_unstable_by(khi, f32::total_cmp).1;
    let mut lo = if klo < khi {
        *v[..khi].select_nth_unstable_by(klo, f32::total_cmp).1
    } else {
        hi
    };
    if hi <= lo {
        // Too few distinct values (a mask, say): stretch from the darkest voxel instead.
        lo = data.iter().copied().fold(f32::INFINITY, f32::min);
    }
    if hi <= lo {
        return Err(format!(
            "every voxel has the same value ({hi}): nothing to learn from"
        ));
    }
    Ok((lo, hi))
}

/// For each of `res` output pixels across a field of view of `fov` mm centred on `n` voxels
/// of `sp` mm: the voxels it reads and their weights. A triangle filter, bilinear when
/// enlarging and widened to the pixel footprint when shrinking (area-like, no aliasing); the
/// weights are normalised over the voxels inside the volume and then scaled by the fraction of
/// the pixel's footprint that lies inside it, so the padding reads as 0 and the volume's own
/// edge is not darkened.
fn taps(n: usize, sp: f64, fov: f64, res: usize) -> Vec<Vec<(usize, f32)>> {
    let step = fov / res as f64;
    let pad = (fov - n as f64 * sp) / 2.0;
    let scale = step / sp;
    let radius = scale.max(1.0);
    (0..res)
        .map(|x| {
            let centre = ((x as f64 + 0.5) * step - pad) / sp - 0.5;
            let (a, b) = (centre - scale / 2.0, centre + scale / 2.0);
            let coverage = ((b.min(n as f64 - 0.5) - a.max(-0.5)) / scale).clamp(0.0, 1.0);
            if coverage <= 0.0 {
                return Vec::new();
            }
            let first = (centre - radius).floor().max(0.0) as usize;
            let last = ((centre + radius).ceil().max(0.0) as usize).min(n - 1);
            let mut t: Vec<(usize, f64)> = (first..=last)
                .map(|i| (i, 1.0 - (i as f64 - centre).abs() / radius))
                .filter(|&(_, w)| w > 0.0)
                .collect();
            let sum: f64 = t.iter().map(|&(_, w)| w).sum();
            if sum <= 0.0 {
                return Vec::new();
            }
            t.iter_mut().for_each(|(_, w)| *w *= coverage / sum);
            t.into_iter().map(|(i, w)| (i, w as f32)).collect()
        })
        .collect()
}

/// The `w`-wide image `img` (values 0..=255) resampled to `res` x `res` u8 with the given
/// column and row taps.
fn resample(
    img: &[f32],
    w: usize,
    col_taps: &[Vec<(usize, f32)>],
    row_taps: &[Vec<(usize, f32)>],
    res: usize,
) -> Vec<u8> {
    let h = img.len() / w;
    let mut wide = vec![0f32; h * res];
    for r in 0..h {
        let row = &img[r * w..(r + 1) * w];
        for (x, t) in col_taps.iter().enumerate() {
            wide[r * res + x] = t.iter().map(|&(i, wt)| row[i] * wt).sum();
        }
    }
    let mut out = vec![0u8; res * res];
    for (y, t) in row_taps.iter().enumerate() {
        for x in 0..res {
            let v: f32 = t.iter().map(|&(i, wt)| wide[i * res + x] * wt).sum();
            out[y * res + x] = (v + 0.5).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// A volume's first 3-D volume, reoriented to RAS, with its NaN/Inf count and, for a 4-D
/// file, the notice saying so.
fn read_volume(path: &Path) -> Result<(Volume, usize, Option<String>), String> {
    let (h, raw, four_d) = read_raw(path)?;
    let dims = [h.dim[1] as usize, h.dim[2] as usize, h.dim[3] as usize];
    let dt = h.data_type().map_err(|e| e.to_string())?;
    // Slope 0 means unscaled (NIfTI-1); a NaN or Inf slope or intercept (seen in real files,
    // the MNI template among them) is read as unscaled too, as nibabel does.
    let (slope, inter) = if h.scl_slope.is_finite() && h.scl_slope != 0.0 {
        let inter = if h.scl_inter.is_finite() {
            h.scl_inter
        } else {
            0.0
        };
        (h.scl_slope, inter)
    } else {
        (0.0, 0.0)
    };
    let raw_dim = [3, h.dim[1], h.dim[2], h.dim[3], 1, 1, 1, 1];
    let volume = InMemNiftiVolume::from_raw_fields(raw_dim, dt, slope, inter, raw, h.endianness)
        .map_err(|e| format!("invalid NIfTI data ({e})"))?;
    let arr = volume
        .into_ndarray::<f32>()
        .map_err(|e| format!("cannot convert the voxels ({e})"))?;
    // The array is indexed [i, j, k] in NIfTI (Fortran) order; its transpose iterates k, j, i
    // with i fastest, which is the file order, whatever the memory layout.
    let mut data: Vec<f32> = arr.t().iter().copied().collect();
    let mut nonfinite = 0;
    for v in &mut data {
        if !v.is_finite() {
            *v = 0.0;
            nonfinite += 1;
        }
    }
    let spacing: [f64; 3] = std::array::from_fn(|j| {
        let p = f64::from(h.pixdim[j + 1]).abs();
        if p.is_finite() && p > 0.0 {
            p
        } else {
            1.0
        }
    });
    let ornt = ras_orientation(&orientation_matrix(&h, &spacing));
    Ok((reorient(&data, dims, spacing, ornt), nonfinite, four_d))
}

/// The header (checked) and the raw bytes of the first 3-D volume of the file at `path`, and
/// for a 4-D file the notice saying only its first volume is used.
///
/// Everything the `nifti` crate would trip over is checked first: the header size and magic,
/// the dimensions, the data type and `vox_offset`, and the data's length against the file's.
/// gzip is recognised by its magic bytes, not the file name, and multi-member (bgzip) streams
/// are read whole.
fn read_raw(path: &Path) -> Result<(NiftiHeader, Vec<u8>, Option<String>), String> {
    let file = File::open(path).map_err(|e| format!("cannot be read ({e})"))?;
    let file_len = file.metadata().map(|m| m.len()).ok();
    let mut buf = BufReader::new(file);
    let head = buf
        .fill_buf()
        .map_err(|e| format!("cannot be read ({e})"))?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    let mut r: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(buf))
    } else {
        Box::new(buf)
    };
    let read_err = |e: io::Error| {
        if gz {
            format!("truncated or corrupt gzip data ({e})")
        } else {
            format!("cannot be read ({e})")
        }
    };

    let mut hdr = [0u8; HEADER_LEN];
    let got = read_up_to(&mut r, &mut hdr).map_err(read_err)?;
    let size_field = |b: &[u8]| {
        let w = [b[0], b[1], b[2], b[3]];
        (i32::from_le_bytes(w), i32::from_be_bytes(w))
    };
    if got < HEADER_LEN {
        let claims = got >= 4 && {
            let (le, be) = size_field(&hdr);
            le == HEADER_LEN as i32 || be == HEADER_LEN as i32
        };
        return Err(if claims {
            format!("truncated: the file ends inside the NIfTI header (byte {got} of {HEADER_LEN})")
        } else {
            format!("not a NIfTI file ({got} bytes; a NIfTI-1 header alone is {HEADER_LEN})")
        });
    }
    let (le, be) = size_field(&hdr);
    if le == 540 || be == 540 {
        return Err("a NIfTI-2 file; only NIfTI-1 is supported".into());
    }
    if le != HEADER_LEN as i32 && be != HEADER_LEN as i32 {
        return Err(format!(
            "not a NIfTI file (its header size field is not {HEADER_LEN})"
        ));
    }
    match &hdr[344..348] {
        b"n+1\0" => {}
        b"ni1\0" => {
            return Err(
                "a NIfTI-1 header without data (.hdr/.img pair); only single-file .nii/.nii.gz volumes are read"
                    .into(),
            )
        }
        _ => return Err("not a NIfTI file (no NIfTI-1 magic \"n+1\" at byte 344)".into()),
    }
    let h =
        NiftiHeader::from_reader(&hdr[..]).map_err(|e| format!("invalid NIfTI header ({e})"))?;
    if h.sizeof_hdr != HEADER_LEN as i32 {
        return Err("invalid NIfTI header (its byte order cannot be told from dim[0])".into());
    }

    let nd = h.dim[0] as usize;
    if nd == 0 || nd > 7 {
        return Err(format!(
            "invalid NIfTI header: dim[0] is {}, not 1 to 7",
            h.dim[0]
        ));
    }
    let shape = &h.dim[1..=nd];
    let shape_s = shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x");
    if shape.contains(&0) {
        return Err(format!("has a zero-sized dimension (shape {shape_s})"));
    }
    if nd < 3 || shape[..3].contains(&1) {
        return Err(format!(
            "not a 3-D volume (shape {shape_s}): a volume must be 3-D, with at least 2 voxels along each of its first three axes"
        ));
    }
    let later: u64 = shape[3..].iter().map(|&d| u64::from(d)).product();
    let four_d =
        (later > 1).then(|| format!("{nd}-D ({shape_s}): using the first of its {later} volumes"));

    let dt = h
        .data_type()
        .map_err(|_| format!("unsupported NIfTI datatype code {}", h.datatype))?;
    use NiftiType::*;
    if !matches!(
        dt,
        Uint8 | Int8 | Uint16 | Int16 | Uint32 | Int32 | Uint64 | Int64 | Float32 | Float64
    ) {
        return Err(format!(
            "datatype {dt:?} is not supported (only scalar integer and float volumes)"
        ));
    }
    let voxels: u64 = shape[..3].iter().map(|&d| u64::from(d)).product();
    if voxels > MAX_VOXELS {
        return Err(format!(
            "too large: {shape_s} is {voxels} voxels per volume, more than the {MAX_VOXELS} read"
        ));
    }
    let nbytes = voxels * dt.size_of() as u64;

    if !h.vox_offset.is_finite() || h.vox_offset < 0.0 || h.vox_offset > 1e12 {
        return Err(format!(
            "invalid NIfTI header: vox_offset is {}",
            h.vox_offset
        ));
    }
    // Data never starts before byte 352 in a single file; writers that leave vox_offset at 0
    // (the MNI template does) mean 352, which is what nibabel reads too.
    let offset = (h.vox_offset as u64).max(MIN_VOX_OFFSET);
    if let (false, Some(len)) = (gz, file_len) {
        if len < offset + nbytes {
            return Err(format!(
                "truncated: the file is {len} bytes but its header puts the end of the voxel data at byte {}",
                offset + nbytes
            ));
        }
    }
    let gap = offset - HEADER_LEN as u64;
    let skipped = io::copy(&mut (&mut r).take(gap), &mut io::sink()).map_err(read_err)?;
    if skipped < gap {
        return Err(format!(
            "truncated: the file ends before the voxel data (at byte {})",
            HEADER_LEN as u64 + skipped
        ));
    }
    let mut raw = Vec::new();
    raw.try_reserve_exact(nbytes as usize)
        .map_err(|_| format!("too large to hold in memory ({nbytes} bytes of voxels)"))?;
    (&mut r)
        .take(nbytes)
        .read_to_end(&mut raw)
        .map_err(read_err)?;
    if (raw.len() as u64) < nbytes {
        return Err(format!(
            "truncated: the voxel data ends after {} of {nbytes} bytes",
            raw.len()
        ));
    }
    Ok((h, raw, four_d))
}

/// Reads into `buf` until it is full or the stream ends; how many bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The 3x3 linear part of the voxel-to-world (RAS+ mm) affine: the sform when
/// `sform_code > 0`, else the qform when `qform_code > 0`, else the pixdim diagonal (the
/// NIfTI-1 "method 1", without ANALYZE's x flip); a transform whose matrix is not finite or
/// has a zero column is passed over for the next.
fn orientation_matrix(h: &NiftiHeader, spacing: &[f64; 3]) -> [[f64; 3]; 3] {
    let usable = |m: &[[f64; 3]; 3]| {
        m.iter().flatten().all(|v| v.is_finite())
            && (0..3).all(|j| (0..3).map(|i| m[i][j] * m[i][j]).sum::<f64>() > 1e-12)
    };
    if h.sform_code > 0 {
        let rows = [h.srow_x, h.srow_y, h.srow_z];
        let m: [[f64; 3]; 3] = std::array::from_fn(|i| std::array::from_fn(|j| rows[i][j] as f64));
        if usable(&m) {
            return m;
        }
    }
    if h.qform_code > 0 {
        let (b, c, d) = (h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64);
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let zoom = [spacing[0], spacing[1], spacing[2] * qfac];
        let m: [[f64; 3]; 3] = std::array::from_fn(|i| std::array::from_fn(|j| r[i][j] * zoom[j]));
        if usable(&m) {
            return m;
        }
    }
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { spacing[i] } else { 0.0 }))
}

/// For each voxel axis, the world axis (0 = R, 1 = A, 2 = S) it runs closest to and whether
/// it runs against it, as nibabel's `io_orientation`: the largest absolute direction cosine
/// of the (column-normalised) matrix is assigned first, its row and column are then taken out,
/// and so on, so that every world axis is used exactly once even for oblique scans.
fn ras_orientation(m: &[[f64; 3]; 3]) -> [(usize, bool); 3] {
    let norm: [f64; 3] =
        std::array::from_fn(|j| (0..3).map(|i| m[i][j] * m[i][j]).sum::<f64>().sqrt());
    let cos = |i: usize, j: usize| {
        if norm[j] > 0.0 {
            m[i][j] / norm[j]
        } else {
            0.0
        }
    };
    let mut out = [(0, false); 3];
    let (mut world_used, mut voxel_used) = ([false; 3], [false; 3]);
    for _ in 0..3 {
        let mut best: Option<(usize, usize, f64)> = None;
        for j in (0..3).filter(|&j| !voxel_used[j]) {
            for i in (0..3).filter(|&i| !world_used[i]) {
                let c = cos(i, j).abs();
                if best.is_none_or(|(_, _, b)| c > b) {
                    best = Some((i, j, c));
                }
            }
        }
        let (i, j, _) = best.expect("an unused voxel and world axis remain");
        out[j] = (i, cos(i, j) < 0.0);
        world_used[i] = true;
        voxel_used[j] = true;
    }
    out
}

/// `data` (voxel axes `dims`, i fastest) permuted and flipped so that its axes are R, A, S,
/// each increasing; `ornt` as [`ras_orientation`] gives it.
fn reorient(data: &[f32], dims: [usize; 3], spacing: [f64; 3], ornt: [(usize, bool); 3]) -> Volume {
    let src_stride = [1, dims[0], dims[0] * dims[1]];
    let mut out_dims = [0; 3];
    let mut out_spacing = [0.0; 3];
    // Per world axis: the source offset of index 0 and the step per index.
    let mut start = [0isize; 3];
    let mut step = [0isize; 3];
    for (j, &(w, flip)) in ornt.iter().enumerate() {
        out_dims[w] = dims[j];
        out_spacing[w] = spacing[j];
        let s = src_stride[j] as isize;
        if flip {
            start[w] = (dims[j] as isize - 1) * s;
            step[w] = -s;
        } else {
            step[w] = s;
        }
    }
    let mut out = Vec::with_capacity(data.len());
    let origin = start.iter().sum::<isize>();
    for s in 0..out_dims[2] as isize {
        for a in 0..out_dims[1] as isize {
            let row = origin + a * step[1] + s * step[2];
            out.extend((0..out_dims[0] as isize).map(|r| data[(row + r * step[0]) as usize]));
        }
    }
    Volume {
        dims: out_dims,
        spacing: out_spacing,
        data: out,
    }
}
