//! Tests of the plots: pictures drawn from made-up runs, checked by the colours in them.

use super::*;
use image::{Rgb, RgbImage};
use std::path::PathBuf;

use super::scale::{clip, ema, log_tick_label, log_ticks, tick_label, y_range};

/// A fresh, empty folder under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "sgw-plots-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

/// Deterministic noise in [-1, 1).
fn noise(i: u64, salt: u64) -> f64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// The training schedule of the examples: (res, fade) at kimg `k`.
fn phase_at(k: f64) -> (usize, bool) {
    match k {
        k if k < 3.0 => (4, false),
        k if k < 4.5 => (8, true),
        k if k < 6.0 => (8, false),
        k if k < 7.5 => (16, true),
        k if k < 9.0 => (16, false),
        k if k < 10.5 => (32, true),
        _ => (32, false),
    }
}

/// losses.csv of a WGAN-GP-like run: `steps` steps of 16 images over 4x4..32x32, D loss
/// spiking in the first steps, a few skipped (NaN / inf) steps.
fn fake_losses(steps: u64) -> String {
    let mut s = String::from(crate::train::run::LOSSES_HEADER);
    s.push('\n');
    let per = 12_000.0 / steps as f64;
    for step in 0..steps {
        let images = (step as f64 * per).round() as u64;
        let k = images as f64 / 1000.0;
        let (res, fade) = phase_at(k);
        let since = k - [0.0, 3.0, 6.0, 9.0][res.trailing_zeros() as usize - 2];
        let spike = 150.0 / (1.0 + step as f64).powi(2);
        let mut d = -2.5 * (-k / 2.0).exp() - 0.4 - 0.8 * (-since * 2.0).exp()
            + 0.35 * noise(step, 1)
            + spike;
        let mut g = 1.2 + 1.5 * (k / 1.7).sin() * (-k / 6.0).exp() + 0.5 * noise(step, 2);
        let (mut ds, mut gs) = (0, 0);
        if step % 97 == 50 {
            d = f64::NAN;
            ds = 1;
        }
        if step % 131 == 70 {
            g = f64::INFINITY;
            gs = 1;
        }
        let phase = if fade { "fade" } else { "stable" };
        s += &format!(
            "{step},{images},{k:.3},{res},{phase},{:.4},{d:e},{g:e},{ds},{gs}\n",
            if fade { 0.5 } else { 1.0 }
        );
    }
    s
}

/// metrics.csv sampled every 0.6 kimg over the same schedule; SWD has one level per
/// pyramid resolution (32x32: two).
fn fake_metrics() -> String {
    let mut s = String::from(
        "kimg,res,alpha,generator_variance,adversarial_balance,avg_d_loss,avg_g_loss,swd_per_level\n",
    );
    for i in 0..=20u64 {
        let k = i as f64 * 0.6;
        let (res, fade) = phase_at(k);
        let levels: Vec<String> = (0..)
            .map(|l| res >> l)
            .take_while(|&r| r >= 16 || r == res)
            .map(|r| {
                let v = 400.0 * (-k / 2.5).exp() * (r as f64 / 4.0).sqrt()
                    + 8.0
                    + 3.0 * noise(i, r as u64);
                format!("{v:.2}")
            })
            .collect();
        let var = 0.15 + 0.7 * (1.0 - (-k / 3.0).exp()) + 0.05 * noise(i, 9);
        let bal = 2.0 * (-k / 3.0).exp() + 0.3 * noise(i, 8);
        s += &format!(
            "{k:.3},{res},{:.4},{var:.4},{bal:.4},{:.4},{:.4},{}\n",
            if fade { 0.5 } else { 1.0 },
            -0.5 - bal / 2.0,
            bal / 2.0,
            levels.join(";")
        );
    }
    s
}

fn load(path: &Path) -> RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

fn near(p: &Rgb<u8>, c: RGBColor, tol: i32) -> bool {
    (p[0] as i32 - c.0 as i32).abs() <= tol
        && (p[1] as i32 - c.1 as i32).abs() <= tol
        && (p[2] as i32 - c.2 as i32).abs() <= tol
}

