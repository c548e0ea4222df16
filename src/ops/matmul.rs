//! Matrix products: forward (kernel `shaders/matmul/matmul.wgsl`, reference `cpu::matmul`)
//! and backward. Transposes are strides, never copies.

use std::sync::{Arc, Mutex};

use super::{same_place, sum_to, tile_rows};
use crate::cpu::matmul::{self as cpu, MatView, MatmulDims};
use crate::gpu::{self, autotune, GpuBuffer, Kernel};
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/matmul/matmul.wgsl`: C[z] (m x n) = alpha * A[z] (m x k) B[z] (k x n), each
    /// operand read through its batch, row and column strides from its offset (in floats).
    pub struct MatmulParams {
        kernels: ["matmul/matmul.wgsl" => [Read, Read, ReadWrite]],
        pub m: u32,
        pub n: u32,
        pub k: u32,
        pub a_batch: u32,
        pub a_row: u32,
        pub a_col: u32,
        pub b_batch: u32,
        pub b_row: u32,
        pub b_col: u32,
        pub a_off: u32,
        pub b_off: u32,
        pub alpha: f32,
    }
}

/// (batches, rows, cols) of op(x) and its view, for a rank-2 or rank-3 operand.
fn view(x: &Tensor, t: bool) -> (usize, usize, usize, MatView) {
    let (bt, r, c) = match x.rank() {
        2 => (1, x.dim(0), x.dim(1)),
        3 => (x.dim(0), x.dim(1), x.dim(2)),
        _ => panic!("matmul operands must be rank 2 or 3, got {:?}", x.shape()),
    };
    let batch = if x.rank() == 3 { r * c } else { 0 };
    let (rows, cols, row, col) = if t { (c, r, 1, c) } else { (r, c, c, 1) };
    (
        bt,
        rows,
        cols,
        MatView {
            off: 0,
            batch,
            row,
            col,
        },
    )
}

/// op(a) @ op(b), op = transpose where the flag is set. Rank-3 operands are batches; a rank-2
/// operand is shared by every batch.
pub fn matmul_t(a: &Tensor, b: &Tensor, ta: bool, tb: bool) -> Tensor {
    matmul_scaled(a, b, ta, tb, 1.0)
}

/// alpha * op(a) @ op(b): the scale is applied in the kernel (equalized learning rate).
pub fn matmul_scaled(a: &Tensor, b: &Tensor, ta: bool, tb: bool, alpha: f64) -> Tensor {
    same_place("matmul", &[a, b]);
    let (ba, m, k, av) = view(a, ta);
    let (bb, k2, n, bv) = view(b, tb);
    assert_eq!(
        k,
        k2,
        "matmul: inner sizes differ, {:?} (t={ta}) x {:?} (t={tb})",
        a.shape(),
        b.shape()
    );
    assert!(
        ba == bb || ba == 1 || bb == 1,
        "matmul batch sizes {ba} and {bb}"
    );
    let batches = ba.max(bb);
    let shape = if a.rank() == 3 || b.rank() == 3 {
        vec![batches, m, n]
    } else {
        vec![m, n]
    };
    let dims = MatmulDims { batches, m, n, k };
    let storage = match (a.storage(), b.storage()) {
        (Storage::F32(x), Storage::F32(y)) => {
            Storage::F32(HostVec::arc(cpu::matmul(x, av, y, bv, dims, alpha)))
        }
        (Storage::F64(x), Storage::F64(y)) => {
            Storage::F64(HostVec::arc(cpu::matmul(x, av, y, bv, dims, alpha)))
        }
        (Storage::Meta(_), Storage::Meta(_)) => Storage::meta(batches * m * n),
        (Storage::Gpu(x), Storage::Gpu(y)) => {
            let ctx = gpu::gpu();
            let out = ctx.alloc((batches * m * n) as u64 * 4);
            let params = MatmulParams {
                m: m as u32,
                n: n as u32,
                k: k as u32,
                a_batch: av.batch as u32,
                a_row: av.row as u32,
                a_col: av.col as u32,
                b_batch: bv.batch as u32,
                b_row: bv.row as u32,
                b_col: bv.col as u32,
                a_off: av.off as u32,
                b_off: bv.off as u32,
                alpha: alpha as f32,
            };
            if m * n * batches > 0 {
                if k == 0 {
                    ctx.fill_u32(&out, 0);
                } else {
                    let launch = |c: MatmulConfig, out: &GpuBuffer| {
                        let groups = [
                            n.div_ceil(64) as u32,
                            m.div_ceil(c.rows) as u32,
                            batches as u32,
                        ];
                        ctx.dispatch(&c.kernel(), &params, &[x, y, out], groups);
                    };
                    let key = || matmul_key(batches, m, n, k, [av.col == 1, bv.col == 1]);
                    let c = matmul_config(key, m, k, &mut |c| {
                        launch(c, &ctx.alloc((batches * m * n) as u64 * 4))
                    });
                    launch(c, &out);
                }
            }
            Storage::Gpu(Arc::new(out))
        }
        _ => unreachable!("same_place checked"),
    };
    Tensor::from_op(
        storage,
        shape,
        Op::Matmul {
            a: a.clone(),
            b: b.clone(),
            ta,
            tb,
            alpha,
        },
    )
}

pub fn matmul(a: &Tensor, b: &Tensor) -> Tensor {
    matmul_t(a, b, false, false)
}

/// With A' = op(A), B' = op(B), C = A'B': dA' = g B'^T and dB' = A'^T g, transposed back
/// where the op transposed; a shared rank-2 operand sums its batch of gradients.
pub fn backward(
    a: &Tensor,
    b: &Tensor,
    ta: bool,
    tb: bool,
    alpha: f64,
    g: &Tensor,
) -> Vec<Option<Tensor>> {
    let ga = if ta {
        matmul_scaled(b, g, tb, true, alpha)
    } else {
        matmul_scaled(g, b, false, !tb, alpha)
    };
    let gb = if tb {
        matmul_scaled(g, a, true, ta, alpha)
    } else {
        matmul_scaled(a, g, !ta, false, alpha)
    };
    vec![Some(fit(ga, a)), Some(fit(gb, b))]
}

/// A batched gradient for a rank-2 operand is summed over the batch.
fn fit(g: Tensor, x: &Tensor) -> Tensor {
    if g.rank() == 3 && x.rank() == 2 {
        sum_to(&g, x.shape())
    } else {
        g
    }
}

/// Equalized linear layer: y = scale * x @ w^T + bias_scale * b, with w [out, in] stored
/// unscaled and the scale applied in the matmul kernel.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>, scale: f64, bias_scale: f64) -> Tensor {
    let y = matmul_scaled(x, w, false, true, scale);
    match b {
        Some(b) => &y + &super::mul_scalar(b, bias_scale),
        None => y,
    }
}

// ---------------------------------------------------------------------------------------
// Tile configurations: the rule, the autotuner's candidates, a forcing guard
// ---------------------------------------------------------------------------------------

/// The ROWS override candidates of `matmul.wgsl`.
pub const MATMUL_ROWS: [usize; 3] = [16, 32, 64];

/// A matmul configuration: tile rows (`ROWS`) and K-step (`BK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulConfig {
    pub rows: usize,
    pub k_step: usize,
}

