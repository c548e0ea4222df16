//! The NIfTI dataset source: volumes written here by hand (NIfTI-1 header, extension flag,
//! data; gzipped for `.nii.gz`), opened as slices. Orientation, aspect, intensity
//! normalisation, the tissue filter, limits, folders, and every kind of bad file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sgw::data::{open_nifti, DataError, Dataset, OpenOptions, SliceAxis, Source};

/// A fresh, empty temporary folder for one test.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sgw-nifti-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn opts(data: &Path, res: usize) -> OpenOptions {
    OpenOptions {
        data: Some(data.to_path_buf()),
        resolution: res,
        channels: None,
        limit: None,
        phantom_count: 0,
    }
}

/// NIfTI-1 datatype codes used here.
const DT_UINT8: i16 = 2;
const DT_INT16: i16 = 4;
const DT_FLOAT32: i16 = 16;

/// What to write into a header. `dim` is the full dim array (dim[0] = rank); `sform` the
/// three rows of the sform (code 1) or `None` for sform_code 0; `qform` (b, c, d, qfac) with
/// qform_code 1, or `None` for code 0.
#[derive(Clone)]
struct Header {
    dim: [u16; 8],
    pixdim: [f32; 3],
    datatype: i16,
    sform: Option<[[f32; 4]; 3]>,
    qform: Option<(f32, f32, f32, f32)>,
    scl: (f32, f32),
    vox_offset: f32,
    big_endian: bool,
}

impl Header {
    fn new(dims: &[usize], pixdim: [f32; 3], datatype: i16) -> Header {
        let mut dim = [1u16; 8];
        dim[0] = dims.len() as u16;
        for (i, &d) in dims.iter().enumerate() {
            dim[i + 1] = d as u16;
        }
        Header {
            dim,
            pixdim,
            datatype,
            sform: None,
            qform: None,
            scl: (0.0, 0.0),
            vox_offset: 352.0,
            big_endian: false,
        }
    }

    /// The 348-byte header and the 4-byte extension flag (no extensions).
    fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; 352];
        let be = self.big_endian;
        let i32_at = |b: &mut Vec<u8>, at: usize, v: i32| {
            let w = if be { v.to_be_bytes() } else { v.to_le_bytes() };
            b[at..at + 4].copy_from_slice(&w);
        };
        let i16_at = |b: &mut Vec<u8>, at: usize, v: i16| {
            let w = if be { v.to_be_bytes() } else { v.to_le_bytes() };
            b[at..at + 2].copy_from_slice(&w);
        };
        let f32_at = |b: &mut Vec<u8>, at: usize, v: f32| {
            let w = if be { v.to_be_bytes() } else { v.to_le_bytes() };
            b[at..at + 4].copy_from_slice(&w);
        };
        i32_at(&mut b, 0, 348);
        for (i, &d) in self.dim.iter().enumerate() {
            i16_at(&mut b, 40 + 2 * i, d as i16);
        }
        i16_at(&mut b, 70, self.datatype);
        let bitpix = match self.datatype {
            DT_UINT8 => 8,
            DT_INT16 => 16,
            _ => 32,
        };
        i16_at(&mut b, 72, bitpix);
        let qfac = self.qform.map_or(1.0, |q| q.3);
        f32_at(&mut b, 76, qfac);
        for i in 0..3 {
            f32_at(&mut b, 80 + 4 * i, self.pixdim[i]);
        }
        f32_at(&mut b, 108, self.vox_offset);
        f32_at(&mut b, 112, self.scl.0);
        f32_at(&mut b, 116, self.scl.1);
        b[123] = 2; // xyzt_units: mm
        if let Some((qb, qc, qd, _)) = self.qform {
            i16_at(&mut b, 252, 1);
            f32_at(&mut b, 256, qb);
            f32_at(&mut b, 260, qc);
            f32_at(&mut b, 264, qd);
        }
        if let Some(rows) = self.sform {
            i16_at(&mut b, 254, 1);
            for (r, row) in rows.iter().enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    f32_at(&mut b, 280 + 16 * r + 4 * c, v);
                }
            }
        }
        b[344..348].copy_from_slice(b"n+1\0");
        b
    }
}

/// Voxels as bytes of the header's datatype and byte order.
fn data_bytes(h: &Header, data: &[f32]) -> Vec<u8> {
    let be = h.big_endian;
    data.iter()
        .flat_map(|&v| match h.datatype {
            DT_UINT8 => vec![v as u8],
            DT_INT16 => {
                let x = v as i16;
                (if be { x.to_be_bytes() } else { x.to_le_bytes() }).to_vec()
            }
            _ => (if be { v.to_be_bytes() } else { v.to_le_bytes() }).to_vec(),
        })
        .collect()
}

/// Writes header + data to `path`, gzipped when the name ends in `.gz`.
fn write_nii(path: &Path, h: &Header, data: &[f32]) {
    let mut bytes = h.bytes();
    bytes.resize(h.vox_offset.max(352.0) as usize, 0);
    bytes.extend(data_bytes(h, data));
    write_bytes(path, &bytes);
}

