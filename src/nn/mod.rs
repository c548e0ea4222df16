//! Floor 6: the StyleGAN networks. Layers hold indices into a [`ParamGroup`] and their
//! equalized learning-rate constants, so the same network code runs on G and on its moving
//! average G_ema (same names, same layout), on the GPU and on the CPU reference.

pub mod arch;
pub mod augment;
pub mod discriminator;
pub mod generator;
pub mod layers;
pub mod stylegan2;

pub use arch::{Arch, DiscNet, GenNet};
pub use discriminator::Discriminator;
pub use generator::{Generator, NoiseMode, Styles};
pub use layers::{EqualizedConv2d, EqualizedLinear, ParamBuilder};

use serde::{Deserialize, Serialize};

/// Architecture hyper-parameters shared by G and D.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub z_dim: usize,
    pub w_dim: usize,
    pub mapping_layers: usize,
    pub mapping_lr_mul: f64,
    pub fmap_base: usize,
    pub fmap_max: usize,
    /// Image channels: 1 for OASIS (grayscale), 3 for colour.
    pub channels: usize,
    /// First resolution of progressive growing (4 or 8).
    pub start_res: usize,
    /// Final resolution.
    pub max_res: usize,
    pub mbstd_group: usize,
    /// StyleGAN 1 or 2. Configurations written before StyleGAN2 existed load as StyleGAN 1.
    #[serde(default)]
    pub arch: Arch,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            z_dim: 512,
            w_dim: 512,
            mapping_layers: 8,
            mapping_lr_mul: 0.01,
            fmap_base: 16384,
            fmap_max: 512,
            channels: 1,
            start_res: 4,
            max_res: 256,
            mbstd_group: 4,
            arch: Arch::Stylegan1,
        }
    }
}

impl ModelConfig {
    /// Feature maps at resolution `res`: min(fmap_base / res, fmap_max), at least 1.
    pub fn nf(&self, res: usize) -> usize {
        (self.fmap_base / res).clamp(1, self.fmap_max)
    }

    /// Resolutions from 4 to max_res.
    pub fn resolutions(&self) -> Vec<usize> {
        std::iter::successors(Some(4usize), |r| Some(r * 2))
            .take_while(|&r| r <= self.max_res)
            .collect()
    }

    /// Style layers of the synthesis network (two per resolution).
    pub fn num_style_layers(&self) -> usize {
        2 * self.resolutions().len()
    }

    /// A clear message when the configuration can't be built.
    pub fn validate(&self) -> Result<(), String> {
        let pow2 = |r: usize| r >= 4 && r.is_power_of_two();
        if !pow2(self.max_res) {
            return Err(format!(
                "max resolution {} must be a power of two >= 4",
                self.max_res
            ));
        }
        if !pow2(self.start_res) || self.start_res > self.max_res {
            return Err(format!(
                "start resolution {} must be a power of two in 4..={}",
                self.start_res, self.max_res
            ));
        }
        if self.arch == Arch::Stylegan2 && self.start_res != self.max_res {
            return Err(format!(
                "StyleGAN2 trains at one resolution (no progressive growing): start resolution {} must equal the max resolution {}",
                self.start_res, self.max_res
            ));
        }
        if self.z_dim == 0 || self.w_dim == 0 || self.channels == 0 || self.mapping_layers == 0 {
            return Err("z_dim, w_dim, channels and mapping_layers must be positive".into());
        }
        Ok(())
    }
}

/// Leaky ReLU of StyleGAN 1: slope 0.2, no output gain (the sqrt(2) gain of He init is
/// already in the equalized weight scale; applying it twice grows activations with depth).
pub fn lrelu(x: &crate::Tensor) -> crate::Tensor {
    crate::ops::leaky_relu(x, 0.2, 1.0)
}

/// a + (b - a) * t.
pub fn lerp(a: &crate::Tensor, b: &crate::Tensor, t: f64) -> crate::Tensor {
    a + &crate::ops::mul_scalar(&(b - a), t)
}
