//! Every op's checks in one table: the cases the test suite asserts and `gradcheck` prints.

use std::sync::Arc;

use super::{gradcheck, gradgradcheck, parity, random_input, Domain, Errors, Func};
use crate::ops::{self, UnaryOp};
use crate::tensor::Tensor;

/// f64 finite differences agree to about this (central differences, eps 1e-6).
pub const FD_TOL: f64 = 1e-6;
/// GPU f32 against CPU f64.
pub const GPU_TOL: f64 = 1e-4;

/// One op under test: the function, its inputs' shapes and domains.
pub struct Case {
    pub op: String,
    pub f: Arc<Func>,
    pub domains: Vec<Domain>,
    /// Small shapes for finite differences (f64 CPU).
    pub fd_shapes: Vec<Vec<usize>>,
    /// Awkward, larger shapes for GPU parity (batch 1, odd sizes, not multiples of 256 or 64).
    pub gpu_shapes: Vec<Vec<Vec<usize>>>,
    /// The op's backward is differentiable and is checked to second order.
    pub second_order: bool,
    /// Relative tolerance of GPU parity (GPU_TOL unless the case says why not).
    pub gpu_tol: f64,
}

impl Case {
    pub fn new(
        op: impl Into<String>,
        f: impl Fn(&[Tensor]) -> Tensor + Send + Sync + 'static,
    ) -> Self {
        Case {
            op: op.into(),
            f: Arc::new(f),
            domains: vec![Domain::Any],
            fd_shapes: vec![],
            gpu_shapes: vec![],
            second_order: true,
            gpu_tol: GPU_TOL,
        }
    }
    pub fn domains(mut self, d: &[Domain]) -> Self {
        self.domains = d.to_vec();
        self
    }
    pub fn fd(mut self, shapes: &[&[usize]]) -> Self {
        self.fd_shapes = shapes.iter().map(|s| s.to_vec()).collect();
        self
    }
    pub fn gpu(mut self, shapes: &[&[usize]]) -> Self {
        self.gpu_shapes
            .push(shapes.iter().map(|s| s.to_vec()).collect());
        self
    }
    pub fn first_order_only(mut self) -> Self {
        self.second_order = false;
        self
    }
    pub fn gpu_tol(mut self, tol: f64) -> Self {
        self.gpu_tol = tol;
        self
    }

    fn inputs(&self, shapes: &[Vec<usize>], seed: u64) -> Vec<Tensor> {
        shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let d = self.domains[i.min(self.domains.len() - 1)];
                random_input(s, d, seed + 31 * i as u64)
            })
            .collect()
    }
}

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

fn row(op: &str, check: &'static str, shapes: &[Vec<usize>], errors: Errors, tol: f64) -> Row {
    let shape = shapes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    Row {
        op: op.to_string(),
        check,
        shape,
        errors,
        tol,
        pass: errors.max_rel <= tol,
    }
}

/// Run one case: finite differences (first and second order) and GPU parity.
pub fn run_case(c: &Case) -> Vec<Row> {
    let mut rows = Vec::new();
    let seed =
        c.op.bytes()
            .fold(17u64, |h, b| h.wrapping_mul(131).wrapping_add(b as u64));
    if !c.fd_shapes.is_empty() {
        let xs = c.inputs(&c.fd_shapes, seed);
        rows.push(row(
            &c.op,
            "grad vs FD",
            &c.fd_shapes,
            gradcheck(&*c.f, &xs, seed),
            FD_TOL,
        ));
        if c.second_order {
            rows.push(row(
                &c.op,
                "grad2 vs FD",
                &c.fd_shapes,
                gradgradcheck(&*c.f, &xs, seed),
                FD_TOL,
            ));
        }
    }
    for shapes in &c.gpu_shapes {
        let xs = c.inputs(shapes, seed + 1);
        let p = parity(&*c.f, &xs, seed, c.second_order);
        rows.push(row(&c.op, "gpu value", shapes, p.value, c.gpu_tol));
        rows.push(row(&c.op, "gpu grad", shapes, p.grad, c.gpu_tol));
        if let Some(e) = p.grad2 {
            rows.push(row(&c.op, "gpu grad2", shapes, e, c.gpu_tol));
        }
    }
    rows
}

fn unary_case(name: &str, op: UnaryOp, d: Domain) -> Case {
    Case::new(name, move |x| ops::unary::unary(op, &x[0]))
        .domains(&[d])
        .fd(&[&[2, 3, 5]])
        .gpu(&[&[1, 7]])
        .gpu(&[&[3, 5, 301]])
}