fn write_bytes(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    if path.to_string_lossy().ends_with(".gz") {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        fs::write(path, e.finish().unwrap()).unwrap();
    } else {
        fs::write(path, bytes).unwrap();
    }
}

/// A volume in canonical RAS order: `data[r + nr * (a + na * s)]` = `f(r, a, s)`.
fn canonical(dims: [usize; 3], f: impl Fn(usize, usize, usize) -> f32) -> Vec<f32> {
    let mut v = Vec::with_capacity(dims.iter().product());
    for s in 0..dims[2] {
        for a in 0..dims[1] {
            for r in 0..dims[0] {
                v.push(f(r, a, s));
            }
        }
    }
    v
}

/// The RAS volume `canon` (dims, spacing per world axis) stored with voxel axis j running
/// along world axis `layout[j].0`, reversed when `layout[j].1`: the stored data, its
/// dims, its pixdim and the matching sform rows.
fn stored(
    canon: &[f32],
    dims: [usize; 3],
    spacing: [f32; 3],
    layout: [(usize, bool); 3],
) -> (Vec<f32>, [usize; 3], [f32; 3], [[f32; 4]; 3]) {
    let sd: [usize; 3] = std::array::from_fn(|j| dims[layout[j].0]);
    let sp: [f32; 3] = std::array::from_fn(|j| spacing[layout[j].0]);
    let mut out = Vec::with_capacity(canon.len());
    for i2 in 0..sd[2] {
        for i1 in 0..sd[1] {
            for i0 in 0..sd[0] {
                let mut w = [0usize; 3];
                for (j, &i) in [i0, i1, i2].iter().enumerate() {
                    let (axis, flip) = layout[j];
                    w[axis] = if flip { sd[j] - 1 - i } else { i };
                }
                out.push(canon[w[0] + dims[0] * (w[1] + dims[1] * w[2])]);
            }
        }
    }
    let mut rows = [[0f32; 4]; 3];
    for (j, &(axis, flip)) in layout.iter().enumerate() {
        rows[axis][j] = if flip { -sp[j] } else { sp[j] };
        // An arbitrary translation: orientation never depends on it.
        rows[axis][3] = -10.0 * (axis as f32 + 1.0);
    }
    (out, sd, sp, rows)
}

/// Writes the RAS volume `canon` to `path` in the given storage layout (see [`stored`]) with
/// a float32 sform file.
fn write_layout(
    path: &Path,
    canon: &[f32],
    dims: [usize; 3],
    spacing: [f32; 3],
    layout: [(usize, bool); 3],
) {
    let (data, sd, sp, rows) = stored(canon, dims, spacing, layout);
    let mut h = Header::new(&sd, sp, DT_FLOAT32);
    h.sform = Some(rows);
    write_nii(path, &h, &data);
}

const RAS: [(usize, bool); 3] = [(0, false), (1, false), (2, false)];
const LPS: [(usize, bool); 3] = [(0, true), (1, true), (2, false)];
/// A sagittal acquisition: voxel axes run anterior, inferior (S reversed), right.
const ASR: [(usize, bool); 3] = [(1, false), (2, true), (0, false)];

/// A head-like test volume: an ellipsoid of "tissue" (60 .. 100, varying smoothly so the
/// percentiles are well defined) filling most of the box, with a bright blob (200) in its
/// right-anterior-superior part. Dims 20 (R) x 24 (A) x 16 (S), 1 mm.
const HEAD: [usize; 3] = [20, 24, 16];
fn head(r: usize, a: usize, s: usize) -> f32 {
    let c = |i: usize, n: usize| (i as f32 + 0.5) / n as f32 * 2.0 - 1.0;
    let (x, y, z) = (c(r, HEAD[0]), c(a, HEAD[1]), c(s, HEAD[2]));
    if x * x + y * y + z * z * 0.3 > 0.95 {
        return 0.0;
    }
    if x > 0.3 && y > 0.3 && z > 0.2 && (x - 0.6).powi(2) + (y - 0.6).powi(2) < 0.1 {
        return 200.0;
    }
    60.0 + 20.0 * (x + y) + 10.0 * z
}

/// Where the bright pixels (> 200) of a slice lie: their count and mean column and row.
fn bright(img: &[u8], res: usize, level: u8) -> (usize, f64, f64) {
    let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
    for (i, &v) in img.iter().enumerate() {
        if v > level {
            n += 1;
            sx += (i % res) as f64;
            sy += (i / res) as f64;
        }
    }
    if n == 0 {
        (0, f64::NAN, f64::NAN)
    } else {
        (n, sx / n as f64, sy / n as f64)
    }
}

fn all_pixels(ds: &Dataset) -> Vec<u8> {
    ds.at_resolution(ds.resolution).to_vec()
}

fn skip_reason(ds: &Dataset, name: &str) -> String {
    ds.skipped
        .iter()
        .find(|(p, _)| p.file_name().unwrap().to_str().unwrap() == name)
        .map(|(_, why)| why.clone())
        .unwrap_or_else(|| panic!("{name} not skipped; skipped: {:?}", ds.skipped))
}

