//! Which tiles a convolution runs with (the matmul's are in `matmul.rs`). Three sources, in
//! order: a configuration forced by a guard (the candidate tests), the tiling policy
//! (`gradcheck`, `bench --conv-tiling`), then either the fixed size rules or, with
//! `gpu::autotune` on, the candidate that was fastest for the shape class on this adapter.
//! Candidate 0 is always the rule, so a tuner that runs out of time keeps today's choice.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use super::tile_rows;
use crate::cpu::conv::ConvDims;
use crate::gpu::{self, autotune, Kernel};

/// Weight-gradient splits aim for at least this many workgroups (the rule).
const TARGET_GROUPS: usize = 512;
/// The reduction per weight-gradient split is at least this many pixels.
const MIN_CHUNK: usize = 256;
/// The split targets the tuner tries for the weight gradient: 0 is no split.
const SPLIT_TARGETS: [usize; 4] = [0, 128, TARGET_GROUPS, 2048];
/// The reduction steps per barrier (`BK`) of the narrow conv kernel and the matmul; 16 is
/// the rule's (and the wide kernel's fixed one).
pub const K_STEPS: [usize; 3] = [16, 32, 8];

/// How a convolution GEMM is cut into workgroup tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tiling {
    /// `implicit_gemm.wgsl`: ROWS x 64 tiles, ROWS = 16, 32 or 64.
    Narrow(usize),
    /// `implicit_gemm_wide.wgsl`: 128 x 128 tiles, 8 x 8 outputs per invocation.
    Wide,
    /// The wide tiles with the next step's operands prefetched into registers and A's rows
    /// padded against bank conflicts (`PREFETCH`, `A_STRIDE`): a tuner candidate only, for
    /// GPUs where global latency stalls the wide kernel (44% of FMA at best on an H200).
    WidePrefetch,
    /// Not a tile: Winograd F(2x2, 3x3) (`ops::winograd`), for the 3x3 convolution's three
    /// passes; a tuner candidate only. Elsewhere (forced by a test) the rule runs instead.
    Winograd,
}

impl Tiling {
    pub const ALL: [Tiling; 6] = [
        Tiling::Narrow(16),
        Tiling::Narrow(32),
        Tiling::Narrow(64),
        Tiling::Wide,
        Tiling::WidePrefetch,
        Tiling::Winograd,
    ];

    /// (tile rows, tile columns).
    pub fn tile(self) -> (usize, usize) {
        match self {
            Tiling::Narrow(rows) => (rows, 64),
            Tiling::Wide | Tiling::WidePrefetch => (128, 128),
            // Never dispatched as tiles (`ConvConfig::runnable`); its own grids are 1-D.
            Tiling::Winograd => (64, 64),
        }
    }

    /// 128 x 128 tiles (`implicit_gemm_wide.wgsl`), either variant.
    pub fn is_wide(self) -> bool {
        self.tile() == (128, 128)
    }

    /// Workgroups along (columns, rows).
    pub fn grid(self, rows: usize, cols: usize) -> [u32; 2] {
        let (tr, tc) = self.tile();
        [cols.div_ceil(tc) as u32, rows.div_ceil(tr) as u32]
    }

    pub fn label(self) -> String {
        match self {
            Tiling::Narrow(r) => format!("narrow{r}"),
            Tiling::Wide => "wide".into(),
            Tiling::WidePrefetch => "widepf".into(),
            Tiling::Winograd => "winograd".into(),
        }
    }
}

/// Which tilings the convolutions may use: `Auto` in real work; tests and `gradcheck` force
/// each so that both kernels are checked whatever the shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TilingPolicy {
    Auto,
    Narrow,
    Wide,
}

static POLICY: AtomicU8 = AtomicU8::new(0);

/// Restores the tiling policy in force before [`set_tiling_policy`] on drop.
#[must_use = "the policy is restored when the guard drops"]
pub struct TilingGuard(u8);

impl Drop for TilingGuard {
    fn drop(&mut self) {
        POLICY.store(self.0, Ordering::SeqCst);
    }
}

/// Force a tile shape (tests, `gradcheck`, `bench --conv-tiling`) until the guard drops.
pub fn set_tiling_policy(p: TilingPolicy) -> TilingGuard {
    TilingGuard(POLICY.swap(p as u8, Ordering::SeqCst))
}