impl MatmulConfig {
    pub fn kernel(self) -> Kernel {
        let k = Kernel::new("matmul/matmul.wgsl").with("ROWS", self.rows as f64);
        match self.k_step {
            16 => k,
            bk => k.with("BK", bk as f64),
        }
    }

    pub fn label(self) -> String {
        match self.k_step {
            16 => format!("rows{}", self.rows),
            bk => format!("rows{}k{bk}", self.rows),
        }
    }

    /// Every configuration: what the candidate tests force one by one.
    pub fn all() -> Vec<MatmulConfig> {
        MATMUL_ROWS
            .iter()
            .flat_map(|&rows| super::tune::K_STEPS.map(|k_step| MatmulConfig { rows, k_step }))
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

/// The rule (ROWS from m, BK 16) first, then fewer rows and the other K-steps (those up to
/// k's length).
pub fn matmul_candidates(m: usize, k: usize) -> Vec<MatmulConfig> {
    let rule = MatmulConfig {
        rows: tile_rows(m),
        k_step: 16,
    };
    let mut out = vec![rule];
    out.extend(
        MatmulConfig::all()
            .into_iter()
            .filter(|c| *c != rule && c.rows <= rule.rows && (c.k_step <= 16 || k > 16)),
    );
    out
}

/// The configuration of an m x k by k x n product: forced, the rule, or the class's tuned
/// winner (timed through `launch`, which records one run of a configuration).
pub fn matmul_config(
    key: impl FnOnce() -> String,
    m: usize,
    k: usize,
    launch: &mut dyn FnMut(MatmulConfig),
) -> MatmulConfig {
    if let Some(c) = forced_matmul() {
        return c;
    }
    let cands = matmul_candidates(m, k);
    if !autotune::enabled() || cands.len() == 1 {
        return cands[0];
    }
    let labels: Vec<String> = cands.iter().map(|c| c.label()).collect();
    let i = autotune::tune(gpu::gpu(), &key(), &labels, &mut |i| launch(cands[i]));
    cands[i]
}

/// What an m x k product of class `key` runs now, for `bench`.
pub fn describe_matmul(key: &str, m: usize, k: usize) -> String {
    if let Some(c) = forced_matmul() {
        return format!("{} (forced)", c.label());
    }
    let cands = matmul_candidates(m, k);
    let tuned = (autotune::enabled() && gpu::try_gpu().is_ok())
        .then(|| autotune::cached(gpu::gpu(), key))
        .flatten()
        .filter(|l| cands.iter().any(|c| c.label() == *l));
    match tuned {
        Some(l) => format!("{l} (tuned)"),
        None => format!("{} (rule)", cands[0].label()),
    }
}