/// Opens a folder holding `good.nii` (the head) and the bad file written by `bad`, and
/// returns the reason `bad_name` was skipped; also checks the good one was still used.
fn bad_case(name: &str, bad_name: &str, bad: impl Fn(&Path)) -> String {
    let d = tmp(name);
    let canon = canonical(HEAD, head);
    write_layout(&d.join("good.nii"), &canon, HEAD, [1.0; 3], RAS);
    bad(&d.join(bad_name));
    let ds = open_nifti(&opts(&d, 16), SliceAxis::Axial).unwrap();
    assert!(ds.len > 0, "the good volume is still used");
    assert!(
        ds.description.starts_with("1 volume from"),
        "{}",
        ds.description
    );
    assert_eq!(ds.skipped.len(), 1, "{:?}", ds.skipped);
    let why = skip_reason(&ds, bad_name);
    // Alone, the bad file makes the whole set unusable, with its reason.
    fs::remove_file(d.join("good.nii")).unwrap();
    match open_nifti(&opts(&d, 16), SliceAxis::Axial) {
        Err(DataError::AllBad { skipped, first, .. }) => {
            assert_eq!(skipped, 1);
            assert!(first.contains(&why), "{first} vs {why}");
        }
        other => panic!("expected AllBad, got {other:?}"),
    }
    why
}

#[test]
fn slice_axis_parses_prints_and_serialises() {
    assert_eq!(SliceAxis::default(), SliceAxis::Axial);
    for (s, a) in [
        ("axial", SliceAxis::Axial),
        ("coronal", SliceAxis::Coronal),
        ("sagittal", SliceAxis::Sagittal),
    ] {
        assert_eq!(s.parse::<SliceAxis>().unwrap(), a);
        assert_eq!(s.to_uppercase().parse::<SliceAxis>().unwrap(), a);
        assert_eq!(a.to_string(), s);
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{s}\""));
        assert_eq!(
            serde_json::from_str::<SliceAxis>(&format!("\"{s}\"")).unwrap(),
            a
        );
    }
    let e = "transverse".parse::<SliceAxis>().unwrap_err();
    assert!(
        e.contains("transverse") && e.contains("axial, coronal or sagittal"),
        "{e}"
    );
    assert!(serde_json::from_str::<SliceAxis>("\"Axial\"").is_err());
}

#[test]
fn a_volume_opens_with_one_slice_per_plane_along_each_axis() {
    let d = tmp("axes");
    // Tissue everywhere, so that no slice is dropped: 100, except for ten darker voxels in
    // one corner that set the low clip level (10), so that all the rest maps to 255.
    let dims = [12, 20, 6];
    let canon = canonical(dims, |r, a, s| {
        if a == 0 && s == 0 && r < 10 {
            10.0
        } else {
            100.0
        }
    });
    let f = d.join("v.nii.gz");
    write_layout(&f, &canon, dims, [1.0; 3], RAS);
    for (axis, n, w, h) in [
        (SliceAxis::Axial, 6, 12, 20),
        (SliceAxis::Coronal, 20, 12, 6),
        (SliceAxis::Sagittal, 12, 20, 6),
    ] {
        let ds = open_nifti(&opts(&f, 32), axis).unwrap();
        assert_eq!((ds.len, ds.channels, ds.resolution), (n, 1, 32), "{axis}");
        assert_eq!((ds.source, ds.name.as_str()), (Source::Nifti, "nifti"));
        assert_eq!(
            ds.description,
            format!(
                "1 volume from {}, {n} of {n} {axis} slices kept (too little tissue in 0), at 32x32, grayscale",
                f.display()
            )
        );
        assert!(ds.skipped.is_empty() && ds.notices.is_empty());
        // The slice is w x h mm in a square field of view of max(w, h): the filled part is
        // centred, the rest is the 0 padding.
        let fov = w.max(h) as f64;
        let (fw, fh) = (
            (32.0 * w as f64 / fov).round() as usize,
            (32.0 * h as f64 / fov).round() as usize,
        );
        let img = ds.image_u8(n / 2);
        let filled = |x: usize, y: usize| img[y * 32 + x] > 0;
        let cols = (0..32).filter(|&x| filled(x, 16)).count();
        let rows = (0..32).filter(|&y| filled(16, y)).count();
        assert!(
            cols.abs_diff(fw) <= 1,
            "{axis}: {cols} filled columns, expected {fw}"
        );
        assert!(
            rows.abs_diff(fh) <= 1,
            "{axis}: {rows} filled rows, expected {fh}"
        );
    }
}

#[test]
fn slices_follow_the_documented_orientation() {
    // The blob is right, anterior and superior. Neurological convention, world axes drawn
    // increasing rightwards and upwards: axial has R to the right and A at the top, coronal R
    // to the right and S at the top, sagittal A to the right and S at the top.
    let d = tmp("orient");
    let canon = canonical(HEAD, head);
    let f = d.join("ras.nii");
    write_layout(&f, &canon, HEAD, [1.0; 3], RAS);
    for axis in SliceAxis::ALL {
        let ds = open_nifti(&opts(&f, 32), axis).unwrap();
        // The slice with the most blob, and where the blob sits in it.
        let (i, (n, x, y)) = (0..ds.len)
            .map(|i| (i, bright(ds.image_u8(i), 32, 200)))
            .max_by_key(|&(_, (n, _, _))| n)
            .unwrap();
        assert!(n > 4, "{axis}: the blob is visible ({n} pixels)");
        assert!(
            x > 18.0,
            "{axis}: blob column {x:.1} should be on the right"
        );
        assert!(y < 14.0, "{axis}: blob row {y:.1} should be at the top");
        // Slices go towards increasing R, A or S: the blob is in the later half.
        assert!(i >= ds.len / 2, "{axis}: blob in slice {i} of {}", ds.len);
    }
}

