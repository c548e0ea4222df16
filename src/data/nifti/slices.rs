//! Cutting a reoriented volume into kept, normalised, square slices.

use std::path::Path;

use rayon::prelude::*;

use super::read::read_volume;
use super::{
    SliceAxis, CLIP_HIGH_PERCENTILE, CLIP_LOW_PERCENTILE, MIN_TISSUE_FRACTION, TISSUE_LEVEL,
};

/// What one volume gave.
pub(super) struct Slices {
    /// `kept` slices of res x res, u8, in order.
    pub(super) pixels: Vec<u8>,
    pub(super) kept: usize,
    pub(super) total: usize,
    pub(super) nonfinite: usize,
    /// For a 4-D file, the notice saying only its first volume is used.
    pub(super) four_d: Option<String>,
}

/// The kept slices of the volume at `path`, or why it cannot be used.
pub(super) fn slices_of(path: &Path, axis: SliceAxis, res: usize) -> Result<Slices, String> {
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
