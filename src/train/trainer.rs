//! One training step: the D step (with its penalty), the G step, Adam on both, the EMA of G
//! and the running average of w. Every random draw is keyed by (seed, step), so a resumed
//! run repeats the same numbers.
//!
//! Gradient accumulation (`cfg.accumulate` = K) splits the step's batch, in order, into K
//! micro-batches: each computes its loss (a mean over its share) and gradients, the flat
//! gradients are summed and divided by K, and one Adam step follows, as K data-parallel ranks
//! would after an all-reduce. The draws are defined per *global* batch: sample i of the step
//! gets the same latent, noise map and penalty weight whichever micro-batch (or rank) holds
//! it (each draw's Philox counter starts at the sample's index), and the per-step decisions
//! (style mixing, crossover) are shared. So K = 1 is the full-batch path unchanged, and the
//! only difference K makes is the minibatch-stddev groups, which stay within a micro-batch.
//!
//! Data parallel (`group`: N MPI ranks) is the same split across processes: the global batch
//! makes N·K micro-batches, rank r runs r·K..(r+1)·K, and the local sums (loss, flat
//! gradient, G's mean w) are summed over the ranks in one all-reduce per network before the
//! division by N·K, so every rank runs the same Adam step on the same numbers.
//!
//! Augmentation (`cfg.augment`, ADA): the critic augments every image D sees, with draws
//! keyed by (seed, step, kind of call, image index in the whole batch). With `ada`, D's scores
//! of the reals wait on the device and are read back once per update of p (every 4 steps; on
//! every step under MPI, where the step syncs anyway, so the ranks' signs can be summed).

use crate::autograd::{grad, no_grad};
use crate::dist::Group;
use crate::nn::augment::Pipeline;
use crate::nn::{lerp, DiscNet, GenNet, NoiseMode, Styles};
use crate::ops::{self, rand_normal, rand_uniform};
use crate::optim::{adam::guard, ema_update, Adam, AdamConfig};
use crate::params::ParamGroup;
use crate::tensor::{Place, Tensor};

use super::accumulate::accumulated;
use super::ada::AdaController;
use super::config::{Loss, TrainConfig};
use super::loss::{self, LossPoint};
use super::schedule::{Point, Schedule};

/// Philox keys of the two streams (latents, noise maps) so they never share numbers.
const LATENT_KEY: u64 = 0x5eed_1a7e_0000_0001;
const NOISE_KEY: u64 = 0x5eed_0015_e000_0002;

/// Counters that make up the training state besides the weights.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    pub images: u64,
    pub step: u64,
    /// Phase whose optimiser state is current (Adam is reset when a new resolution fades in).
    pub phase: usize,
    pub skipped_d: u64,
    pub skipped_g: u64,
}

/// The losses of one step, still on the device (read in batches by the loop).
pub struct StepRecord {
    pub step: u64,
    pub images: u64,
    pub point: Point,
    pub d_loss: Tensor,
    pub g_loss: Tensor,
    pub d_guard: Tensor,
    pub g_guard: Tensor,
}

pub struct Trainer {
    pub cfg: TrainConfig,
    pub place: Place,
    pub g: GenNet,
    pub gp: ParamGroup,
    pub g_ema: ParamGroup,
    pub d: DiscNet,
    pub dp: ParamGroup,
    pub adam_g: Adam,
    pub adam_d: Adam,
    /// Running average of w [1, w_dim] (the truncation trick's centre).
    pub w_avg: Tensor,
    /// StyleGAN2's running mean of path lengths (shape [], on the device; 0 at the start).
    pub pl_mean: Tensor,
    pub progress: Progress,
    pub schedule: Schedule,
    /// The data-parallel ranks this trainer is one of (one process: [`Group::single`]).
    pub group: Group,
    /// ADA's probability and its sums (used when `cfg.augment` is `ada`).
    pub ada: AdaController,
    /// D's scores of the reals of the steps since p's last update, not yet read back (one
    /// entry per step, one tensor per micro-batch).
    pub(super) ada_pending: Vec<Vec<Tensor>>,
    /// The augmentations (the official "bgc" set).
    pub(super) pipeline: Pipeline,
    /// The resolution whose learning rate (`cfg.lr_at`) both optimisers hold: set when the
    /// trainer is built and again only when training reaches another resolution.
    lr_res: usize,
}

