//! Health measures of a run: adversarial balance (moving averages of the two losses), generator
//! variance (the variance among generated samples as a fraction of the dataset's, which falls
//! under mode collapse) and ProGAN's sliced Wasserstein distance between generated and real
//! images (Laplacian pyramid, 7x7 patches, random projections).

use rayon::prelude::*;

/// Exponential moving averages of the D and G losses; `balance` = avg G - avg D.
#[derive(Clone, Copy, Debug)]
pub struct Balance {
    pub beta: f64,
    pub d: Option<f64>,
    pub g: Option<f64>,
}

impl Balance {
    pub fn new(beta: f64) -> Self {
        Balance {
            beta,
            d: None,
            g: None,
        }
    }
    pub fn update(&mut self, d: f64, g: f64) {
        if !(d.is_finite() && g.is_finite()) {
            return;
        }
        let mix =
            |a: Option<f64>, x: f64| Some(a.map_or(x, |a| self.beta * a + (1.0 - self.beta) * x));
        self.d = mix(self.d, d);
        self.g = mix(self.g, g);
    }
    pub fn balance(&self) -> f64 {
        self.g.unwrap_or(0.0) - self.d.unwrap_or(0.0)
    }
}

/// Mean over pixels of the variance across images, for `n` images of `pix` values each.
pub fn pixel_variance(images: &[f32], n: usize, pix: usize) -> f64 {
    if n < 2 {
        return 0.0;
    }
    let total: f64 = (0..pix)
        .into_par_iter()
        .map(|j| {
            let mean = (0..n).map(|i| images[i * pix + j] as f64).sum::<f64>() / n as f64;
            (0..n)
                .map(|i| (images[i * pix + j] as f64 - mean).powi(2))
                .sum::<f64>()
                / (n - 1) as f64
        })
        .sum();
    total / pix as f64
}

/// 2x downsample after the 5-tap binomial blur (one Gaussian pyramid step), per plane.
fn pyr_down(x: &[f32], planes: usize, r: usize) -> Vec<f32> {
    let k = [1.0, 4.0, 6.0, 4.0, 1.0].map(|v| v / 16.0);
    let h = r / 2;
    let mut out = vec![0.0; planes * h * h];
    out.par_chunks_mut(h * h).enumerate().for_each(|(p, o)| {
        let src = &x[p * r * r..][..r * r];
        let at = |y: isize, x: isize| {
            src[(y.clamp(0, r as isize - 1) as usize) * r + x.clamp(0, r as isize - 1) as usize]
        };
        for oy in 0..h {
            for ox in 0..h {
                let (cy, cx) = (2 * oy as isize, 2 * ox as isize);
                let mut s = 0.0;
                for (i, ky) in k.iter().enumerate() {
                    for (j, kx) in k.iter().enumerate() {
                        s += ky * kx * at(cy + i as isize - 2, cx + j as isize - 2);
                    }
                }
                o[oy * h + ox] = s;
            }
        }
    });
    out
}

/// Laplacian pyramid levels (finest first) down to 16x16 (or the image itself if smaller).
fn laplacian(x: &[f32], planes: usize, res: usize) -> Vec<(Vec<f32>, usize)> {
    let mut levels = Vec::new();
    let (mut cur, mut r) = (x.to_vec(), res);
    while r > 16 {
        let down = pyr_down(&cur, planes, r);
        let h = r / 2;
        let lap: Vec<f32> = (0..cur.len())
            .map(|i| {
                let (p, y, xx) = (i / (r * r), (i / r) % r, i % r);
                cur[i] - down[p * h * h + (y / 2).min(h - 1) * h + (xx / 2).min(h - 1)]
            })
            .collect();
        levels.push((lap, r));
        cur = down;
        r = h;
    }
    levels.push((cur, r));
    levels
}

/// `per_image` random 7x7 patches of each image at one level: [n * per_image, c * 49].
fn patches(
    level: &[f32],
    n: usize,
    c: usize,
    r: usize,
    per_image: usize,
    seed: u64,
) -> Vec<Vec<f32>> {
    let p = 7.min(r);
    let mut out = Vec::with_capacity(n * per_image);
    for i in 0..n {
        for k in 0..per_image {
            let h = super::trainer::hash(seed, i as u64, k as u64);
            let (y0, x0) = (
                (h % (r - p + 1) as u64) as usize,
                ((h >> 20) % (r - p + 1) as u64) as usize,
            );
            let mut d = Vec::with_capacity(c * p * p);
            for ch in 0..c {
                for y in 0..p {
                    for x in 0..p {
                        d.push(level[((i * c + ch) * r + y0 + y) * r + x0 + x]);
                    }
                }
            }
            out.push(d);
        }
    }
    out
}

