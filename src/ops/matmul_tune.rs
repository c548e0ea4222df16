//! Which tiles a matmul runs with: the configurations (`matmul.wgsl`'s ROWS x 64 tiles with
//! a K-step and split-K, `matmul_wide.wgsl`'s 128 x 128), the fixed rule, the autotuner's
//! candidates and shape classes, and the forcing guard the candidate tests use (the conv's
//! are in `tune`).

use std::sync::Mutex;

use super::tile_rows;
use crate::gpu::{self, autotune, Kernel};

/// The sizes of a (batched) product: `batches` of (m x k) by (k x n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    pub batches: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

impl MatmulShape {
    /// Workgroups of one K part with tiles of `rows` rows (x 64 columns).
    pub fn tiles(self, rows: usize) -> usize {
        self.n.div_ceil(64) * self.m.div_ceil(rows) * self.batches
    }
}

/// Most workgroups a dispatch may have along z (batches x parts).
pub const MAX_Z: usize = 65535;

/// The ROWS override candidates of `matmul.wgsl`.
pub const MATMUL_ROWS: [usize; 3] = [16, 32, 64];

/// The rows (and columns) of `matmul_wide.wgsl`'s tiles: a [`MatmulConfig`] with these rows
/// is the wide kernel (unsplit, BK 16).
pub const WIDE_ROWS: usize = 128;

/// The split-K part counts (`SPLITS`) besides 1.
pub const MATMUL_SPLITS: [usize; 4] = [2, 4, 8, 16];

/// A matmul configuration: tile rows (`ROWS`), K-step (`BK`) and the parts K is split into
/// (`SPLITS`, 1: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulConfig {
    pub rows: usize,
    pub k_step: usize,
    pub splits: usize,
}

impl MatmulConfig {
    /// The 128 x 128 tiles of `matmul_wide.wgsl`.
    pub const WIDE: MatmulConfig = MatmulConfig {
        rows: WIDE_ROWS,
        k_step: 16,
        splits: 1,
    };

    pub fn is_wide(self) -> bool {
        self.rows == WIDE_ROWS
    }

    /// Columns of one tile.
    pub fn cols(self) -> usize {
        if self.is_wide() {
            WIDE_ROWS
        } else {
            64
        }
    }

    pub fn kernel(self) -> Kernel {
        if self.is_wide() {
            return Kernel::new("matmul/matmul_wide.wgsl");
        }
        let mut k = Kernel::new("matmul/matmul.wgsl").with("ROWS", self.rows as f64);
        if self.k_step != 16 {
            k = k.with("BK", self.k_step as f64);
        }
        if self.splits != 1 {
            k = k.with("SPLITS", self.splits as f64);
        }
        k
    }

    pub fn label(self) -> String {
        if self.is_wide() {
            return "wide".into();
        }
        let mut l = format!("rows{}", self.rows);
        if self.k_step != 16 {
            l += &format!("k{}", self.k_step);
        }
        if self.splits != 1 {
            l += &format!("s{}", self.splits);
        }
        l
    }

    /// Every configuration: what the candidate tests force one by one.
    pub fn all() -> Vec<MatmulConfig> {
        let splits = std::iter::once(1).chain(MATMUL_SPLITS);
        splits
            .flat_map(|splits| {
                MATMUL_ROWS.iter().flat_map(move |&rows| {
                    super::tune::K_STEPS.map(|k_step| MatmulConfig {
                        rows,
                        k_step,
                        splits,
                    })
                })
            })
            .chain([Self::WIDE])
            .collect()
    }
}

static FORCED_MATMUL: Mutex<Option<MatmulConfig>> = Mutex::new(None);

/// Restores the forced matmul configuration in force before [`force_matmul`] on drop.
#[must_use = "the configuration is restored when the guard drops"]
pub struct ForcedMatmul(Option<MatmulConfig>);

impl Drop for ForcedMatmul {
    fn drop(&mut self) {
        *FORCED_MATMUL.lock().unwrap_or_else(|e| e.into_inner()) = self.0;
    }
}

/// Every matmul runs `c` (None: chosen) until the guard drops.
pub fn force_matmul(c: Option<MatmulConfig>) -> ForcedMatmul {
    ForcedMatmul(std::mem::replace(
        &mut *FORCED_MATMUL.lock().unwrap_or_else(|e| e.into_inner()),
        c,
    ))
}

