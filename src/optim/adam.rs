//! Fused Adam: one dispatch of `shaders/optim/adam.wgsl` updates a whole parameter group and
//! both moments in place; reference `cpu::optim::adam`. Defaults are StyleGAN's
//! (beta1 = 0, beta2 = 0.99, eps = 1e-8).

use crate::cpu::optim::{self as cpu, AdamStep};
use crate::gpu::{self, batch::groups_1d, Kernel};
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

crate::kernel_params! {
    /// `shaders/optim/adam.wgsl`: `n` elements; bc1, bc2 the bias corrections of this step,
    /// c1 = 1 - b1 and c2 = 1 - b2 rounded once from f64.
    pub struct AdamParams {
        kernels: ["optim/adam.wgsl" => [ReadWrite, ReadWrite, ReadWrite, Read, Read]],
        pub n: u32,
        pub lr: f32,
        pub b1: f32,
        pub b2: f32,
        pub eps: f32,
        pub bc1: f32,
        pub bc2: f32,
        pub c1: f32,
        pub c2: f32,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 0.001,
            beta1: 0.0,
            beta2: 0.99,
            eps: 1e-8,
        }
    }
}

/// Adam state for one parameter group: both moments in the group's flat layout.
pub struct Adam {
    pub cfg: AdamConfig,
    /// Steps taken (bias correction uses t + 1 for the next one).
    pub t: u64,
    m: Tensor,
    v: Tensor,
}

impl Adam {
    pub fn new(group: &ParamGroup, cfg: AdamConfig) -> Self {
        let zeros = || group.gather(&vec![None; group.len()]);
        Adam {
            cfg,
            t: 0,
            m: zeros(),
            v: zeros(),
        }
    }

    /// The moments (flat layout), for checkpoints.
    pub fn moments(&self) -> (&Tensor, &Tensor) {
        (&self.m, &self.v)
    }

    /// Restore moments and step count from a checkpoint.
    pub fn load(&mut self, t: u64, m: Vec<f32>, v: Vec<f32>) {
        let place = self.m.place();
        assert!(
            m.len() == self.m.numel() && v.len() == self.v.numel(),
            "Adam state size mismatch"
        );
        self.t = t;
        self.m = Tensor::from_vec(m, &[self.m.numel()], place);
        self.v = Tensor::from_vec(v, &[self.v.numel()], place);
    }

    /// One step with these gradients (one per parameter; None = zero gradient).
    pub fn step(&mut self, group: &mut ParamGroup, grads: &[Option<Tensor>]) {
        let flat_g = group.gather(grads);
        let ok = Tensor::zeros(&[1], group.place());
        self.step_flat(group, &flat_g, &ok);
    }

    /// One step with a gradient already in the group's flat layout, applied only when the
    /// one-element `guard` is finite (see [`guard`]); on the GPU the decision is made by the
    /// kernel, so no readback is needed.
    pub fn step_flat(&mut self, group: &mut ParamGroup, g: &Tensor, guard: &Tensor) {
        self.t += 1;
        let s = AdamStep {
            lr: self.cfg.lr,
            beta1: self.cfg.beta1,
            beta2: self.cfg.beta2,
            eps: self.cfg.eps,
            t: self.t,
        };
        match group.place() {
            Place::Gpu => {
                let (bc1, bc2) = s.corrections();
                let n = group.flat_len() as u64;
                let params = group.flat();
                gpu::gpu().dispatch(
                    &Kernel::new("optim/adam.wgsl"),
                    &AdamParams {
                        n: n as u32,
                        lr: s.lr as f32,
                        b1: s.beta1 as f32,
                        b2: s.beta2 as f32,
                        eps: s.eps as f32,
                        bc1: bc1 as f32,
                        bc2: bc2 as f32,
                        c1: (1.0 - s.beta1) as f32,
                        c2: (1.0 - s.beta2) as f32,
                    },
                    &[
                        params.storage().gpu_buffer(),
                        self.m.storage().gpu_buffer(),
                        self.v.storage().gpu_buffer(),
                        g.storage().gpu_buffer(),
                        guard.storage().gpu_buffer(),
                    ],
                    groups_1d(n),
                );
            }
            // Shapes only: the moments already hold their bytes; nothing to compute.
            Place::Meta => {}
            _ if !guard.item().is_finite() => {}
            _ => {
                let mut p = group.flat().to_vec_f64();
                let mut m = self.m.to_vec_f64();
                let mut v = self.v.to_vec_f64();
                cpu::adam(&mut p, &mut m, &mut v, &g.to_vec_f64(), s);
                let place = group.place();
                self.m = Tensor::from_vec_f64(m, &[p.len()], place);
                self.v = Tensor::from_vec_f64(v, &[p.len()], place);
                group.scatter(&p);
            }
        }
    }
}

/// The guard of a step: loss + sum(g^2), finite exactly when the loss and every gradient are.
pub fn guard(loss: &Tensor, flat_grad: &Tensor) -> Tensor {
    use crate::ops::{reduce::sum_of_squares, reshape};
    let loss = reshape(&loss.detach(), &[]);
    reshape(&(&sum_of_squares(flat_grad) + &loss), &[1])
}
