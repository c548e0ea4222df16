//! How far one set of numbers is from a reference.

use std::fmt;

/// Largest absolute and relative error of `got` against `want`. The relative error divides by
/// |want| plus a floor of `floor_frac` times the largest |want|, so entries that cancel to
/// almost zero are judged against the tensor's scale. A NaN or infinity counts as infinite error.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Errors {
    pub max_abs: f64,
    pub max_rel: f64,
}

impl Errors {
    pub fn of(got: &[f64], want: &[f64], floor_frac: f64) -> Errors {
        assert_eq!(got.len(), want.len(), "compare: lengths differ");
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let floor = (floor_frac * scale).max(1e-30);
        let mut e = Errors::default();
        for (&g, &w) in got.iter().zip(want) {
            let abs = (g - w).abs();
            let abs = if abs.is_finite() { abs } else { f64::INFINITY };
            e.max_abs = e.max_abs.max(abs);
            e.max_rel = e.max_rel.max(abs / (w.abs() + floor));
        }
        e
    }

    pub fn max(self, o: Errors) -> Errors {
        Errors {
            max_abs: self.max_abs.max(o.max_abs),
            max_rel: self.max_rel.max(o.max_rel),
        }
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "abs {:.2e} rel {:.2e}", self.max_abs, self.max_rel)
    }
}
