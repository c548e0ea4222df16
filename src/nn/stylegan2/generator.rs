//! StyleGAN2's generator, as stylegan2-ada-pytorch's `Generator` (config F, "skip"): the
//! mapping network z -> w (2nd-moment normalisation, equalized FC layers with leaky ReLU gain
//! sqrt(2), lr multiplier from the config), then the synthesis network from a learned 4x4
//! constant: per layer a modulated, demodulated 3x3 conv (the first of each block from 8x8 on
//! upsamples), per-pixel noise times a learned scalar strength, bias and leaky ReLU with gain
//! sqrt(2); per block a toRGB (modulated 1x1 conv, no demodulation) added to the
//! FIR-upsampled image of the block below. No activation clamp (`conv_clamp = None`, as the
//! paper configs).
//!
//! One w per style input (`num_ws` = 2 per resolution, as the official count): conv layer j
//! reads w[j]; block b's toRGB reads w[2b + 1], the w of the next block's first conv, as
//! the official `SynthesisNetwork` splits `ws`.
//!
//! Parameter convention: the weight of an upsampling conv is the official one mirrored in
//! both spatial axes (`modulated_conv2d` keeps one orientation; the official `SynthesisLayer`
//! passes `flip_weight = (up == 1)`), which only relabels a learned, randomly initialised
//! kernel. A converter of official weights flips `conv0.weight` of each block.

use super::super::generator::{mix, truncate, NoiseMode, Styles};
use super::super::layers::{EqualizedLinear, ParamBuilder};
use super::super::ModelConfig;
use super::blocks::{lrelu_gain, modulated_conv2d, resample_filter};
use crate::ops;
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

const SQRT2: f64 = std::f64::consts::SQRT_2;

/// The official `SynthesisLayer`: modulated conv, noise, bias, leaky ReLU.
struct SynthLayer {
    res: usize,
    up: bool,
    weight: usize,
    affine: EqualizedLinear,
    /// A scalar ([1]) learned noise strength, initialised 0.
    noise_strength: usize,
    bias: usize,
}

/// The official `ToRGBLayer`: modulated 1x1 conv without demodulation, weight gain
/// 1/sqrt(C) folded into the styles, bias, no activation.
struct ToRgb {
    weight: usize,
    affine: EqualizedLinear,
    bias: usize,
    weight_gain: f64,
}

pub struct Generator2 {
    pub cfg: ModelConfig,
    mapping: Vec<EqualizedLinear>,
    constant: usize,
    /// Conv layers in order: one at 4x4, then two per resolution.
    layers: Vec<SynthLayer>,
    /// toRGB per resolution, indexed like `cfg.resolutions()`.
    to_rgb: Vec<ToRgb>,
}

impl Generator2 {
    /// The network and its initial parameters (deterministic in `seed`): weights N(0, 1)
    /// (mapping: N(0, 1/lr_mul^2)), the constant N(0, 1), affine biases 1, others 0.
    pub fn build(cfg: &ModelConfig, seed: u64, place: Place) -> (Generator2, ParamGroup) {
        let mut pb = ParamBuilder::new(seed);
        let mapping = (0..cfg.mapping_layers)
            .map(|i| {
                let fan_in = if i == 0 { cfg.z_dim } else { cfg.w_dim };
                let name = format!("g.mapping.fc{i}");
                EqualizedLinear::new(
                    &mut pb,
                    &name,
                    fan_in,
                    cfg.w_dim,
                    1.0,
                    cfg.mapping_lr_mul,
                    0.0,
                )
            })
            .collect();
        let constant = pb.normal("g.synthesis.b4.const".into(), &[1, cfg.nf(4), 4, 4], 1.0);
        let mut layers = Vec::new();
        let mut to_rgb = Vec::new();
        for res in cfg.resolutions() {
            let c = cfg.nf(res);
            let convs: &[(&str, usize)] = if res == 4 {
                &[("conv1", c)]
            } else {
                &[("conv0", cfg.nf(res / 2)), ("conv1", c)]
            };
            for &(conv, cin) in convs {
                let name = format!("g.synthesis.b{res}.{conv}");
                let weight = pb.normal(format!("{name}.weight"), &[c, cin, 3, 3], 1.0);
                let affine = affine(&mut pb, &name, cfg.w_dim, cin);
                let noise_strength = pb.constant(format!("{name}.noise_strength"), &[1], 0.0);
                let bias = pb.constant(format!("{name}.bias"), &[c], 0.0);
                layers.push(SynthLayer {
                    res,
                    up: conv == "conv0",
                    weight,
                    affine,
                    noise_strength,
                    bias,
                });
            }
            let name = format!("g.synthesis.b{res}.torgb");
            let weight = pb.normal(format!("{name}.weight"), &[cfg.channels, c, 1, 1], 1.0);
            let affine = affine(&mut pb, &name, cfg.w_dim, c);
            let bias = pb.constant(format!("{name}.bias"), &[cfg.channels], 0.0);
            to_rgb.push(ToRgb {
                weight,
                affine,
                bias,
                weight_gain: 1.0 / (c as f64).sqrt(),
            });
        }
        let g = Generator2 {
            cfg: cfg.clone(),
            mapping,
            constant,
            layers,
            to_rgb,
        };
        (g, pb.build(place))
    }

