//! Plots of a run, drawn with `plotters` into memory and saved as PNG: `losses.png` (G and D
//! losses against kimg) and `metrics.png` (SWD per pyramid level, generator variance and
//! adversarial balance against kimg). Both read the CSVs that `run` writes, so they can be
//! redrawn at any time, also for a run that is still going or was resumed.
//!
//! Text is set in DejaVu Sans, embedded in the binary (`assets/fonts`, Bitstream Vera
//! licence) and rasterised with `ab_glyph` (see [`Canvas`]): plotting needs no system fonts.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::RgbImage;
use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};
use plotters_backend as pb;
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

/// The family every text style here asks for; plotters' own defaults (legend, mesh) use it too.
const FAMILY: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Colours: the matplotlib "tab10" palette, which prints and reads well.
const G_COLOR: RGBColor = RGBColor(214, 39, 40);
const D_COLOR: RGBColor = RGBColor(31, 119, 180);
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const TEXT: RGBColor = RGBColor(30, 30, 30);
const MUTED: RGBColor = RGBColor(110, 110, 110);
const RES_LINE: RGBColor = RGBColor(120, 120, 120);
const FADE_FILL: RGBColor = RGBColor(236, 236, 236);
const GRID: RGBColor = RGBColor(225, 225, 225);

/// Pixel size of losses.png and of metrics.png.
pub const LOSSES_SIZE: (u32, u32) = (1100, 620);
pub const METRICS_SIZE: (u32, u32) = (1100, 1260);

/// Register the embedded font with plotters once per process. The plots here set their text
/// through [`Canvas`]; this is for anything drawn with plotters' own text path.
fn font() -> Result<(), String> {
    static OK: OnceLock<bool> = OnceLock::new();
    if *OK.get_or_init(|| register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()) {
        Ok(())
    } else {
        Err("the embedded plot font could not be loaded".into())
    }
}

/// The embedded font, parsed once.
fn face() -> Result<&'static FontRef<'static>, String> {
    static FACE: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FACE.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
        .ok_or_else(|| "the embedded plot font could not be parsed".to_string())
}

/// plotters' bitmap backend with text set by ab_glyph directly: plotters' own ab_glyph
/// renderer (0.3.7) drops each glyph's left side bearing and rounds the pen position, which
/// makes words look unevenly spaced ("kim g"). Everything else is passed through.
struct Canvas<'a> {
    inner: BitMapBackend<'a>,
    font: &'static FontRef<'static>,
}

type Area<'a> = DrawingArea<Canvas<'a>, Shift>;
type BackendError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

impl Canvas<'_> {
    /// Width, ascent and descent (negative) in pixels of `text` at `size` px.
    fn measure(&self, text: &str, size: f32) -> (f32, f32, f32) {
        let f = self.font.as_scaled(PxScale::from(size));
        let mut w = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                w += f.kern(p, id);
            }
            w += f.h_advance(id);
            prev = Some(id);
        }
        (w, f.ascent(), f.descent())
    }
}

impl DrawingBackend for Canvas<'_> {
    type ErrorType = BackendError;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<BackendError>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<BackendError>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<BackendError>> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: pb::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<BackendError>> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: pb::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<BackendError>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: pb::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<BackendError>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: pb::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<BackendError>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: pb::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<BackendError>> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<BackendError>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: pb::BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<BackendError>> {
        let (w, a, d) = self.measure(text, style.size() as f32);
        Ok((w.ceil() as u32, (a - d).ceil() as u32))
    }

    /// The box from the ascent line to the descent line, anchored as the style says, then
    /// rotated by its transform about the anchor point (as plotters' default does).
    fn draw_text<S: pb::BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<BackendError>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let size = style.size() as f32;
        let (w, a, d) = self.measure(text, size);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -w / 2.0,
            HPos::Right => -w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -(a - d) / 2.0,
            VPos::Bottom => -(a - d),
        };
        let trans = style.transform();
        let f = self.font.as_scaled(PxScale::from(size));
        let mut caret = dx.round();
        let baseline = (dy + a).round();
        let mut prev = None;
        let mut result = Ok(());
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                caret += f.kern(p, id);
            }
            prev = Some(id);
            let glyph = id.with_scale_and_position(size, ab_glyph::point(caret, baseline));
            caret += f.h_advance(id);
            let Some(outline) = self.font.outline_glyph(glyph) else {
                continue;
            };
            let b = outline.px_bounds();
            let inner = &mut self.inner;
            outline.draw(|x, y, cover| {
                if result.is_err() || cover <= 0.0 {
                    return;
                }
                let (tx, ty) =
                    trans.transform(b.min.x as i32 + x as i32, b.min.y as i32 + y as i32);
                let c = BackendColor {
                    alpha: color.alpha * cover.min(1.0) as f64,
                    rgb: color.rgb,
                };
                result = inner.draw_pixel((pos.0 + tx, pos.1 + ty), c);
            });
            std::mem::replace(&mut result, Ok(()))?;
        }
        Ok(())
    }
}