/// Normalise descriptors to zero mean and unit std per dimension (pooled over both sets).
fn normalise(a: &mut [Vec<f32>], b: &mut [Vec<f32>]) {
    let dims = a[0].len();
    let n = (a.len() + b.len()) as f64;
    for d in 0..dims {
        let mean = a.iter().chain(b.iter()).map(|v| v[d] as f64).sum::<f64>() / n;
        let var = a
            .iter()
            .chain(b.iter())
            .map(|v| (v[d] as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let sd = var.sqrt().max(1e-8);
        for v in a.iter_mut().chain(b.iter_mut()) {
            v[d] = ((v[d] as f64 - mean) / sd) as f32;
        }
    }
}

/// Sliced Wasserstein distance (x 1e3, as ProGAN reports it) per pyramid level, finest first,
/// between images in [-1, 1] [n, c, res, res]; 512 random projections.
pub fn swd(
    real: &[f32],
    n_real: usize,
    fake: &[f32],
    n_fake: usize,
    c: usize,
    res: usize,
    seed: u64,
) -> Vec<f64> {
    let lr = laplacian(real, n_real * c, res);
    let lf = laplacian(fake, n_fake * c, res);
    let n = n_real.min(n_fake);
    lr.iter()
        .zip(&lf)
        .enumerate()
        .map(|(lvl, ((a, r), (b, _)))| {
            let mut pa = patches(a, n, c, *r, 32, seed ^ lvl as u64);
            let mut pb = patches(b, n, c, *r, 32, seed ^ 0xfeed ^ lvl as u64);
            normalise(&mut pa, &mut pb);
            let dims = pa[0].len();
            let dist: f64 = (0..512u64)
                .into_par_iter()
                .map(|k| {
                    let dir: Vec<f64> = (0..dims)
                        .map(|j| {
                            ((super::trainer::hash(seed, k, j as u64) >> 11) as f64
                                / (1u64 << 53) as f64)
                                - 0.5
                        })
                        .collect();
                    let norm = dir.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
                    let proj = |set: &[Vec<f32>]| {
                        let mut v: Vec<f64> = set
                            .iter()
                            .map(|d| {
                                d.iter().zip(&dir).map(|(x, w)| *x as f64 * w).sum::<f64>() / norm
                            })
                            .collect();
                        v.sort_by(f64::total_cmp);
                        v
                    };
                    let (x, y) = (proj(&pa), proj(&pb));
                    x.iter().zip(&y).map(|(a, b)| (a - b).abs()).sum::<f64>() / x.len() as f64
                })
                .sum();
            dist / 512.0 * 1e3
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(n: usize, res: usize, seed: u64, scale: f32) -> Vec<f32> {
        (0..n * res * res)
            .map(|i| {
                scale
                    * (((super::super::trainer::hash(seed, i as u64, 0) >> 11) as f64
                        / (1u64 << 53) as f64) as f32
                        * 2.0
                        - 1.0)
            })
            .collect()
    }

    #[test]
    fn swd_is_small_for_same_distribution_and_large_for_different() {
        let a = images(64, 32, 1, 1.0);
        let b = images(64, 32, 2, 1.0);
        let c = vec![0.3f32; 64 * 32 * 32];
        let same = swd(&a, 64, &b, 64, 1, 32, 7);
        let diff = swd(&a, 64, &c, 64, 1, 32, 7);
        assert_eq!(same.len(), 2);
        for (s, d) in same.iter().zip(&diff) {
            assert!(s * 3.0 < *d, "same {s} vs different {d}");
        }
    }

    #[test]
    fn pixel_variance_of_identical_images_is_zero_and_of_noise_is_a_third() {
        let one = [0.5f32; 16];
        let same: Vec<f32> = one.iter().cycle().take(16 * 10).copied().collect();
        assert_eq!(pixel_variance(&same, 10, 16), 0.0);
        let noise = images(4000, 2, 3, 1.0);
        let v = pixel_variance(&noise, 4000, 4);
        assert!((v - 1.0 / 3.0).abs() < 0.03, "{v}");
    }
}
