//! The dataset module: phantom, box downscaling, OASIS/MNIST/folder loading and its error
//! handling, and the deterministic batch loader. Files are written to small temporary folders.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sgw::data::{
    self, batch_at, batch_indices, locate_oasis, mirror_flag, open_folder, open_mnist, open_oasis,
    phantom, DataError, Dataset, Loader, OpenOptions, Source,
};

/// Environment variables are process-wide: the tests that read or set them take this lock.
static ENV_LOCK: Mutex<()> = Mutex::new(());

/// A fresh, empty temporary folder for one test.
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sgw-data-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn gray_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> u8) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)]))
        .save(path)
        .unwrap();
}

fn rgb_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)))
        .save(path)
        .unwrap();
}

fn opts(data: &Path, res: usize) -> OpenOptions {
    OpenOptions {
        data: Some(data.to_path_buf()),
        resolution: res,
        channels: None,
        limit: None,
        phantom_count: 4,
    }
}

/// An OASIS tree under `root` (the keras_png_slices_data folder): 3 train, 2 validate and 1
/// test slice of 16x16, each a constant value naming it, and mask folders of value 250.
fn oasis_tree(root: &Path) {
    let split = |s: &str| root.join(format!("keras_png_slices_{s}"));
    for (s, vals) in [
        ("train", &[10u8, 20, 30][..]),
        ("validate", &[40, 50]),
        ("test", &[60]),
    ] {
        for (i, &v) in vals.iter().enumerate() {
            gray_png(
                &split(s).join(format!("case_{i:03}_slice_0.nii.png")),
                16,
                16,
                |_, _| v,
            );
        }
        gray_png(
            &root
                .join(format!("keras_png_slices_seg_{s}"))
                .join("seg_000_slice_0.nii.png"),
            16,
            16,
            |_, _| 250,
        );
    }
}

fn values(ds: &Dataset) -> Vec<u8> {
    (0..ds.len).map(|i| ds.image_u8(i)[0]).collect()
}

// ---------------------------------------------------------------------------------------
// Phantom

#[test]
fn phantom_is_deterministic_and_varies() {
    let a = phantom(4, 64, 7);
    let b = phantom(4, 64, 7);
    assert_eq!(a.source, Source::Phantom);
    assert_eq!((a.len, a.channels, a.resolution), (4, 1, 64));
    for i in 0..4 {
        assert_eq!(
            a.image_u8(i),
            b.image_u8(i),
            "image {i} differs between runs"
        );
    }
    for i in 1..4 {
        assert_ne!(a.image_u8(0), a.image_u8(i), "images 0 and {i} are equal");
    }
    // Image i does not depend on how many are made; another seed gives other images.
    assert_eq!(phantom(2, 64, 7).image_u8(1), a.image_u8(1));
    assert_ne!(phantom(1, 64, 8).image_u8(0), a.image_u8(0));
}