/// splitmix64: host-side random decisions keyed by (seed, step, purpose).
pub fn hash(seed: u64, step: u64, purpose: u64) -> u64 {
    let mut z = seed
        ^ step.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ purpose.wrapping_mul(0xd1b5_4a32_d192_ed03);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl Trainer {
    pub fn new(cfg: TrainConfig, place: Place) -> Trainer {
        let (g, gp) = GenNet::build(&cfg.model, cfg.seed, place);
        let (d, dp) = DiscNet::build(&cfg.model, cfg.seed.wrapping_add(1), place);
        let g_ema = gp.duplicate();
        let lr_res = cfg.model.start_res;
        let adam = |c: f64| AdamConfig {
            lr: cfg.lr_at(lr_res) * c,
            beta1: cfg.beta1.powf(c),
            beta2: cfg.beta2.powf(c),
            eps: 1e-8,
        };
        let (c_d, c_g) = cfg.stylegan2.ratios(cfg.model.arch, cfg.r1_gamma);
        let adam_g = Adam::new(&gp, adam(c_g));
        let adam_d = Adam::new(&dp, adam(c_d));
        let w_avg = Tensor::zeros(&[1, cfg.model.w_dim], place);
        let schedule = Schedule::new(&cfg);
        let ada = AdaController::with(cfg.ada_target, cfg.ada_kimg);
        Trainer {
            cfg,
            place,
            g,
            gp,
            g_ema,
            d,
            dp,
            adam_g,
            adam_d,
            w_avg,
            pl_mean: Tensor::zeros(&[], place),
            progress: Progress::default(),
            schedule,
            group: Group::single(),
            ada,
            ada_pending: Vec::new(),
            pipeline: Pipeline::default(),
            lr_res,
        }
    }

    /// Where training stands; None when finished.
    pub fn point(&self) -> Option<Point> {
        self.schedule.at(self.progress.images)
    }

    pub fn batch(&self) -> usize {
        self.point().map_or(1, |p| self.cfg.batch_at(p.res))
    }

    /// Latents [B, z_dim] for (step, purpose).
    pub fn latents(&self, n: usize, step: u64, purpose: u64) -> Tensor {
        self.latents_from(0, n, step, purpose)
    }

    /// Rows `first..first + n` of the latents of (step, purpose): a micro-batch's share.
    fn latents_from(&self, first: usize, n: usize, step: u64, purpose: u64) -> Tensor {
        let z = self.cfg.model.z_dim;
        rand_normal(
            &[n, z],
            self.cfg.seed ^ LATENT_KEY,
            ((step << 32) | (purpose << 28)) + (first * z) as u64,
            0.0,
            1.0,
            self.place,
        )
    }

    /// Styles for samples `rows` of a training batch, with style mixing (one crossover for
    /// the whole step's batch, as the official code draws it), and the first w (for the
    /// running average).
    pub(super) fn styles(
        &self,
        p: &ParamGroup,
        rows: std::ops::Range<usize>,
        step: u64,
        purpose: u64,
        res: usize,
    ) -> (Styles, Tensor) {
        let (first, n) = (rows.start, rows.len());
        let w = self
            .g
            .mapping(p, &self.latents_from(first, n, step, purpose));
        let layers = self.g.layers_at(res);
        let styles = if layers > 1
            && unit(hash(self.cfg.seed, step, purpose)) < self.cfg.style_mixing_prob
        {
            let w2 = self
                .g
                .mapping(p, &self.latents_from(first, n, step, purpose + 1));
            let cross = 1 + (hash(self.cfg.seed, step, purpose + 1) % (layers as u64 - 1)) as usize;
            self.g.mix_styles(&w, &w2, cross)
        } else {
            self.g.broadcast_styles(&w)
        };
        (styles, w)
    }

    fn noise(&self, step: u64, pass: u64, first: usize) -> NoiseMode {
        NoiseMode::Random {
            seed: self.cfg.seed ^ NOISE_KEY,
            step: 2 * step + pass,
            first,
        }
    }

    /// Real images blended like the output during a fade: lerp(up(down(x)), x, alpha).
    pub fn fade_reals(&self, reals: &Tensor, pt: &Point) -> Tensor {
        if pt.fade && pt.alpha < 1.0 {
            lerp(&ops::upsample2x(&ops::downsample2x(reals)), reals, pt.alpha)
        } else {
            reals.clone()
        }
    }

    /// The D loss and D's gradients for this step.
    pub fn d_pass(&self, reals: &Tensor, pt: &Point) -> (Tensor, Vec<Tensor>) {
        self.d_pass_from(reals, 0, pt)
    }

    /// The D loss and gradients of a micro-batch: `reals` are samples `first..` of the step.
    fn d_pass_from(&self, reals: &Tensor, first: usize, pt: &Point) -> (Tensor, Vec<Tensor>) {
        self.d_pass_probed(reals, first, pt, &mut |_| {})
    }

    /// [`Self::d_pass_from`], calling `probe` when the loss's inputs exist and at each
    /// [`LossPoint`] of the loss (`bench` measures a step's memory there).
    pub fn d_pass_probed(
        &self,
        reals: &Tensor,
        first: usize,
        pt: &Point,
        probe: &mut dyn FnMut(LossPoint),
    ) -> (Tensor, Vec<Tensor>) {
        let (loss, grads, _) = self.d_pass_scored(reals, first, pt, probe);
        (loss, grads)
    }

    /// [`Self::d_pass_probed`], also giving D's scores of the (augmented) reals [n, 1].
    fn d_pass_scored(
        &self,
        reals: &Tensor,
        first: usize,
        pt: &Point,
        probe: &mut dyn FnMut(LossPoint),
    ) -> (Tensor, Vec<Tensor>, Tensor) {
        let step = self.progress.step;
        let n = reals.dim(0);
        let gp = self.gp.frozen();
        let fake = no_grad(|| {
            let (s, _) = self.styles(&gp, first..first + n, step, 0, pt.res);
            self.g
                .synthesis(&gp, &s, pt.res, pt.alpha, self.noise(step, 0, first))
        });
        let critic = self.critic(&self.dp, pt, first);
        let reals = self.fade_reals(reals, pt);
        let (loss, scores) = match self.cfg.loss {
            Loss::WganGp => {
                let u = rand_uniform(
                    &[n, 1, 1, 1],
                    self.cfg.seed ^ LATENT_KEY,
                    ((step << 32) | (2 << 28)) + first as u64,
                    0.0,
                    1.0,
                    self.place,
                );
                probe(LossPoint::InputsReady);
                let weights = (self.cfg.gp_lambda, self.cfg.drift_epsilon);
                loss::d_wgan_gp_probed(&critic, &reals, &fake, &u, weights, probe)
            }
            Loss::LogisticR1 if self.lazy() => {
                probe(LossPoint::InputsReady);
                loss::d_logistic_probed(&critic, &reals, &fake, probe)
            }
            Loss::LogisticR1 => {
                probe(LossPoint::InputsReady);
                loss::d_logistic_r1_probed(&critic, &reals, &fake, self.cfg.r1_gamma, probe)
            }
        };
        let grads = grad(std::slice::from_ref(&loss), self.dp.params(), false);
        (loss.detach(), grads, scores)
    }

    /// The G loss and G's gradients for this step (D frozen).
    pub fn g_pass(&self, n: usize, pt: &Point) -> (Tensor, Vec<Tensor>, Tensor) {
        self.g_pass_from(0..n, pt)
    }

    /// The G loss, gradients and w of samples `rows` of the step's batch (a micro-batch).
    fn g_pass_from(
        &self,
        rows: std::ops::Range<usize>,
        pt: &Point,
    ) -> (Tensor, Vec<Tensor>, Tensor) {
        let step = self.progress.step;
        let dp = self.dp.frozen();
        let first = rows.start;
        let (styles, w) = self.styles(&self.gp, rows, step, 3, pt.res);
        let fake = self.g.synthesis(
            &self.gp,
            &styles,
            pt.res,
            pt.alpha,
            self.noise(step, 1, first),
        );
        let critic = self.critic(&dp, pt, first);
        let loss = match self.cfg.loss {
            Loss::WganGp => loss::g_wgan(&critic, &fake),
            Loss::LogisticR1 => loss::g_logistic(&critic, &fake),
        };
        let grads = grad(std::slice::from_ref(&loss), self.gp.params(), false);
        (loss.detach(), grads, w.detach())
    }

    /// Micro-batches per rank and the size of one, for a step's batch of `n` (1 and `n`
    /// without accumulation on one process).
    pub fn micro(&self, n: usize) -> (usize, usize) {
        let k = self.cfg.accumulate.max(1);
        let parts = k * self.group.size;
        assert!(
            n.is_multiple_of(parts),
            "batch {n} is not a multiple of accumulate {k} x {} ranks (the run's checks refuse it)",
            self.group.size
        );
        (k, n / parts)
    }

    /// The D loss and D's gradient in the flat layout for this step's whole batch `reals`,
    /// averaged over the `cfg.accumulate` micro-batches (what Adam takes).
    pub fn d_grads(&self, reals: &Tensor, pt: &Point) -> (Tensor, Tensor) {
        let (loss, flat, _) = self.d_grads_scored(reals, pt);
        (loss, flat)
    }

    /// [`Self::d_grads`], also giving D's scores of this rank's reals, per micro-batch.
    fn d_grads_scored(&self, reals: &Tensor, pt: &Point) -> (Tensor, Tensor, Vec<Tensor>) {
        let (k, m) = self.micro(reals.dim(0));
        let mut scores = Vec::with_capacity(k);
        let (loss, flat, _) = accumulated(&self.dp, self.group, k, |j| {
            let part = ops::slice(reals, 0, j * m, m);
            let (loss, grads, s) = self.d_pass_scored(&part, j * m, pt, &mut |_| {});
            scores.push(s);
            (loss, grads, None)
        });
        (loss, flat, scores)
    }

    /// The G loss, G's gradient in the flat layout and the batch's mean w [1, w_dim] for a
    /// step's batch of `n`, averaged over the `cfg.accumulate` micro-batches.
    pub fn g_grads(&self, n: usize, pt: &Point) -> (Tensor, Tensor, Tensor) {
        let (k, m) = self.micro(n);
        let (loss, flat, w_mean) = accumulated(&self.gp, self.group, k, |j| {
            let (loss, grads, w) = self.g_pass_from(j * m..(j + 1) * m, pt);
            // The mean w of the batch: the mean of the micro-batches' means (equal sizes).
            (loss, grads, Some(ops::mean(&w, &[0], true)))
        });
        (loss, flat, w_mean.expect("the G pass gives w"))
    }

    /// One full step on a batch of real images at the current resolution, in [-1, 1].
    /// Returns None when training is finished.
    pub fn step(&mut self, reals: &Tensor) -> Option<StepRecord> {
        let pt = self.point()?;
        if pt.phase != self.progress.phase {
            self.enter_phase(pt.phase);
        }
        let n = reals.dim(0);
        assert_eq!(
            reals.shape()[1..],
            [self.cfg.model.channels, pt.res, pt.res],
            "real batch shape"
        );
        if pt.res != self.lr_res {
            // A new resolution, or a trainer restored (or moved) to a point past the start.
            self.use_lr_of(pt.res);
        }

        let (d_loss, flat, scores) = self.d_grads_scored(reals, &pt);
        // The guard sees the accumulated gradient, as every rank would after the all-reduce.
        let d_guard = guard(&d_loss, &flat);
        self.adam_d.step_flat(&mut self.dp, &flat, &d_guard);
        self.d_reg_step(reals, &pt);

        let (g_loss, flat, batch_mean) = self.g_grads(n, &pt);
        let g_guard = guard(&g_loss, &flat);
        self.adam_g.step_flat(&mut self.gp, &flat, &g_guard);
        self.g_reg_step(n, &pt);

        let beta = 0.5f64.powf(n as f64 / (self.cfg.ema_half_life_kimg * 1000.0).max(1e-9));
        ema_update(&mut self.g_ema, &self.gp, beta);
        self.w_avg = lerp(&batch_mean, &self.w_avg, self.cfg.w_avg_beta).detach();

        let rec = StepRecord {
            step: self.progress.step,
            images: self.progress.images,
            point: pt,
            d_loss,
            g_loss,
            d_guard,
            g_guard,
        };
        self.record_ada(scores);
        self.progress.step += 1;
        self.progress.images += n as u64;
        Some(rec)
    }

    /// A new resolution fades in: fresh optimiser moments, as the official code does.
    fn enter_phase(&mut self, phase: usize) {
        let new_res = self.schedule.phases[phase].res;
        let old_res = self.schedule.phases[self.progress.phase].res;
        if new_res != old_res {
            self.adam_g = Adam::new(&self.gp, self.adam_g.cfg);
            self.adam_d = Adam::new(&self.dp, self.adam_d.cfg);
        }
        self.progress.phase = phase;
    }

    /// Both optimisers take the learning rate of resolution `res`.
    fn use_lr_of(&mut self, res: usize) {
        let lr = self.cfg.lr_at(res);
        let (c_d, c_g) = self.lazy_ratios();
        self.adam_g.cfg.lr = lr * c_g;
        self.adam_d.cfg.lr = lr * c_d;
        self.lr_res = res;
    }

    /// Images from G_ema for given latents (truncation psi with cutoff, noise mode).
    pub fn sample(&self, z: &Tensor, res: usize, alpha: f64, psi: f64, noise: NoiseMode) -> Tensor {
        no_grad(|| {
            let w = self.g.mapping(&self.g_ema, z);
            let styles = self.g.broadcast_styles(&w);
            let styles = self.g.truncate(&styles, &self.w_avg, psi, 8);
            self.g.synthesis(&self.g_ema, &styles, res, alpha, noise)
        })
    }
}
