//! The report of a check run: one [`Row`] per check and the table `gradcheck` prints.

use super::Errors;

/// One line of the report.
#[derive(Clone, Debug)]
pub struct Row {
    pub op: String,
    pub check: &'static str,
    pub shape: String,
    pub errors: Errors,
    pub tol: f64,
    pub pass: bool,
}

impl Row {
    /// A row that passes when the relative error is within `tol`.
    pub fn new(op: &str, check: &'static str, shape: String, errors: Errors, tol: f64) -> Row {
        Row {
            op: op.to_string(),
            check,
            shape,
            errors,
            tol,
            pass: errors.max_rel <= tol,
        }
    }
}

pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<28} {:<12} {:<36} {:>10} {:>10} {:>8}  {}\n",
        "op", "check", "shape", "max abs", "max rel", "tol", "result"
    );
    for r in rows {
        s += &format!(
            "{:<28} {:<12} {:<36} {:>10.2e} {:>10.2e} {:>8.0e}  {}\n",
            r.op,
            r.check,
            r.shape,
            r.errors.max_abs,
            r.errors.max_rel,
            r.tol,
            if r.pass { "pass" } else { "FAIL" }
        );
    }
    s
}