fn err<E: std::fmt::Display>(e: E) -> String {
    format!("plot: {e}")
}

fn style(size: u32, color: RGBColor) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&color)
}

/// `c` mixed with white: `amount` 0 is `c`, 1 is white.
fn lighten(c: RGBColor, amount: f64) -> RGBColor {
    let m = |v: u8| (v as f64 + (255.0 - v as f64) * amount).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// The colour of a pyramid level at `res`x`res`, the same in every run.
fn level_color(res: usize) -> RGBColor {
    let k = res.max(1).trailing_zeros() as usize;
    PALETTE[k.saturating_sub(2) % PALETTE.len()]
}

/// Labels for the ticks plotters puts on a linear axis over `lo..hi` when asked for at most
/// `n`: all with the decimals their step needs ("0.5 1.0 1.5", "0 2 4"), none like
/// "0.30000000000000004", and no "-0".
fn tick_label(lo: f64, hi: f64, n: usize) -> impl Fn(&f64) -> String {
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
fn log_tick_label(v: &f64) -> String {
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
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
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
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A y range for `values` (non-finite and absurd ones ignored), padded by 8% of its span each side.
/// `robust`: with 50 or more values, the 1st to 99th percentile instead of min to max, so
/// that a few spikes (WGAN-GP's D loss reaches hundreds in the first steps) do not flatten
/// the rest of the curve; what lies outside is clipped at the frame and counted.
fn y_range(values: impl Iterator<Item = f64>, robust: bool) -> Option<(f64, f64, usize)> {
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
fn x_range(xs: impl Iterator<Item = f64>) -> (f64, f64) {
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
fn clip_segment(p: (f64, f64), q: (f64, f64), lo: f64, hi: f64) -> Option<[(f64, f64); 2]> {
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
fn clip(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
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
fn ema(points: &[(f64, f64, usize)], window: f64) -> Vec<(f64, f64)> {
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
fn res_changes(rows: impl Iterator<Item = (f64, usize)>) -> Vec<(f64, usize)> {
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

/// What a legend entry shows next to its text.
#[derive(Clone, Copy)]
enum Key {
    Line(RGBColor, u32),
    Dashed(RGBColor),
    Box(RGBColor),
}

/// A panel's header: its title at the left, the legend at the right.
fn header(area: &Area<'_>, title: &str, legend: &[(String, Key)]) -> Result<(), String> {
    let (w, h) = area.dim_in_pixel();
    let y = h as i32 / 2;
    area.draw(&Text::new(
        title.to_string(),
        (12, y),
        style(19, TEXT).pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(err)?;
    let ts = style(15, TEXT).pos(Pos::new(HPos::Left, VPos::Center));
    let widths: Vec<i32> = legend
        .iter()
        .map(|(t, _)| area.estimate_text_size(t, &ts).map(|s| s.0 as i32))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let (sample, gap, after) = (26, 6, 22);
    let total: i32 = widths.iter().map(|w| sample + gap + w + after).sum::<i32>() - after;
    let mut x = w as i32 - 14 - total;
    for ((t, key), tw) in legend.iter().zip(widths) {
        match *key {
            Key::Line(c, width) => area
                .draw(&PathElement::new(
                    vec![(x, y), (x + sample, y)],
                    c.stroke_width(width),
                ))
                .map_err(err)?,
            Key::Dashed(c) => area
                .draw(&DashedPathElement::new(
                    vec![(x, y), (x + sample, y)],
                    5,
                    4,
                    c.stroke_width(2),
                ))
                .map_err(err)?,
            Key::Box(c) => area
                .draw(&Rectangle::new(
                    [(x, y - 7), (x + sample, y + 7)],
                    c.filled(),
                ))
                .map_err(err)?,
        }
        area.draw(&Text::new(t.clone(), (x + sample + gap, y), ts.clone()))
            .map_err(err)?;
        x += sample + gap + tw + after;
    }
    Ok(())
}

/// A line to draw in a panel: `points` may hold non-finite values, which break the line.
struct Line {
    points: Vec<(f64, f64)>,
    color: RGBColor,
    width: u32,
    markers: bool,
}

/// One chart: axes, mesh, fade-in bands, resolution changes (dashed, labelled above the
/// frame), horizontal reference lines and the lines themselves.
struct Panel<'a> {
    x: (f64, f64),
    x_desc: Option<&'a str>,
    y_desc: &'a str,
    /// `(lo, hi)` of the y axis; everything is clipped to it.
    y: (f64, f64),
    log_y: bool,
    fades: &'a [(f64, f64)],
    res_marks: &'a [(f64, usize)],
    /// The resolution at the start, labelled at the left edge.
    first_res: Option<usize>,
    /// `(y, colour, label)`: dashed horizontal lines, labelled at their right end.
    refs: Vec<(f64, RGBColor, String)>,
    lines: Vec<Line>,
    /// Small grey text at the lower left, under the axis.
    note: Option<String>,
}

const X_TICKS: usize = 10;
const Y_TICKS: usize = 8;

fn draw_panel(area: &Area<'_>, p: &Panel) -> Result<(), String> {
    if p.log_y {
        let ticks = log_ticks(p.y.0, p.y.1);
        draw_panel_on(area, p, (p.y.0..p.y.1).log_scale().with_key_points(ticks))
    } else {
        draw_panel_on(area, p, p.y.0..p.y.1)
    }
}

fn draw_panel_on<Y>(area: &Area<'_>, p: &Panel, y: Y) -> Result<(), String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let (x0, x1) = p.x;
    let (y0, y1) = p.y;
    let mut chart = ChartBuilder::on(area)
        .margin_top(24)
        .margin_right(26)
        .margin_left(8)
        .margin_bottom(6)
        .x_label_area_size(if p.x_desc.is_some() { 52 } else { 34 })
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, y)
        .map_err(err)?;
    let x_fmt = tick_label(x0, x1, X_TICKS);
    let y_lin = tick_label(y0, y1, Y_TICKS);
    let y_fmt = |v: &f64| if p.log_y { log_tick_label(v) } else { y_lin(v) };
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(X_TICKS)
        .y_labels(Y_TICKS)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(style(15, TEXT))
        .axis_desc_style(style(17, TEXT))
        .y_desc(p.y_desc)
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(WHITE.stroke_width(0))
        .axis_style(MUTED.stroke_width(1));
    if let Some(d) = p.x_desc {
        mesh.x_desc(d);
    }
    mesh.draw().map_err(err)?;

    // Fade-in bands and resolution changes under the data.
    for &(a, b) in p.fades {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a.max(x0), y0), (b.min(x1), y1)],
                FADE_FILL.filled(),
            )))
            .map_err(err)?;
    }
    let base = area.get_base_pixel();
    let label_style = style(13, MUTED).pos(Pos::new(HPos::Left, VPos::Bottom));
    let mut free_from = i32::MIN;
    let initial = p.first_res.map(|r| (x0, r, false));
    for (k, res, line) in initial
        .into_iter()
        .chain(p.res_marks.iter().map(|&(k, r)| (k, r, true)))
    {
        if line {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(k, y0), (k, y1)],
                    6,
                    5,
                    RES_LINE.stroke_width(1),
                ))
                .map_err(err)?;
        }
        let px = chart.backend_coord(&(k, y1)).0 - base.0;
        let text = format!("{res}x{res}");
        let tw = area.estimate_text_size(&text, &label_style).map_err(err)?.0 as i32;
        // Right of the line, or left of it at the right edge; skipped where it would run
        // into the previous label (very short phases).
        let right_edge = area.dim_in_pixel().0 as i32 - 2;
        let x = if px + 3 + tw > right_edge {
            px - 3 - tw
        } else {
            px + 3
        };
        if x >= free_from {
            area.draw(&Text::new(text, (x, 21), label_style.clone()))
                .map_err(err)?;
            free_from = x + tw + 6;
        }
    }
    for (v, c, label) in &p.refs {
        if label.is_empty() {
            // A plain axis line (zero): thin and solid, not to be read as a marker.
            chart
                .draw_series(LineSeries::new(vec![(x0, *v), (x1, *v)], c.stroke_width(1)))
                .map_err(err)?;
            continue;
        }
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x0, *v), (x1, *v)],
                8,
                5,
                c.stroke_width(2),
            ))
            .map_err(err)?;
    }

    let (lo, hi) = (y0, y1);
    for l in &p.lines {
        for seg in clip(&l.points, lo, hi) {
            chart
                .draw_series(LineSeries::new(seg, l.color.stroke_width(l.width)))
                .map_err(err)?;
        }
        if l.markers {
            let inside = l
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (lo..=hi).contains(y))
                .map(|&pt| Circle::new(pt, 3, l.color.filled()));
            chart.draw_series(inside).map_err(err)?;
        }
    }
    // The reference lines' labels over the data, on a light box so that a line under them
    // does not make them unreadable.
    for (v, c, label) in p.refs.iter().filter(|r| !r.2.is_empty()) {
        let (px, py) = chart.backend_coord(&(x1, *v));
        let (x, y) = (px - base.0 - 6, py - base.1 - 4);
        let ts = style(13, *c).pos(Pos::new(HPos::Right, VPos::Bottom));
        let (tw, th) = area.estimate_text_size(label, &ts).map_err(err)?;
        area.draw(&Rectangle::new(
            [(x - tw as i32 - 3, y - th as i32 - 1), (x + 3, y + 1)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(err)?;
        area.draw(&Text::new(label.clone(), (x, y), ts))
            .map_err(err)?;
    }
    if let Some(note) = &p.note {
        let (_, h) = area.dim_in_pixel();
        area.draw(&Text::new(
            note.clone(),
            (12, h as i32 - 8),
            style(13, MUTED).pos(Pos::new(HPos::Left, VPos::Bottom)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// Draw into an in-memory RGB picture of `size` and save it as PNG at `path`.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> Result<(), String> {
    font()?;
    let font = face()?;
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let inner = BitMapBackend::with_buffer(&mut buf, size);
        let root = Canvas { inner, font }.into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    let img = RgbImage::from_raw(size.0, size.1, buf).ok_or("plot: buffer size")?;
    img.save(path)
        .map_err(|e| format!("could not write {}: {e}", path.display()))
}

/// The file's text, or None when it does not exist.
fn read(path: &Path) -> Result<Option<String>, String> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("could not read {}: {e}", path.display())),
    }
}

fn run_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

struct LossRow {
    kimg: f64,
    res: usize,
    fade: bool,
    d: f64,
    g: f64,
}

/// One row of losses.csv (`step,images,kimg,res,phase,alpha,d_loss,g_loss,...`), or None for
/// the header and anything malformed. Losses that do not parse read as NaN.
fn loss_row(line: &str) -> Option<LossRow> {
    let f: Vec<&str> = line.trim().split(',').collect();
    if f.len() < 8 {
        return None;
    }
    let kimg: f64 = f[2].parse().ok().filter(|k: &f64| k.abs() < 1e12)?;
    let res: usize = f[3].parse().ok()?;
    Some(LossRow {
        kimg,
        res,
        fade: f[4] == "fade",
        d: f[6].parse().unwrap_or(f64::NAN),
        g: f[7].parse().unwrap_or(f64::NAN),
    })
}

/// `dir/losses.png` from `dir/losses.csv`: the G and D losses per step (light) and their
/// moving averages (strong) against kimg, fade-ins shaded, resolution changes dashed and
/// labelled. Non-finite losses (skipped steps) are left out; the y axis spans the 1st to
/// 99th percentile, so early WGAN-GP spikes are clipped (the count is written under the
/// axis). A missing losses.csv, or one without a usable row, draws nothing and is Ok.
pub fn plot_losses(dir: &Path) -> Result<(), String> {
    let Some(text) = read(&dir.join("losses.csv"))? else {
        return Ok(());
    };
    let mut rows: Vec<LossRow> = text.lines().filter_map(loss_row).collect();
    rows.sort_by(|a, b| a.kimg.total_cmp(&b.kimg));
    let finite = |v: f64| v.is_finite();
    if !rows.iter().any(|r| finite(r.d) || finite(r.g)) {
        return Ok(());
    }
    let d: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| finite(r.d))
        .map(|r| (r.kimg, r.d))
        .collect();
    let g: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| finite(r.g))
        .map(|r| (r.kimg, r.g))
        .collect();
    let (y0, y1, outside) =
        y_range(d.iter().chain(&g).map(|p| p.1), true).ok_or("plot: no finite loss")?;
    // A time constant of ~1/60 of the run: smooth enough to read, short enough to follow a
    // resolution change (where it restarts). It averages the values as drawn, clamped to the
    // y range: an off-scale spike would otherwise drag the smooth line for a long while.
    let window = (rows.len() as f64 / 60.0).clamp(1.0, 500.0);
    let smooth = |v: fn(&LossRow) -> f64| {
        let pts: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.kimg,
                    if v(r).is_finite() {
                        v(r).clamp(y0, y1)
                    } else {
                        f64::NAN
                    },
                    r.res,
                )
            })
            .collect();
        ema(&pts, window)
    };
    let (d_ema, g_ema) = (smooth(|r| r.d), smooth(|r| r.g));
    let x = x_range(rows.iter().map(|r| r.kimg));
    let marks = res_changes(rows.iter().map(|r| (r.kimg, r.res)));
    let mut fades = Vec::new();
    let mut open: Option<(f64, f64)> = None;
    for r in &rows {
        open = match (open, r.fade) {
            (Some((a, _)), true) => Some((a, r.kimg)),
            (None, true) => Some((r.kimg, r.kimg)),
            (Some(band), false) => {
                fades.push(band);
                None
            }
            (None, false) => None,
        };
    }
    fades.extend(open);
    let skipped = rows.iter().filter(|r| !finite(r.d) || !finite(r.g)).count();
    let mut note = Vec::new();
    if outside > 0 {
        note.push(format!(
            "y axis: 1st–99th percentile, {outside} values off-scale"
        ));
    }
    if skipped > 0 {
        note.push(format!("{skipped} non-finite steps left out"));
    }
    let first_res = rows.first().map(|r| r.res).unwrap_or(0);
    let mut refs = Vec::new();
    if y0 < 0.0 && y1 > 0.0 {
        refs.push((0.0, RGBColor(170, 170, 170), String::new()));
    }
    let panel = Panel {
        x,
        x_desc: Some("kimg"),
        y_desc: "loss",
        y: (y0, y1),
        log_y: false,
        fades: &fades,
        res_marks: &marks,
        first_res: Some(first_res),
        refs,
        lines: vec![
            Line {
                points: d,
                color: lighten(D_COLOR, 0.65),
                width: 1,
                markers: false,
            },
            Line {
                points: g,
                color: lighten(G_COLOR, 0.65),
                width: 1,
                markers: false,
            },
            Line {
                points: d_ema,
                color: D_COLOR,
                width: 2,
                markers: false,
            },
            Line {
                points: g_ema,
                color: G_COLOR,
                width: 2,
                markers: false,
            },
        ],
        note: (!note.is_empty()).then(|| note.join("; ")),
    };
    let name = run_name(dir);
    let title = if name.is_empty() {
        format!("Losses from {first_res}x{first_res}")
    } else {
        format!("Losses · {name}")
    };
    let mut legend = vec![
        ("G".to_string(), Key::Line(G_COLOR, 3)),
        ("D".to_string(), Key::Line(D_COLOR, 3)),
        ("per step".to_string(), Key::Line(lighten(MUTED, 0.45), 1)),
        ("resolution change".to_string(), Key::Dashed(RES_LINE)),
    ];
    if !fades.is_empty() {
        legend.push(("fade-in".to_string(), Key::Box(FADE_FILL)));
    }
    render(&dir.join("losses.png"), LOSSES_SIZE, |root| {
        let (head, body) = root.split_vertically(44);
        header(&head, &title, &legend)?;
        draw_panel(&body, &panel)
    })
}