    /// Style inputs of the synthesis network (the official `num_ws`): 2 per resolution.
    pub fn num_ws(&self) -> usize {
        self.layers.len() + 1
    }

    /// Conv layers (each with its own noise input): 2 per resolution less one.
    pub fn num_conv_layers(&self) -> usize {
        self.layers.len()
    }

    /// z [B, z_dim] -> w [B, w_dim]: z / sqrt(mean(z^2) + 1e-8), then the FC layers, each
    /// leaky ReLU (0.2) with gain sqrt(2) after its bias.
    pub fn mapping(&self, p: &ParamGroup, z: &Tensor) -> Tensor {
        let mut x = ops::pixel_norm(z);
        for l in &self.mapping {
            x = lrelu_gain(&l.forward(p, &x), 1.0);
        }
        x
    }

    /// The same w for every style input.
    pub fn broadcast_styles(&self, w: &Tensor) -> Styles {
        vec![w.clone(); self.num_ws()]
    }

    /// Style mixing: style inputs before `crossover` use w1, the rest w2.
    pub fn mix_styles(&self, w1: &Tensor, w2: &Tensor, crossover: usize) -> Styles {
        mix(self.num_ws(), w1, w2, crossover)
    }

    /// Truncation trick: w_avg + psi (w - w_avg) on style inputs before `cutoff`.
    pub fn truncate(&self, styles: &[Tensor], w_avg: &Tensor, psi: f64, cutoff: usize) -> Styles {
        truncate(styles, w_avg, psi, cutoff)
    }

    /// Images [B, channels, max_res, max_res] from one w [B, w_dim] per style input.
    pub fn synthesis(&self, p: &ParamGroup, ws: &[Tensor], noise: NoiseMode) -> Tensor {
        assert_eq!(ws.len(), self.num_ws(), "one w per style input");
        let b = ws[0].dim(0);
        let c4 = self.cfg.nf(4);
        let mut x = ops::broadcast_to(p.get(self.constant), &[b, c4, 4, 4]);
        let mut img: Option<Tensor> = None;
        for (k, rgb) in self.to_rgb.iter().enumerate() {
            let res = 4 << k;
            for (j, l) in self.layers.iter().enumerate().filter(|(_, l)| l.res == res) {
                x = self.layer(p, l, j, &x, &ws[j], noise);
            }
            let styles = ops::mul_scalar(&rgb.affine.forward(p, &ws[2 * k + 1]), rgb.weight_gain);
            let y = modulated_conv2d(&x, p.get(rgb.weight), &styles, false, false);
            let bias = ops::reshape(p.get(rgb.bias), &[1, self.cfg.channels, 1, 1]);
            let y = &y + &bias;
            img = Some(match img {
                Some(lo) => &ops::upsample2d(&lo, &resample_filter()) + &y,
                None => y,
            });
        }
        img.expect("at least the 4x4 block")
    }

    /// mapping, the same w everywhere, synthesis.
    pub fn forward(&self, p: &ParamGroup, z: &Tensor, noise: NoiseMode) -> Tensor {
        let w = self.mapping(p, z);
        self.synthesis(p, &self.broadcast_styles(&w), noise)
    }

    /// Conv layer `j`: modulated conv, then noise * strength + bias and leaky ReLU * sqrt(2)
    /// in the fused epilogue.
    fn layer(
        &self,
        p: &ParamGroup,
        l: &SynthLayer,
        j: usize,
        x: &Tensor,
        w: &Tensor,
        noise: NoiseMode,
    ) -> Tensor {
        let styles = l.affine.forward(p, w);
        let y = modulated_conv2d(x, p.get(l.weight), &styles, true, l.up);
        let (n, c, h, wd) = (y.dim(0), y.dim(1), y.dim(2), y.dim(3));
        let map = match noise {
            NoiseMode::Random { seed, step, first } => {
                ops::noise_map_rows(first..first + n, (h, wd), seed, step, j as u32, y.place())
            }
            // The official `noise_const`: one map per layer, shared by every image.
            NoiseMode::Const { seed } => ops::broadcast_to(
                &ops::noise_map(1, h, wd, seed, u64::MAX >> 12, j as u32, y.place()),
                &[n, 1, h, wd],
            ),
            NoiseMode::None => Tensor::zeros(&[n, 1, h, wd], y.place()),
        };
        let strength = ops::broadcast_to(p.get(l.noise_strength), &[c]);
        ops::noise_bias_act(&y, &map, &strength, p.get(l.bias), 1.0, 0.2, SQRT2)
    }
}

/// The official affine of a layer: FC w_dim -> `c` styles, weight gain 1/sqrt(w_dim), bias 1.
fn affine(pb: &mut ParamBuilder, layer: &str, w_dim: usize, c: usize) -> EqualizedLinear {
    EqualizedLinear::new(pb, &format!("{layer}.affine"), w_dim, c, 1.0, 1.0, 1.0)
}