#[test]
fn any_storage_order_gives_the_canonical_slices() {
    let d = tmp("reorient");
    let canon = canonical(HEAD, head);
    let spacing = [1.0, 1.5, 2.0];
    let ras = d.join("ras.nii");
    write_layout(&ras, &canon, HEAD, spacing, RAS);
    for (name, layout) in [("lps.nii", LPS), ("asr.nii.gz", ASR)] {
        let f = d.join(name);
        write_layout(&f, &canon, HEAD, spacing, layout);
        for axis in SliceAxis::ALL {
            let want = open_nifti(&opts(&ras, 32), axis).unwrap();
            let got = open_nifti(&opts(&f, 32), axis).unwrap();
            assert_eq!(got.len, want.len, "{name} {axis}");
            assert!(
                all_pixels(&got) == all_pixels(&want),
                "{name} {axis}: the slices differ from the RAS file's"
            );
        }
    }
    // The same LPS storage with an identity sform is read as RAS, and then differs: the
    // affine is what decides.
    let (data, sd, sp, _) = stored(&canon, HEAD, spacing, LPS);
    let mut h = Header::new(&sd, sp, DT_FLOAT32);
    h.sform = Some([
        [sp[0], 0.0, 0.0, 0.0],
        [0.0, sp[1], 0.0, 0.0],
        [0.0, 0.0, sp[2], 0.0],
    ]);
    let wrong = d.join("lps-as-ras.nii");
    write_nii(&wrong, &h, &data);
    let a = open_nifti(&opts(&wrong, 32), SliceAxis::Axial).unwrap();
    let b = open_nifti(&opts(&ras, 32), SliceAxis::Axial).unwrap();
    assert!(all_pixels(&a) != all_pixels(&b));
}

#[test]
fn the_qform_is_used_without_an_sform_and_the_sform_wins_over_it() {
    let d = tmp("qform");
    let canon = canonical(HEAD, head);
    let ras = d.join("ras.nii");
    write_layout(&ras, &canon, HEAD, [1.0; 3], RAS);
    let want = all_pixels(&open_nifti(&opts(&ras, 16), SliceAxis::Coronal).unwrap());
    // LPS storage; the qform quaternion (b, c, d) = (0, 0, 1) is a half turn about S, which
    // maps voxel i, j to -x, -y: LPS.
    let (data, sd, sp, rows) = stored(&canon, HEAD, [1.0; 3], LPS);
    let mut h = Header::new(&sd, sp, DT_FLOAT32);
    h.qform = Some((0.0, 0.0, 1.0, 1.0));
    let q = d.join("q.nii");
    write_nii(&q, &h, &data);
    let got = open_nifti(&opts(&q, 16), SliceAxis::Coronal).unwrap();
    assert!(all_pixels(&got) == want, "qform orientation");
    // qfac = -1 reverses the third voxel axis: store S reversed too.
    let (data, sd, sp, _) = stored(&canon, HEAD, [1.0; 3], [(0, true), (1, true), (2, true)]);
    let mut h = Header::new(&sd, sp, DT_FLOAT32);
    h.qform = Some((0.0, 0.0, 1.0, -1.0));
    let q2 = d.join("q2.nii");
    write_nii(&q2, &h, &data);
    let got = open_nifti(&opts(&q2, 16), SliceAxis::Coronal).unwrap();
    assert!(all_pixels(&got) == want, "qfac -1");
    // A wrong (identity) qform beside the right sform: the sform is used.
    let (data, sd, sp, _) = stored(&canon, HEAD, [1.0; 3], LPS);
    let mut h = Header::new(&sd, sp, DT_FLOAT32);
    h.sform = Some(rows);
    h.qform = Some((0.0, 0.0, 0.0, 1.0));
    let s = d.join("s.nii");
    write_nii(&s, &h, &data);
    let got = open_nifti(&opts(&s, 16), SliceAxis::Coronal).unwrap();
    assert!(all_pixels(&got) == want, "sform over qform");
    // Neither: the pixdim diagonal, i.e. the storage order is taken as RAS.
    let mut h = Header::new(&HEAD, [1.0; 3], DT_FLOAT32);
    h.sform = None;
    let n = d.join("none.nii");
    write_nii(&n, &h, &canon);
    let got = open_nifti(&opts(&n, 16), SliceAxis::Coronal).unwrap();
    assert!(all_pixels(&got) == want, "no transform");
}