pub fn tiling_policy() -> TilingPolicy {
    match POLICY.load(Ordering::SeqCst) {
        1 => TilingPolicy::Narrow,
        2 => TilingPolicy::Wide,
        _ => TilingPolicy::Auto,
    }
}

/// Wide tiles need at least this many of them (or a splittable reduction): below it a
/// large GPU would sit half idle, and the narrow tiles' 4x more workgroups fill it better.
const WIDE_MIN_GROUPS: usize = 256;

/// The tiling of a GEMM with `rows` x `cols` outputs under the policy (the fixed rule when
/// `Auto`); `splittable`: its reduction can be split across workgroups (the weight
/// gradient), which fills the grid anyway.
pub fn tiling(rows: usize, cols: usize, splittable: bool) -> Tiling {
    match tiling_policy() {
        TilingPolicy::Narrow => Tiling::Narrow(tile_rows(rows)),
        TilingPolicy::Wide => Tiling::Wide,
        TilingPolicy::Auto => {
            let groups = rows.div_ceil(128) * cols.div_ceil(128);
            if rows >= 128 && cols >= 128 && (splittable || groups >= WIDE_MIN_GROUPS) {
                Tiling::Wide
            } else {
                Tiling::Narrow(tile_rows(rows))
            }
        }
    }
}

/// The weight gradient's split of its pixel reduction aiming at `target` workgroups (0: no
/// split): (splits, pixels per split, a multiple of 16).
fn splits_for(d: &ConvDims, t: Tiling, target: usize) -> (usize, usize) {
    let pixels = d.n * d.hw();
    let [gx, gy] = t.grid(d.k, d.c * d.taps());
    let want = target.div_ceil((gx * gy) as usize);
    let max_by_size = pixels.div_ceil(MIN_CHUNK).max(1);
    let splits = want.clamp(1, max_by_size);
    let chunk = pixels.div_ceil(splits).div_ceil(16) * 16;
    (pixels.div_ceil(chunk), chunk)
}

/// The rule's split of the weight gradient for tiling `t`: (splits, chunk).
pub fn weight_splits(d: &ConvDims, t: Tiling) -> (usize, usize) {
    splits_for(d, t, TARGET_GROUPS)
}

/// One convolution configuration: the tiling, the narrow kernel's reduction step per barrier
/// (`BK`; the wide kernel's is 16), and for the weight gradient (MODE 2) the workgroup count
/// its split-K aims for (ignored by the other passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvConfig {
    pub tiling: Tiling,
    pub k_step: usize,
    pub split_target: usize,
}

impl ConvConfig {
    /// The kernel for `mode` and `d`'s kernel size.
    pub fn kernel(self, mode: u32, d: &ConvDims) -> Kernel {
        let k = match self.tiling {
            Tiling::Narrow(rows) => {
                let k = Kernel::new("conv/implicit_gemm.wgsl").with("ROWS", rows as f64);
                // The default stays out of the label, so profiles read as before.
                match self.k_step {
                    16 => k,
                    bk => k.with("BK", bk as f64),
                }
            }
            Tiling::Wide => Kernel::new("conv/implicit_gemm_wide.wgsl"),
            Tiling::WidePrefetch => Kernel::new("conv/implicit_gemm_wide.wgsl")
                .with("PREFETCH", 1.0)
                .with("A_STRIDE", 33.0),
            Tiling::Winograd => unreachable!("Winograd runs through ops::winograd"),
        };
        k.with("MODE", mode as f64)
            .with("KH", d.kh as f64)
            .with("KW", d.kw as f64)
    }

    /// What pass `mode` at `d` really runs as: the rule where Winograd does not apply (other
    /// kernel sizes, too little memory), otherwise itself.
    pub fn runnable(self, mode: u32, d: &ConvDims) -> ConvConfig {
        if self.tiling == Tiling::Winograd && !winograd_applies(d) {
            conv_rule(mode, d)
        } else {
            self
        }
    }

    /// (splits, chunk) of the weight gradient at `d`.
    pub fn splits(self, d: &ConvDims) -> (usize, usize) {
        splits_for(d, self.tiling, self.split_target)
    }

    pub fn label(self, mode: u32) -> String {
        let t = match self.k_step {
            16 => self.tiling.label(),
            bk => format!("{}k{bk}", self.tiling.label()),
        };
        match mode {
            2 if self.tiling != Tiling::Winograd => format!("{t}/g{}", self.split_target),
            _ => t,
        }
    }

