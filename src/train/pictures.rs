//! Pictures of a run: sample grids (PNG) and the grids over training as an animated GIF (the
//! plots are in `plots`).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use image::{codecs::gif::GifEncoder, Delay, Frame, Rgb, RgbImage, RgbaImage};

use super::error::{FileOp, TrainError};

/// n x n tiles of images [N, C, R, R] in [-1, 1] (C = 1 or 3), 2-pixel gaps.
pub fn grid(images: &[f32], n_images: usize, channels: usize, res: usize, cols: usize) -> RgbImage {
    let rows = n_images.div_ceil(cols);
    let gap = 2;
    let (w, h) = ((res + gap) * cols + gap, (res + gap) * rows + gap);
    let mut img = RgbImage::from_pixel(w as u32, h as u32, Rgb([24, 24, 24]));
    let to_u8 = |v: f32| ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8;
    for i in 0..n_images {
        let (ox, oy) = (
            gap + (i % cols) * (res + gap),
            gap + (i / cols) * (res + gap),
        );
        let base = i * channels * res * res;
        for y in 0..res {
            for x in 0..res {
                let px = |c: usize| to_u8(images[base + (c.min(channels - 1) * res + y) * res + x]);
                img.put_pixel((ox + x) as u32, (oy + y) as u32, Rgb([px(0), px(1), px(2)]));
            }
        }
    }
    img
}

/// Scale up by an integer factor (nearest) so small grids are visible.
pub fn enlarge(img: &RgbImage, min_side: u32) -> RgbImage {
    let f = (min_side / img.width().max(1)).max(1);
    image::imageops::resize(
        img,
        img.width() * f,
        img.height() * f,
        image::imageops::FilterType::Nearest,
    )
}

/// An animated GIF of frames (resized to the last frame's size), 0.4 s each, last held 2 s.
pub fn gif(frames: &[RgbImage], path: &Path) -> Result<(), TrainError> {
    let last = frames
        .last()
        .ok_or(TrainError::Picture("no frames for the GIF"))?;
    let (w, h) = last.dimensions();
    let file = File::create(path).map_err(FileOp::Access.on(path))?;
    let mut enc = GifEncoder::new_with_speed(BufWriter::new(file), 10);
    enc.set_repeat(image::codecs::gif::Repeat::Infinite)?;
    for (i, f) in frames.iter().enumerate() {
        let f = image::imageops::resize(f, w, h, image::imageops::FilterType::Nearest);
        let rgba: RgbaImage = image::DynamicImage::ImageRgb8(f).to_rgba8();
        let ms = if i + 1 == frames.len() { 2000 } else { 400 };
        enc.encode_frame(Frame::from_parts(
            rgba,
            0,
            0,
            Delay::from_numer_denom_ms(ms, 1),
        ))?;
    }
    Ok(())
}

pub fn save_png(img: &RgbImage, path: &Path) -> Result<(), TrainError> {
    img.save(path).map_err(|source| TrainError::Image {
        path: path.to_path_buf(),
        source,
    })
}