#[test]
fn phantom_looks_like_a_brain_slice() {
    let res = 128;
    let ds = phantom(8, res, 3);
    for i in 0..ds.len {
        let img = ds.image_u8(i);
        let at = |x: usize, y: usize| img[y * res + x] as f64;
        // Dark corners.
        let mut corner = 0.0;
        for (x0, y0) in [(0, 0), (res - 8, 0), (0, res - 8), (res - 8, res - 8)] {
            for y in y0..y0 + 8 {
                for x in x0..x0 + 8 {
                    corner += at(x, y);
                }
            }
        }
        assert!(corner / 256.0 < 3.0, "image {i}: corners are not dark");
        // The skull ring: along the middle row from the left, the first clearly bright run
        // (the skull) is followed by a darker gap (CSF) before the brain.
        let row: Vec<f64> = (0..res).map(|x| at(x, res / 2)).collect();
        let start = row
            .iter()
            .position(|&v| v > 60.0)
            .expect("no head on the middle row");
        assert!(start > 4, "image {i}: head touches the border");
        let skull = row[start..start + 8].iter().cloned().fold(0.0, f64::max);
        let gap = row[start..start + 10].iter().cloned().fold(255.0, f64::min);
        let brain: f64 = row[start + 12..start + 30].iter().sum::<f64>() / 18.0;
        assert!(skull > 130.0, "image {i}: skull ring not bright ({skull})");
        assert!(
            gap < skull - 50.0,
            "image {i}: no dark CSF gap inside the skull"
        );
        assert!(brain > gap + 30.0, "image {i}: brain not brighter than CSF");
        // Around the centre: tissue with dark ventricles, so a wide spread of values.
        let c = res / 2;
        let centre: Vec<f64> = (c - 16..c + 16)
            .flat_map(|y| (c - 16..c + 16).map(move |x| (x, y)))
            .map(|(x, y)| at(x, y))
            .collect();
        let mean = centre.iter().sum::<f64>() / centre.len() as f64;
        let var = centre.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / centre.len() as f64;
        let min = centre.iter().cloned().fold(255.0, f64::min);
        let max = centre.iter().cloned().fold(0.0, f64::max);
        assert!(var > 400.0, "image {i}: centre is flat (variance {var})");
        assert!(min < 50.0, "image {i}: no dark ventricle near the centre");
        assert!(
            max > 140.0,
            "image {i}: no bright white matter near the centre"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Downscaling and statistics

#[test]
fn at_resolution_is_the_mean_of_blocks_and_cached() {
    #[rustfmt::skip]
    let a: Vec<u8> = vec![
        0, 4, 10, 20,
        8, 4, 30, 40,
        255, 255, 1, 2,
        255, 255, 3, 4,
    ];
    let b: Vec<u8> = (0..16).map(|v| v * 16).collect();
    let ds = Dataset::from_u8("t", Source::Folder, 1, 4, [a, b].concat());
    let half = ds.at_resolution(2);
    // Block means: 16/4, 100/4, 1020/4, 10/4 = 2.5 -> 3 (half up); image b's blocks are
    // (0+16+64+80)/4 = 40, 72, 168, 200.
    assert_eq!(*half, vec![4, 25, 255, 3, 40, 72, 168, 200]);
    let one = ds.at_resolution(1);
    // 1146 / 16 = 71.625 -> 72; (0 + ... + 240) / 16 = 120.
    assert_eq!(*one, vec![72, 120]);
    assert!(Arc::ptr_eq(&half, &ds.at_resolution(2)), "not cached");
    assert!(Arc::ptr_eq(&ds.at_resolution(4), &ds.at_resolution(4)));
    assert_eq!(&ds.at_resolution(4)[16..], ds.image_u8(1));

    // Three channels: each plane on its own.
    let rgb: Vec<u8> = (0..3u8).flat_map(|c| [c, c + 1, c + 2, c + 3]).collect();
    let ds = Dataset::from_u8("t", Source::Folder, 3, 2, rgb);
    assert_eq!(*ds.at_resolution(1), vec![2, 3, 4]); // 1.5 -> 2, 2.5 -> 3, 3.5 -> 4
}

#[test]
#[should_panic(expected = "not available")]
fn at_resolution_above_native_panics() {
    let ds = Dataset::from_u8("t", Source::Folder, 1, 2, vec![0; 4]);
    ds.at_resolution(4);
}

#[test]
fn pixel_stats_in_unit_range() {
    let ds = Dataset::from_u8("t", Source::Folder, 1, 2, vec![0, 0, 255, 255]);
    let (m, v) = ds.pixel_stats(2);
    assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-12, "{m} {v}");
    // At 1x1 the image is one pixel of 128 (127.5 rounded up).
    let (m, v) = ds.pixel_stats(1);
    assert!((m - (128.0 / 127.5 - 1.0)).abs() < 1e-12 && v.abs() < 1e-12);
}

// ---------------------------------------------------------------------------------------
// OASIS

#[test]
fn oasis_layout_found_from_root_parent_and_deeper() {
    let t = tmp("oasis-layout");
    let root = t.join("data").join("oasis").join("keras_png_slices_data");
    oasis_tree(&root);
    for given in [root.clone(), root.parent().unwrap().into(), t.join("data")] {
        assert_eq!(
            locate_oasis(Some(&given)),
            Some(root.clone()),
            "from {given:?}"
        );
        let ds = open_oasis(&opts(&given, 16)).unwrap();
        assert_eq!(ds.source, Source::Oasis);
        assert_eq!((ds.len, ds.channels, ds.resolution), (6, 1, 16));
        // Sorted path order: test, train, validate; the 250-valued masks are not read.
        assert_eq!(values(&ds), vec![60, 10, 20, 30, 40, 50]);
        assert!(ds.description.contains("3+2+1"), "{}", ds.description);
        assert!(ds.skipped.is_empty() && ds.resized == 0 && ds.converted == 0);
    }
    // A limit keeps the first slices in path order.
    let mut o = opts(&root, 16);
    o.limit = Some(2);
    assert_eq!(values(&open_oasis(&o).unwrap()), vec![60, 10]);
    // One split folder on its own.
    let ds = open_oasis(&opts(&root.join("keras_png_slices_validate"), 16)).unwrap();
    assert_eq!(values(&ds), vec![40, 50]);
    // A mask folder is refused.
    let e = open_oasis(&opts(&root.join("keras_png_slices_seg_train"), 16)).unwrap_err();
    assert!(matches!(e, DataError::Format { .. }), "{e}");
    // Downscaled at load: 16x16 slices at 8x8.
    let ds = open_oasis(&opts(&root, 8)).unwrap();
    assert_eq!((ds.resolution, ds.image_u8(0).len()), (8, 64));
    let _ = fs::remove_dir_all(&t);
}

#[test]
fn oasis_found_through_environment_and_phantom_fallback() {
    let _g = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let t = tmp("oasis-env");
    let root = t.join("keras_png_slices_data");
    oasis_tree(&root);
    let clear = || {
        for v in data::OASIS_ENV {
            std::env::remove_var(v);
        }
    };
    let none = OpenOptions {
        data: None,
        resolution: 16,
        channels: None,
        limit: None,
        phantom_count: 3,
    };
    for var in data::OASIS_ENV {
        clear();
        std::env::set_var(var, &t);
        assert_eq!(locate_oasis(None), Some(root.clone()), "through {var}");
        let ds = open_oasis(&none).unwrap();
        assert_eq!((ds.source, ds.len), (Source::Oasis, 6), "through {var}");
    }
    // Pointing at nothing: the phantom, with the notice naming where it looked (unless a
    // real OASIS copy sits in ./data).
    clear();
    let missing = t.join("nowhere");
    std::env::set_var("SGW_OASIS_DIR", &missing);
    if locate_oasis(None).is_none() {
        let ds = open_oasis(&none).unwrap();
        assert_eq!((ds.source, ds.len, ds.resolution), (Source::Phantom, 3, 16));
        assert!(ds.description.starts_with("no OASIS data found"));
        assert!(ds.description.contains(&missing.display().to_string()));
        assert!(ds.description.contains("SGW_OASIS_DIR"));
    }
    clear();
    let _ = fs::remove_dir_all(&t);
}

#[test]
fn oasis_missing_or_empty_folder_is_an_error() {
    let t = tmp("oasis-missing");
    let missing = t.join("no_such_dir");
    let e = open_oasis(&opts(&missing, 16)).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
    assert!(
        e.to_string().contains(&missing.display().to_string()),
        "{e}"
    );

    let empty = t.join("empty");
    fs::create_dir_all(&empty).unwrap();
    let e = open_oasis(&opts(&empty, 16)).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
    assert!(e.to_string().contains("keras_png_slices_train"), "{e}");

    // Split folders without slices.
    let root = t.join("keras_png_slices_data");
    fs::create_dir_all(root.join("keras_png_slices_train")).unwrap();
    let e = open_oasis(&opts(&root, 16)).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
    let _ = fs::remove_dir_all(&t);
}

#[test]
fn oasis_bad_files_are_skipped_and_named() {
    let t = tmp("oasis-bad");
    let root = t.join("keras_png_slices_data");
    oasis_tree(&root);
    let train = root.join("keras_png_slices_train");
    fs::write(train.join("notes.txt"), "not an image").unwrap();
    fs::write(train.join(".DS_Store"), "hidden, ignored").unwrap();
    // A valid PNG cut in half.
    let full = train.join("full.png");
    gray_png(&full, 64, 64, |x, y| ((x * 37 + y * 101) % 256) as u8);
    let bytes = fs::read(&full).unwrap();
    fs::remove_file(&full).unwrap();
    let cut = train.join("case_900_truncated.nii.png");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    // Random bytes under a .png name.
    let junk = train.join("case_901_junk.nii.png");
    let mut s = 12345u64;
    let random: Vec<u8> = (0..500)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 56) as u8
        })
        .collect();
    fs::write(&junk, random).unwrap();

    let ds = open_oasis(&opts(&root, 16)).unwrap();
    assert_eq!(ds.len, 6);
    assert_eq!(values(&ds), vec![60, 10, 20, 30, 40, 50]);
    let names: Vec<PathBuf> = ds.skipped.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(
        names,
        vec![cut.clone(), junk.clone(), train.join("notes.txt")]
    );
    assert!(ds.skipped.iter().all(|(_, why)| !why.is_empty()));
    assert!(ds.skipped[0].1.contains("truncated"), "{}", ds.skipped[0].1);
    let summary = ds.skipped_summary().unwrap();
    assert!(
        summary.starts_with(&format!("skipped 3 files (first: {}: ", cut.display())),
        "{summary}"
    );

    // All bad: an error naming the first bad file.
    let bad = t.join("bad").join("keras_png_slices_train");
    fs::create_dir_all(&bad).unwrap();
    fs::copy(&cut, bad.join("a.png")).unwrap();
    fs::copy(&junk, bad.join("b.png")).unwrap();
    fs::write(bad.join("c.txt"), "x").unwrap();
    let e = open_oasis(&opts(&t.join("bad"), 16)).unwrap_err();
    match &e {
        DataError::AllBad { skipped, first, .. } => {
            assert_eq!(*skipped, 3);
            assert!(first.contains("a.png"), "{first}");
        }
        other => panic!("expected AllBad, got {other:?}"),
    }
    assert!(e.to_string().contains("a.png"), "{e}");
    let _ = fs::remove_dir_all(&t);
}