    /// The tilings with their K-steps: three for each narrow tile, one for the wide.
    fn tiles() -> impl Iterator<Item = (Tiling, usize)> {
        Tiling::ALL.into_iter().flat_map(|t| {
            let steps: &[usize] = match t {
                Tiling::Narrow(_) => &K_STEPS,
                Tiling::Wide | Tiling::WidePrefetch | Tiling::Winograd => &[16],
            };
            steps.iter().map(move |&bk| (t, bk))
        })
    }

    /// Every configuration any shape may run: what the candidate tests force one by one.
    pub fn all() -> Vec<ConvConfig> {
        Self::tiles()
            .flat_map(|(tiling, k_step)| {
                SPLIT_TARGETS.map(|split_target| ConvConfig {
                    tiling,
                    k_step,
                    split_target,
                })
            })
            .collect()
    }
}

/// A pass at `d` can run as Winograd (`ops::winograd`; F(3x3, 2x2) for the weight
/// gradient): a 3x3 kernel whose scratch (16 x channels x 2x2 tiles, 4x an input or output)
/// fits the device's largest storage binding.
pub fn winograd_applies(d: &ConvDims) -> bool {
    if d.kh != 3 || d.kw != 3 {
        return false;
    }
    let tiles = d.n * d.h.div_ceil(2) * d.w.div_ceil(2);
    let largest = (16 * tiles * d.c.max(d.k) * 4) as u64;
    gpu::try_gpu().is_ok_and(|ctx| largest <= ctx.limits.max_storage_buffer_binding_size)
}

/// The GEMM of pass `mode` at `d`: (rows, columns, reduction).
pub fn conv_gemm(mode: u32, d: &ConvDims) -> (usize, usize, usize) {
    let pixels = d.n * d.hw();
    match mode {
        0 => (d.k, pixels, d.c * d.taps()),
        1 => (d.c, pixels, d.k * d.taps()),
        _ => (d.k, d.c * d.taps(), pixels),
    }
}

/// The fixed rule's configuration (under the tiling policy).
pub fn conv_rule(mode: u32, d: &ConvDims) -> ConvConfig {
    let (rows, cols, _) = conv_gemm(mode, d);
    ConvConfig {
        tiling: tiling(rows, cols, mode == 2),
        k_step: 16,
        split_target: TARGET_GROUPS,
    }
}

/// The rule first, then the other configurations worth timing at `d`: Winograd where it
/// applies, then those one knob away from the rule before the rest, wide tiles first among
/// them (a budget that runs out has tried the likeliest). Skipped: tiles with more rows than
/// the rule's narrow tile would have (idle rows), wide tiles below 64 rows or 128 columns,
/// K-steps above 16 for a reduction of 16 or less, and weight-gradient splits that come out
/// the same.
pub fn conv_candidates(mode: u32, d: &ConvDims) -> Vec<ConvConfig> {
    let rule = conv_rule(mode, d);
    let (rows, cols, red) = conv_gemm(mode, d);
    let useful = |t: &Tiling, bk: usize| {
        let fits = match t {
            Tiling::Narrow(r) => *r <= tile_rows(rows),
            Tiling::Wide => rows >= 64 && cols >= 128,
            // Only full tiles: on lavapipe it won a 64-row dgrad alone (min of a few runs)
            // and cost the 16x16 step a third in place (887 vs 666 ms).
            Tiling::WidePrefetch => rows >= 128 && cols >= 128,
            Tiling::Winograd => winograd_applies(d),
        };
        fits && (bk <= 16 || red > 16)
    };
    let targets: &[usize] = if mode == 2 {
        &SPLIT_TARGETS
    } else {
        &[TARGET_GROUPS]
    };
    let same = |a: &ConvConfig, b: &ConvConfig| {
        let split_free = mode != 2 || a.tiling == Tiling::Winograd;
        a.tiling == b.tiling && a.k_step == b.k_step && (split_free || a.splits(d) == b.splits(d))
    };
    let mut all: Vec<ConvConfig> = ConvConfig::tiles()
        .filter(|(t, bk)| useful(t, *bk))
        .flat_map(|(tiling, k_step)| {
            targets.iter().map(move |&split_target| ConvConfig {
                tiling,
                k_step,
                split_target,
            })
        })
        .collect();
    let knobs = |c: &ConvConfig| {
        (c.tiling != rule.tiling) as u8
            + (c.k_step != rule.k_step) as u8
            + (c.split_target != rule.split_target) as u8
    };
    // Winograd first where it applies (the largest change, and on a slow device the budget
    // covers only a few candidates); then, where the wide tiles fit, the GEMM is large: them.
    let rank = |c: &ConvConfig| {
        (
            c.tiling != Tiling::Winograd,
            knobs(c) > 1,
            !c.tiling.is_wide(),
        )
    };
    all.sort_by_key(rank);
    let mut out = vec![rule];
    for c in &all {
        if !out.iter().any(|o| same(o, c)) {
            out.push(*c);
        }
    }
    out
}

