//! Pictures of a run: sample grids (PNG), the grids over training as an animated GIF, and a
//! plot of the G and D losses with the resolution changes marked.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use image::{codecs::gif::GifEncoder, Delay, Frame, Rgb, RgbImage, RgbaImage};

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
pub fn gif(frames: &[RgbImage], path: &Path) -> Result<(), String> {
    let last = frames.last().ok_or("no frames for the GIF")?;
    let (w, h) = last.dimensions();
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut enc = GifEncoder::new_with_speed(BufWriter::new(file), 10);
    enc.set_repeat(image::codecs::gif::Repeat::Infinite)
        .map_err(|e| e.to_string())?;
    for (i, f) in frames.iter().enumerate() {
        let f = image::imageops::resize(f, w, h, image::imageops::FilterType::Nearest);
        let rgba: RgbaImage = image::DynamicImage::ImageRgb8(f).to_rgba8();
        let ms = if i + 1 == frames.len() { 2000 } else { 400 };
        enc.encode_frame(Frame::from_parts(
            rgba,
            0,
            0,
            Delay::from_numer_denom_ms(ms, 1),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// 3x5 glyphs for the plot's labels.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 3, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 2, 2],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '-' => [0, 0, 7, 0, 0],
        '.' => [0, 0, 0, 0, 2],
        'x' => [0, 5, 2, 5, 0],
        'G' => [7, 4, 5, 5, 7],
        'D' => [6, 5, 5, 5, 6],
        'k' => [4, 5, 6, 5, 5],
        'i' => [2, 0, 2, 2, 2],
        'm' => [0, 7, 7, 5, 5],
        'g' => [7, 5, 7, 1, 7],
        'l' => [2, 2, 2, 2, 3],
        'o' => [0, 7, 5, 5, 7],
        's' => [0, 3, 6, 1, 6],
        _ => [0; 5],
    }
}

fn text(img: &mut RgbImage, x: i64, y: i64, s: &str, color: Rgb<u8>, scale: i64) {
    for (k, c) in s.chars().enumerate() {
        let g = glyph(c);
        for (row, bits) in g.iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let px = x + (k as i64 * 4 + col) * scale + dx;
                            let py = y + row as i64 * scale + dy;
                            if px >= 0
                                && py >= 0
                                && (px as u32) < img.width()
                                && (py as u32) < img.height()
                            {
                                img.put_pixel(px as u32, py as u32, color);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn line(img: &mut RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), color: Rgb<u8>) {
    let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let t = i as f64 / n as f64;
        let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
        if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
            img.put_pixel(x as u32, y as u32, color);
        }
    }
}

/// G (red) and D (blue) losses against kimg, grey lines where the resolution changes
/// (labelled with the new resolution), min and max of the y axis written at the left.
pub fn loss_plot(kimg: &[f64], g: &[f64], d: &[f64], res_changes: &[(f64, usize)]) -> RgbImage {
    let (w, h, m) = (900u32, 420u32, 40.0);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let finite = g.iter().chain(d).copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let x_max = kimg.last().copied().unwrap_or(1.0).max(1e-9);
    let px = |k: f64| m + (k / x_max) * (w as f64 - 2.0 * m);
    let py = |v: f64| h as f64 - m - (v - lo) / (hi - lo) * (h as f64 - 2.0 * m);
    let axis = Rgb([0, 0, 0]);
    line(&mut img, (m, m), (m, h as f64 - m), axis);
    line(
        &mut img,
        (m, h as f64 - m),
        (w as f64 - m, h as f64 - m),
        axis,
    );
    if lo < 0.0 && hi > 0.0 {
        line(
            &mut img,
            (m, py(0.0)),
            (w as f64 - m, py(0.0)),
            Rgb([200, 200, 200]),
        );
    }
    for &(k, res) in res_changes {
        line(
            &mut img,
            (px(k), m),
            (px(k), h as f64 - m),
            Rgb([170, 170, 170]),
        );
        text(
            &mut img,
            px(k) as i64 + 3,
            m as i64,
            &format!("{res}x{res}"),
            Rgb([90, 90, 90]),
            2,
        );
    }
    for (vals, color) in [(d, Rgb([30, 80, 220])), (g, Rgb([220, 40, 40]))] {
        for i in 1..vals.len() {
            if vals[i - 1].is_finite() && vals[i].is_finite() {
                line(
                    &mut img,
                    (px(kimg[i - 1]), py(vals[i - 1])),
                    (px(kimg[i]), py(vals[i])),
                    color,
                );
            }
        }
    }
    text(&mut img, 2, m as i64 - 4, &format!("{hi:.3}"), axis, 1);
    text(
        &mut img,
        2,
        h as i64 - m as i64 - 4,
        &format!("{lo:.3}"),
        axis,
        1,
    );
    text(
        &mut img,
        w as i64 - 80,
        h as i64 - 30,
        &format!("{x_max:.2}kimg"),
        axis,
        2,
    );
    text(&mut img, w as i64 - 160, 8, "G", Rgb([220, 40, 40]), 3);
    text(&mut img, w as i64 - 120, 8, "D", Rgb([30, 80, 220]), 3);
    text(&mut img, w as i64 - 80, 8, "loss", axis, 3);
    img
}

pub fn save_png(img: &RgbImage, path: &Path) -> Result<(), String> {
    img.save(path)
        .map_err(|e| format!("could not write {}: {e}", path.display()))
}