/// Pixels of colour `c` (within 12 per channel) in the rectangle.
fn count(img: &RgbImage, c: RGBColor, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> usize {
    let mut n = 0;
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            n += near(img.get_pixel(x, y), c, 12) as usize;
        }
    }
    n
}

/// Dark grey (text) pixels in the rectangle: lines are coloured or lighter grey.
fn dark(img: &RgbImage, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> usize {
    let mut n = 0;
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            n += img.get_pixel(x, y).0.iter().all(|&v| v < 90) as usize;
        }
    }
    n
}

#[test]
fn losses_png_has_both_lines_ticks_and_labels() {
    let dir = temp_dir("losses");
    let mut csv = fake_losses(600);
    // Garbage the plot must pass over.
    csv += "not,a,row\n601,12000,oops,32,stable,1,1e0,1e0,0,0\n602,12010,12.010,32\n\n";
    fs::write(dir.join("losses.csv"), csv).unwrap();
    plot_losses(&dir).unwrap();
    let img = load(&dir.join("losses.png"));
    assert_eq!(img.dimensions(), LOSSES_SIZE);
    let (w, h) = LOSSES_SIZE;
    let plot = (90, 70, w - 20, h - 60);
    assert!(count(&img, G_COLOR, plot) > 300, "G line missing");
    assert!(count(&img, D_COLOR, plot) > 300, "D line missing");
    // The per-step values, lighter.
    assert!(count(&img, lighten(G_COLOR, 0.65), plot) > 300);
    assert!(count(&img, lighten(D_COLOR, 0.65), plot) > 300);
    // Tick numbers and "loss" left of the frame, tick numbers and "kimg" under it.
    assert!(dark(&img, (0, 70, 85, h - 60)) > 60, "no y tick labels");
    assert!(dark(&img, (90, h - 55, w, h)) > 60, "no x tick labels");
    // Title and legend.
    assert!(dark(&img, (0, 0, w, 44)) > 150, "no title");
    // Resolution changes: dashed grey lines.
    assert!(count(&img, RES_LINE, plot) > 150, "no resolution marks");
}

#[test]
fn losses_scale_ignores_early_spikes() {
    // If the y axis covered the 150-high first-step spike of D, the G curve (0.5 to 2.7)
    // would be a flat line at the bottom; with the robust range it spans the frame.
    let dir = temp_dir("spikes");
    fs::write(dir.join("losses.csv"), fake_losses(600)).unwrap();
    plot_losses(&dir).unwrap();
    let img = load(&dir.join("losses.png"));
    let (w, h) = LOSSES_SIZE;
    let rows_with_g: Vec<u32> = (70..h - 60)
        .filter(|&y| (90..w - 20).any(|x| near(img.get_pixel(x, y), G_COLOR, 12)))
        .collect();
    let spread = rows_with_g.last().unwrap() - rows_with_g.first().unwrap();
    assert!(spread > 80, "G curve squashed into {spread} px");
}

#[test]
fn losses_all_nan_or_garbage_plot_nothing() {
    let dir = temp_dir("nan");
    let mut csv = format!("{}\n", crate::train::run::LOSSES_HEADER);
    csv += "0,0,0.000,4,stable,1.0000,NaN,inf,1,1\n1,16,0.016,4,stable,1.0000,-inf,NaN,1,1\n";
    csv += "garbage\n,,,,,,,,\n";
    fs::write(dir.join("losses.csv"), csv).unwrap();
    plot_losses(&dir).unwrap();
    assert!(!dir.join("losses.png").exists());
}

