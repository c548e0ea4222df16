//! StyleGAN2's discriminator, as stylegan2-ada-pytorch's `Discriminator` (config F,
//! "resnet", unconditional): fromRGB (1x1 conv + leaky ReLU) at the top resolution, then per
//! block from max_res down to 8: conv 3x3 + leaky ReLU, conv 3x3 with `down = 2` + leaky
//! ReLU, and a residual 1x1 conv with `down = 2` (no bias, linear); both branches carry gain
//! sqrt(0.5). At 4x4 the epilogue: minibatch stddev (group 4, one channel), conv 3x3, FC, FC to
//! one score. Every weight is N(0, 1) times 1/sqrt(fan_in) at run time; leaky ReLU has gain
//! sqrt(2) after the bias. Every op is differentiable twice (R1).

use super::super::discriminator::mbstd_group;
use super::super::layers::{EqualizedConv2d, EqualizedLinear, ParamBuilder};
use super::super::ModelConfig;
use super::blocks::{conv2d_down2, lrelu_gain, resample_filter};
use crate::ops;
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

const SQRT_HALF: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// The official `DiscriminatorBlock` ("resnet").
struct Block {
    res: usize,
    /// Only the first block (max_res) reads the image.
    from_rgb: Option<EqualizedConv2d>,
    conv0: EqualizedConv2d,
    conv1: EqualizedConv2d,
    /// 1x1, no bias.
    skip: EqualizedConv2d,
}

pub struct Discriminator2 {
    pub cfg: ModelConfig,
    /// Blocks from max_res down to 8.
    blocks: Vec<Block>,
    conv: EqualizedConv2d,
    fc: EqualizedLinear,
    out: EqualizedLinear,
}

impl Discriminator2 {
    /// The network and its initial parameters (deterministic in `seed`).
    pub fn build(cfg: &ModelConfig, seed: u64, place: Place) -> (Discriminator2, ParamGroup) {
        assert!(cfg.max_res > 4, "Discriminator2 needs max_res >= 8");
        let mut pb = ParamBuilder::new(seed);
        let mut blocks = Vec::new();
        for res in cfg.resolutions().into_iter().rev().filter(|&r| r > 4) {
            let (tmp, out) = (cfg.nf(res), cfg.nf(res / 2));
            let name = |layer: &str| format!("d.b{res}.{layer}");
            let from_rgb = (res == cfg.max_res).then(|| {
                EqualizedConv2d::new(&mut pb, &name("fromrgb"), cfg.channels, tmp, 1, 1.0)
            });
            blocks.push(Block {
                res,
                from_rgb,
                conv0: EqualizedConv2d::new(&mut pb, &name("conv0"), tmp, tmp, 3, 1.0),
                conv1: EqualizedConv2d::new(&mut pb, &name("conv1"), tmp, out, 3, 1.0),
                skip: EqualizedConv2d::without_bias(&mut pb, &name("skip"), tmp, out, 1, 1.0),
            });
        }
        let c4 = cfg.nf(4);
        let conv = EqualizedConv2d::new(&mut pb, "d.b4.conv", c4 + 1, c4, 3, 1.0);
        let fc = EqualizedLinear::new(&mut pb, "d.b4.fc", c4 * 16, c4, 1.0, 1.0, 0.0);
        let out = EqualizedLinear::new(&mut pb, "d.b4.out", c4, 1, 1.0, 1.0, 0.0);
        let d = Discriminator2 {
            cfg: cfg.clone(),
            blocks,
            conv,
            fc,
            out,
        };
        (d, pb.build(place))
    }

    /// Scores [B, 1] for images [B, channels, max_res, max_res].
    pub fn forward(&self, p: &ParamGroup, img: &Tensor) -> Tensor {
        let r = self.cfg.max_res;
        assert_eq!(
            &img.shape()[1..],
            [self.cfg.channels, r, r],
            "Discriminator2 takes [B, {}, {r}, {r}] images",
            self.cfg.channels
        );
        let b = img.dim(0);
        let mut x = img.clone();
        for blk in &self.blocks {
            if let Some(rgb) = &blk.from_rgb {
                x = lrelu_gain(&rgb.forward(p, &x), 1.0);
            }
            let y = ops::downsample2d(&x, &resample_filter());
            let y = ops::conv2d(&y, p.get(blk.skip.w), None, blk.skip.scale * SQRT_HALF, 1.0);
            x = lrelu_gain(&blk.conv0.forward(p, &x), 1.0);
            let b1 = blk.conv1.b.map(|i| p.get(i));
            x = lrelu_gain(
                &conv2d_down2(&x, p.get(blk.conv1.w), b1, blk.conv1.scale),
                SQRT_HALF,
            );
            debug_assert_eq!(x.dim(2), blk.res / 2);
            x = &y + &x;
        }
        x = ops::minibatch_stddev(&x, mbstd_group(self.cfg.mbstd_group, b));
        x = lrelu_gain(&self.conv.forward(p, &x), 1.0);
        let flat = ops::reshape(&x, &[b, x.numel() / b]);
        let h = lrelu_gain(&self.fc.forward(p, &flat), 1.0);
        self.out.forward(p, &h)
    }
}
