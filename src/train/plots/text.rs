//! The drawing backend of the plots: plotters' bitmap backend with text set from the
//! embedded DejaVu Sans by `ab_glyph`.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{register_font, FontStyle};
use plotters_backend as pb;
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

use crate::train::error::TrainError;

/// The family every text style here asks for; plotters' own defaults (legend, mesh) use it too.
pub(super) const FAMILY: &str = "sans-serif";
pub(super) static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Register the embedded font with plotters once per process. The plots here set their text
/// through [`Canvas`]; this is for anything drawn with plotters' own text path.
pub(super) fn font() -> Result<(), TrainError> {
    static OK: OnceLock<bool> = OnceLock::new();
    if *OK.get_or_init(|| register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()) {
        Ok(())
    } else {
        Err(TrainError::Picture(
            "the embedded plot font could not be loaded",
        ))
    }
}

/// The embedded font, parsed once.
pub(super) fn face() -> Result<&'static FontRef<'static>, TrainError> {
    static FACE: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FACE.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
        .ok_or(TrainError::Picture(
            "the embedded plot font could not be parsed",
        ))
}

/// plotters' bitmap backend with text set by ab_glyph directly: plotters' own ab_glyph
/// renderer (0.3.7) drops each glyph's left side bearing and rounds the pen position, which
/// makes words look unevenly spaced ("kim g"). Everything else is passed through.
pub(super) struct Canvas<'a> {
    pub(super) inner: BitMapBackend<'a>,
    pub(super) font: &'static FontRef<'static>,
}

pub(super) type Area<'a> = DrawingArea<Canvas<'a>, Shift>;
pub(super) type BackendError = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

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

pub(super) fn style(size: u32, color: RGBColor) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&color)
}