#[test]
fn absurd_values_neither_hang_nor_panic() {
    let dir = temp_dir("absurd");
    let mut csv = format!("{}\n", crate::train::run::LOSSES_HEADER);
    for (i, v) in ["1e300", "-1.7976931348623157e308", "1e-300", "0e0", "5e29"]
        .iter()
        .enumerate()
    {
        csv += &format!("{i},{i},{i}e300,4,stable,1,{v},{v},0,0\n");
        csv += &format!("{i},{i},0.00{i},4,stable,1,{v},{v},0,0\n");
    }
    fs::write(dir.join("losses.csv"), csv).unwrap();
    plot_losses(&dir).unwrap();
    assert_eq!(load(&dir.join("losses.png")).dimensions(), LOSSES_SIZE);
    let mut csv = String::from("kimg,res,alpha,generator_variance,adversarial_balance,avg_d_loss,avg_g_loss,swd_per_level\n");
    csv += "0.0,4,1,1e300,-1e300,0,0,1e300\n1e300,8,1,0.5,0.1,0,0,0;1e-300\n0.1,0,1,1,1,1,1,1\n0.2,16,1,inf,NaN,0,0,-1;2\n";
    fs::write(dir.join("metrics.csv"), csv).unwrap();
    plot_metrics(&dir).unwrap();
    assert_eq!(load(&dir.join("metrics.png")).dimensions(), METRICS_SIZE);
}

#[test]
fn losses_single_row_plots() {
    let dir = temp_dir("one");
    let csv = format!(
        "{}\n0,0,0.000,4,stable,1.0000,1.5e0,-2e-1,0,0\n",
        crate::train::run::LOSSES_HEADER
    );
    fs::write(dir.join("losses.csv"), csv).unwrap();
    plot_losses(&dir).unwrap();
    assert_eq!(load(&dir.join("losses.png")).dimensions(), LOSSES_SIZE);
}

#[test]
fn missing_or_empty_csvs_plot_nothing() {
    let dir = temp_dir("missing");
    plot_losses(&dir).unwrap();
    plot_metrics(&dir).unwrap();
    assert!(!dir.join("losses.png").exists());
    assert!(!dir.join("metrics.png").exists());
    fs::write(dir.join("metrics.csv"), "").unwrap();
    plot_metrics(&dir).unwrap();
    fs::write(
        dir.join("metrics.csv"),
        "kimg,res,alpha,generator_variance,adversarial_balance,avg_d_loss,avg_g_loss,swd_per_level\n",
    )
    .unwrap();
    plot_metrics(&dir).unwrap();
    assert!(!dir.join("metrics.png").exists());
}

#[test]
fn metrics_png_has_three_panels_with_lines_and_labels() {
    let dir = temp_dir("metrics");
    let mut csv = fake_metrics();
    csv += "1.5,eight,1,0.5,0.1,0,0,1;2\nbroken\n13.0,32,1.0,NaN,NaN,NaN,NaN,\n";
    fs::write(dir.join("metrics.csv"), csv).unwrap();
    plot_metrics(&dir).unwrap();
    let img = load(&dir.join("metrics.png"));
    assert_eq!(img.dimensions(), METRICS_SIZE);
    let (w, h) = METRICS_SIZE;
    let third = (h - 46) / 3;
    let panel = |i: u32| (90, 46 + i * third + 60, w - 20, 46 + (i + 1) * third - 40);
    for res in [4, 8, 16, 32] {
        assert!(
            count(&img, level_color(res), panel(0)) > 40,
            "SWD {res}x{res} missing"
        );
    }
    assert!(
        count(&img, PALETTE[4], panel(1)) > 200,
        "variance line missing"
    );
    assert!(
        count(&img, PALETTE[1], panel(2)) > 200,
        "balance line missing"
    );
    for i in 0..3 {
        let (_, y0, _, y1) = panel(i);
        assert!(
            dark(&img, (0, y0, 85, y1)) > 100,
            "panel {i}: no y tick labels"
        );
        assert!(
            count(&img, RES_LINE, panel(i)) > 100,
            "panel {i}: no resolution marks"
        );
    }
    assert!(dark(&img, (90, h - 50, w, h)) > 60, "no x tick labels");
}

#[test]
fn metrics_single_row_and_missing_columns() {
    let dir = temp_dir("metrics-one");
    let csv = "kimg,res,alpha,generator_variance,adversarial_balance,avg_d_loss,avg_g_loss,swd_per_level\n0.000,4,1.0000,0.0000,0.0000,NaN,NaN,\n";
    fs::write(dir.join("metrics.csv"), csv).unwrap();
    plot_metrics(&dir).unwrap();
    assert_eq!(load(&dir.join("metrics.png")).dimensions(), METRICS_SIZE);
}

