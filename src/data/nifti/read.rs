//! Reading a NIfTI-1 file: the header checked here first (so a damaged file is a reason,
//! never a panic), then the voxels through the `nifti` crate, reoriented to RAS.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use ::nifti::{InMemNiftiVolume, IntoNdArray, NiftiHeader, NiftiType};
use flate2::bufread::MultiGzDecoder;

use super::orient::{orientation_matrix, ras_orientation, reorient, Volume};

/// Volumes with more voxels than this (in their first 3-D volume) are skipped rather than
/// risking running out of memory on a damaged header: 2^30 voxels is 4 GiB as f32, far above
/// any real scan (a 0.5 mm whole head is ~2^25).
const MAX_VOXELS: u64 = 1 << 30;
/// The NIfTI-1 header is this long; single-file data starts at `vox_offset`, at least 352
/// (the header plus the 4-byte extension flag).
const HEADER_LEN: usize = 348;
const MIN_VOX_OFFSET: u64 = 352;

/// A volume's first 3-D volume, reoriented to RAS, with its NaN/Inf count and, for a 4-D
/// file, the notice saying so.
pub(super) fn read_volume(path: &Path) -> Result<(Volume, usize, Option<String>), String> {
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