#[test]
fn big_endian_int16_reads_like_little_endian_float() {
    let d = tmp("endian");
    // Even integers, so that storing them halved as int16 is exact.
    let canon = canonical(HEAD, |r, a, s| (head(r, a, s) / 2.0).round() * 2.0);
    let f = d.join("le.nii");
    write_layout(&f, &canon, HEAD, [1.0; 3], RAS);
    let mut h = Header::new(&HEAD, [1.0; 3], DT_INT16);
    h.big_endian = true;
    h.sform = Some([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ]);
    // Stored as value / 2 with scl_slope 2: the slope must be applied.
    h.scl = (2.0, 0.0);
    let halves: Vec<f32> = canon.iter().map(|v| v / 2.0).collect();
    let b = d.join("be.nii.gz");
    write_nii(&b, &h, &halves);
    let want = open_nifti(&opts(&f, 16), SliceAxis::Axial).unwrap();
    let got = open_nifti(&opts(&b, 16), SliceAxis::Axial).unwrap();
    assert_eq!(got.len, want.len);
    assert!(all_pixels(&got) == all_pixels(&want));
}

#[test]
fn a_sphere_in_millimetres_stays_round_with_anisotropic_voxels() {
    // 32^3 voxels of 1 x 2 x 3 mm (32 x 64 x 96 mm), a sphere of radius 12 mm in the middle.
    let d = tmp("aspect");
    let (dims, sp) = ([32usize; 3], [1.0f32, 2.0, 3.0]);
    let canon = canonical(dims, |r, a, s| {
        let mm = |i: usize, k: usize| (i as f32 + 0.5 - 16.0) * sp[k];
        let (x, y, z) = (mm(r, 0), mm(a, 1), mm(s, 2));
        if x * x + y * y + z * z <= 144.0 {
            100.0
        } else {
            0.0
        }
    });
    let f = d.join("sphere.nii");
    write_layout(&f, &canon, dims, sp, RAS);
    // Field of view of each plane: the larger side, 64 mm for axial, 96 mm for the others.
    for (axis, fov) in [
        (SliceAxis::Axial, 64.0),
        (SliceAxis::Coronal, 96.0),
        (SliceAxis::Sagittal, 96.0),
    ] {
        let ds = open_nifti(&opts(&f, 64), axis).unwrap();
        // The widest cross-section.
        let best = (0..ds.len)
            .max_by_key(|&i| bright(ds.image_u8(i), 64, 127).0)
            .unwrap();
        let img = ds.image_u8(best);
        let on = |x: usize, y: usize| img[y * 64 + x] > 127;
        let width = (0..64)
            .map(|y| (0..64).filter(|&x| on(x, y)).count())
            .max()
            .unwrap();
        let height = (0..64)
            .map(|x| (0..64).filter(|&y| on(x, y)).count())
            .max()
            .unwrap();
        let want = 24.0 * 64.0 / fov;
        assert!(
            width.abs_diff(height) <= 1,
            "{axis}: the disc is {width} x {height} pixels"
        );
        assert!(
            (width as f64 - want).abs() <= 2.0,
            "{axis}: diameter {width}, expected about {want:.1}"
        );
        // Centred in the square.
        let (_, cx, cy) = bright(img, 64, 127);
        assert!(
            (cx - 31.5).abs() < 1.0 && (cy - 31.5).abs() < 1.0,
            "{axis}: {cx} {cy}"
        );
    }
}

#[test]
fn intensities_are_clipped_to_robust_percentiles() {
    // Tissue between 50 and 150 and one voxel of 1e6 (and one of -1e6): without clipping
    // the tissue would all land near one end of 0..=255.
    let d = tmp("clip");
    let dims = [16, 16, 16];
    let tissue = |r: usize, a: usize, _s: usize| 50.0 + (r * 16 + a) as f32 * 100.0 / 255.0;
    let canon = canonical(dims, |r, a, s| {
        if (r, a, s) == (8, 8, 8) {
            1e6
        } else if (r, a, s) == (3, 3, 3) {
            -1e6
        } else {
            tissue(r, a, s)
        }
    });
    let f = d.join("outlier.nii");
    write_layout(&f, &canon, dims, [1.0; 3], RAS);
    let ds = open_nifti(&opts(&f, 16), SliceAxis::Axial).unwrap();
    assert_eq!(ds.len, 16);
    let img = ds.image_u8(0);
    // Slice 0 has neither outlier: its values span the tissue range, which maps to about
    // 0..=255 (the percentiles clip a little at each end).
    let (min, max) = (*img.iter().min().unwrap(), *img.iter().max().unwrap());
    assert!(min <= 5 && max >= 250, "tissue spans {min}..={max}");
    // Monotone along the ramp.
    assert!(img[0] < img[8 * 16 + 8] && img[8 * 16 + 8] < img[255]);
    // The slice with the huge voxel (row 15 - 8 from the top, column 8): that voxel
    // saturates, the rest are unchanged; the same for the hugely negative one.
    for (s, v) in [(8, 255), (3, 0)] {
        let at = (15 - s) * 16 + s;
        let slice = ds.image_u8(s);
        assert_eq!(slice[at], v);
        for i in (0..256).filter(|&i| i != at) {
            assert_eq!(slice[i], img[i], "slice {s} pixel {i}");
        }
    }
}

