//! The chain rule, one arm per op. Each arm calls the op family's backward, written next to
//! its forward in `src/ops/`.

use super::Op;
use crate::ops;
use crate::tensor::Tensor;

/// Gradients for `op.inputs()` (in order) given the gradient `g` of the op's output.
pub fn backward(op: &Op, g: &Tensor) -> Vec<Option<Tensor>> {
    match op {
        Op::Unary { op, x } => vec![ops::unary::backward(*op, x, g)],
        Op::Binary { op, a, b } => ops::binary::backward(*op, a, b, g),
        Op::SumKeep { x, .. } => vec![Some(ops::broadcast_to(g, x.shape()))],
        Op::BroadcastTo { x } => vec![Some(ops::sum_to(g, x.shape()))],
        Op::Matmul {
            a,
            b,
            ta,
            tb,
            alpha,
        } => ops::matmul::backward(a, b, *ta, *tb, *alpha, g),
        Op::Reshape { x } => vec![Some(ops::reshape(g, x.shape()))],
        Op::Permute { perm, .. } => vec![Some(ops::permute(g, &ops::layout::inverse_perm(perm)))],
        Op::Concat { xs, axis } => ops::layout::concat_backward(xs, *axis, g),
        Op::Slice { x, axis, start } => vec![Some(ops::pad(g, *axis, *start, x.dim(*axis)))],
        Op::Pad { x, axis, start } => vec![Some(ops::slice(g, *axis, *start, x.dim(*axis)))],
        Op::Conv2d {
            x,
            w,
            b,
            scale,
            bias_scale,
        } => ops::conv::backward(x, w, b.as_ref(), *scale, *bias_scale, g),
        Op::Conv2dBackwardData { g: gy, w, scale } => {
            ops::conv::backward_data_backward(gy, w, *scale, g)
        }
        Op::Conv2dBackwardWeight {
            x, g: gy, scale, ..
        } => ops::conv::backward_weight_backward(x, gy, *scale, g),
        Op::Upsample2x { .. } => vec![Some(ops::resample::upsample2x_backward(g))],
        Op::Downsample2x { .. } => vec![Some(ops::resample::downsample2x_backward(g))],
        Op::Blur { .. } => vec![Some(ops::resample::blur_backward(g))],
        Op::Adain { x, ys, .. } => ops::adain::backward(x, ys, g),
        Op::NoiseBiasAct {
            x,
            noise,
            weight,
            bias,
            bias_scale,
            slope,
            gain,
        } => ops::noise::backward(x, noise, weight, bias, *bias_scale, *slope, *gain, g),
        Op::PixelNorm { x } => vec![Some(ops::norm::pixel_norm_backward(x, g))],
        Op::MbstdStat { x, groups } => vec![Some(ops::norm::mbstd_stat_backward(x, *groups, g))],
        Op::AffineGridSample { theta, .. } => vec![Some(ops::augment::backward(theta, g))],
        Op::AffineGridSampleBackward { theta, .. } => {
            vec![Some(ops::augment::backward_backward(theta, g))]
        }
        Op::Upfirdn2d {
            x,
            filter,
            up,
            down,
            pad,
            gain,
        } => vec![Some(ops::upfirdn::backward(
            x, filter, *up, *down, *pad, *gain, g,
        ))],
    }
}
