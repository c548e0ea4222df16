//! Floor 7: the verification harness, shared by the tests and the `gradcheck` subcommand:
//! first- and second-order gradients against central finite differences (f64, CPU), and
//! GPU-vs-CPU parity of values and gradients with poisoned output buffers.

pub mod compare;
pub mod gradcheck;
pub mod optim;
pub mod parity;
pub mod report;
pub mod suite;

pub use compare::Errors;
pub use gradcheck::{gradcheck, gradgradcheck};
pub use parity::parity;
pub use report::{table, Row};

use crate::tensor::{Place, Tensor};

/// A function of several tensors checked by the harness.
pub type Func = dyn Fn(&[Tensor]) -> Tensor + Send + Sync;

/// Where random test inputs are drawn from.
#[derive(Clone, Copy, Debug)]
pub enum Domain {
    /// Uniform in [-1, 1).
    Any,
    /// Uniform in [0.5, 2): for sqrt, log, division.
    Positive,
    /// |x| in [0.1, 1.1): keeps finite differences off a kink at 0.
    AwayFromZero,
}

/// A deterministic random input (f64, CPU) for `shape` drawn from `domain`.
pub fn random_input(shape: &[usize], domain: Domain, seed: u64) -> Tensor {
    let u = crate::ops::rand_uniform(shape, seed, 0, 0.0, 1.0, Place::Cpu64).to_vec_f64();
    let v: Vec<f64> = match domain {
        Domain::Any => u.iter().map(|x| 2.0 * x - 1.0).collect(),
        Domain::Positive => u.iter().map(|x| 0.5 + 1.5 * x).collect(),
        Domain::AwayFromZero => u
            .iter()
            .enumerate()
            .map(|(i, x)| if i % 2 == 0 { 0.1 + x } else { -0.1 - x })
            .collect(),
    };
    Tensor::from_vec_f64(v, shape, Place::Cpu64)
}

/// Fixed random weights r so checks use L = sum(r * f(x)), exercising non-uniform output
/// gradients.
pub fn weights_like(t: &Tensor, seed: u64) -> Tensor {
    let r = crate::ops::rand_uniform(t.shape(), seed ^ 0x9e37_79b9, 7, -1.0, 1.0, Place::Cpu64);
    r.to_place(t.place())
}