#[test]
fn slices_with_too_little_tissue_are_dropped_and_counted() {
    // 20 axial slices of 20 x 20: 5 empty, 3 with a 2x2 speck (1%), 8 full, 2 with 6x6 (9%),
    // 2 with 4x4 (4%): 10 kept (the full and the 9% ones).
    let d = tmp("tissue");
    let dims = [20, 20, 20];
    let square = |r: usize, a: usize, k: usize| r < k && a < k;
    let canon = canonical(dims, |r, a, s| {
        let inside = match s {
            0..=4 => false,
            5..=7 => square(r, a, 2),
            8..=15 => true,
            16..=17 => square(r, a, 6),
            _ => square(r, a, 4),
        };
        if inside {
            80.0 + (r + a) as f32
        } else {
            0.0
        }
    });
    let f = d.join("t.nii.gz");
    write_layout(&f, &canon, dims, [1.0; 3], RAS);
    let ds = open_nifti(&opts(&f, 32), SliceAxis::Axial).unwrap();
    assert_eq!(ds.len, 10);
    assert!(
        ds.description
            .contains("10 of 20 axial slices kept (too little tissue in 10)"),
        "{}",
        ds.description
    );
    // The last kept slices are the 6x6 ones: tissue in the top-left... of RAS, i.e. low R
    // (image left) and low A (image bottom).
    let (n, x, y) = bright(ds.image_u8(9), 32, 0);
    assert!(n > 0 && x < 16.0 && y > 16.0, "{n} {x} {y}");
    // A volume with tissue nowhere near 5% of any slice has nothing to give.
    let sparse = canonical(dims, |r, a, _| if square(r, a, 3) { 90.0 } else { 0.0 });
    let f2 = d.join("sparse.nii");
    write_layout(&f2, &sparse, dims, [1.0; 3], RAS);
    match open_nifti(&opts(&f2, 32), SliceAxis::Axial) {
        Err(e @ DataError::Empty { .. }) => {
            assert!(e.to_string().contains("enough tissue"), "{e}")
        }
        other => panic!("expected Empty, got {other:?}"),
    }
}

#[test]
fn limit_keeps_the_first_slices_across_volumes() {
    let d = tmp("limit");
    let dims = [8, 8, 6];
    let a = canonical(dims, |r, a, s| 40.0 + (r + a + s) as f32);
    let b = canonical(dims, |r, a, s| 40.0 + (r * a + s) as f32);
    write_layout(&d.join("a.nii"), &a, dims, [1.0; 3], RAS);
    write_layout(&d.join("b.nii"), &b, dims, [1.0; 3], RAS);
    let all = open_nifti(&opts(&d, 8), SliceAxis::Axial).unwrap();
    assert_eq!(all.len, 12);
    assert!(all.description.starts_with("2 volumes from"));
    for limit in [1, 6, 9, 12, 50] {
        let mut o = opts(&d, 8);
        o.limit = Some(limit);
        let ds = open_nifti(&o, SliceAxis::Axial).unwrap();
        let n = limit.min(12);
        assert_eq!(ds.len, n);
        assert!(ds.at_resolution(8)[..] == all.at_resolution(8)[..n * 64]);
        assert_eq!(
            ds.description
                .contains(&format!("the first {n} used (limit)")),
            limit < 12,
            "{}",
            ds.description
        );
    }
    let mut o = opts(&d, 8);
    o.limit = Some(0);
    assert!(matches!(
        open_nifti(&o, SliceAxis::Axial),
        Err(DataError::Format { .. })
    ));
}

#[test]
fn a_folder_is_searched_recursively_in_path_order() {
    let d = tmp("folder");
    let dims = [8, 8, 4];
    let a = canonical(dims, |r, a, s| 40.0 + (r + a + s) as f32);
    let b = canonical(dims, |r, a, s| 40.0 + ((7 - r) * a + s) as f32);
    write_layout(&d.join("z/b.nii.gz"), &b, dims, [1.0; 3], RAS);
    write_layout(&d.join("a.nii"), &a, dims, [1.0; 3], RAS);
    write_bytes(&d.join("z/deeper/c.nii"), b"not a volume at all\n");
    // Hidden entries and other files are not looked at, nor counted.
    write_layout(&d.join(".hidden/h.nii"), &a, dims, [1.0; 3], RAS);
    write_layout(&d.join(".h.nii"), &a, dims, [1.0; 3], RAS);
    write_bytes(&d.join("notes.txt"), b"hello");
    write_bytes(&d.join("z/scan.json"), b"{}");
    let ds = open_nifti(&opts(&d, 8), SliceAxis::Axial).unwrap();
    assert_eq!(ds.len, 8);
    assert!(ds
        .description
        .starts_with(&format!("2 volumes from {},", d.display())));
    assert_eq!(ds.skipped.len(), 1);
    assert!(skip_reason(&ds, "c.nii").contains("not a NIfTI file"));
    // a.nii's slices, then z/b.nii.gz's.
    let only_a = open_nifti(&opts(&d.join("a.nii"), 8), SliceAxis::Axial).unwrap();
    let only_b = open_nifti(&opts(&d.join("z/b.nii.gz"), 8), SliceAxis::Axial).unwrap();
    assert!(all_pixels(&ds) == [all_pixels(&only_a), all_pixels(&only_b)].concat());
    assert!(all_pixels(&only_a) != all_pixels(&only_b));
}

