//! Image helpers: recognising and decoding files, centre-cropping to a square, resizing, and
//! exact box downscaling.

use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageError, ImageReader};

/// File extensions read as images (case-insensitive).
pub(crate) const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "gif"];

/// Whether `p` has an image extension.
pub(crate) fn has_image_ext(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Whether the last component of `p` starts with a dot (`.DS_Store`, `.git`): such entries
/// are ignored, not counted as skipped.
pub(crate) fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Whether the image at `p` is colour, from its header alone; `None` when the header cannot
/// be read (the file will be skipped when decoded).
pub(crate) fn probe_colour(p: &Path) -> Option<bool> {
    let decoder = ImageReader::open(p)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_decoder()
        .ok()?;
    Some(decoder.color_type().has_color())
}

/// Decodes the image at `p`; the error is the reason to record when skipping it.
pub(crate) fn decode(p: &Path) -> Result<DynamicImage, String> {
    let reader = ImageReader::open(p)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| format!("cannot be read ({e})"))?;
    reader.decode().map_err(|e| match e {
        ImageError::Unsupported(_) => format!("not a readable PNG or JPEG image ({e})"),
        ImageError::IoError(_) => format!("truncated or unreadable image ({e})"),
        _ => format!("corrupt or truncated image ({e})"),
    })
}

/// `img` as `channels` (1 or 3) planes of `res` x `res` (CHW), centre-cropped to a square and
/// resized (see [`fit_plane`]); also whether its channel count had to be converted (colour to
/// grayscale or the reverse; an alpha channel is dropped without counting).
pub(crate) fn prepare(img: DynamicImage, res: usize, channels: usize) -> (Vec<u8>, bool) {
    let colour = img.color().has_color();
    let converted = colour != (channels == 3);
    let (w, h) = (img.width() as usize, img.height() as usize);
    if channels == 1 {
        let g = img.into_luma8();
        (fit_plane(g.as_raw(), w, h, res), converted)
    } else {
        let rgb = img.into_rgb8();
        let raw = rgb.as_raw();
        let mut out = Vec::with_capacity(3 * res * res);
        for c in 0..3 {
            let plane: Vec<u8> = raw.iter().skip(c).step_by(3).copied().collect();
            out.extend(fit_plane(&plane, w, h, res));
        }
        (out, converted)
    }
}

/// One `w` x `h` plane centre-cropped to a square (the middle `min(w, h)` columns or rows,
/// the extra pixel going to the right/bottom when the difference is odd) and brought to
/// `res` x `res`: copied when the size already matches, box-averaged when `res` divides the
/// side (as [`box_down_into`]), otherwise resized with a triangle (bilinear, area-widened when
/// shrinking) filter.
pub(crate) fn fit_plane(plane: &[u8], w: usize, h: usize, res: usize) -> Vec<u8> {
    let side = w.min(h);
    if side == 0 {
        return vec![0; res * res];
    }
    let (x0, y0) = ((w - side) / 2, (h - side) / 2);
    let square: Vec<u8> = if w == h {
        plane.to_vec()
    } else {
        (y0..y0 + side)
            .flat_map(|y| plane[y * w + x0..y * w + x0 + side].iter().copied())
            .collect()
    };
    if side == res {
        square
    } else if side > res && side.is_multiple_of(res) {
        let mut out = vec![0u8; res * res];
        box_down_into(&square, 1, side, res, &mut out);
        out
    } else {
        let img = GrayImage::from_raw(side as u32, side as u32, square)
            .expect("a square plane of side * side bytes");
        image::imageops::resize(&img, res as u32, res as u32, FilterType::Triangle).into_raw()
    }
}

/// Box downscale of `planes` planes of `r` x `r` to `res` x `res` into `dst`: each output
/// pixel is the mean of its f x f input block (f = r / res), which is what repeating the 2x2
/// box filter log2(f) times gives in exact arithmetic, rounded once, half up.
pub(crate) fn box_down_into(src: &[u8], planes: usize, r: usize, res: usize, dst: &mut [u8]) {
    let f = r / res;
    debug_assert!(f * res == r && src.len() >= planes * r * r && dst.len() >= planes * res * res);
    let area = (f * f) as u64;
    let mut acc = vec![0u64; res];
    for p in 0..planes {
        let sp = &src[p * r * r..(p + 1) * r * r];
        let dp = &mut dst[p * res * res..(p + 1) * res * res];
        for (oy, out_row) in dp.chunks_exact_mut(res).enumerate() {
            acc.fill(0);
            for row in sp[oy * f * r..(oy + 1) * f * r].chunks_exact(r) {
                for (a, block) in acc.iter_mut().zip(row.chunks_exact(f)) {
                    *a += block.iter().map(|&v| v as u64).sum::<u64>();
                }
            }
            for (o, &a) in out_row.iter_mut().zip(&acc) {
                *o = ((2 * a + area) / (2 * area)) as u8;
            }
        }
    }
}
