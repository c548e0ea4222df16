//! The two architectures behind one interface, so training, sampling and checkpoints don't
//! care which one runs: StyleGAN 1 (progressive growing, AdaIN, `Generator` and
//! `Discriminator`) and StyleGAN2 (one resolution, modulated convolutions, skip G, residual D:
//! `stylegan2`). A closed enum: a third architecture makes every match name it.

use serde::{Deserialize, Serialize};

use super::stylegan2::{Discriminator2, Generator2};
use super::{Discriminator, Generator, ModelConfig, NoiseMode, Styles};
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

/// Which StyleGAN: `--arch stylegan1|stylegan2`, `model.arch` in a configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Karras et al. 2019, grown progressively from 4x4.
    #[default]
    Stylegan1,
    /// Karras et al. 2020 (config F, as stylegan2-ada-pytorch), at one resolution.
    Stylegan2,
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arch::Stylegan1 => "stylegan1",
            Arch::Stylegan2 => "stylegan2",
        })
    }
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "stylegan1" | "stylegan" | "sg1" => Ok(Arch::Stylegan1),
            "stylegan2" | "sg2" => Ok(Arch::Stylegan2),
            _ => Err(format!(
                "unknown architecture {s:?}: use stylegan1 or stylegan2"
            )),
        }
    }
}

/// The generator of either architecture.
pub enum GenNet {
    V1(Generator),
    V2(Generator2),
}

impl GenNet {
    /// The network of `cfg.arch` and its initial parameters.
    pub fn build(cfg: &ModelConfig, seed: u64, place: Place) -> (GenNet, ParamGroup) {
        match cfg.arch {
            Arch::Stylegan1 => {
                let (g, p) = Generator::build(cfg, seed, place);
                (GenNet::V1(g), p)
            }
            Arch::Stylegan2 => {
                let (g, p) = Generator2::build(cfg, seed, place);
                (GenNet::V2(g), p)
            }
        }
    }

    /// z [B, z_dim] -> w [B, w_dim].
    pub fn mapping(&self, p: &ParamGroup, z: &Tensor) -> Tensor {
        match self {
            GenNet::V1(g) => g.mapping(p, z),
            GenNet::V2(g) => g.mapping(p, z),
        }
    }

    /// Style inputs the synthesis reads at resolution `res` (StyleGAN2: all, at its one).
    pub fn layers_at(&self, res: usize) -> usize {
        match self {
            GenNet::V1(g) => g.layers_at(res),
            GenNet::V2(g) => g.num_ws(),
        }
    }

    /// The same w for every style input.
    pub fn broadcast_styles(&self, w: &Tensor) -> Styles {
        match self {
            GenNet::V1(g) => g.broadcast_styles(w),
            GenNet::V2(g) => g.broadcast_styles(w),
        }
    }

    /// Style mixing: inputs before `crossover` read w1, the rest w2.
    pub fn mix_styles(&self, w1: &Tensor, w2: &Tensor, crossover: usize) -> Styles {
        match self {
            GenNet::V1(g) => g.mix_styles(w1, w2, crossover),
            GenNet::V2(g) => g.mix_styles(w1, w2, crossover),
        }
    }

    /// The truncation trick on the inputs before `cutoff`.
    pub fn truncate(&self, styles: &[Tensor], w_avg: &Tensor, psi: f64, cutoff: usize) -> Styles {
        match self {
            GenNet::V1(g) => g.truncate(styles, w_avg, psi, cutoff),
            GenNet::V2(g) => g.truncate(styles, w_avg, psi, cutoff),
        }
    }

    /// Images [B, channels, res, res]. StyleGAN2 has one resolution (`res` must be it) and
    /// no fade (`alpha` is ignored).
    pub fn synthesis(
        &self,
        p: &ParamGroup,
        styles: &[Tensor],
        res: usize,
        alpha: f64,
        noise: NoiseMode,
    ) -> Tensor {
        match self {
            GenNet::V1(g) => g.synthesis(p, styles, res, alpha, noise),
            GenNet::V2(g) => {
                assert_eq!(
                    res, g.cfg.max_res,
                    "StyleGAN2 synthesises at {0}x{0} only",
                    g.cfg.max_res
                );
                g.synthesis(p, styles, noise)
            }
        }
    }
}

/// The discriminator of either architecture.
pub enum DiscNet {
    V1(Discriminator),
    V2(Discriminator2),
}

impl DiscNet {
    /// The network of `cfg.arch` and its initial parameters.
    pub fn build(cfg: &ModelConfig, seed: u64, place: Place) -> (DiscNet, ParamGroup) {
        match cfg.arch {
            Arch::Stylegan1 => {
                let (d, p) = Discriminator::build(cfg, seed, place);
                (DiscNet::V1(d), p)
            }
            Arch::Stylegan2 => {
                let (d, p) = Discriminator2::build(cfg, seed, place);
                (DiscNet::V2(d), p)
            }
        }
    }

    /// Scores [B, 1] of images at resolution `res` (StyleGAN2: its one; `alpha` ignored).
    pub fn forward(&self, p: &ParamGroup, img: &Tensor, res: usize, alpha: f64) -> Tensor {
        match self {
            DiscNet::V1(d) => d.forward(p, img, res, alpha),
            DiscNet::V2(d) => {
                assert_eq!(
                    res, d.cfg.max_res,
                    "StyleGAN2's D scores {0}x{0} images only",
                    d.cfg.max_res
                );
                d.forward(p, img)
            }
        }
    }
}
