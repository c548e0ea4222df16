//! Floor 3: differentiable ops, one file per family. Each file holds the forward (GPU kernel
//! launch or CPU reference, by the tensor's storage) and the backward rule side by side.

pub mod adain;
pub mod augment;
pub mod binary;
pub mod conv;
pub mod layout;
pub mod matmul;
pub mod matmul_tune;
pub mod noise;
pub mod norm;
pub mod random;
pub mod reduce;
pub mod resample;
pub mod tune;
pub mod unary;
pub mod upfirdn;
pub mod winograd;

pub use adain::adain;
pub use augment::{affine_grid_sample, affine_grid_sample_backward};
pub use binary::{add, div, mul, sub};
pub use conv::{conv2d, conv2d_backward_data, conv2d_backward_weight};
pub use layout::{concat, pad, permute, reshape, slice, transpose};
pub use matmul::{linear, matmul, matmul_scaled, matmul_t};
pub use noise::{noise_bias_act, noise_map, noise_map_rows};
pub use norm::{minibatch_stddev, pixel_norm};
pub use random::{rand_normal, rand_uniform};
pub use reduce::{broadcast_to, mean, mean_all, sum, sum_all, sum_to};
pub use resample::{blur, downsample2x, upsample2x};
pub use unary::{
    abs, add_scalar, exp, leaky_relu, log, mul_scalar, neg, recip, rsqrt, sigmoid, softplus, sqrt,
    square,
};
pub use upfirdn::{downsample2d, upfirdn2d, upsample2d, Fir};

pub use crate::op_kind::{BinaryOp, UnaryOp};

use crate::tensor::{Place, Tensor};

/// Shapes and strides for kernels that take rank <= 8 arrays as two vec4<u32>
/// (`array<vec4<u32>, 2>`), padded with 1.
pub(crate) fn pack8(v: &[usize]) -> [[u32; 4]; 2] {
    assert!(
        v.len() <= 8,
        "rank {} > 8 is not supported on the GPU",
        v.len()
    );
    let mut out = [[1u32; 4]; 2];
    for (i, &x) in v.iter().enumerate() {
        out[i / 4][i % 4] = u32::try_from(x).expect("dimension exceeds u32");
    }
    out
}

/// Panics with a clear message when tensors of one op live in different places.
pub(crate) fn same_place(op: &str, ts: &[&Tensor]) -> Place {
    let p = ts[0].place();
    for t in ts {
        assert!(
            t.place() == p,
            "{op}: operands on {:?} and {:?}",
            p,
            t.place()
        );
    }
    p
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $f:path) => {
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                $f(self, rhs)
            }
        }
        impl std::ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                $f(&self, &rhs)
            }
        }
        impl std::ops::$trait<&Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                $f(&self, rhs)
            }
        }
        impl std::ops::$trait<f64> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f64) -> Tensor {
                $f(self, &Tensor::scalar(rhs, self.place()))
            }
        }
        impl std::ops::$trait<f64> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f64) -> Tensor {
                $f(&self, &Tensor::scalar(rhs, self.place()))
            }
        }
    };
}
binary_operator!(Add, add, add);
binary_operator!(Sub, sub, sub);
binary_operator!(Mul, mul, mul);
binary_operator!(Div, div, div);

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        neg(self)
    }
}
impl std::ops::Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        neg(&self)
    }
}

/// Rows of the output tile (the ROWS override of the tiled GEMM kernels, conv and matmul)
/// for a product with `rows` rows: narrow products get short tiles instead of idle rows.
pub(crate) fn tile_rows(rows: usize) -> usize {
    match rows {
        0..=16 => 16,
        17..=32 => 32,
        _ => 64,
    }
}
