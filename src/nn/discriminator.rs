//! The discriminator (StyleGAN 1 / ProGAN): fromRGB per resolution, blocks of conv 3x3,
//! blur, conv 3x3 + 2x2 downsample, then at 4x4 minibatch stddev, conv, and two dense layers.
//! Every op here is differentiable twice, for the gradient penalty.

use super::layers::{EqualizedConv2d, EqualizedLinear, ParamBuilder};
use super::{lerp, lrelu, ModelConfig};
use crate::ops;
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

const SQRT2: f64 = std::f64::consts::SQRT_2;

struct Block {
    res: usize,
    conv0: EqualizedConv2d,
    conv1: EqualizedConv2d,
}

pub struct Discriminator {
    pub cfg: ModelConfig,
    /// fromRGB per resolution, indexed like `cfg.resolutions()`.
    from_rgb: Vec<EqualizedConv2d>,
    /// Blocks from max_res down to 8.
    blocks: Vec<Block>,
    final_conv: EqualizedConv2d,
    dense0: EqualizedLinear,
    dense1: EqualizedLinear,
}

impl Discriminator {
    pub fn build(cfg: &ModelConfig, seed: u64, place: Place) -> (Discriminator, ParamGroup) {
        let mut pb = ParamBuilder::new(seed);
        let res_list = cfg.resolutions();
        let from_rgb = res_list
            .iter()
            .map(|&r| {
                EqualizedConv2d::new(
                    &mut pb,
                    &format!("d.from_rgb.{r}x{r}"),
                    cfg.channels,
                    cfg.nf(r),
                    1,
                    SQRT2,
                )
            })
            .collect();
        let blocks = res_list
            .iter()
            .rev()
            .filter(|&&r| r > 4)
            .map(|&r| Block {
                res: r,
                conv0: EqualizedConv2d::new(
                    &mut pb,
                    &format!("d.{r}x{r}.conv0"),
                    cfg.nf(r),
                    cfg.nf(r),
                    3,
                    SQRT2,
                ),
                conv1: EqualizedConv2d::new(
                    &mut pb,
                    &format!("d.{r}x{r}.conv1_down"),
                    cfg.nf(r),
                    cfg.nf(r / 2),
                    3,
                    SQRT2,
                ),
            })
            .collect();
        let c4 = cfg.nf(4);
        let final_conv = EqualizedConv2d::new(&mut pb, "d.4x4.conv", c4 + 1, c4, 3, SQRT2);
        // Official StyleGAN sizes the first dense layer nf(0), i.e. our nf(2) (its stage s is
        // our resolution 2^(s+1)); it equals nf(4) whenever fmap_max caps both.
        let c_dense = cfg.nf(2);
        let dense0 =
            EqualizedLinear::new(&mut pb, "d.4x4.dense0", c4 * 16, c_dense, SQRT2, 1.0, 0.0);
        let dense1 = EqualizedLinear::new(&mut pb, "d.4x4.dense1", c_dense, 1, 1.0, 1.0, 0.0);
        let d = Discriminator {
            cfg: cfg.clone(),
            from_rgb,
            blocks,
            final_conv,
            dense0,
            dense1,
        };
        (d, pb.build(place))
    }

    fn rgb_in(&self, p: &ParamGroup, img: &Tensor, res: usize) -> Tensor {
        let k = res.trailing_zeros() as usize - 2;
        lrelu(&self.from_rgb[k].forward(p, img))
    }

    /// Scores [B, 1] for images at resolution `res`; with alpha < 1 the input of the new
    /// block fades in from the downsampled image through the previous fromRGB.
    pub fn forward(&self, p: &ParamGroup, img: &Tensor, res: usize, alpha: f64) -> Tensor {
        let b = img.dim(0);
        let mut x = self.rgb_in(p, img, res);
        for blk in self.blocks.iter().filter(|blk| blk.res <= res) {
            x = lrelu(&blk.conv0.forward(p, &x));
            // conv + bias commute with the 2x2 average, so the bias is fused into the conv.
            x = lrelu(&ops::downsample2x(&blk.conv1.forward(p, &ops::blur(&x))));
            if blk.res == res && alpha < 1.0 {
                let skip = self.rgb_in(p, &ops::downsample2x(img), res / 2);
                x = lerp(&skip, &x, alpha);
            }
        }
        x = ops::minibatch_stddev(&x, mbstd_group(self.cfg.mbstd_group, b));
        x = lrelu(&self.final_conv.forward(p, &x));
        let flat = ops::reshape(&x, &[b, x.numel() / b]);
        let h = lrelu(&self.dense0.forward(p, &flat));
        self.dense1.forward(p, &h)
    }
}

/// The largest group size <= `group` that divides the batch (the official code requires
/// divisibility; min(group, N) when it divides).
pub fn mbstd_group(group: usize, batch: usize) -> usize {
    (1..=group.min(batch))
        .rev()
        .find(|g| batch.is_multiple_of(*g))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Generator;

    /// fmap_base 64, fmap_max 32: nf(4) = 16 but nf(2) = 32, so the two sizings differ.
    fn uncapped() -> ModelConfig {
        ModelConfig {
            z_dim: 8,
            w_dim: 8,
            mapping_layers: 1,
            fmap_base: 64,
            fmap_max: 32,
            max_res: 8,
            ..ModelConfig::default()
        }
    }

    #[test]
    fn the_first_dense_layer_has_official_stylegans_nf0_outputs() {
        let cfg = uncapped();
        assert_ne!(cfg.nf(2), cfg.nf(4));
        let (_, p) = Discriminator::build(&cfg, 1, Place::Cpu32);
        let shape = |n: &str| p.get(p.index(n).unwrap()).shape().to_vec();
        assert_eq!(shape("d.4x4.dense0.weight"), [cfg.nf(2), cfg.nf(4) * 16]);
        assert_eq!(shape("d.4x4.dense1.weight"), [1, cfg.nf(2)]);
    }

    #[test]
    fn generator_convs_carry_no_bias_of_their_own() {
        let (_, p) = Generator::build(&uncapped(), 1, Place::Cpu32);
        let conv_biases: Vec<&String> = p
            .names()
            .iter()
            .filter(|n| n.starts_with("g.synthesis.") && n.ends_with(".conv.bias"))
            .collect();
        assert!(conv_biases.is_empty(), "{conv_biases:?}");
        // The per-layer bias of the noise epilogue stays.
        assert!(p.index("g.synthesis.8x8.0.bias").is_some());
    }
}
