//! Every core op: gradients against f64 finite differences (first and second order) and the
//! GPU kernels against the CPU reference (values, gradients, second-order gradients) on
//! awkward shapes with NaN-poisoned outputs. The cases live in `sgw::check::suite`, shared
//! with the `gradcheck` subcommand.

use sgw::check::suite::{core_cases, run_case};
use sgw::check::table;

fn check(names: &[&str]) {
    let cases: Vec<_> = core_cases()
        .into_iter()
        .filter(|c| names.iter().any(|n| c.op.starts_with(n)))
        .collect();
    assert!(!cases.is_empty(), "no case matches {names:?}");
    let rows: Vec<_> = cases.iter().flat_map(run_case).collect();
    let bad: Vec<_> = rows.iter().filter(|r| !r.pass).cloned().collect();
    assert!(bad.is_empty(), "failures:\n{}", table(&bad));
    // Every case produced its finite-difference and GPU rows.
    for c in &cases {
        assert!(
            rows.iter().any(|r| r.op == c.op && r.check == "grad vs FD"),
            "{} lacks gradcheck",
            c.op
        );
        assert!(
            rows.iter().any(|r| r.op == c.op && r.check == "gpu value"),
            "{} lacks GPU parity",
            c.op
        );
        assert!(
            !c.second_order
                || rows
                    .iter()
                    .any(|r| r.op == c.op && r.check == "grad2 vs FD"),
            "{} lacks gradgradcheck",
            c.op
        );
    }
}

#[test]
fn unary_ops() {
    check(&[
        "neg",
        "square",
        "sqrt",
        "rsqrt",
        "exp",
        "log",
        "softplus",
        "sigmoid",
        "leaky_relu",
        "add_scalar",
        "mul_scalar",
        "recip",
        "abs",
    ]);
}

#[test]
fn binary_ops_with_broadcasting() {
    check(&["add", "sub", "mul", "div"]);
}

#[test]
fn reductions_and_broadcast() {
    check(&["sum", "mean", "broadcast_to"]);
}

#[test]
fn matmul() {
    check(&["matmul"]);
}

#[test]
fn layout_ops() {
    check(&["reshape", "permute", "transpose", "concat", "slice", "pad"]);
}
