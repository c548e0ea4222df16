//! Resampling references (twins of `shaders/resample/*.wgsl`), on planes [P, H, W].

use rayon::prelude::*;

use super::Real;

/// Nearest-neighbour 2x upsampling.
pub fn upsample2x<T: Real>(x: &[T], planes: usize, h: usize, w: usize) -> Vec<T> {
    let mut y = vec![T::ZERO; planes * 4 * h * w];
    y.par_chunks_mut(4 * h * w)
        .enumerate()
        .for_each(|(p, out)| {
            for oy in 0..2 * h {
                for ox in 0..2 * w {
                    out[oy * 2 * w + ox] = x[(p * h + oy / 2) * w + ox / 2];
                }
            }
        });
    y
}

/// 2x2 average pooling (h, w even).
pub fn downsample2x<T: Real>(x: &[T], planes: usize, h: usize, w: usize) -> Vec<T> {
    let (ho, wo) = (h / 2, w / 2);
    let q = T::from_f64(0.25);
    let mut y = vec![T::ZERO; planes * ho * wo];
    y.par_chunks_mut((ho * wo).max(1))
        .enumerate()
        .for_each(|(p, out)| {
            for oy in 0..ho {
                for ox in 0..wo {
                    let b = (p * h + 2 * oy) * w + 2 * ox;
                    out[oy * wo + ox] = q * (x[b] + x[b + 1] + x[b + w] + x[b + w + 1]);
                }
            }
        });
    y
}

/// Depthwise [1,2,1] x [1,2,1] / 16 with zero padding 1.
pub fn blur<T: Real>(x: &[T], planes: usize, h: usize, w: usize) -> Vec<T> {
    let taps = [1.0, 2.0, 1.0];
    let mut y = vec![T::ZERO; planes * h * w];
    y.par_chunks_mut((h * w).max(1))
        .enumerate()
        .for_each(|(p, out)| {
            for oy in 0..h {
                for ox in 0..w {
                    let mut s = T::ZERO;
                    for (dy, ty) in taps.iter().enumerate() {
                        for (dx, tx) in taps.iter().enumerate() {
                            let (yy, xx) =
                                (oy as isize + dy as isize - 1, ox as isize + dx as isize - 1);
                            if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < w {
                                s += T::from_f64(ty * tx)
                                    * x[(p * h + yy as usize) * w + xx as usize];
                            }
                        }
                    }
                    out[oy * w + ox] = s * T::from_f64(1.0 / 16.0);
                }
            }
        });
    y
}