#[test]
fn oasis_mixed_sizes_and_channels_are_converted_and_counted() {
    let t = tmp("oasis-mixed");
    let root = t.join("keras_png_slices_data");
    oasis_tree(&root);
    let train = root.join("keras_png_slices_train");
    // Twice the size: box-averaged to 16x16 (2x2 blocks of 100 and 200 average to 150).
    gray_png(&train.join("case_100_big.png"), 32, 32, |x, _| {
        if x % 2 == 0 {
            100
        } else {
            200
        }
    });
    // Not square: centre-cropped to 12x12 then resized.
    gray_png(&train.join("case_101_odd.png"), 20, 12, |x, _| {
        if (4..16).contains(&x) {
            90
        } else {
            0
        }
    });
    // Colour in a grayscale set: converted to luma (pure red: 0.2126 * 255 = 54).
    rgb_png(&train.join("case_102_red.png"), 16, 16, |_, _| [255, 0, 0]);
    let ds = open_oasis(&opts(&root, 16)).unwrap();
    assert_eq!(ds.len, 9);
    assert_eq!((ds.resized, ds.converted, ds.channels), (2, 1, 1));
    let img = |i: usize| ds.image_u8(i);
    // Path order: test (60), then train: case_000..002, case_100, case_101, case_102.
    assert!(img(4).iter().all(|&v| v == 150), "{:?}", img(4));
    assert!(img(5).iter().all(|&v| v == 90), "{:?}", img(5));
    assert!(
        img(6).iter().all(|&v| (53..=55).contains(&v)),
        "{:?}",
        img(6)
    );
    assert!(ds.description.contains("resized") && ds.description.contains("converted"));
    let _ = fs::remove_dir_all(&t);
}