/// The engine-core ops (elementwise, reductions, matmul, layout).
pub fn core_cases() -> Vec<Case> {
    use Domain::*;
    let sqrt2 = std::f64::consts::SQRT_2;
    let mut v = vec![
        unary_case("neg", UnaryOp::Neg, Any),
        unary_case("square", UnaryOp::Square, Any),
        unary_case("sqrt", UnaryOp::Sqrt, Positive),
        unary_case("rsqrt", UnaryOp::Rsqrt, Positive),
        unary_case("exp", UnaryOp::Exp, Any),
        unary_case("log", UnaryOp::Log, Positive),
        unary_case("softplus", UnaryOp::Softplus, Any),
        unary_case("sigmoid", UnaryOp::Sigmoid, Any),
        unary_case(
            "leaky_relu",
            UnaryOp::LeakyRelu {
                slope: 0.2,
                gain: sqrt2,
            },
            AwayFromZero,
        ),
        unary_case("add_scalar", UnaryOp::AddScalar(0.75), Any),
        unary_case("mul_scalar", UnaryOp::MulScalar(-1.5), Any),
        unary_case("recip", UnaryOp::Recip, Positive),
        unary_case("abs", UnaryOp::Abs, AwayFromZero),
    ];
    for (name, op) in [
        ("add", ops::add as fn(&Tensor, &Tensor) -> Tensor),
        ("sub", ops::sub),
        ("mul", ops::mul),
        ("div", ops::div),
    ] {
        let dom = if name == "div" {
            [Any, Positive]
        } else {
            [Any, Any]
        };
        v.push(
            Case::new(name, move |x| op(&x[0], &x[1]))
                .domains(&dom)
                .fd(&[&[2, 3], &[2, 3]])
                .gpu(&[&[1, 5], &[1, 5]])
                .gpu(&[&[7, 301], &[7, 301]]),
        );
        v.push(
            Case::new(format!("{name} (broadcast)"), move |x| op(&x[0], &x[1]))
                .domains(&dom)
                .fd(&[&[2, 1, 3], &[4, 1]])
                .gpu(&[&[3, 1, 5], &[17, 1]])
                .gpu(&[&[5], &[2, 9, 5]]),
        );
    }
    v.extend([
        Case::new("sum (axis 1)", |x| ops::sum(&x[0], &[1], false))
            .fd(&[&[2, 3, 4]])
            .gpu(&[&[1, 7, 1]])
            .gpu(&[&[3, 517, 5]]),
        Case::new("sum (axes 0,2)", |x| ops::sum(&x[0], &[0, 2], true))
            .fd(&[&[2, 3, 4]])
            .gpu(&[&[5, 3, 33]]),
        Case::new("sum (all)", |x| ops::sum_all(&x[0]))
            .fd(&[&[3, 5]])
            .gpu(&[&[1]])
            .gpu(&[&[9, 1001]]),
        Case::new("mean (axis 0)", |x| ops::mean(&x[0], &[0], false))
            .fd(&[&[4, 3]])
            .gpu(&[&[70, 13]]),
        Case::new("broadcast_to", |x| ops::broadcast_to(&x[0], &[2, 3, 4]))
            .fd(&[&[3, 1]])
            .gpu(&[&[3, 1]]),
        Case::new("matmul", |x| ops::matmul(&x[0], &x[1]))
            .fd(&[&[3, 4], &[4, 2]])
            .gpu(&[&[1, 1], &[1, 1]])
            .gpu(&[&[67, 130], &[130, 45]]),
        Case::new("matmul (A^T B^T)", |x| {
            ops::matmul_t(&x[0], &x[1], true, true)
        })
        .fd(&[&[4, 3], &[2, 4]])
        .gpu(&[&[70, 65], &[33, 70]]),
        Case::new("matmul (batched)", |x| ops::matmul(&x[0], &x[1]))
            .fd(&[&[2, 3, 4], &[4, 2]])
            .gpu(&[&[3, 33, 70], &[70, 65]]),
        Case::new("matmul (batched, B^T)", |x| {
            ops::matmul_t(&x[0], &x[1], false, true)
        })
        .fd(&[&[2, 3, 4], &[2, 5, 4]])
        .gpu(&[&[2, 17, 9], &[2, 66, 9]]),
        Case::new("reshape", |x| ops::reshape(&x[0], &[6, 2]))
            .fd(&[&[3, 4]])
            .gpu(&[&[3, 4]]),
        Case::new("permute", |x| ops::permute(&x[0], &[2, 0, 1]))
            .fd(&[&[2, 3, 4]])
            .gpu(&[&[3, 5, 17]]),
        Case::new("transpose", |x| ops::transpose(&x[0], 0, 1))
            .fd(&[&[3, 4]])
            .gpu(&[&[65, 33]]),
        Case::new("concat", |x| ops::concat(x, 1))
            .fd(&[&[2, 1, 3], &[2, 2, 3]])
            .gpu(&[&[3, 5, 7], &[3, 1, 7], &[3, 4, 7]]),
        Case::new("slice", |x| ops::slice(&x[0], 1, 1, 2))
            .fd(&[&[2, 4, 3]])
            .gpu(&[&[3, 9, 11]]),
        Case::new("pad", |x| ops::pad(&x[0], 0, 2, 5))
            .fd(&[&[2, 3]])
            .gpu(&[&[2, 301]]),
    ]);
    v
}

/// Every case the project has.
pub fn all_cases() -> Vec<Case> {
    core_cases()
}

/// Run every case whose op name contains `filter`.
pub fn run_all(filter: Option<&str>) -> Vec<Row> {
    all_cases()
        .iter()
        .filter(|c| filter.is_none_or(|f| c.op.contains(f)))
        .flat_map(run_case)
        .collect()
}

pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<24} {:<12} {:<30} {:>10} {:>10} {:>8}  {}\n",
        "op", "check", "shape", "max abs", "max rel", "tol", "result"
    );
    for r in rows {
        s += &format!(
            "{:<24} {:<12} {:<30} {:>10.2e} {:>10.2e} {:>8.0e}  {}\n",
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
