//! The style-based generator (StyleGAN 1): mapping network z -> w, then a synthesis network
//! from a learned 4x4 constant, two layers per resolution (conv 3x3, noise, bias, leaky ReLU,
//! AdaIN), nearest upsample + conv + blur between resolutions, a 1x1 toRGB per resolution.

use super::layers::{EqualizedConv2d, EqualizedLinear, ParamBuilder};
use super::{lerp, lrelu, ModelConfig};
use crate::ops;
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

const SQRT2: f64 = std::f64::consts::SQRT_2;

/// Where the per-layer noise maps come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseMode {
    /// Fresh maps keyed by (seed, step, layer); `first` is the index of the batch's first
    /// sample in the step's whole batch (a micro-batch of gradient accumulation draws the
    /// maps of its own samples; 0 for a whole batch).
    Random { seed: u64, step: u64, first: usize },
    /// The same maps for every call (seed only).
    Const { seed: u64 },
    /// No noise.
    None,
}

/// One w per synthesis layer (style mixing and truncation act per layer).
pub type Styles = Vec<Tensor>;

struct SynthLayer {
    res: usize,
    channels: usize,
    /// None for the first layer, which starts from the constant.
    conv: Option<EqualizedConv2d>,
    /// The first layer of a block above 4x4 upsamples and blurs.
    upsample: bool,
    noise_weight: usize,
    bias: usize,
    style: EqualizedLinear,
}

pub struct Generator {
    pub cfg: ModelConfig,
    mapping: Vec<EqualizedLinear>,
    constant: usize,
    layers: Vec<SynthLayer>,
    /// toRGB per resolution, indexed like `cfg.resolutions()`.
    to_rgb: Vec<EqualizedConv2d>,
}