// ---------------------------------------------------------------------------------------
// MNIST

fn idx(n: u32, h: u32, w: u32, pixels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x0803u32, n, h, w] {
        v.extend(x.to_be_bytes());
    }
    v.extend_from_slice(pixels);
    v
}

fn digit(i: usize) -> Vec<u8> {
    (0..28 * 28)
        .map(|p| ((p * 7 + i * 50) % 251) as u8 + 1)
        .collect()
}

#[test]
fn mnist_is_padded_to_32_and_resized() {
    let t = tmp("mnist");
    let train: Vec<u8> = [digit(0), digit(1)].concat();
    fs::write(t.join("train-images-idx3-ubyte"), idx(2, 28, 28, &train)).unwrap();
    fs::write(t.join("t10k-images-idx3-ubyte"), idx(1, 28, 28, &digit(2))).unwrap();
    let ds = open_mnist(&opts(&t, 32)).unwrap();
    assert_eq!(ds.source, Source::Mnist);
    assert_eq!((ds.len, ds.channels, ds.resolution), (3, 1, 32));
    assert!(ds.description.contains("2+1"), "{}", ds.description);
    for i in 0..3 {
        let img = ds.image_u8(i);
        let d = digit(i);
        for y in 0..32 {
            for x in 0..32 {
                let inside = (2..30).contains(&y) && (2..30).contains(&x);
                let want = if inside { d[(y - 2) * 28 + x - 2] } else { 0 };
                assert_eq!(img[y * 32 + x], want, "image {i} at ({x}, {y})");
            }
        }
    }
    // At 16: the mean of 2x2 blocks of the padded digit.
    let ds16 = open_mnist(&opts(&t, 16)).unwrap();
    let d32 = ds.image_u8(1);
    let (y, x) = (5, 9);
    let sum: u32 = [(0, 0), (0, 1), (1, 0), (1, 1)]
        .iter()
        .map(|(dy, dx)| d32[(2 * y + dy) * 32 + 2 * x + dx] as u32)
        .sum();
    assert_eq!(ds16.image_u8(1)[y * 16 + x] as u32, (2 * sum + 4) / 8);
    assert_eq!(ds16.image_u8(1)[0], 0);
    // Limit.
    let mut o = opts(&t, 32);
    o.limit = Some(2);
    assert_eq!(open_mnist(&o).unwrap().len, 2);
    let _ = fs::remove_dir_all(&t);
}

