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

/// A few long rows are cut into parts so they fill a GPU, then the parts are added: every
/// element still counts once, whatever the row length (not a multiple of the part size, of
/// the workgroup, or just past one part).
#[test]
fn long_rows_are_summed_in_parts_with_every_element_counted() {
    use sgw::ops::{rand_uniform, reduce::sum_of_squares, sum};
    use sgw::Place;
    for (m, k) in [(1usize, 300_007usize), (3, 50_001), (2, 2049), (1, 4097)] {
        let x = rand_uniform(&[m, k], 7, (m * k) as u64, -1.0, 3.0, Place::Cpu64);
        let v = x.to_vec_f64();
        let want: Vec<f64> = v.chunks(k).map(|r| r.iter().sum()).collect();
        let got = {
            let _poison = sgw::gpu::set_poison(true);
            sum(&x.to_gpu(), &[1], false).to_vec_f64()
        };
        for (r, (g, w)) in got.iter().zip(&want).enumerate() {
            // f32 terms in [-1, 3): the sum's rounding grows with sqrt(k), well under 1e-5.
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "m={m} k={k} row {r}: gpu {g} vs {w}"
            );
        }
        let squares: f64 = v.iter().map(|a| a * a).sum();
        let gpu = sum_of_squares(&x.to_gpu()).item();
        assert!(
            (gpu - squares).abs() <= 1e-5 * squares,
            "m={m} k={k}: {gpu} vs {squares}"
        );
    }
}
