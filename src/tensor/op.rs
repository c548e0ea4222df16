//! The closed set of differentiable ops. Adding an op means adding a variant here, which
//! makes `inputs`, `name` and `autograd::backprop::backward` refuse to compile until they handle it.

use super::Tensor;
use crate::op_kind::{BinaryOp, UnaryOp};

#[derive(Clone)]
pub enum Op {
    Unary {
        op: UnaryOp,
        x: Tensor,
    },
    Binary {
        op: BinaryOp,
        a: Tensor,
        b: Tensor,
    },
    /// Sum over `axes`, keeping them as size 1.
    SumKeep {
        x: Tensor,
        axes: Vec<usize>,
    },
    /// Broadcast to the output shape (numpy rules).
    BroadcastTo {
        x: Tensor,
    },
    /// C = alpha op(A) op(B), op = transpose when the flag is set; batched over a leading axis.
    Matmul {
        a: Tensor,
        b: Tensor,
        ta: bool,
        tb: bool,
        alpha: f64,
    },
    Reshape {
        x: Tensor,
    },
    Permute {
        x: Tensor,
        perm: Vec<usize>,
    },
    Concat {
        xs: Vec<Tensor>,
        axis: usize,
    },
    /// out = x[.., start..start + out_len, ..] along `axis`.
    Slice {
        x: Tensor,
        axis: usize,
        start: usize,
    },
    /// out = zeros with x placed at `start` along `axis` (slice's backward).
    Pad {
        x: Tensor,
        axis: usize,
        start: usize,
    },
    // StyleGAN ops.
    /// y = scale * conv(x, w) + bias_scale * b (stride 1, same padding).
    Conv2d {
        x: Tensor,
        w: Tensor,
        b: Option<Tensor>,
        scale: f64,
        bias_scale: f64,
    },
    /// The input gradient of Conv2d, itself differentiable.
    Conv2dBackwardData {
        g: Tensor,
        w: Tensor,
        scale: f64,
    },
    /// The weight gradient of Conv2d, itself differentiable.
    Conv2dBackwardWeight {
        x: Tensor,
        g: Tensor,
        kernel: [usize; 2],
        scale: f64,
    },
    Upsample2x {
        x: Tensor,
    },
    Downsample2x {
        x: Tensor,
    },
    Blur {
        x: Tensor,
    },
    /// Instance norm then style: (1 + ys) * x_hat + yb.
    Adain {
        x: Tensor,
        ys: Tensor,
        yb: Tensor,
    },
    /// lrelu(x + weight * noise + bias_scale * bias) * gain.
    NoiseBiasAct {
        x: Tensor,
        noise: Tensor,
        weight: Tensor,
        bias: Tensor,
        bias_scale: f64,
        slope: f64,
        gain: f64,
    },
    PixelNorm {
        x: Tensor,
    },
    /// The [M] statistic of minibatch stddev.
    MbstdStat {
        x: Tensor,
        groups: usize,
    },
    // Augmentation (ADA). theta is a constant, not an input: no gradient flows to it.
    /// Per-image affine bilinear resampling with reflection (`ops::augment`).
    AffineGridSample {
        x: Tensor,
        theta: std::sync::Arc<[[f64; 6]]>,
    },
    /// Its adjoint in x, itself differentiable (its backward is the sample).
    AffineGridSampleBackward {
        g: Tensor,
        theta: std::sync::Arc<[[f64; 6]]>,
    },
    // StyleGAN2. The filter is a constant, not an input: no gradient flows to it.
    /// upfirdn2d (`ops::upfirdn`): its backward is another upfirdn2d.
    Upfirdn2d {
        x: Tensor,
        filter: std::sync::Arc<crate::cpu::upfirdn::Fir>,
        up: usize,
        down: usize,
        pad: [i64; 4],
        gain: f64,
    },
}

