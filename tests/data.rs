//! Datasets: the OASIS layout and its phantom fallback, MNIST IDX, folders, and every kind
//! of bad input (missing, empty, non-image, corrupt, truncated, mixed sizes and channels)
//! giving a clear message, never a panic. Loader batches are deterministic.

use std::fs;
use std::path::{Path, PathBuf};

use sgw::data::{
    batch_at, open_folder, open_mnist, open_oasis, phantom, DataError, OpenOptions, Source,
};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sgw-data-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn opts(data: Option<&Path>, res: usize) -> OpenOptions {
    OpenOptions {
        data: data.map(Path::to_path_buf),
        resolution: res,
        channels: None,
        limit: None,
        phantom_count: 16,
    }
}

fn png(path: &Path, w: u32, h: u32, v: u8) {
    image::GrayImage::from_pixel(w, h, image::Luma([v]))
        .save(path)
        .unwrap();
}

fn oasis_tree(root: &Path) -> PathBuf {
    let base = root.join("keras_png_slices_data");
    for (split, v) in [
        ("keras_png_slices_train", 10u8),
        ("keras_png_slices_validate", 20),
        ("keras_png_slices_test", 30),
        ("keras_png_slices_seg_train", 250),
    ] {
        fs::create_dir_all(base.join(split)).unwrap();
        for i in 0..2 {
            png(
                &base.join(split).join(format!("case_00{i}_slice_0.nii.png")),
                16,
                16,
                v,
            );
        }
    }
    base
}

#[test]
fn oasis_splits_are_found_and_masks_skipped() {
    let root = tmp("oasis");
    let base = oasis_tree(&root.join("nested"));
    for given in [base.clone(), root.join("nested"), root.clone()] {
        let ds = open_oasis(&opts(Some(&given), 16)).unwrap();
        assert_eq!(ds.source, Source::Oasis);
        assert_eq!(ds.len, 6, "train + validate + test, no seg masks");
        let means: Vec<u8> = (0..6).map(|i| ds.image_u8(i)[0]).collect();
        assert!(!means.contains(&250), "a segmentation mask was loaded");
    }
}

#[test]
fn missing_and_empty_oasis_folders_are_errors() {
    let root = tmp("missing");
    let e = open_oasis(&opts(Some(&root.join("nope")), 16)).unwrap_err();
    assert!(
        matches!(e, DataError::NotFound { .. }) && e.to_string().contains("nope"),
        "{e}"
    );
    let e = open_oasis(&opts(Some(&root), 16)).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e}");
}

#[test]
fn no_oasis_means_the_phantom_and_says_so() {
    // ./data of the crate holds no OASIS folder in CI.
    let ds = open_oasis(&opts(None, 32)).unwrap();
    if ds.source == Source::Phantom {
        assert!(ds.description.contains("--data"), "{}", ds.description);
        assert_eq!((ds.len, ds.resolution, ds.channels), (16, 32, 1));
    }
}

#[test]
fn bad_files_are_skipped_with_their_names() {
    let root = tmp("bad");
    png(&root.join("good.png"), 16, 16, 100);
    png(&root.join("big.png"), 32, 32, 60);
    image::RgbImage::from_pixel(16, 16, image::Rgb([255, 0, 0]))
        .save(root.join("colour.png"))
        .unwrap();
    fs::write(root.join("notes.txt"), "hello").unwrap();
    fs::write(root.join("corrupt.png"), [1u8, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap();
    let full = fs::read(root.join("good.png")).unwrap();
    fs::write(root.join("truncated.png"), &full[..full.len() / 2]).unwrap();
    let mut o = opts(Some(&root), 16);
    o.channels = Some(1);
    let ds = open_folder(&o).unwrap();
    assert_eq!(ds.len, 3, "good, big (resized) and colour (converted)");
    assert_eq!(ds.resized, 1);
    let names: Vec<String> = ds
        .skipped
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into())
        .collect();
    for n in ["notes.txt", "corrupt.png", "truncated.png"] {
        assert!(
            names.contains(&n.to_string()),
            "{n} not reported in {names:?}"
        );
    }
    // Colour auto-detection.
    let ds = open_folder(&opts(Some(&root), 16)).unwrap();
    assert_eq!(ds.channels, 3);
}

#[test]
fn a_folder_of_only_bad_files_is_an_error() {
    let root = tmp("allbad");
    fs::write(root.join("a.png"), b"not a png").unwrap();
    let e = open_folder(&opts(Some(&root), 16)).unwrap_err();
    assert!(
        matches!(e, DataError::AllBad { .. }) && e.to_string().contains("a.png"),
        "{e}"
    );
    let e = open_folder(&opts(Some(&tmp("empty")), 16)).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e}");
}

