//! One chart of a plot ([`Panel`]: axes, mesh, fade-in bands, resolution changes, reference
//! lines and data lines), its header (title and legend), and the PNG it is rendered into.

use std::path::Path;

use image::RgbImage;
use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::scale::{clip, log_tick_label, log_ticks, tick_label, X_TICKS, Y_TICKS};
use super::text::{face, font, style, Area, Canvas};
use super::{FADE_FILL, GRID, MUTED, RES_LINE, TEXT};
use crate::train::error::TrainError;

/// What a legend entry shows next to its text.
#[derive(Clone, Copy)]
pub(super) enum Key {
    Line(RGBColor, u32),
    Dashed(RGBColor),
    Box(RGBColor),
}

/// A panel's header: its title at the left, the legend at the right.
pub(super) fn header(
    area: &Area<'_>,
    title: &str,
    legend: &[(String, Key)],
) -> Result<(), TrainError> {
    let (w, h) = area.dim_in_pixel();
    let y = h as i32 / 2;
    area.draw(&Text::new(
        title.to_string(),
        (12, y),
        style(19, TEXT).pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    let ts = style(15, TEXT).pos(Pos::new(HPos::Left, VPos::Center));
    let widths: Vec<i32> = legend
        .iter()
        .map(|(t, _)| area.estimate_text_size(t, &ts).map(|s| s.0 as i32))
        .collect::<Result<_, _>>()?;
    let (sample, gap, after) = (26, 6, 22);
    let total: i32 = widths.iter().map(|w| sample + gap + w + after).sum::<i32>() - after;
    let mut x = w as i32 - 14 - total;
    for ((t, key), tw) in legend.iter().zip(widths) {
        match *key {
            Key::Line(c, width) => area.draw(&PathElement::new(
                vec![(x, y), (x + sample, y)],
                c.stroke_width(width),
            ))?,
            Key::Dashed(c) => area.draw(&DashedPathElement::new(
                vec![(x, y), (x + sample, y)],
                5,
                4,
                c.stroke_width(2),
            ))?,
            Key::Box(c) => area.draw(&Rectangle::new(
                [(x, y - 7), (x + sample, y + 7)],
                c.filled(),
            ))?,
        }
        area.draw(&Text::new(t.clone(), (x + sample + gap, y), ts.clone()))?;
        x += sample + gap + tw + after;
    }
    Ok(())
}

/// A line to draw in a panel: `points` may hold non-finite values, which break the line.
pub(super) struct Line {
    pub(super) points: Vec<(f64, f64)>,
    pub(super) color: RGBColor,
    pub(super) width: u32,
    pub(super) markers: bool,
}

/// One chart: axes, mesh, fade-in bands, resolution changes (dashed, labelled above the
/// frame), horizontal reference lines and the lines themselves.
pub(super) struct Panel<'a> {
    pub(super) x: (f64, f64),
    pub(super) x_desc: Option<&'a str>,
    pub(super) y_desc: &'a str,
    /// `(lo, hi)` of the y axis; everything is clipped to it.
    pub(super) y: (f64, f64),
    pub(super) log_y: bool,
    pub(super) fades: &'a [(f64, f64)],
    pub(super) res_marks: &'a [(f64, usize)],
    /// The resolution at the start, labelled at the left edge.
    pub(super) first_res: Option<usize>,
    /// `(y, colour, label)`: dashed horizontal lines, labelled at their right end.
    pub(super) refs: Vec<(f64, RGBColor, String)>,
    pub(super) lines: Vec<Line>,
    /// Small grey text at the lower left, under the axis.
    pub(super) note: Option<String>,
}

pub(super) fn draw_panel(area: &Area<'_>, p: &Panel) -> Result<(), TrainError> {
    if p.log_y {
        let ticks = log_ticks(p.y.0, p.y.1);
        draw_panel_on(area, p, (p.y.0..p.y.1).log_scale().with_key_points(ticks))
    } else {
        draw_panel_on(area, p, p.y.0..p.y.1)
    }
}

pub(super) fn draw_panel_on<Y>(area: &Area<'_>, p: &Panel, y: Y) -> Result<(), TrainError>
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
        .build_cartesian_2d(x0..x1, y)?;
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
    mesh.draw()?;

    // Fade-in bands and resolution changes under the data.
    for &(a, b) in p.fades {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(a.max(x0), y0), (b.min(x1), y1)],
            FADE_FILL.filled(),
        )))?;
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
            chart.draw_series(DashedLineSeries::new(
                vec![(k, y0), (k, y1)],
                6,
                5,
                RES_LINE.stroke_width(1),
            ))?;
        }
        let px = chart.backend_coord(&(k, y1)).0 - base.0;
        let text = format!("{res}x{res}");
        let tw = area.estimate_text_size(&text, &label_style)?.0 as i32;
        // Right of the line, or left of it at the right edge; skipped where it would run
        // into the previous label (very short phases).
        let right_edge = area.dim_in_pixel().0 as i32 - 2;
        let x = if px + 3 + tw > right_edge {
            px - 3 - tw
        } else {
            px + 3
        };
        if x >= free_from {
            area.draw(&Text::new(text, (x, 21), label_style.clone()))?;
            free_from = x + tw + 6;
        }
    }
    for (v, c, label) in &p.refs {
        if label.is_empty() {
            // A plain axis line (zero): thin and solid, not to be read as a marker.
            chart.draw_series(LineSeries::new(vec![(x0, *v), (x1, *v)], c.stroke_width(1)))?;
            continue;
        }
        chart.draw_series(DashedLineSeries::new(
            vec![(x0, *v), (x1, *v)],
            8,
            5,
            c.stroke_width(2),
        ))?;
    }

    let (lo, hi) = (y0, y1);
    for l in &p.lines {
        for seg in clip(&l.points, lo, hi) {
            chart.draw_series(LineSeries::new(seg, l.color.stroke_width(l.width)))?;
        }
        if l.markers {
            let inside = l
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (lo..=hi).contains(y))
                .map(|&pt| Circle::new(pt, 3, l.color.filled()));
            chart.draw_series(inside)?;
        }
    }
    // The reference lines' labels over the data, on a light box so that a line under them
    // does not make them unreadable.
    for (v, c, label) in p.refs.iter().filter(|r| !r.2.is_empty()) {
        let (px, py) = chart.backend_coord(&(x1, *v));
        let (x, y) = (px - base.0 - 6, py - base.1 - 4);
        let ts = style(13, *c).pos(Pos::new(HPos::Right, VPos::Bottom));
        let (tw, th) = area.estimate_text_size(label, &ts)?;
        area.draw(&Rectangle::new(
            [(x - tw as i32 - 3, y - th as i32 - 1), (x + 3, y + 1)],
            WHITE.mix(0.85).filled(),
        ))?;
        area.draw(&Text::new(label.clone(), (x, y), ts))?;
    }
    if let Some(note) = &p.note {
        let (_, h) = area.dim_in_pixel();
        area.draw(&Text::new(
            note.clone(),
            (12, h as i32 - 8),
            style(13, MUTED).pos(Pos::new(HPos::Left, VPos::Bottom)),
        ))?;
    }
    Ok(())
}

/// Draw into an in-memory RGB picture of `size` and save it as PNG at `path`.
pub(super) fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    font()?;
    let font = face()?;
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let inner = BitMapBackend::with_buffer(&mut buf, size);
        let root = Canvas { inner, font }.into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    let img =
        RgbImage::from_raw(size.0, size.1, buf).ok_or(TrainError::Picture("plot: buffer size"))?;
    img.save(path).map_err(|source| TrainError::Image {
        path: path.to_path_buf(),
        source,
    })
}

/// A panel with no finite values: say so instead of drawing empty axes.
pub(super) fn no_data(area: &Area<'_>) -> Result<(), TrainError> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        "no finite values yet".to_string(),
        (w as i32 / 2, h as i32 / 2),
        style(16, MUTED).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}
