//! Autograd semantics: accumulation, no_grad, graph release, second order, and the
//! gradient-penalty demonstration.

use sgw::check::gradcheck::numeric_grad;
use sgw::check::{random_input, Domain, Errors};
use sgw::ops::{matmul, mul, softplus, square, sum_all};
use sgw::{grad, grad_of, no_grad, Place, Tensor};

fn t64(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec_f64(v.to_vec(), shape, Place::Cpu64)
}

#[test]
fn gradients_accumulate_when_a_tensor_is_used_twice() {
    let x = t64(&[1.5, -2.0], &[2]).requires_grad_();
    // y = x*x + 3x  ->  dy/dx = 2x + 3
    let y = sum_all(&(&mul(&x, &x) + &(&x * 3.0)));
    let g = grad_of(&y, &x, false).to_vec_f64();
    assert_eq!(g, vec![2.0 * 1.5 + 3.0, 2.0 * -2.0 + 3.0]);
}

#[test]
fn backward_fills_leaf_grads_and_accumulates_across_calls() {
    let w = t64(&[2.0, 3.0], &[2]).requires_grad_();
    for _ in 0..2 {
        let l = sum_all(&square(&w));
        sgw::backward(&l);
    }
    assert_eq!(w.grad().unwrap().to_vec_f64(), vec![8.0, 12.0]);
}

#[test]
fn no_grad_records_nothing() {
    let x = t64(&[1.0], &[1]).requires_grad_();
    let y = no_grad(|| &x * 2.0);
    assert!(!y.requires_grad());
    let z = &x * 2.0;
    assert!(z.requires_grad());
}

#[test]
fn graph_is_released_after_backward_without_create_graph() {
    let x = t64(&[1.0, 2.0], &[2]).requires_grad_();
    let h = square(&x);
    let l = sum_all(&h);
    let _ = grad_of(&l, &x, true);
    assert!(
        l.has_graph() && h.has_graph(),
        "create_graph keeps the graph"
    );
    let _ = grad_of(&l, &x, false);
    assert!(
        !l.has_graph() && !h.has_graph(),
        "graph released after backward"
    );
}

#[test]
fn second_derivative_of_a_cube_matches_closed_form() {
    // f = sum(x^3): df/dx = 3x^2, d/dx sum(df/dx) = 6x.
    let x = t64(&[0.5, -1.25, 2.0], &[3]).requires_grad_();
    let f = sum_all(&mul(&square(&x), &x));
    let g = grad_of(&f, &x, true);
    assert_eq!(g.to_vec_f64(), vec![0.75, 3.0 * 1.5625, 12.0]);
    let gg = grad_of(&sum_all(&g), &x, false).to_vec_f64();
    assert_eq!(gg, vec![3.0, -7.5, 12.0]);
}

/// The WGAN-GP penalty of a two-layer function (softplus, so every weight enters smoothly), ||d f(x)/d x||^2, differentiated with respect
/// to the weights, against f64 finite differences.
#[test]
fn gradient_penalty_of_two_layer_function_matches_finite_differences() {
    let x = random_input(&[3, 5], Domain::Any, 11); // batch 3, 5 features
    let w1 = random_input(&[5, 4], Domain::Any, 12);
    let b1 = random_input(&[4], Domain::Any, 13);
    let w2 = random_input(&[4, 1], Domain::Any, 14);
    let penalty = |p: &[Tensor]| -> Tensor {
        let _rec = sgw::autograd::set_grad_enabled(true);
        let xr = x.detach().requires_grad_();
        let h = softplus(&(&matmul(&xr, &p[0]) + &p[1]));
        let f = sum_all(&matmul(&h, &p[2]));
        let gx = grad(&[f], &[xr], true)[0].clone();
        sum_all(&square(&gx))
    };
    let params: Vec<Tensor> = [&w1, &b1, &w2].iter().map(|t| t.requires_grad_()).collect();
    let analytic = grad(&[penalty(&params)], &params, false);
    let numeric = numeric_grad(
        &|p: &[Tensor]| penalty(p).item(),
        &[w1.clone(), b1.clone(), w2.clone()],
    );
    for (k, (a, n)) in analytic.iter().zip(&numeric).enumerate() {
        let e = Errors::of(&a.to_vec_f64(), n, 1e-3);
        assert!(e.max_rel < 1e-6, "param {k}: {e}");
        assert!(
            n.iter().any(|v| v.abs() > 1e-3),
            "param {k}: penalty should depend on it"
        );
    }
}

/// The harness must be able to fail: a deliberately wrong "gradient" is caught.
#[test]
fn gradcheck_catches_a_wrong_gradient() {
    let x = random_input(&[4], Domain::Positive, 3);
    let right = numeric_grad(
        &|v: &[Tensor]| sum_all(&square(&v[0])).item(),
        std::slice::from_ref(&x),
    );
    let wrong: Vec<f64> = x.to_vec_f64().iter().map(|v| 2.0 * v + 1e-4).collect();
    assert!(Errors::of(&wrong, &right[0], 1e-3).max_rel > 1e-6);
}

#[test]
fn a_second_walk_through_a_released_graph_is_an_error_naming_the_op() {
    use sgw::autograd::{try_backward, try_grad, GradOptions};
    let x = t64(&[1.5, -2.0], &[1, 2]).requires_grad_();
    let w = t64(&[0.5, -1.0], &[2, 1]);
    let y = matmul(&softplus(&mul(&x, &x)), &w);
    let first = try_grad(
        std::slice::from_ref(&y),
        std::slice::from_ref(&x),
        GradOptions::default(),
    )
    .unwrap();
    assert!(first[0].to_vec_f64().iter().all(|g| *g != 0.0));
    // The first walk released the graph: walking it again must not give zeros.
    let again = try_grad(
        std::slice::from_ref(&y),
        std::slice::from_ref(&x),
        GradOptions::default(),
    );
    let e = again.expect_err("a released graph was walked again without an error");
    assert_eq!(e.op, "matmul", "the error names the released op it reached");
    assert!(e.to_string().contains("retain_graph"), "{e}");
    assert!(try_backward(&y, false).is_err());
    let panicked =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grad_of(&y, &x, false)));
    let msg = panicked.expect_err("grad must refuse, as PyTorch does");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("`matmul`") && msg.contains("retain_graph"),
        "{msg}"
    );
}

#[test]
fn retain_graph_allows_walking_the_same_graph_twice() {
    use sgw::autograd::{try_grad, GradOptions};
    let x = t64(&[1.5, -2.0], &[2]).requires_grad_();
    let y = sum_all(&softplus(&mul(&x, &x)));
    let keep = GradOptions {
        create_graph: false,
        retain_graph: true,
    };
    let a =
        try_grad(std::slice::from_ref(&y), std::slice::from_ref(&x), keep).unwrap()[0].to_vec_f64();
    let b = try_grad(
        std::slice::from_ref(&y),
        std::slice::from_ref(&x),
        GradOptions::default(),
    )
    .unwrap()[0]
        .to_vec_f64();
    assert_eq!(a, b);
    // d/dx softplus(x^2) = sigmoid(x^2) * 2x
    for (g, x) in a.iter().zip([1.5f64, -2.0]) {
        let want = 2.0 * x / (1.0 + (-x * x).exp());
        assert!((g - want).abs() < 1e-12, "{g} vs {want}");
    }
    // The second walk (no retain) released it.
    assert!(try_grad(&[y], &[x], GradOptions::default()).is_err());
}