fn forced_matmul() -> Option<MatmulConfig> {
    *FORCED_MATMUL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shape class of a product of `batches` (m x k) by (k x n) matrices; `layout` tells
/// which operands are read along rows (strides change which loads coalesce).
pub fn matmul_key(batches: usize, m: usize, n: usize, k: usize, layout: [bool; 2]) -> String {
    let p = usize::next_power_of_two;
    format!(
        "matmul z{} m{} n{} k{} l{}{}",
        p(batches),
        p(m),
        p(n),
        p(k),
        layout[0] as u8,
        layout[1] as u8
    )
}

/// No split-K part is shorter than this: each workgroup still walks a few hundred K per
/// output tile, so the partials' extra writes and the row sum stay small next to the product.
const MIN_PART: usize = 256;

/// The fixed rule splits K only under this many output workgroups...
const FEW_TILES: usize = 64;
/// ... and only for K at least this long.
const LONG_K: usize = 2048;
/// The rule's split aims at this many workgroups (a few per SM on a large GPU).
const FILL: usize = 256;

/// The rule's split-K parts for `d` with tiles of `rows`. The products of a StyleGAN step
/// are small in m x n and can be long in K (D's last FC at 4x4: 8192 inputs to 512 outputs
/// at batch 128 is 16 tiles of 64 x 64 walking K = 8192 each): on an H200 (132 SMs) such a
/// product leaves most of the GPU idle, and the matmul family took 16.7 ms of a 72 ms step
/// at 4x4. Split only where that is clearly the case (fewer than [`FEW_TILES`] workgroups,
/// K >= [`LONG_K`]), into the fewest power-of-two parts that reach [`FILL`] workgroups with
/// parts of at least [`MIN_PART`]; elsewhere the extra pass and partial traffic cost more
/// than they save. The autotuner times the other split counts.
pub fn rule_splits(d: MatmulShape, rows: usize) -> usize {
    let tiles = d.tiles(rows);
    if tiles >= FEW_TILES || d.k < LONG_K {
        return 1;
    }
    let mut allowed = MATMUL_SPLITS.into_iter().filter(|&s| d.k / s >= MIN_PART);
    let want = FILL.div_ceil(tiles);
    allowed
        .clone()
        .find(|&s| s >= want)
        .or(allowed.next_back())
        .unwrap_or(1)
}

/// The split counts the autotuner may try at `d`'s power-of-two class (so a class has one
/// candidate list): parts of about [`MIN_PART`] or more, outputs under [`FILL`] workgroups.
fn split_counts(d: MatmulShape, rows: usize) -> Vec<usize> {
    let p = usize::next_power_of_two;
    let class = MatmulShape {
        batches: p(d.batches),
        m: p(d.m),
        n: p(d.n),
        k: p(d.k),
    };
    if class.tiles(rows) >= FILL {
        return vec![];
    }
    MATMUL_SPLITS
        .into_iter()
        .filter(|&s| class.k / s >= MIN_PART && class.batches * s <= MAX_Z)
        .collect()
}

/// The rule (ROWS from m, BK 16, [`rule_splits`]) first; where K is long and the output
/// small, the split counts (the rule's tile, BK 16 then 32); then, unsplit, the rule's and
/// fewer rows with every K-step (those up to k's length).
pub fn matmul_candidates(d: MatmulShape) -> Vec<MatmulConfig> {
    let rows = tile_rows(d.m);
    let rule = MatmulConfig {
        rows,
        k_step: 16,
        splits: rule_splits(d, rows),
    };
    let mut out = vec![rule];
    let splits = split_counts(d, rows);
    // Outputs of 64+ rows by 128+ columns that are not split candidates (those have too few
    // tiles already): the wide tiles first after the rule (a budget that runs out has tried
    // them).
    if d.m >= 64 && d.n >= WIDE_ROWS && splits.is_empty() {
        out.push(MatmulConfig::WIDE);
    }
    let split = [16, 32].into_iter().flat_map(|k_step| {
        splits.iter().map(move |&splits| MatmulConfig {
            rows,
            k_step,
            splits,
        })
    });
    let plain = MatmulConfig::all()
        .into_iter()
        .filter(|c| c.splits == 1 && c.rows <= rows && (c.k_step <= 16 || d.k > 16));
    for c in split.chain(plain) {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// The configuration of a product of shape `d`: forced, the rule, or the class's tuned
/// winner (timed through `launch`, which records one run of a configuration).
pub fn matmul_config(
    key: impl FnOnce() -> String,
    d: MatmulShape,
    launch: &mut dyn FnMut(MatmulConfig),
) -> MatmulConfig {
    if let Some(c) = forced_matmul() {
        return c;
    }
    let cands = matmul_candidates(d);
    if !autotune::enabled() || cands.len() == 1 {
        return cands[0];
    }
    let labels: Vec<String> = cands.iter().map(|c| c.label()).collect();
    let i = autotune::tune(gpu::gpu(), &key(), &labels, &mut |i| launch(cands[i]));
    cands[i]
}

/// What a product of shape `d` and class `key` runs now, for `bench`.
pub fn describe_matmul(key: &str, d: MatmulShape) -> String {
    if let Some(c) = forced_matmul() {
        return format!("{} (forced)", c.label());
    }
    let cands = matmul_candidates(d);
    let tuned = (autotune::enabled() && gpu::try_gpu().is_ok())
        .then(|| autotune::cached(gpu::gpu(), key))
        .flatten()
        .filter(|l| cands.iter().any(|c| c.label() == *l));
    match tuned {
        Some(l) => format!("{l} (tuned)"),
        None => format!("{} (rule)", cands[0].label()),
    }
}