impl Op {
    pub fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Unary { x, .. }
            | Op::SumKeep { x, .. }
            | Op::BroadcastTo { x }
            | Op::Reshape { x }
            | Op::Permute { x, .. }
            | Op::Slice { x, .. }
            | Op::Pad { x, .. }
            | Op::Upsample2x { x }
            | Op::Downsample2x { x }
            | Op::Blur { x }
            | Op::PixelNorm { x }
            | Op::MbstdStat { x, .. }
            | Op::AffineGridSample { x, .. }
            | Op::AffineGridSampleBackward { g: x, .. }
            | Op::Upfirdn2d { x, .. } => vec![x],
            Op::Adain { x, ys, yb } => vec![x, ys, yb],
            Op::Conv2d { x, w, b, .. } => [x, w].into_iter().chain(b.as_ref()).collect(),
            Op::Conv2dBackwardData { g, w, .. } => vec![g, w],
            Op::Conv2dBackwardWeight { x, g, .. } => vec![x, g],
            Op::NoiseBiasAct {
                x,
                noise,
                weight,
                bias,
                ..
            } => vec![x, noise, weight, bias],
            Op::Binary { a, b, .. } | Op::Matmul { a, b, .. } => vec![a, b],
            Op::Concat { xs, .. } => xs.iter().collect(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Op::Unary { .. } => "unary",
            Op::Binary { .. } => "binary",
            Op::SumKeep { .. } => "sum",
            Op::BroadcastTo { .. } => "broadcast_to",
            Op::Matmul { .. } => "matmul",
            Op::Reshape { .. } => "reshape",
            Op::Permute { .. } => "permute",
            Op::Concat { .. } => "concat",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
            Op::Conv2d { .. } => "conv2d",
            Op::Conv2dBackwardData { .. } => "conv2d_backward_data",
            Op::Conv2dBackwardWeight { .. } => "conv2d_backward_weight",
            Op::Upsample2x { .. } => "upsample2x",
            Op::Downsample2x { .. } => "downsample2x",
            Op::Blur { .. } => "blur",
            Op::Adain { .. } => "adain",
            Op::NoiseBiasAct { .. } => "noise_bias_act",
            Op::PixelNorm { .. } => "pixel_norm",
            Op::MbstdStat { .. } => "mbstd_stat",
            Op::AffineGridSample { .. } => "affine_grid_sample",
            Op::AffineGridSampleBackward { .. } => "affine_grid_sample_backward",
            Op::Upfirdn2d { .. } => "upfirdn2d",
        }
    }
}

/// What each op saves for its backward (micrograd's rule next to PyTorch's saved tensors):
/// inputs whose values the backward reads stay whole; the rest become graph edges
/// ([`Tensor::edge`]), which keep the walk's path and the input's shape but not its memory.
impl Op {
    pub(crate) fn keep_only_saved(self) -> Op {
        use UnaryOp::*;
        let e = |t: Tensor| t.edge();
        match self {
            // The backward reads only g (linear ops, and piecewise-constant ones whose
            // derivative is zero almost everywhere).
            Op::Unary {
                op: op @ (Neg | AddScalar(_) | MulScalar(_) | LeakyReluDeriv { .. } | Sign),
                x,
            } => Op::Unary { op, x: e(x) },
            Op::Binary {
                op: op @ (BinaryOp::Add | BinaryOp::Sub),
                a,
                b,
            } => Op::Binary {
                op,
                a: e(a),
                b: e(b),
            },
            Op::SumKeep { x, axes } => Op::SumKeep { x: e(x), axes },
            Op::BroadcastTo { x } => Op::BroadcastTo { x: e(x) },
            Op::Reshape { x } => Op::Reshape { x: e(x) },
            Op::Permute { x, perm } => Op::Permute { x: e(x), perm },
            Op::Concat { xs, axis } => Op::Concat {
                xs: xs.into_iter().map(e).collect(),
                axis,
            },
            Op::Slice { x, axis, start } => Op::Slice {
                x: e(x),
                axis,
                start,
            },
            Op::Pad { x, axis, start } => Op::Pad {
                x: e(x),
                axis,
                start,
            },
            Op::Upsample2x { x } => Op::Upsample2x { x: e(x) },
            Op::Downsample2x { x } => Op::Downsample2x { x: e(x) },
            Op::Blur { x } => Op::Blur { x: e(x) },
            // The bias gradient is a sum of g: the bias itself is not read.
            Op::Conv2d {
                x,
                w,
                b,
                scale,
                bias_scale,
            } => Op::Conv2d {
                x,
                w,
                b: b.map(e),
                scale,
                bias_scale,
            },
            Op::AffineGridSample { x, theta } => Op::AffineGridSample { x: e(x), theta },
            Op::AffineGridSampleBackward { g, theta } => {
                Op::AffineGridSampleBackward { g: e(g), theta }
            }
            // Linear in x: the backward is upfirdn2d of g and reads only x's shape.
            Op::Upfirdn2d {
                x,
                filter,
                up,
                down,
                pad,
                gain,
            } => Op::Upfirdn2d {
                x: e(x),
                filter,
                up,
                down,
                pad,
                gain,
            },
            // Products, normalisations, convolutions' data and weights: values needed.
            op @ (Op::Unary { .. }
            | Op::Binary { .. }
            | Op::Matmul { .. }
            | Op::Conv2dBackwardData { .. }
            | Op::Conv2dBackwardWeight { .. }
            | Op::Adain { .. }
            | Op::NoiseBiasAct { .. }
            | Op::PixelNorm { .. }
            | Op::MbstdStat { .. }) => op,
        }
    }
}