#[test]
fn mnist_bad_files_are_clear_errors() {
    let t = tmp("mnist-bad");
    // Header says 2 images; only one and a half follow.
    let f = t.join("train-images-idx3-ubyte");
    fs::write(&f, idx(2, 28, 28, &[1u8; 28 * 28 * 3 / 2])).unwrap();
    let e = open_mnist(&opts(&t, 32)).unwrap_err();
    assert!(matches!(e, DataError::Format { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("train-images-idx3-ubyte") && msg.contains("truncated"),
        "{msg}"
    );
    // A label file in its place.
    let mut labels = idx(1, 28, 28, &[0; 784]);
    labels[3] = 1;
    fs::write(&f, labels).unwrap();
    assert!(open_mnist(&opts(&t, 32))
        .unwrap_err()
        .to_string()
        .contains("label"));
    // Only the .gz download: says to gunzip.
    fs::remove_file(&f).unwrap();
    fs::write(
        t.join("train-images-idx3-ubyte.gz"),
        [0x1f, 0x8b, 8, 0, 0, 0],
    )
    .unwrap();
    let e = open_mnist(&opts(&t, 32)).unwrap_err();
    assert!(e.to_string().contains("gunzip"), "{e}");
    // No folder.
    let e = open_mnist(&opts(&t.join("none"), 32)).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }), "{e:?}");
    let _ = fs::remove_dir_all(&t);
}

// ---------------------------------------------------------------------------------------
// Folder