impl Generator {
    /// The network and its initial parameters (deterministic in `seed`).
    pub fn build(cfg: &ModelConfig, seed: u64, place: Place) -> (Generator, ParamGroup) {
        let mut pb = ParamBuilder::new(seed);
        let lr = cfg.mapping_lr_mul;
        let mapping = (0..cfg.mapping_layers)
            .map(|i| {
                let fan_in = if i == 0 { cfg.z_dim } else { cfg.w_dim };
                EqualizedLinear::new(
                    &mut pb,
                    &format!("g.mapping.{i}"),
                    fan_in,
                    cfg.w_dim,
                    SQRT2,
                    lr,
                    0.0,
                )
            })
            .collect();
        let constant = pb.constant("g.synthesis.const".into(), &[1, cfg.nf(4), 4, 4], 1.0);
        let mut layers = Vec::new();
        let mut to_rgb = Vec::new();
        for res in cfg.resolutions() {
            let c = cfg.nf(res);
            for j in 0..2 {
                let name = format!("g.synthesis.{res}x{res}.{j}");
                let conv = match (res, j) {
                    (4, 0) => None,
                    (_, 0) => Some(EqualizedConv2d::without_bias(
                        &mut pb,
                        &format!("{name}.conv"),
                        cfg.nf(res / 2),
                        c,
                        3,
                        SQRT2,
                    )),
                    _ => Some(EqualizedConv2d::without_bias(
                        &mut pb,
                        &format!("{name}.conv"),
                        c,
                        c,
                        3,
                        SQRT2,
                    )),
                };
                let noise_weight = pb.constant(format!("{name}.noise_weight"), &[c], 0.0);
                let bias = pb.constant(format!("{name}.bias"), &[c], 0.0);
                let style = EqualizedLinear::new(
                    &mut pb,
                    &format!("{name}.style"),
                    cfg.w_dim,
                    2 * c,
                    1.0,
                    1.0,
                    0.0,
                );
                layers.push(SynthLayer {
                    res,
                    channels: c,
                    conv,
                    upsample: res > 4 && j == 0,
                    noise_weight,
                    bias,
                    style,
                });
            }
            to_rgb.push(EqualizedConv2d::new(
                &mut pb,
                &format!("g.to_rgb.{res}x{res}"),
                c,
                cfg.channels,
                1,
                1.0,
            ));
        }
        let g = Generator {
            cfg: cfg.clone(),
            mapping,
            constant,
            layers,
            to_rgb,
        };
        (g, pb.build(place))
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Style layers used up to resolution `res`.
    pub fn layers_at(&self, res: usize) -> usize {
        self.layers.iter().filter(|l| l.res <= res).count()
    }

    /// z [B, z_dim] -> w [B, w_dim]: pixel norm, then the equalized MLP (lr_mul 0.01).
    pub fn mapping(&self, p: &ParamGroup, z: &Tensor) -> Tensor {
        let mut x = ops::pixel_norm(z);
        for l in &self.mapping {
            x = lrelu(&l.forward(p, &x));
        }
        x
    }

    /// The same w for every layer.
    pub fn broadcast_styles(&self, w: &Tensor) -> Styles {
        vec![w.clone(); self.layers.len()]
    }

    /// Images [B, channels, res, res] at resolution `res`; with alpha < 1 the output fades in
    /// from the upsampled image of the previous resolution.
    pub fn synthesis(
        &self,
        p: &ParamGroup,
        styles: &[Tensor],
        res: usize,
        alpha: f64,
        noise: NoiseMode,
    ) -> Tensor {
        assert_eq!(styles.len(), self.layers.len(), "one style per layer");
        let b = styles[0].dim(0);
        let c4 = self.cfg.nf(4);
        let mut x = ops::broadcast_to(p.get(self.constant), &[b, c4, 4, 4]);
        let mut prev = None;
        for (i, l) in self
            .layers
            .iter()
            .enumerate()
            .take_while(|(_, l)| l.res <= res)
        {
            if l.upsample && l.res == res {
                prev = Some(x.clone());
            }
            if let Some(conv) = &l.conv {
                if l.upsample {
                    x = ops::blur(&conv.forward(p, &ops::upsample2x(&x)));
                } else {
                    x = conv.forward(p, &x);
                }
            }
            x = self.epilogue(p, l, i, &x, noise);
            let style = l.style.forward(p, &styles[i]);
            let ys = ops::slice(&style, 1, 0, l.channels);
            let yb = ops::slice(&style, 1, l.channels, l.channels);
            x = ops::adain(&x, &ys, &yb);
        }
        let k = res.trailing_zeros() as usize - 2;
        let img = self.to_rgb[k].forward(p, &x);
        match prev {
            Some(lo) if alpha < 1.0 => {
                let lo = ops::upsample2x(&self.to_rgb[k - 1].forward(p, &lo));
                lerp(&lo, &img, alpha)
            }
            _ => img,
        }
    }

    /// Noise, bias and leaky ReLU (gain 1, as `super::lrelu`) in one kernel.
    fn epilogue(
        &self,
        p: &ParamGroup,
        l: &SynthLayer,
        i: usize,
        x: &Tensor,
        noise: NoiseMode,
    ) -> Tensor {
        let (n, h, w) = (x.dim(0), x.dim(2), x.dim(3));
        let map = match noise {
            NoiseMode::Random { seed, step, first } => {
                ops::noise_map_rows(first..first + n, (h, w), seed, step, i as u32, x.place())
            }
            NoiseMode::Const { seed } => {
                ops::noise_map(n, h, w, seed, u64::MAX >> 12, i as u32, x.place())
            }
            NoiseMode::None => Tensor::zeros(&[n, 1, h, w], x.place()),
        };
        ops::noise_bias_act(x, &map, p.get(l.noise_weight), p.get(l.bias), 1.0, 0.2, 1.0)
    }

    /// Style mixing: layers before `crossover` use w1, the rest w2.
    pub fn mix_styles(&self, w1: &Tensor, w2: &Tensor, crossover: usize) -> Styles {
        mix(self.layers.len(), w1, w2, crossover)
    }

    /// Truncation trick: w_avg + psi (w - w_avg) on layers before `cutoff`.
    pub fn truncate(&self, styles: &[Tensor], w_avg: &Tensor, psi: f64, cutoff: usize) -> Styles {
        truncate(styles, w_avg, psi, cutoff)
    }
}

/// Style mixing over `n` style inputs (both StyleGANs): those before `crossover` read w1,
/// the rest w2.
pub fn mix(n: usize, w1: &Tensor, w2: &Tensor, crossover: usize) -> Styles {
    (0..n)
        .map(|i| if i < crossover { w1 } else { w2 }.clone())
        .collect()
}

/// The truncation trick (both StyleGANs): w_avg + psi (w - w_avg) on the style inputs
/// before `cutoff`.
pub fn truncate(styles: &[Tensor], w_avg: &Tensor, psi: f64, cutoff: usize) -> Styles {
    styles
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i < cutoff && psi != 1.0 {
                lerp(w_avg, w, psi)
            } else {
                w.clone()
            }
        })
        .collect()
}