#[test]
fn centre_crop_keeps_the_middle() {
    let root = tmp("crop");
    // 24 x 8: columns 8..16 are white, the rest black; the centre crop is all white.
    let img = image::GrayImage::from_fn(24, 8, |x, _| {
        image::Luma([if (8..16).contains(&x) { 255 } else { 0 }])
    });
    img.save(root.join("wide.png")).unwrap();
    let ds = open_folder(&opts(Some(&root), 8)).unwrap();
    assert!(ds.image_u8(0).iter().all(|&v| v == 255));
}

fn idx(path: &Path, n: u32, pixels: &[u8]) {
    let mut b = vec![0, 0, 8, 3];
    for v in [n, 28, 28] {
        b.extend(v.to_be_bytes());
    }
    b.extend(pixels);
    fs::write(path, b).unwrap();
}

#[test]
fn mnist_is_padded_to_32_and_truncated_files_are_named() {
    let root = tmp("mnist");
    let mut px = vec![0u8; 28 * 28];
    px[0] = 255; // top-left pixel of the digit lands at (2, 2) after padding
    idx(&root.join("train-images-idx3-ubyte"), 1, &px);
    let ds = open_mnist(&opts(Some(&root), 32)).unwrap();
    assert_eq!((ds.len, ds.resolution), (1, 32));
    let img = ds.image_u8(0);
    assert_eq!(img[2 * 32 + 2], 255);
    assert_eq!(img[0], 0);
    idx(&root.join("train-images-idx3-ubyte"), 3, &px);
    let e = open_mnist(&opts(Some(&root), 32)).unwrap_err();
    assert!(
        matches!(e, DataError::Format { .. }) && e.to_string().contains("truncated"),
        "{e}"
    );
}

#[test]
fn downscaling_is_the_2x2_mean_and_cached() {
    let ds = phantom(3, 16, 5);
    let half = ds.at_resolution(8);
    let img = ds.image_u8(1);
    let want = (img[0] as f32 + img[1] as f32 + img[16] as f32 + img[17] as f32) / 4.0;
    assert!((half[64] as f32 - want).abs() <= 0.5);
    assert!(std::sync::Arc::ptr_eq(&half, &ds.at_resolution(8)));
}

#[test]
fn phantom_is_deterministic_and_looks_like_a_slice() {
    let a = phantom(4, 64, 1);
    let b = phantom(4, 64, 1);
    assert_eq!(a.image_u8(2), b.image_u8(2));
    assert_ne!(a.image_u8(0), a.image_u8(1));
    let img = a.image_u8(0);
    assert!(img[0] < 10 && img[63] < 10, "corners are background");
    let centre: Vec<f64> = (24..40)
        .flat_map(|y| (24..40).map(move |x| img[y * 64 + x] as f64))
        .collect();
    let mean = centre.iter().sum::<f64>() / centre.len() as f64;
    let var = centre.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / centre.len() as f64;
    assert!(
        mean > 40.0 && var > 100.0,
        "centre mean {mean} var {var}: no tissue structure"
    );
}

#[test]
fn loader_batches_are_deterministic_and_cover_an_epoch() {
    let ds = std::sync::Arc::new(phantom(8, 8, 2));
    let a = batch_at(&ds, 8, 4, 9, true, 3);
    let b = batch_at(&ds, 8, 4, 9, true, 3);
    assert_eq!(a.data, b.data);
    assert!(a.data.iter().all(|v| (-1.0..=1.0).contains(v)));
    let mut loader = sgw::data::Loader::new(ds.clone(), 8, 4, 9, true, 3);
    assert_eq!(loader.next_batch().data, a.data);
    // Without mirroring, batches 0 and 1 are the 8 images once each.
    let imgs: Vec<Vec<f32>> = (0..2)
        .flat_map(|k| {
            batch_at(&ds, 8, 4, 9, false, k)
                .data
                .chunks(64)
                .map(<[f32]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    for i in 0..8 {
        let want: Vec<f32> = ds
            .image_u8(i)
            .iter()
            .map(|&v| v as f32 / 127.5 - 1.0)
            .collect();
        assert_eq!(imgs.iter().filter(|x| **x == want).count(), 1, "image {i}");
    }
}
