//! StyleGAN2 (issue 14), config-F style after stylegan2-ada-pytorch's `networks.py`: the
//! building blocks (`blocks`: modulated convolution, FIR resampling filter, the strided
//! down-convolution), the skip-architecture generator (`generator`) and the residual
//! discriminator with minibatch stddev (`discriminator`). No progressive growing.

pub mod blocks;
pub mod discriminator;
pub mod generator;

pub use blocks::{conv2d_down2, demod_coefficients, lrelu_gain, modulated_conv2d, resample_filter};
pub use discriminator::Discriminator2;
pub use generator::Generator2;
