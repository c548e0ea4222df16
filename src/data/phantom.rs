//! A deterministic, procedurally generated axial brain-MRI slice (T1-like contrast): dark
//! background, a bright, slightly irregular skull ring, a dark CSF gap, a grey-matter cortex
//! whose boundary with the brighter white matter is folded into gyri, dark sulci and an
//! interhemispheric fissure, grey deep nuclei, and two dark butterfly-shaped ventricles near
//! the centre. Every sample draws its own head size and shape, position, rotation, skull
//! thickness, fold count, depth and phase, ventricle size and spread, intensities, a smooth
//! bias field and low noise from a hash of (seed, index); edges are smoothstep-anti-aliased
//! at about one pixel.
//!
//! Speed (2048 slices of 256x256 take about 1 s on two cores in a release build): what depends
//! on the angle alone is tabulated per image, each row is evaluated only across the head, in
//! branch-free passes the compiler vectorises, with polynomial atan2/sin/cos.

use std::f32::consts::TAU;

use rayon::prelude::*;

use super::{hash3, Dataset, Source};

#[derive(Clone, Copy)]
struct C {
    re: f32,
    im: f32,
}

impl C {
    fn unit(angle: f32) -> C {
        C {
            re: angle.cos(),
            im: angle.sin(),
        }
    }
    fn mul(self, o: C) -> C {
        C {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
}

/// Most gyri around the head.
const MAX_FOLDS: usize = 24;
/// Angular resolution of the per-image tables.
const ANGLE_BINS: usize = 4096;

/// One sample's shape and contrast.
struct Params {
    ax: f32,
    ay: f32,
    cx: f32,
    cy: f32,
    rot: C,
    skull_t: f32,
    irr: [(f32, C); 2],
    gap: f32,
    cortex: f32,
    depth: f32,
    folds: u32,
    /// Per-sulcus depth, 0.35..1.
    sulcus_depth: [f32; MAX_FOLDS],
    /// Irregular gyrus spacing: the angle is warped by these 3rd and 5th harmonics.
    warp: [(f32, C); 2],
    curl: f32,
    phase1: f32,
    lobes: u32,
    mix2: f32,
    phase2: C,
    sulcus_w: f32,
    fissure_w: f32,
    vent_scale: f32,
    vent_dx: f32,
    vent_dy: f32,
    vent_tilt: C,
    vent_bend: f32,
    skull_v: f32,
    csf_v: f32,
    grey_v: f32,
    white_v: f32,
    deep_v: f32,
    vent_v: f32,
    gain: f32,
    bias: f32,
    bias_dir: C,
    noise: f32,
}

fn params(seed: u64, i: u64) -> Params {
    let u = |k: u64| (hash3(seed, i, k) >> 40) as f32 / (1u64 << 24) as f32;
    let r = |k: u64, a: f32, b: f32| a + (b - a) * u(k);
    let angle = |k: u64| C::unit(r(k, 0.0, TAU));
    let mut sulcus_depth = [0.0; MAX_FOLDS];
    for (j, d) in sulcus_depth.iter_mut().enumerate() {
        *d = r(100 + j as u64, 0.35, 1.0);
    }
    Params {
        ax: r(0, 0.68, 0.80),
        ay: r(1, 0.82, 0.93),
        cx: r(2, -0.03, 0.03),
        cy: r(3, -0.03, 0.03),
        rot: C::unit(r(4, -0.2, 0.2)),
        skull_t: r(5, 0.05, 0.075),
        irr: [(r(6, 0.0, 0.02), angle(7)), (r(8, 0.0, 0.012), angle(9))],
        gap: r(10, 0.015, 0.03),
        cortex: r(11, 0.045, 0.07),
        depth: r(12, 0.12, 0.24),
        folds: 14 + (u(13) * 9.0) as u32,
        sulcus_depth,
        warp: [
            (r(14, 0.02, 0.08), angle(15)),
            (r(16, 0.01, 0.05), angle(17)),
        ],
        curl: r(18, -1.2, 1.2),
        phase1: r(19, 0.0, TAU),
        lobes: 3 + (u(20) * 4.0) as u32,
        mix2: r(21, 0.15, 0.3),
        phase2: angle(22),
        sulcus_w: r(23, 0.012, 0.02),
        fissure_w: r(24, 0.008, 0.016),
        vent_scale: r(25, 0.7, 1.3),
        vent_dx: r(26, 0.045, 0.07),
        vent_dy: r(27, -0.06, 0.02),
        vent_tilt: C::unit(r(28, -0.12, 0.12)),
        vent_bend: r(29, 1.5, 3.0),
        skull_v: r(30, 0.62, 0.85),
        csf_v: r(31, 0.06, 0.14),
        grey_v: r(32, 0.40, 0.50),
        white_v: r(33, 0.68, 0.82),
        deep_v: r(34, 0.52, 0.62),
        vent_v: r(35, 0.03, 0.09),
        gain: r(36, 0.85, 1.1),
        bias: r(37, 0.0, 0.08),
        bias_dir: angle(38),
        noise: r(39, 0.01, 0.025),
    }
}

/// atan2 to about 1e-5 rad (a minimax polynomial on [0, 1] and octant folding).
#[inline(always)]
fn fast_atan2(y: f32, x: f32) -> f32 {
    let (ax, ay) = (x.abs(), y.abs());
    let (lo, hi) = (ax.min(ay), ax.max(ay));
    let t = lo / hi.max(1e-30);
    let t2 = t * t;
    let mut a = t
        * (0.999_866
            + t2 * (-0.330_299_5 + t2 * (0.180_141 + t2 * (-0.085_133 + t2 * 0.020_835_1))));
    a = if ay > ax {
        std::f32::consts::FRAC_PI_2 - a
    } else {
        a
    };
    a = if x < 0.0 { std::f32::consts::PI - a } else { a };
    if y < 0.0 {
        -a
    } else {
        a
    }
}

/// (sin x, cos x) for x in [-pi, pi], to about 1e-5, without branches (Taylor polynomials
/// to x^15 and x^14).
#[inline(always)]
fn fast_sin_cos(x: f32) -> (f32, f32) {
    let x2 = x * x;
    let s = x
        * (1.0
            + x2 * (-1.0 / 6.0
                + x2 * (1.0 / 120.0
                    + x2 * (-1.0 / 5040.0
                        + x2 * (1.0 / 362_880.0
                            + x2 * (-1.0 / 39_916_800.0
                                + x2 * (1.0 / 6_227_020_800.0 - x2 / 1_307_674_368_000.0)))))));
    let c = 1.0
        + x2 * (-0.5
            + x2 * (1.0 / 24.0
                + x2 * (-1.0 / 720.0
                    + x2 * (1.0 / 40_320.0
                        + x2 * (-1.0 / 3_628_800.0
                            + x2 * (1.0 / 479_001_600.0 - x2 / 87_178_291_200.0))))));
    (s, c)
}

/// `x` in [0, 2^22] rounded to the nearest integer (ties to even), by the float's bits:
/// unlike `as`, this vectorises.
#[inline(always)]
fn round_small(x: f32) -> u32 {
    (x + 8_388_608.0).to_bits() & 0x7f_ffff
}

/// Smoothstep from 0 at `e0` to 1 at `e0 + 1 / inv_w`.
#[inline(always)]
fn step(e0: f32, inv_w: f32, x: f32) -> f32 {
    let t = ((x - e0) * inv_w).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Offset that keeps the fold index positive (the phase stays well within +-2 pi OFFSET).
const FOLD_OFFSET: usize = 4 * MAX_FOLDS;

/// Sample `i` of `seed`, `res` x `res` grayscale, into `out`. Each row is computed in a few
/// branch-free passes over the pixels (which the compiler vectorises), with table look-ups
/// in between.
fn slice(seed: u64, i: u64, res: usize, out: &mut [u8]) {
    let Params {
        ax,
        ay,
        cx,
        cy,
        rot,
        skull_t,
        irr,
        gap,
        cortex,
        depth,
        folds,
        sulcus_depth,
        warp,
        curl,
        phase1,
        lobes,
        mix2,
        phase2,
        sulcus_w,
        fissure_w,
        vent_scale,
        vent_dx,
        vent_dy,
        vent_tilt,
        vent_bend,
        skull_v,
        csf_v,
        grey_v,
        white_v,
        deep_v,
        vent_v,
        gain,
        bias,
        bias_dir,
        noise,
    } = params(seed, i);
    let px = 2.0 / res as f32;
    let (inv_ax, inv_ay) = (1.0 / ax, 1.0 / ay);
    let aa = 1.25 * px / ax.min(ay);
    let inv_aa = 1.0 / aa;
    // 1 inside `edge`, 0 outside, over about a pixel.
    let inner = |edge: f32, r: f32| 1.0 - step(edge - 0.5 * aa, inv_aa, r);
    let reach = 1.0 + irr[0].0 + irr[1].0 + aa;
    let n = folds as f32;
    let inv_n = 1.0 / n;
    let inv_sw = 2.0 / sulcus_w;
    let inv_fw = 2.0 / fissure_w;
    let n_curl = n * curl;
    let fold_slope = depth * (1.0 - mix2) * 0.5 * n;
    // Ventricles: lobe centre offset, inverse half-length, base half-width.
    let (vdx, inv_vb, va) = (
        vent_dx * vent_scale,
        1.0 / (0.26 * vent_scale),
        0.05 * vent_scale,
    );
    let noise_base = hash3(seed, i, 0x006e_6f69_7365) as u32;
    // Sulcus depth by the (offset) index of the nearest multiple of 2 pi.
    let depth_of: Vec<f32> = (0..2 * FOLD_OFFSET)
        .map(|j| sulcus_depth[(j as i64 - FOLD_OFFSET as i64).rem_euclid(folds as i64) as usize])
        .collect();
    // What depends on the angle alone, tabulated: the skull's outer radius, the fold phase
    // (before the curl) and the lobar variation.
    let bins = ANGLE_BINS as f32 / TAU;
    let table: Vec<[f32; 3]> = (0..ANGLE_BINS)
        .map(|b| {
            let theta = (b as f32 + 0.5) / bins - std::f32::consts::PI;
            let z = C::unit(theta);
            let z2 = z.mul(z);
            let z3 = z2.mul(z);
            let z5 = z3.mul(z2);
            let r_out = 1.0 + irr[0].0 * z2.mul(irr[0].1).im + irr[1].0 * z3.mul(irr[1].1).im;
            let warped =
                theta + warp[0].0 * z3.mul(warp[0].1).im + warp[1].0 * z5.mul(warp[1].1).im;
            let lobar = 0.5 - 0.5 * C::unit(lobes as f32 * theta).mul(phase2).im;
            [r_out, n * warped + phase1, lobar]
        })
        .collect();
    let mut buf = vec![0.0f32; 7 * res];
    let (qx, rest) = buf.split_at_mut(res);
    let (qy, rest) = rest.split_at_mut(res);
    let (rr, rest) = rest.split_at_mut(res);
    let (r_out, rest) = rest.split_at_mut(res);
    let (s0, rest) = rest.split_at_mut(res);
    let (lobar, dj) = rest.split_at_mut(res);
    let dj = &mut dj[..res];
    let mut idx = vec![0u32; res];
    for (y, row) in out.chunks_exact_mut(res).enumerate() {
        let yn = (y as f32 + 0.5) * px - 1.0 - cy;
        let x0 = 0.5 * px - 1.0 - cx;
        // (u, v): the pixel centre in head coordinates (centred, rotated), stepped along x.
        let (u0, v0) = (rot.re * x0 + rot.im * yn, -rot.im * x0 + rot.re * yn);
        let (du, dv) = (rot.re * px, -rot.im * px);
        // The pixels whose centres lie within `reach` of the head's centre: |q(t)| = reach
        // along the row (q linear in t) is a quadratic in t.
        let (qu0, qv0, qdu, qdv) = (u0 * inv_ax, v0 * inv_ay, du * inv_ax, dv * inv_ay);
        let qa = qdu * qdu + qdv * qdv;
        let qb = 2.0 * (qu0 * qdu + qv0 * qdv);
        let qc = qu0 * qu0 + qv0 * qv0 - reach * reach;
        let disc = qb * qb - 4.0 * qa * qc;
        if disc <= 0.0 {
            row.fill(0);
            continue;
        }
        let sq = disc.sqrt();
        let t1 = (-qb - sq) / (2.0 * qa);
        let t2 = (-qb + sq) / (2.0 * qa);
        let lo = (t1.floor().max(0.0) as usize).min(res);
        let hi = ((t2.ceil() + 1.0).max(0.0) as usize).min(res).max(lo);
        row[..lo].fill(0);
        row[hi..].fill(0);
        let m = hi - lo;
        let xs = lo as f32;
        // Pass 1: coordinates, radius and angle bin. (Re-slicing to the span lets the
        // compiler drop the bounds checks and vectorise.)
        let (qx, qy, rr, r_out, s0, lobar, dj, idx, row) = (
            &mut qx[..m],
            &mut qy[..m],
            &mut rr[..m],
            &mut r_out[..m],
            &mut s0[..m],
            &mut lobar[..m],
            &mut dj[..m],
            &mut idx[..m],
            &mut row[lo..hi],
        );
        for x in 0..m {
            let xf = xs + x as f32;
            let (a, b) = ((u0 + xf * du) * inv_ax, (v0 + xf * dv) * inv_ay);
            qx[x] = a;
            qy[x] = b;
            rr[x] = (a * a + b * b).sqrt();
            let theta = fast_atan2(b, a) + std::f32::consts::PI;
            idx[x] = round_small((theta * bins - 0.5).clamp(0.0, ANGLE_BINS as f32 - 1.0));
        }
        for x in 0..m {
            let [ro, s, l] = table[idx[x] as usize];
            r_out[x] = ro;
            s0[x] = s;
            lobar[x] = l;
        }
        // Pass 2: the fold phase, curling inwards, and the nearest sulcus.
        for x in 0..m {
            let r_pial = r_out[x] - skull_t - gap;
            let s = s0[x] + n_curl * (r_pial - rr[x]);
            s0[x] = s;
            idx[x] = round_small(
                (s * (1.0 / TAU) + FOLD_OFFSET as f32).clamp(0.0, 2.0 * FOLD_OFFSET as f32 - 1.0),
            );
        }
        for x in 0..m {
            dj[x] = depth_of[idx[x] as usize];
        }
        // Pass 3: tissue and intensity.
        let noise_row = noise_base ^ ((y as u32) << 16);
        for x in 0..m {
            let (qx, qy, r) = (qx[x], qy[x], rr[x]);
            let r_out = r_out[x];
            let r_in = r_out - skull_t;
            let r_pial = r_in - gap;
            let (head, inside, brain) = (inner(r_out, r), inner(r_in, r), inner(r_pial, r));
            // Cortex: the grey/white boundary recedes under each sulcus (by that sulcus's
            // depth) and reaches up into each gyrus, with lobar-scale variation on top.
            // Sulci are thin CSF lines from the surface down to the white matter.
            let pm = s0[x] - (idx[x] as f32 - FOLD_OFFSET as f32) * TAU; // 0: sulcus, +-pi: crown
            let (sin_pm, cos_pm) = fast_sin_cos(pm);
            // 1 at the sulcus, 0 at the crown; cubed, so that the white-matter fingers are
            // broad and the grey matter between them follows the sulcus.
            let c = 0.5 + 0.5 * cos_pm;
            let trough = c * c * c;
            let recess = depth * ((1.0 - mix2) * dj[x] * trough + mix2 * lobar[x]);
            let r_white = r_pial - cortex - recess;
            // Distance to the boundary measured across it, not only radially.
            let slope = 3.0 * c * c * fold_slope * dj[x] * sin_pm / r.max(0.1);
            let across = (r - r_white) / (1.0 + slope * slope).sqrt();
            let wm = 1.0 - step(-0.5 * aa, inv_aa, across);
            let arc = r * pm.abs() * inv_n;
            let sulcus = (1.0 - step(0.5 * sulcus_w, inv_sw, arc)) * step(r_white + 0.005, 40.0, r);
            let mut t = grey_v + (white_v - grey_v) * wm;
            // The interhemispheric fissure along the midline, front and back.
            let fissure = (1.0 - step(0.5 * fissure_w, inv_fw, (qx * ax).abs()))
                * step(0.45 * r_pial, 4.0 / r_pial, qy.abs());
            t += (csf_v - t) * sulcus.max(fissure);
            // Deep grey nuclei either side of the ventricles.
            let nuc = |s: f32| {
                let (dx, dy) = ((qx - s * 0.25) * 8.0, (qy - 0.1) * 5.0);
                dx * dx + dy * dy
            };
            let deep = 1.0 - step(0.3, 1.0 / 0.7, nuc(-1.0).min(nuc(1.0)));
            t += (deep_v - t) * 0.35 * deep;
            // Lateral ventricles: two bananas either side of the midline, their ends
            // (frontal and occipital horns) curving outwards, wider in front.
            let lobe = |s: f32| {
                let (dx, dy) = (qx - s * vdx, qy - vent_dy);
                let lx = vent_tilt.re * dx + s * vent_tilt.im * dy;
                let ly = -s * vent_tilt.im * dx + vent_tilt.re * dy;
                let lx = lx - s * vent_bend * ly * ly;
                let l = ly * inv_vb;
                let a = va * (1.0 - 0.6 * l).max(0.3);
                lx * lx / (a * a) + l * l
            };
            let vent = 1.0 - step(0.7, 1.0 / 0.3, lobe(-1.0).min(lobe(1.0)));
            t += (vent_v - t) * vent;
            let mut val = skull_v * (head - inside) + csf_v * (inside - brain) + brain * t;
            val *= gain * (1.0 + bias * (bias_dir.re * qx + bias_dir.im * qy));
            // Triangular noise in (-1, 1) from a 32-bit integer hash of the pixel.
            let mut h = (noise_row ^ (lo + x) as u32).wrapping_mul(0x9e37_79b1);
            h ^= h >> 15;
            h = h.wrapping_mul(0x85eb_ca77);
            h ^= h >> 13;
            let tri = ((h >> 16) + (h & 0xffff)) as f32 * (1.0 / 65536.0) - 1.0;
            val += noise * tri * head;
            row[x] = round_small(val.clamp(0.0, 1.0) * 255.0) as u8;
        }
    }
}

/// `n` phantom slices at `res` x `res`, one channel, deterministic in (`seed`, index):
/// image `i` is the same whatever `n` is. Generated in parallel. Panics unless `res` is a
/// power of two and `n > 0`.
pub fn phantom(n: usize, res: usize, seed: u64) -> Dataset {
    assert!(n > 0, "the phantom needs at least one image");
    assert!(
        res.is_power_of_two(),
        "resolution {res} is not a power of two"
    );
    let mut pixels = vec![0u8; n * res * res];
    pixels
        .par_chunks_mut(res * res)
        .enumerate()
        .for_each(|(i, out)| slice(seed, i as u64, res, out));
    let mut ds = Dataset::from_u8("phantom", Source::Phantom, 1, res, pixels);
    ds.description = format!("synthetic brain phantom: {n} slices at {res}x{res} (seed {seed})");
    ds
}
