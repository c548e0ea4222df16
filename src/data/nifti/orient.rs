//! Reorienting a volume to the closest canonical RAS orientation from its header's affine.

use ::nifti::NiftiHeader;

/// A volume reoriented to RAS: `data[r + nr * (a + na * s)]`.
pub(super) struct Volume {
    pub(super) dims: [usize; 3],
    /// Millimetres per voxel along R, A and S.
    pub(super) spacing: [f64; 3],
    pub(super) data: Vec<f32>,
}

/// The 3x3 linear part of the voxel-to-world (RAS+ mm) affine: the sform when
/// `sform_code > 0`, else the qform when `qform_code > 0`, else the pixdim diagonal (the
/// NIfTI-1 "method 1", without ANALYZE's x flip); a transform whose matrix is not finite or
/// has a zero column is passed over for the next.
pub(super) fn orientation_matrix(h: &NiftiHeader, spacing: &[f64; 3]) -> [[f64; 3]; 3] {
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
pub(super) fn ras_orientation(m: &[[f64; 3]; 3]) -> [(usize, bool); 3] {
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
pub(super) fn reorient(
    data: &[f32],
    dims: [usize; 3],
    spacing: [f64; 3],
    ornt: [(usize, bool); 3],
) -> Volume {
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
