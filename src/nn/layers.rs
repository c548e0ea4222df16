//! Equalized layers (Karras et al.): weights stored N(0, 1/lr_mul) and scaled at run time by
//! gain / sqrt(fan_in) * lr_mul inside the kernel, so every weight learns at the same speed
//! under Adam. Biases are scaled by lr_mul.

use crate::ops;
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

/// Collects named initial parameters; draws are keyed by (seed, parameter index) so a model
/// is the same on every device.
pub struct ParamBuilder {
    named: Vec<(String, Tensor)>,
    seed: u64,
}

impl ParamBuilder {
    pub fn new(seed: u64) -> Self {
        ParamBuilder {
            named: Vec::new(),
            seed,
        }
    }

    fn push(&mut self, name: String, t: Tensor) -> usize {
        assert!(
            !self.named.iter().any(|(n, _)| *n == name),
            "duplicate parameter {name}"
        );
        self.named.push((name, t));
        self.named.len() - 1
    }

    /// A parameter drawn from N(0, std^2).
    pub fn normal(&mut self, name: String, shape: &[usize], std: f64) -> usize {
        let offset = (self.named.len() as u64) << 40;
        let t = ops::rand_normal(shape, self.seed, offset, 0.0, std, Place::Cpu32);
        self.push(name, t)
    }

    pub fn constant(&mut self, name: String, shape: &[usize], v: f64) -> usize {
        self.push(name, Tensor::full(shape, v, Place::Cpu32))
    }

    pub fn build(self, place: Place) -> ParamGroup {
        ParamGroup::new(self.named, place)
    }
}

/// y = (x @ w^T) * gain / sqrt(in) * lr_mul + b * lr_mul.
#[derive(Clone, Copy, Debug)]
pub struct EqualizedLinear {
    pub w: usize,
    pub b: usize,
    pub scale: f64,
    pub lr_mul: f64,
}

impl EqualizedLinear {
    pub fn new(
        pb: &mut ParamBuilder,
        name: &str,
        fan_in: usize,
        out: usize,
        gain: f64,
        lr_mul: f64,
        bias_init: f64,
    ) -> Self {
        let w = pb.normal(format!("{name}.weight"), &[out, fan_in], 1.0 / lr_mul);
        let b = pb.constant(format!("{name}.bias"), &[out], bias_init / lr_mul);
        EqualizedLinear {
            w,
            b,
            scale: gain / (fan_in as f64).sqrt() * lr_mul,
            lr_mul,
        }
    }

    pub fn forward(&self, p: &ParamGroup, x: &Tensor) -> Tensor {
        ops::linear(
            x,
            p.get(self.w),
            Some(p.get(self.b)),
            self.scale,
            self.lr_mul,
        )
    }
}

/// Stride-1, same-padded convolution with the equalized scale applied in the kernel. The
/// bias, when the layer has one, is fused into the convolution; the generator's synthesis
/// convs have none because their bias is added in the noise epilogue (`noise_bias_act`).
#[derive(Clone, Copy, Debug)]
pub struct EqualizedConv2d {
    pub w: usize,
    pub b: Option<usize>,
    pub scale: f64,
}

impl EqualizedConv2d {
    /// A conv with its own bias `<name>.bias`.
    pub fn new(
        pb: &mut ParamBuilder,
        name: &str,
        cin: usize,
        cout: usize,
        k: usize,
        gain: f64,
    ) -> Self {
        let mut c = Self::without_bias(pb, name, cin, cout, k, gain);
        c.b = Some(pb.constant(format!("{name}.bias"), &[cout], 0.0));
        c
    }

    /// A conv with no bias parameter (the caller adds one in a fused epilogue).
    pub fn without_bias(
        pb: &mut ParamBuilder,
        name: &str,
        cin: usize,
        cout: usize,
        k: usize,
        gain: f64,
    ) -> Self {
        let w = pb.normal(format!("{name}.weight"), &[cout, cin, k, k], 1.0);
        EqualizedConv2d {
            w,
            b: None,
            scale: gain / ((cin * k * k) as f64).sqrt(),
        }
    }

    /// conv(x) + b (no bias term for a layer built `without_bias`).
    pub fn forward(&self, p: &ParamGroup, x: &Tensor) -> Tensor {
        ops::conv2d(x, p.get(self.w), self.b.map(|b| p.get(b)), self.scale, 1.0)
    }
}
