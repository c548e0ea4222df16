//! The numbers around a chart: axis ranges that ignore spikes and blow-ups, tick positions
//! and labels, lines clipped to the frame, moving averages and where the resolution changes.

use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;

pub(super) const X_TICKS: usize = 10;
pub(super) const Y_TICKS: usize = 8;

/// Labels for the ticks plotters puts on a linear axis over `lo..hi` when asked for at most
/// `n`: all with the decimals their step needs ("0.5 1.0 1.5", "0 2 4"), none like
/// "0.30000000000000004", and no "-0".
pub(super) fn tick_label(lo: f64, hi: f64, n: usize) -> impl Fn(&f64) -> String {
    let ticks = RangedCoordf64::from(lo..hi).key_points(n);
    let step = match ticks.as_slice() {
        [a, b, ..] => (b - a).abs(),
        _ => (hi - lo).abs(),
    };
    let decimals = (-step.max(1e-12).log10().floor()).clamp(0.0, 12.0) as usize;
    move |v: &f64| {
        let s = format!("{v:.decimals$}");
        if s.starts_with('-') && s.chars().all(|c| matches!(c, '-' | '0' | '.')) {
            s[1..].to_string()
        } else {
            s
        }
    }
}

/// Tick labels of a log axis: 3 significant digits, no trailing zeros.
pub(super) fn log_tick_label(v: &f64) -> String {
    if *v >= 100.0 {
        format!("{v:.0}")
    } else {
        let decimals = (2.0 - v.abs().max(1e-12).log10().floor()).clamp(0.0, 8.0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// Ticks of a log axis over `lo..hi` (> 0): 1, 2, 5 x 10^k, or only (every so many of) the
/// powers of ten when those are too many. (plotters' own log ticks are the powers of ten only, which is a
/// single label on an axis spanning 20..400.)
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let within = |mantissas: &[f64]| -> Vec<f64> {
        let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (k0..=k1)
            .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let t = within(&[1.0, 2.0, 5.0]);
    if t.len() <= Y_TICKS {
        return t;
    }
    let t = within(&[1.0]);
    let every = t.len().div_ceil(Y_TICKS);
    t.into_iter().step_by(every).collect()
}

/// The `q` quantile (0..=1) of sorted values.
pub(super) fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A y range for `values` (non-finite and absurd ones ignored), padded by 8% of its span each side.
/// `robust`: with 50 or more values, the 1st to 99th percentile instead of min to max, so
/// that a few spikes (WGAN-GP's D loss reaches hundreds in the first steps) do not flatten
/// the rest of the curve; what lies outside is clipped at the frame and counted.
pub(super) fn y_range(
    values: impl Iterator<Item = f64>,
    robust: bool,
) -> Option<(f64, f64, usize)> {
    // Beyond 1e30 is a blow-up, not a value to scale to (and would overflow the span).
    let mut v: Vec<f64> = values.filter(|v| v.abs() < 1e30).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let (lo, hi) = if robust && v.len() >= 50 {
        (quantile(&v, 0.01), quantile(&v, 0.99))
    } else {
        (v[0], v[v.len() - 1])
    };
    let outside = v.iter().filter(|&&x| x < lo || x > hi).count();
    let span = hi - lo;
    let pad = if span > 0.0 {
        0.08 * span
    } else {
        0.1 * lo.abs().max(1.0)
    };
    Some((lo - pad, hi + pad, outside))
}

/// An x range over `xs`, or around the one value there is.
pub(super) fn x_range(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = xs
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// Clip segment `p`-`q` to `lo <= y <= hi`.
pub(super) fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    lo: f64,
    hi: f64,
) -> Option<[(f64, f64); 2]> {
    let dy = q.1 - p.1;
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    if dy == 0.0 {
        if p.1 < lo || p.1 > hi {
            return None;
        }
    } else {
        let (a, b) = ((lo - p.1) / dy, (hi - p.1) / dy);
        t0 = t0.max(a.min(b));
        t1 = t1.min(a.max(b));
        if t0 > t1 {
            return None;
        }
    }
    let at = |t: f64| {
        if t == 0.0 {
            p
        } else if t == 1.0 {
            q
        } else {
            (p.0 + (q.0 - p.0) * t, p.1 + dy * t)
        }
    };
    Some([at(t0), at(t1)])
}

/// The polyline through `points` cut to `lo <= y <= hi` (plotters draws what lies outside
/// its range over the margins), broken where a point is not finite.
pub(super) fn clip(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    let mut prev: Option<(f64, f64)> = None;
    for &(x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            out.push(std::mem::take(&mut cur));
            prev = None;
            continue;
        }
        match prev {
            Some(p) => match clip_segment(p, (x, y), lo, hi) {
                Some([a, b]) => {
                    if cur.last() != Some(&a) {
                        out.push(std::mem::take(&mut cur));
                        cur.push(a);
                    }
                    cur.push(b);
                }
                None => out.push(std::mem::take(&mut cur)),
            },
            None if (lo..=hi).contains(&y) => cur.push((x, y)),
            None => {}
        }
        prev = Some((x, y));
    }
    out.push(cur);
    out.retain(|s| !s.is_empty());
    out
}

/// Exponential moving average of `(x, y)` with a time constant of `window` points, restarted
/// (with bias correction, so it does not start at 0) where `segment` changes; non-finite
/// values are passed over.
pub(super) fn ema(points: &[(f64, f64, usize)], window: f64) -> Vec<(f64, f64)> {
    let beta = 1.0 - 1.0 / window.max(1.0);
    let (mut m, mut w) = (0.0, 0.0);
    let mut seg = None;
    let mut out = Vec::with_capacity(points.len());
    for &(x, y, s) in points {
        if seg != Some(s) {
            (m, w) = (0.0, 0.0);
            seg = Some(s);
        }
        if y.is_finite() {
            m = beta * m + (1.0 - beta) * y;
            w = beta * w + (1.0 - beta);
            out.push((x, m / w));
        }
    }
    out
}

/// `(kimg, new resolution)` wherever the resolution changes, after the first row.
pub(super) fn res_changes(rows: impl Iterator<Item = (f64, usize)>) -> Vec<(f64, usize)> {
    let mut out = Vec::new();
    let mut last = None;
    for (k, r) in rows {
        if last.is_some_and(|l| l != r) {
            out.push((k, r));
        }
        last = Some(r);
    }
    out
}
