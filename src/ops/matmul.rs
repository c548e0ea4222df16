//! Matrix products: forward (kernel `shaders/matmul/matmul.wgsl`, reference `cpu::matmul`)
//! and backward. Transposes are strides, never copies.

use std::sync::Arc;

pub use super::matmul_tune::{
    describe_matmul, force_matmul, matmul_candidates, matmul_config, matmul_key, rule_splits,
    ForcedMatmul, MatmulConfig, MatmulShape, MATMUL_ROWS, MATMUL_SPLITS, MAX_Z, WIDE_ROWS,
};
use super::{same_place, sum_to};
use crate::cpu::matmul::{self as cpu, MatView, MatmulDims};
use crate::gpu::{self, GpuBuffer};
use crate::tensor::Op;
use crate::tensor::{HostVec, Storage, Tensor};

crate::kernel_params! {
    /// `shaders/matmul/matmul.wgsl`: C[z] (m x n) = alpha * A[z] (m x k) B[z] (k x n), each
    /// operand read through its batch, row and column strides from its offset (in floats).
    pub struct MatmulParams {
        kernels: [
            "matmul/matmul.wgsl" => [Read, Read, ReadWrite],
            "matmul/matmul_wide.wgsl" => [Read, Read, ReadWrite],
        ],
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
            let d = MatmulShape { batches, m, n, k };
            let run = |c: MatmulConfig| launch(c, &params, x, y, d);
            if m * n * batches == 0 || k == 0 {
                let out = gpu::gpu().alloc((batches * m * n) as u64 * 4);
                if m * n * batches > 0 {
                    gpu::gpu().fill_u32(&out, 0);
                }
                Storage::Gpu(Arc::new(out))
            } else {
                let key = || matmul_key(batches, m, n, k, [av.col == 1, bv.col == 1]);
                run(matmul_config(key, d, &mut |c| drop(run(c))))
            }
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

/// One product in configuration `c` (k > 0, a non-empty output). With split-K the parts'
/// partial products go to [batches * m * n, splits] and a row sum adds them, applying alpha
/// once; unsplit, the kernel writes alpha * C itself.
fn launch(
    c: MatmulConfig,
    params: &MatmulParams,
    x: &GpuBuffer,
    y: &GpuBuffer,
    d: MatmulShape,
) -> Storage {
    let ctx = gpu::gpu();
    let outputs = d.batches * d.m * d.n;
    // A forced split past the z limit runs unsplit (no rule or candidate goes near it).
    let splits = Some(c.splits)
        .filter(|s| d.batches * s <= MAX_Z)
        .unwrap_or(1);
    let splits = if c.is_wide() { 1 } else { splits };
    let groups = [
        d.n.div_ceil(c.cols()) as u32,
        d.m.div_ceil(c.rows) as u32,
        (d.batches * splits) as u32,
    ];
    if splits == 1 {
        let out = ctx.alloc(outputs as u64 * 4);
        ctx.dispatch(&c.kernel(), params, &[x, y, &out], groups);
        return Storage::Gpu(Arc::new(out));
    }
    let partial = ctx.alloc((outputs * splits) as u64 * 4);
    let unscaled = MatmulParams {
        alpha: 1.0,
        ..*params
    };
    let kernel = MatmulConfig { splits, ..c }.kernel();
    ctx.dispatch(&kernel, &unscaled, &[x, y, &partial], groups);
    let partial = Storage::Gpu(Arc::new(partial));
    super::reduce::sum_rows_storage(&partial, outputs, splits, params.alpha as f64)
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