#[test]
fn folder_detects_colour_and_centre_crops() {
    let t = tmp("folder");
    // 24x16 colour: the middle 16 columns (4..20) are kept.
    rgb_png(&t.join("a_wide.png"), 24, 16, |x, y| {
        [(x * 10) as u8, (y * 10) as u8, 7]
    });
    // 16x24 grayscale in a subfolder: the middle 16 rows (4..20) are kept.
    gray_png(&t.join("sub").join("b_tall.png"), 16, 24, |_, y| {
        (y * 10) as u8
    });
    fs::write(t.join("readme.md"), "x").unwrap();
    let ds = open_folder(&opts(&t, 16)).unwrap();
    assert_eq!(ds.source, Source::Folder);
    assert_eq!((ds.len, ds.channels, ds.converted), (2, 3, 1));
    assert_eq!(ds.skipped.len(), 1);
    let a = ds.image_u8(0);
    for y in 0..16 {
        for x in 0..16 {
            assert_eq!(a[y * 16 + x] as usize, (x + 4) * 10, "R at ({x}, {y})");
            assert_eq!(a[256 + y * 16 + x] as usize, y * 10, "G at ({x}, {y})");
            assert_eq!(a[512 + y * 16 + x], 7, "B at ({x}, {y})");
        }
    }
    let b = ds.image_u8(1);
    for c in 0..3 {
        for y in 0..16 {
            for x in 0..16 {
                assert_eq!(b[c * 256 + y * 16 + x] as usize, (y + 4) * 10);
            }
        }
    }
    // Forced grayscale, and all-grayscale auto-detects 1 channel.
    let mut o = opts(&t, 16);
    o.channels = Some(1);
    assert_eq!(open_folder(&o).unwrap().channels, 1);
    let ds = open_folder(&opts(&t.join("sub"), 16)).unwrap();
    assert_eq!((ds.channels, ds.converted), (1, 0));
    // JPEG is read too.
    let j = t.join("jpeg");
    fs::create_dir_all(&j).unwrap();
    image::GrayImage::from_fn(16, 16, |_, _| image::Luma([128]))
        .save(j.join("x.jpg"))
        .unwrap();
    let ds = open_folder(&opts(&j, 8)).unwrap();
    assert!(ds.image_u8(0).iter().all(|&v| (125..=131).contains(&v)));
    let _ = fs::remove_dir_all(&t);
}

#[test]
fn folder_errors() {
    let t = tmp("folder-err");
    let e = open_folder(&opts(&t.join("nope"), 16)).unwrap_err();
    assert!(matches!(e, DataError::NotFound { .. }) && e.to_string().contains("nope"));
    let e = open_folder(&OpenOptions::default()).unwrap_err();
    assert!(e.to_string().contains("--data"), "{e}");
    let e = open_folder(&opts(&t, 16)).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
    gray_png(&t.join("ok").join("a.png"), 4, 4, |_, _| 0);
    let mut o = opts(&t.join("ok"), 4);
    o.limit = Some(0);
    assert!(matches!(open_folder(&o), Err(DataError::Format { .. })));
    fs::remove_dir_all(t.join("ok")).unwrap();
    fs::write(t.join("a.txt"), "x").unwrap();
    let e = open_folder(&opts(&t, 16)).unwrap_err();
    assert!(matches!(e, DataError::AllBad { skipped: 1, .. }), "{e:?}");
    let _ = fs::remove_dir_all(&t);
}

// ---------------------------------------------------------------------------------------
// Batches

/// 10 images of 4x4: image i has pixel (x, y) = 20 i + 3 x + y (distinct, not symmetric).
fn numbered() -> Dataset {
    let px: Vec<u8> = (0..10u8)
        .flat_map(|i| (0..16u8).map(move |p| 20 * i + 3 * (p % 4) + p / 4))
        .collect();
    Dataset::from_u8("n", Source::Folder, 1, 4, px)
}

