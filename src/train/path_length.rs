//! StyleGAN2's path length regularisation (Karras et al. 2020, "Analyzing and Improving the
//! Image Quality of StyleGAN", section 3.2; stylegan2-ada-pytorch `loss.py`, phase `Greg`).
//! For a random image-space direction y ~ N(0, I) / sqrt(H W) per image, the length
//! |J_w^T y| of the generator's Jacobian with respect to its styles w should stay near its
//! running mean a: penalty = weight (|J_w^T y| - a)^2. The lengths come from one
//! `create_graph` gradient, so the penalty's own gradient is a second-order one.

use crate::autograd::grad;
use crate::ops::{self, mean_all, square, sum};
use crate::tensor::Tensor;

/// The regulariser's settings (the official defaults: weight 2, decay 0.01).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathLength {
    pub weight: f64,
    pub decay: f64,
}

impl Default for PathLength {
    fn default() -> Self {
        PathLength {
            weight: 2.0,
            decay: 0.01,
        }
    }
}

/// One evaluation: the penalty per image and the running mean to keep for the next one.
pub struct PathLengthTerm {
    /// weight (|J^T y| - a_new)^2 per image, [N]; differentiable.
    pub penalty: Tensor,
    /// |J^T y| per image, [N], detached (for logs).
    pub lengths: Tensor,
    /// a_new = a + decay (mean |J^T y| - a), shape [], detached: the state to keep. It stays
    /// on the device: nothing is read back.
    pub mean: Tensor,
}

impl PathLength {
    /// The penalty for images `img` [N, C, H, W] generated with graph from the styles `ws`
    /// (the tensors the Jacobian is taken with respect to, each [N, ...]: one [N, L, w_dim]
    /// or L of [N, w_dim]; `layers` = L), the direction `noise` ~ N(0, 1) of `img`'s shape,
    /// and the running mean `mean` (shape [], 0 at the start).
    ///
    /// As the official code: lengths = sqrt(mean over layers of the sum over w_dim of the
    /// squared gradient), and the penalty uses the updated mean *with* its graph (a_new
    /// depends on this batch's mean length), so its gradient also flows through a_new.
    pub fn term(
        &self,
        img: &Tensor,
        ws: &[Tensor],
        layers: usize,
        noise: &Tensor,
        mean: &Tensor,
    ) -> PathLengthTerm {
        assert_eq!(img.rank(), 4, "path length: images must be NCHW");
        assert_eq!(
            noise.shape(),
            img.shape(),
            "path length: noise of img's shape"
        );
        let n = img.dim(0);
        let pixels = (img.dim(2) * img.dim(3)) as f64;
        let y = ops::mul_scalar(noise, 1.0 / pixels.sqrt());
        let g = grad(&[ops::sum_all(&(img * &y))], ws, true);
        let per_image = g
            .iter()
            .map(|gi| {
                let axes: Vec<usize> = (1..gi.rank()).collect();
                sum(&square(gi), &axes, false)
            })
            .reduce(|a, b| &a + &b)
            .expect("path length: no styles");
        let lengths = ops::sqrt(&ops::mul_scalar(&per_image, 1.0 / layers as f64));
        let a = mean.detach();
        let new_mean = &a + &ops::mul_scalar(&(&mean_all(&lengths) - &a), self.decay);
        let dev = &lengths - &ops::broadcast_to(&new_mean, &[n]);
        PathLengthTerm {
            penalty: ops::mul_scalar(&square(&dev), self.weight),
            lengths: lengths.detach(),
            mean: new_mean.detach(),
        }
    }
}
