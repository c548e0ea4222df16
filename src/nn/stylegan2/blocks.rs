//! StyleGAN2's building blocks (issue 14), composed from differentiable ops so that any
//! order of gradient (R1, path length regularisation) comes with them: the modulated
//! convolution with demodulation, on the official non-fused path.

use crate::ops::{self, Fir};
use crate::tensor::Tensor;

/// StyleGAN2's resampling filter: [1, 3, 3, 1] outer product, normalised.
pub fn resample_filter() -> Fir {
    Fir::separable(&[1.0, 3.0, 3.0, 1.0])
}

/// Demodulation coefficients d[n, k] = rsqrt(sum_{c, kh, kw} (w[k, c, ..] s[n, c])^2 + 1e-8)
/// for weight [K, C, kh, kw] and styles [N, C]: (s^2 @ (sum_taps w^2)^T + 1e-8)^-1/2, [N, K].
pub fn demod_coefficients(weight: &Tensor, styles: &Tensor) -> Tensor {
    let (k, c) = (weight.dim(0), weight.dim(1));
    let wsq = ops::sum(
        &ops::reshape(&ops::square(weight), &[k, c, weight.dim(2) * weight.dim(3)]),
        &[2],
        false,
    );
    let ssq = ops::square(styles);
    ops::rsqrt(&ops::add_scalar(
        &ops::matmul_t(&ssq, &wsq, false, true),
        1e-8,
    ))
}

/// The modulated convolution of x [N, C, H, W] with the shared weight [K, C, kh, kw] (odd,
/// square kernel; stored as used: the equalized gain cancels under demodulation, and where
/// there is none the caller folds it into the styles, as the official `ToRGBLayer` does) and
/// per-image styles [N, C], as stylegan2-ada-pytorch's `modulated_conv2d` with
/// `fused_modconv = False`: x * s[n, c] -> conv2d -> (demodulate) * d[n, k]. Output
/// [N, K, H, W], or [N, K, 2H, 2W] with `up`.
///
/// `up` follows the official `conv2d_resample(up=2)` exactly (`tests/upfirdn.rs` compares it
/// with PyTorch): a stride-2 transposed convolution, then the [1, 3, 3, 1] filter with gain 4
/// and padding 1 (for a 3x3 kernel). The transposed convolution is spelled as zero insertion
/// (`upfirdn2d` with a 1-tap filter, padded so that the same-padding conv below produces the
/// transposed conv's full 2H + kh - 2 output) then our stride-1 conv2d: three quarters of its
/// multiply-adds meet inserted zeros, a cost a strided-transpose conv kernel would save.
pub fn modulated_conv2d(
    x: &Tensor,
    weight: &Tensor,
    styles: &Tensor,
    demodulate: bool,
    up: bool,
) -> Tensor {
    assert_eq!(
        x.rank(),
        4,
        "modulated_conv2d: x must be NCHW, got {:?}",
        x.shape()
    );
    let (n, c) = (x.dim(0), x.dim(1));
    let (kh, kw) = (weight.dim(2), weight.dim(3));
    assert_eq!(
        weight.dim(1),
        c,
        "modulated_conv2d: weight {:?} for {c} channels",
        weight.shape()
    );
    assert_eq!(
        styles.shape(),
        [n, c],
        "modulated_conv2d: styles must be [N, C]"
    );
    assert!(
        kh == kw && kh % 2 == 1,
        "modulated_conv2d: kernel {kh} x {kw} must be odd and square"
    );
    let xs = x * &ops::reshape(styles, &[n, c, 1, 1]);
    let y = if up {
        let r = (kh / 2) as i64;
        let z = ops::upfirdn2d(
            &xs,
            &Fir::new(vec![1.0], 1, 1),
            2,
            1,
            [r, r - 1, r, r - 1],
            1.0,
        );
        let t = ops::conv2d(&z, weight, None, 1.0, 0.0);
        let f = resample_filter();
        // The official pads: kh/2 + (fw + 1)//2 - (kh - 1) and kh/2 + (fw - 2)//2 - (kh - 2).
        let fw = f.fw as i64;
        let (f0, f1) = ((fw + 1).div_euclid(2) - r, (fw - 2).div_euclid(2) - r + 1);
        ops::upfirdn2d(&t, &f, 1, 1, [f0, f1, f0, f1], 4.0)
    } else {
        ops::conv2d(&xs, weight, None, 1.0, 0.0)
    };
    if !demodulate {
        return y;
    }
    let d = demod_coefficients(weight, styles);
    &y * &ops::reshape(&d, &[n, weight.dim(0), 1, 1])
}