#[test]
fn clip_cuts_at_the_range_and_breaks_at_nan() {
    let pts = [
        (0.0, 0.0),
        (1.0, 10.0),
        (2.0, 0.0),
        (3.0, f64::NAN),
        (4.0, 0.5),
        (5.0, 0.5),
    ];
    let segs = clip(&pts, -1.0, 1.0);
    assert_eq!(segs.len(), 3, "{segs:?}");
    assert_eq!(segs[0], vec![(0.0, 0.0), (0.1, 1.0)]);
    assert!((segs[1][0].0 - 1.9).abs() < 1e-12 && segs[1][1] == (2.0, 0.0));
    assert_eq!(segs[2], vec![(4.0, 0.5), (5.0, 0.5)]);
    assert!(clip(&[(0.0, 5.0), (1.0, 6.0)], 0.0, 1.0).is_empty());
}

#[test]
fn robust_range_leaves_out_spikes() {
    let mut v: Vec<f64> = (0..200).map(|i| (i % 10) as f64 / 10.0).collect();
    v[0] = 500.0;
    v[1] = f64::NAN;
    let (lo, hi, out) = y_range(v.iter().copied(), true).unwrap();
    assert!(lo < 0.0 && lo > -0.2 && hi > 0.9 && hi < 1.1, "{lo} {hi}");
    assert_eq!(out, 1);
    let (_, hi, _) = y_range(v.iter().copied(), false).unwrap();
    assert!(hi > 500.0);
    assert!(y_range([f64::NAN].into_iter(), true).is_none());
}

#[test]
fn tick_labels_and_ema() {
    let f = tick_label(-1.2, 2.2, 8);
    assert_eq!(
        [f(&-1.0), f(&-0.0), f(&0.5), f(&2.0)],
        ["-1.0", "0.0", "0.5", "2.0"]
    );
    let f = tick_label(-3.4, 2.6, 8);
    assert_eq!([f(&-3.0), f(&2.0)], ["-3", "2"]);
    assert_eq!(tick_label(0.0, 300.0, 10)(&250.0), "250");
    assert_eq!(tick_label(0.0, 0.03, 10)(&0.005), "0.005");
    assert_eq!(tick_label(0.0, 1.0, 10)(&(0.1 + 0.2)), "0.3");
    assert_eq!(log_tick_label(&2.0), "2");
    assert_eq!(log_tick_label(&0.05), "0.05");
    assert_eq!(log_tick_label(&1000.0), "1000");
    assert_eq!(log_ticks(20.0, 400.0), [20.0, 50.0, 100.0, 200.0]);
    assert_eq!(log_ticks(0.5, 2e4), [1.0, 10.0, 100.0, 1000.0, 10000.0]);
    assert_eq!(log_ticks(1e-30, 1e30).len(), 8);
    // Bias-corrected: a constant series stays constant, also right after a restart.
    let pts: Vec<(f64, f64, usize)> = (0..10)
        .map(|i| (i as f64, if i < 5 { 1.0 } else { 3.0 }, i / 5))
        .collect();
    let e = ema(&pts, 4.0);
    assert!(e.iter().take(5).all(|p| (p.1 - 1.0).abs() < 1e-12));
    assert!(e.iter().skip(5).all(|p| (p.1 - 3.0).abs() < 1e-12));
}

/// Not a check: writes example plots to target/plot-examples to look at: a run over
/// 4x4..32x32, a tiny one (20 steps, two samples) and a long one (200k steps, timed).
#[test]
#[ignore]
fn example_plots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/plot-examples");
    for (name, steps, metrics) in [
        ("run-ffhq-32", 3000, fake_metrics()),
        (
            "tiny",
            20,
            fake_metrics()
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        ("long", 200_000, fake_metrics()),
    ] {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        let mut losses = fake_losses(steps);
        if steps < 100 {
            losses = losses.replace("4,stable", "4,fade");
        }
        fs::write(dir.join("losses.csv"), losses).unwrap();
        fs::write(dir.join("metrics.csv"), metrics).unwrap();
        let t = std::time::Instant::now();
        plot_losses(&dir).unwrap();
        plot_metrics(&dir).unwrap();
        println!("{}: {:?}", dir.display(), t.elapsed());
    }
}