#[test]
fn missing_and_empty_paths_are_clear_errors() {
    let o = OpenOptions {
        data: None,
        resolution: 16,
        ..OpenOptions::default()
    };
    match open_nifti(&o, SliceAxis::Axial) {
        Err(e @ DataError::NotFound { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("train nifti") && m.contains("--data PATH"),
                "{m}"
            );
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let d = tmp("empty");
    assert!(matches!(
        open_nifti(&opts(&d.join("nope.nii"), 16), SliceAxis::Axial),
        Err(DataError::NotFound { .. })
    ));
    write_bytes(&d.join("readme.txt"), b"no volumes here");
    assert!(matches!(
        open_nifti(&opts(&d, 16), SliceAxis::Axial),
        Err(DataError::Empty { .. })
    ));
    assert!(matches!(
        open_nifti(&opts(&d.join("readme.txt"), 16), SliceAxis::Axial),
        Err(DataError::Format { .. })
    ));
    let canon = canonical(HEAD, head);
    write_layout(&d.join("v.nii"), &canon, HEAD, [1.0; 3], RAS);
    let mut o = opts(&d, 16);
    o.channels = Some(3);
    assert!(matches!(
        open_nifti(&o, SliceAxis::Axial),
        Err(DataError::Format { .. })
    ));
    assert!(matches!(
        open_nifti(&opts(&d, 24), SliceAxis::Axial),
        Err(DataError::Format { .. })
    ));
}

#[test]
fn a_truncated_gz_is_skipped_as_truncated() {
    let why = bad_case("trunc-gz", "cut.nii.gz", |p| {
        let canon = canonical(HEAD, head);
        write_layout(p, &canon, HEAD, [1.0; 3], RAS);
        let bytes = fs::read(p).unwrap();
        fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
    });
    assert!(why.contains("truncated"), "{why}");
}

#[test]
fn a_truncated_nii_is_skipped_as_truncated() {
    for (name, keep) in [("short-data.nii", 352 + 1000), ("short-header.nii", 200)] {
        let why = bad_case(name, name, |p| {
            let canon = canonical(HEAD, head);
            write_layout(p, &canon, HEAD, [1.0; 3], RAS);
            let bytes = fs::read(p).unwrap();
            fs::write(p, &bytes[..keep]).unwrap();
        });
        assert!(why.contains("truncated"), "{name}: {why}");
    }
}

#[test]
fn a_nii_that_is_not_nifti_is_skipped() {
    for (name, bytes) in [
        ("text.nii", b"hello, I am not an image\n".to_vec()),
        (
            "noise.nii",
            (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("png.nii.gz", {
            let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
            v.resize(1000, 0);
            v
        }),
    ] {
        let why = bad_case(name, name, |p| write_bytes(p, &bytes));
        assert!(why.contains("not a NIfTI file"), "{name}: {why}");
    }
}

#[test]
fn two_dimensional_data_is_skipped_as_not_3d() {
    for (name, dims) in [
        ("flat.nii", vec![16, 16]),
        ("one-slice.nii", vec![16, 16, 1]),
    ] {
        let why = bad_case(name, name, |p| {
            let h = Header::new(&dims, [1.0; 3], DT_FLOAT32);
            write_nii(p, &h, &vec![100.0; 256]);
        });
        assert!(why.contains("must be 3-D"), "{name}: {why}");
    }
}

#[test]
fn a_zero_sized_dimension_is_skipped() {
    let why = bad_case("zero", "zero.nii", |p| {
        let h = Header::new(&[16, 0, 16], [1.0; 3], DT_FLOAT32);
        write_nii(p, &h, &[]);
    });
    assert!(why.contains("zero-sized dimension"), "{why}");
}

#[test]
fn four_d_data_uses_the_first_volume_with_a_notice() {
    let d = tmp("4d");
    let canon = canonical(HEAD, head);
    let three = d.join("three.nii");
    write_layout(&three, &canon, HEAD, [1.0; 3], RAS);
    // Three volumes in time: the head, then two others that would change the slices.
    let mut data = canon.clone();
    data.extend(canon.iter().map(|v| 255.0 - v));
    data.extend(canon.iter().map(|_| 1000.0));
    let mut h = Header::new(&[HEAD[0], HEAD[1], HEAD[2], 3], [1.0; 3], DT_FLOAT32);
    h.sform = Some([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ]);
    let four = d.join("four.nii.gz");
    write_nii(&four, &h, &data);
    let want = open_nifti(&opts(&three, 16), SliceAxis::Sagittal).unwrap();
    let got = open_nifti(&opts(&four, 16), SliceAxis::Sagittal).unwrap();
    assert!(all_pixels(&got) == all_pixels(&want));
    assert!(
        got.description.contains("1 4-D volume: first volume used"),
        "{}",
        got.description
    );
    assert_eq!(got.notices.len(), 1);
    assert!(
        got.notices[0].contains("four.nii.gz") && got.notices[0].contains("first of its 3"),
        "{:?}",
        got.notices
    );
    assert!(want.notices.is_empty());
}

#[test]
fn nan_and_inf_voxels_become_zero_and_are_counted() {
    let d = tmp("nan");
    let canon = canonical(HEAD, head);
    let bad_at = [5usize, 77, 1000, 2000, 3001, 4500, 7000];
    let bad_vals = [
        f32::NAN,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1.0 / 0.0,
        f32::NAN,
    ];
    let mut zeroed = canon.clone();
    let mut poisoned = canon.clone();
    for (&i, &v) in bad_at.iter().zip(&bad_vals) {
        zeroed[i] = 0.0;
        poisoned[i] = v;
    }
    let z = d.join("zeroed.nii");
    let p = d.join("poisoned.nii");
    write_layout(&z, &zeroed, HEAD, [1.0; 3], RAS);
    write_layout(&p, &poisoned, HEAD, [1.0; 3], RAS);
    let want = open_nifti(&opts(&z, 16), SliceAxis::Axial).unwrap();
    let got = open_nifti(&opts(&p, 16), SliceAxis::Axial).unwrap();
    assert!(all_pixels(&got) == all_pixels(&want));
    assert!(
        got.description.ends_with(", 7 NaN/Inf voxels set to 0"),
        "{}",
        got.description
    );
    assert!(!want.description.contains("NaN"));
    assert!(got
        .notices
        .iter()
        .any(|n| n.contains("poisoned.nii: 7 NaN/Inf")));
}

#[test]
fn unusual_headers_are_read_or_skipped_with_a_reason() {
    let d = tmp("headers");
    let canon = canonical(HEAD, head);
    let ras = d.join("ras.nii");
    write_layout(&ras, &canon, HEAD, [1.0; 3], RAS);
    let want = all_pixels(&open_nifti(&opts(&ras, 16), SliceAxis::Axial).unwrap());
    // vox_offset 0 (as in the MNI template) means 352; a NaN scl_slope means unscaled; a
    // larger vox_offset is honoured.
    for (name, off, slope) in [("off0.nii", 0.0, f32::NAN), ("off512.nii.gz", 512.0, 0.0)] {
        let mut h = Header::new(&HEAD, [1.0; 3], DT_FLOAT32);
        h.vox_offset = off;
        h.scl = (slope, f32::NAN);
        let f = d.join(name);
        write_nii(&f, &h, &canon);
        let got = open_nifti(&opts(&f, 16), SliceAxis::Axial).unwrap();
        assert!(all_pixels(&got) == want, "{name}");
    }
    // Complex data, a NIfTI-2 header, an all-zero volume: skipped with a reason.
    let mut h = Header::new(&HEAD, [1.0; 3], 32);
    h.vox_offset = 352.0;
    let mut bytes = h.bytes();
    bytes.extend(vec![0u8; canon.len() * 8]);
    write_bytes(&d.join("complex.nii"), &bytes);
    let mut two = vec![0u8; 1000];
    two[..4].copy_from_slice(&540i32.to_le_bytes());
    write_bytes(&d.join("two.nii"), &two);
    let h = Header::new(&HEAD, [1.0; 3], DT_UINT8);
    write_nii(&d.join("zeros.nii"), &h, &vec![0.0; canon.len()]);
    let ds = open_nifti(&opts(&d, 16), SliceAxis::Axial).unwrap();
    assert!(skip_reason(&ds, "complex.nii").contains("not supported"));
    assert!(skip_reason(&ds, "two.nii").contains("NIfTI-2"));
    assert!(skip_reason(&ds, "zeros.nii").contains("zero"));
    assert_eq!(ds.skipped.len(), 3);
}

#[test]
fn damaged_headers_never_panic() {
    let d = tmp("fuzz");
    let canon = canonical([6, 6, 6], |r, a, s| 50.0 + (r * a + s) as f32);
    let (data, sd, sp, rows) = stored(&canon, [6, 6, 6], [1.0; 3], RAS);
    let mut h = Header::new(&sd, sp, DT_FLOAT32);
    h.sform = Some(rows);
    let mut good = h.bytes();
    good.extend(data_bytes(&h, &data));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..300 {
        let mut b = good.clone();
        // Overwrite one to four header bytes with random values, mostly in the fields that
        // matter (dims, datatype, pixdim, vox_offset, transforms).
        for _ in 0..1 + next() % 4 {
            let at = if next() % 4 == 0 {
                (next() % 352) as usize
            } else {
                [
                    40, 41, 42, 43, 44, 46, 70, 71, 72, 80, 108, 109, 111, 112, 252, 254, 256, 280,
                    296,
                ][(next() % 19) as usize]
            };
            b[at] = next() as u8;
        }
        if round % 7 == 0 {
            b.truncate((next() % b.len() as u64) as usize);
        }
        let f = d.join(format!("f{round}.nii"));
        write_bytes(&f, &b);
        // Either outcome is fine; a panic is not.
        let _ = open_nifti(&opts(&f, 8), SliceAxis::ALL[round % 3]);
    }
}