/// Which image slot `s` of `b` shows, and whether it is mirrored.
fn identify(b: &data::Batch, s: usize) -> (usize, bool) {
    let img: Vec<u8> = b.data[s * 16..(s + 1) * 16]
        .iter()
        .map(|&v| ((v + 1.0) * 127.5).round() as u8)
        .collect();
    let i = (img[0] / 20) as usize;
    let plain: Vec<u8> = (0..16u8)
        .map(|p| 20 * i as u8 + 3 * (p % 4) + p / 4)
        .collect();
    let flipped: Vec<u8> = (0..16u8)
        .map(|p| 20 * i as u8 + 3 * (3 - p % 4) + p / 4)
        .collect();
    if img == plain {
        (i, false)
    } else if img == flipped {
        (i, true)
    } else {
        // The flipped image's first pixel belongs to the same image.
        let i = ((img[0] - 9) / 20) as usize;
        let flipped: Vec<u8> = (0..16u8)
            .map(|p| 20 * i as u8 + 3 * (3 - p % 4) + p / 4)
            .collect();
        assert_eq!(img, flipped, "slot {s} is no image of the dataset");
        (i, true)
    }
}

#[test]
fn batches_are_deterministic_and_cover_each_epoch() {
    let ds = numbered();
    let a = batch_at(&ds, 4, 5, 42, false, 3);
    assert_eq!(a, batch_at(&ds, 4, 5, 42, false, 3));
    assert_eq!(
        (a.n, a.channels, a.res, a.index, a.data.len()),
        (5, 1, 4, 3, 80)
    );
    assert_ne!(a.data, batch_at(&ds, 4, 5, 42, false, 4).data);
    assert_ne!(a.data, batch_at(&ds, 4, 5, 43, false, 3).data);
    let mut orders = Vec::new();
    for epoch in 0..3u64 {
        let mut seen = Vec::new();
        for k in 2 * epoch..2 * epoch + 2 {
            let b = batch_at(&ds, 4, 5, 42, false, k);
            let ids: Vec<usize> = (0..5).map(|s| identify(&b, s).0).collect();
            assert_eq!(ids, batch_indices(10, 5, 42, k));
            seen.extend(ids);
        }
        orders.push(seen.clone());
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>(), "epoch {epoch}");
    }
    assert!(
        orders[0] != orders[1] || orders[1] != orders[2],
        "epochs not reshuffled"
    );
    // At 2x2, the values are the block means.
    let b = batch_at(&ds, 2, 1, 42, false, 0);
    let i = batch_indices(10, 1, 42, 0)[0];
    let want = ds.at_resolution(2)[i * 4] as f32 / 127.5 - 1.0;
    assert_eq!((b.data.len(), b.data[0]), (4, want));
}

#[test]
fn mirror_flips_exactly_the_chosen_images() {
    let ds = numbered();
    let (mut flips, mut plains) = (0, 0);
    for k in 0..8 {
        let m = batch_at(&ds, 4, 5, 9, true, k);
        let p = batch_at(&ds, 4, 5, 9, false, k);
        for s in 0..5 {
            let (i, flipped) = identify(&m, s);
            assert_eq!(identify(&p, s), (i, false));
            assert_eq!(flipped, mirror_flag(9, k, s), "batch {k} slot {s}");
            if flipped {
                flips += 1;
            } else {
                plains += 1;
            }
        }
    }
    assert!(flips > 5 && plains > 5, "{flips} flipped, {plains} not");
}

#[test]
fn values_span_minus_one_to_one() {
    let ds = Dataset::from_u8("t", Source::Folder, 1, 2, vec![0, 255, 128, 64]);
    let b = batch_at(&ds, 2, 3, 0, true, 0);
    let (lo, hi) = b
        .data
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    assert_eq!((lo, hi), (-1.0, 1.0));
}

#[test]
fn loader_resumes_at_any_batch() {
    let ds = Arc::new(numbered());
    let mut l = Loader::new(ds.clone(), 4, 3, 5, true, 7);
    for k in 7..12 {
        assert_eq!(l.next_index(), k);
        let b = l.next();
        assert_eq!(b, batch_at(&ds, 4, 3, 5, true, k));
    }
    // A lower resolution through the loader, then dropped while its thread is blocked.
    let mut l = Loader::new(ds.clone(), 2, 4, 5, false, 0);
    assert_eq!(l.next_batch(), batch_at(&ds, 2, 4, 5, false, 0));
    drop(l);
}