/// The shape class: pass, kernel size (stride is always 1 here) and the GEMM's rows,
/// columns and reduction rounded up to powers of two.
pub fn conv_key(mode: u32, d: &ConvDims) -> String {
    let (r, c, k) = conv_gemm(mode, d);
    let p = usize::next_power_of_two;
    format!(
        "conv{mode} k{}x{} m{} n{} r{}",
        d.kh,
        d.kw,
        p(r),
        p(c),
        p(k)
    )
}

static FORCED_CONV: Mutex<Option<ConvConfig>> = Mutex::new(None);

/// Restores the forced convolution configuration in force before [`force_conv`] on drop.
#[must_use = "the configuration is restored when the guard drops"]
pub struct ForcedConv(Option<ConvConfig>);

impl Drop for ForcedConv {
    fn drop(&mut self) {
        *FORCED_CONV.lock().unwrap_or_else(|e| e.into_inner()) = self.0;
    }
}

/// Every convolution runs `c` (whatever its shape) until the guard drops: the candidate
/// tests check each configuration the tuner may pick.
pub fn force_conv(c: Option<ConvConfig>) -> ForcedConv {
    ForcedConv(std::mem::replace(
        &mut *FORCED_CONV.lock().unwrap_or_else(|e| e.into_inner()),
        c,
    ))
}

fn forced_conv() -> Option<ConvConfig> {
    *FORCED_CONV.lock().unwrap_or_else(|e| e.into_inner())
}

/// Tuning applies only with the policy at `Auto` and the switch on.
fn tuning_on() -> bool {
    tiling_policy() == TilingPolicy::Auto && autotune::enabled()
}

/// The configuration pass `mode` runs at `d`; with tuning on, the first use of a shape
/// class times each candidate through `launch` (which records one run of it).
pub fn conv_config(mode: u32, d: &ConvDims, launch: &mut dyn FnMut(ConvConfig)) -> ConvConfig {
    if let Some(c) = forced_conv() {
        return c;
    }
    if !tuning_on() {
        return conv_rule(mode, d);
    }
    let cands = conv_candidates(mode, d);
    if cands.len() == 1 {
        return cands[0];
    }
    let labels: Vec<String> = cands.iter().map(|c| c.label(mode)).collect();
    let warm: Vec<bool> = cands.iter().map(|c| c.tiling == Tiling::Winograd).collect();
    let i = autotune::tune_warming(gpu::gpu(), &conv_key(mode, d), &labels, &warm, &mut |i| {
        launch(cands[i])
    });
    cands[i]
}

/// What pass `mode` at `d` runs now and why, for `bench`: e.g. `wide/g512 (4 splits, tuned)`.
pub fn describe_conv(mode: u32, d: &ConvDims) -> String {
    let (cfg, why) = if let Some(c) = forced_conv() {
        match c.runnable(mode, d) {
            r if r == c => (c, "forced"),
            r => (r, "rule: the forced Winograd does not apply"),
        }
    } else if !tuning_on() || gpu::try_gpu().is_err() {
        (conv_rule(mode, d), "rule")
    } else {
        let cands = conv_candidates(mode, d);
        let hit = autotune::cached(gpu::gpu(), &conv_key(mode, d))
            .and_then(|l| cands.iter().find(|c| c.label(mode) == l).copied());
        match hit {
            Some(c) => (c, "tuned"),
            None => (cands[0], "rule"),
        }
    };
    match mode {
        2 if cfg.tiling != Tiling::Winograd => {
            format!("{} ({} splits, {why})", cfg.label(mode), cfg.splits(d).0)
        }
        _ => format!("{} ({why})", cfg.label(mode)),
    }
}
