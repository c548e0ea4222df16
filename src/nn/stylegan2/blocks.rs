//! StyleGAN2's building blocks (issue 14), composed from differentiable ops so that any
//! order of gradient (R1, path length regularisation) comes with them: the modulated
//! convolution with demodulation, on the official non-fused path; the 3x3 convolution with
//! `down = 2` of the residual discriminator; leaky ReLU with the official gain sqrt(2).

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

/// Leaky ReLU of StyleGAN2 (`bias_act`'s "lrelu"): slope 0.2 and output gain sqrt(2) times
/// `gain`. Unlike StyleGAN 1, the He gain sits after the bias, not in the weight scale.
pub fn lrelu_gain(x: &Tensor, gain: f64) -> Tensor {
    ops::leaky_relu(x, 0.2, std::f64::consts::SQRT_2 * gain)
}

/// The official `conv2d_resample(down=2)` for an odd square kernel (k >= 3) with padding
/// k / 2: the [1, 3, 3, 1] filter padded by k / 2 + 1 on every side, then a valid
/// convolution with stride 2. We have no strided conv, so the strided one is spelled as our
/// same-padded stride-1 conv2d (weight `w` [K, C, k, k] times `scale`, bias `b` times 1:
/// bias and decimation commute) on the filtered image, keeping every second pixel from
/// k / 2 on (a 1-tap upfirdn2d with `down = 2` and crops). Three quarters of the conv's
/// outputs are thrown away: a strided conv kernel is the optimisation left for when
/// StyleGAN2's D is measured. [N, C, H, W] -> [N, K, H/2, W/2] (H, W even).
pub fn conv2d_down2(x: &Tensor, w: &Tensor, b: Option<&Tensor>, scale: f64) -> Tensor {
    let k = w.dim(2);
    assert!(
        k == w.dim(3) && k % 2 == 1 && k >= 3,
        "conv2d_down2: kernel {:?} must be odd, square and at least 3",
        w.shape()
    );
    let f = resample_filter();
    let r = (k / 2) as i64;
    let fw = f.fw as i64;
    // The official pads: k/2 + (fw - down + 1)//2 and k/2 + (fw - down)//2.
    let (p0, p1) = (r + (fw - 1).div_euclid(2), r + (fw - 2).div_euclid(2));
    let blurred = ops::upfirdn2d(x, &f, 1, 1, [p0, p1, p0, p1], 1.0);
    let y = ops::conv2d(&blurred, w, b, scale, 1.0);
    // Output i of the valid stride-2 conv is centred on blurred pixel 2i + k/2.
    ops::upfirdn2d(
        &y,
        &Fir::new(vec![1.0], 1, 1),
        1,
        2,
        [-r, 1 - r, -r, 1 - r],
        1.0,
    )
}