struct MetricsRow {
    kimg: f64,
    res: usize,
    variance: f64,
    balance: f64,
    swd: Vec<f64>,
}

/// One row of metrics.csv (`kimg,res,alpha,generator_variance,adversarial_balance,
/// avg_d_loss,avg_g_loss,swd_per_level`), or None for the header and anything malformed.
fn metrics_row(line: &str) -> Option<MetricsRow> {
    let f: Vec<&str> = line.trim().split(',').collect();
    if f.len() < 5 {
        return None;
    }
    let kimg: f64 = f[0].parse().ok().filter(|k: &f64| k.abs() < 1e12)?;
    let res: usize = f[1].parse().ok().filter(|&r| r > 0)?;
    let num = |s: Option<&&str>| s.and_then(|s| s.trim().parse().ok()).unwrap_or(f64::NAN);
    Some(MetricsRow {
        kimg,
        res,
        variance: num(f.get(3)),
        balance: num(f.get(4)),
        swd: f
            .get(7)
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.split(';')
                    .map(|v| v.trim().parse().unwrap_or(f64::NAN))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// `dir/metrics.png` from `dir/metrics.csv`, three panels against kimg with the resolution
/// changes marked: the sliced Wasserstein distance (x1e3) of each Laplacian pyramid level,
/// one line per level resolution (level i of a `res` image is `res >> i`; log axis when the
/// values span a decade or more), the generator variance as a % of the data's (dashed at
/// 100% = the data, and at the 20% mode-collapse warning of the log), and the adversarial
/// balance (EMA of G loss - EMA of D loss). Malformed rows are skipped. When there is
/// nothing to plot (no metrics.csv, or no usable row in it) it draws nothing and is Ok.
pub fn plot_metrics(dir: &Path) -> Result<(), String> {
    let Some(text) = read(&dir.join("metrics.csv"))? else {
        return Ok(());
    };
    let mut rows: Vec<MetricsRow> = text.lines().filter_map(metrics_row).collect();
    rows.sort_by(|a, b| a.kimg.total_cmp(&b.kimg));
    if rows.is_empty() {
        return Ok(());
    }
    let x = x_range(rows.iter().map(|r| r.kimg));
    let marks = res_changes(rows.iter().map(|r| (r.kimg, r.res)));
    let markers = rows.len() <= 120;
    let first_res = rows.first().map(|r| r.res);

    // SWD: one line per level resolution, broken where a row has no such level.
    let mut level_res: Vec<usize> = rows
        .iter()
        .flat_map(|r| (0..r.swd.len()).map(move |i| r.res >> i))
        .filter(|&l| l > 0)
        .collect();
    level_res.sort_unstable();
    level_res.dedup();
    let swd_lines: Vec<(usize, Vec<(f64, f64)>)> = level_res
        .iter()
        .map(|&l| {
            let pts = rows
                .iter()
                .map(|r| {
                    let v = (0..r.swd.len())
                        .find(|&i| r.res >> i == l)
                        .map_or(f64::NAN, |i| r.swd[i]);
                    (r.kimg, v)
                })
                .collect();
            (l, pts)
        })
        .filter(|(_, pts): &(usize, Vec<(f64, f64)>)| pts.iter().any(|p| p.1.abs() < 1e30))
        .collect();
    let positive: Vec<f64> = swd_lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .filter(|v| *v > 1e-30 && *v < 1e30)
        .collect();
    let (pmin, pmax) = positive
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let log_swd = positive.len() >= 2 && pmax / pmin >= 10.0;
    let swd_y = if log_swd {
        Some((pmin / 1.25, pmax * 1.25, 0))
    } else {
        y_range(
            swd_lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)),
            false,
        )
        // Distances are >= 0: start the axis at 0.
        .map(|(_, hi, n)| (0.0, hi.max(1e-6), n))
    };

    let variance: Vec<(f64, f64)> = rows.iter().map(|r| (r.kimg, 100.0 * r.variance)).collect();
    let vmax = variance
        .iter()
        .map(|p| p.1)
        .filter(|v| v.abs() < 1e30)
        .fold(0.0f64, f64::max);
    let balance: Vec<(f64, f64)> = rows.iter().map(|r| (r.kimg, r.balance)).collect();
    let bal_y = y_range(balance.iter().map(|p| p.1), false);

    let name = run_name(dir);
    render(&dir.join("metrics.png"), METRICS_SIZE, |root| {
        let (title, rest) = root.split_vertically(46);
        title
            .draw(&Text::new(
                if name.is_empty() {
                    "Training metrics".to_string()
                } else {
                    format!("Training metrics · {name}")
                },
                (12, 26),
                style(22, TEXT).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(err)?;
        let panels = rest.split_evenly((3, 1));

        // 1. SWD per level.
        let (head, body) = panels[0].split_vertically(36);
        let legend: Vec<(String, Key)> = swd_lines
            .iter()
            .map(|&(l, _)| (format!("{l}x{l}"), Key::Line(level_color(l), 3)))
            .collect();
        header(
            &head,
            "Sliced Wasserstein distance per pyramid level (lower is better)",
            &legend,
        )?;
        match swd_y {
            Some((lo, hi, _)) => draw_panel(
                &body,
                &Panel {
                    x,
                    x_desc: None,
                    y_desc: if log_swd {
                        "SWD ×10³ (log)"
                    } else {
                        "SWD ×10³"
                    },
                    y: (lo, hi),
                    log_y: log_swd,
                    fades: &[],
                    res_marks: &marks,
                    first_res,
                    refs: vec![],
                    lines: swd_lines
                        .iter()
                        .map(|(l, pts)| Line {
                            points: pts
                                .iter()
                                .map(|&(k, v)| (k, if log_swd && v <= 0.0 { f64::NAN } else { v }))
                                .collect(),
                            color: level_color(*l),
                            width: 2,
                            markers,
                        })
                        .collect(),
                    note: None,
                },
            )?,
            None => no_data(&body)?,
        }

        // 2. Generator variance.
        let (head, body) = panels[1].split_vertically(36);
        header(
            &head,
            "Generator variance, % of the data's (low = mode collapse)",
            &[("G_ema samples".to_string(), Key::Line(PALETTE[4], 3))],
        )?;
        if variance.iter().any(|p| p.1.is_finite()) {
            draw_panel(
                &body,
                &Panel {
                    x,
                    x_desc: None,
                    y_desc: "% of data variance",
                    y: (0.0, (vmax * 1.08).max(115.0)),
                    log_y: false,
                    fades: &[],
                    res_marks: &marks,
                    first_res,
                    refs: vec![
                        (100.0, RGBColor(60, 140, 60), "data = 100%".to_string()),
                        (
                            20.0,
                            RGBColor(200, 80, 40),
                            "collapse warning (20%)".to_string(),
                        ),
                    ],
                    lines: vec![Line {
                        points: variance.clone(),
                        color: PALETTE[4],
                        width: 2,
                        markers,
                    }],
                    note: None,
                },
            )?;
        } else {
            no_data(&body)?;
        }

        // 3. Adversarial balance.
        let (head, body) = panels[2].split_vertically(36);
        header(
            &head,
            "Adversarial balance: EMA of G loss − EMA of D loss",
            &[("balance".to_string(), Key::Line(PALETTE[1], 3))],
        )?;
        match bal_y {
            Some((lo, hi, _)) => draw_panel(
                &body,
                &Panel {
                    x,
                    x_desc: Some("kimg"),
                    y_desc: "G − D",
                    y: (lo, hi),
                    log_y: false,
                    fades: &[],
                    res_marks: &marks,
                    first_res,
                    refs: if lo < 0.0 && hi > 0.0 {
                        vec![(0.0, RGBColor(170, 170, 170), String::new())]
                    } else {
                        vec![]
                    },
                    lines: vec![Line {
                        points: balance.clone(),
                        color: PALETTE[1],
                        width: 2,
                        markers,
                    }],
                    note: None,
                },
            )?,
            None => no_data(&body)?,
        }
        Ok(())
    })
}

/// A panel with no finite values: say so instead of drawing empty axes.
fn no_data(area: &Area<'_>) -> Result<(), String> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        "no finite values yet".to_string(),
        (w as i32 / 2, h as i32 / 2),
        style(16, MUTED).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;
    use std::path::PathBuf;

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
        let mut x =
            i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03);
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
}
