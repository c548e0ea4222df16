// Batched C[z] = alpha * A[z] (M x K) * B[z] (K x N), C row-major and contiguous. alpha is
// the equalized learning-rate scale, applied here so no scaled weight copy is ever made.
// A and B are read through (batch, row, column) strides, so transposed and broadcast
// operands need no copy. Each workgroup computes a ROWS x 64 tile of C with 16 x (ROWS / 4)
// invocations, each holding a 4 x 4 block in vec4 registers (rows ty*4.., columns tx*4..).
// ROWS (16, 32 or 64) follows M, so a minibatch of 8 does not fill a 64-row tile with zeros.
// K advances in steps of BK through workgroup memory. Out-of-range loads read 0.
// Split-K (SPLITS > 1): workgroup z = batch * SPLITS + part; part s walks only its chunk of
// K (a multiple of BK; a part past K's end walks nothing and writes zeros) and writes its
// partial tile to c[(batch * M * N + row * N + col) * SPLITS + s], which a row sum then adds.
// With SPLITS = 1 this is the plain product (one part, the whole of K, c's own layout).

override ROWS: u32 = 64u;
//!include matmul/matmul_params.wgsl

const BN: u32 = 64u;
// Parts K is split into (1: no split).
override SPLITS: u32 = 1u;
// K advances this much per barrier: 8, 16 or 32 (the autotuner's K-step).
override BK: u32 = 16u;

// Sized for the largest ROWS; a smaller tile uses the first ROWS / 4 vec4s of each row.
var<workgroup> a_tile: array<array<vec4<f32>, 16>, BK>; // [k][m / 4]
var<workgroup> b_tile: array<array<vec4<f32>, 16>, BK>; // [k][n / 4]

@compute @workgroup_size(16, ROWS / 4u)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let threads = 4u * ROWS;
    let z = wid.z / SPLITS;
    let part = wid.z % SPLITS;
    let chunk = (p.k + SPLITS - 1u) / SPLITS;
    let chunk_bk = (chunk + BK - 1u) / BK * BK;
    let k_begin = min(p.k, part * chunk_bk);
    let k_end = min(p.k, k_begin + chunk_bk);
    let row0 = wid.y * ROWS;
    let col0 = wid.x * BN;
    let a_base = p.a_off + z * p.a_batch;
    let b_base = p.b_off + z * p.b_batch;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = k_begin; k0 < k_end; k0 = k0 + BK) {
        // A tile: ROWS rows x BK k, BK / 4 values per invocation.
        for (var t = 0u; t < BK / 4u; t = t + 1u) {
            let e = flat + t * threads;
            let am = e / BK;
            let ak = e % BK;
            let gr = row0 + am;
            let gk = k0 + ak;
            var av = 0.0;
            if (gr < p.m && gk < k_end) {
                av = a[a_base + gr * p.a_row + gk * p.a_col];
            }
            a_tile[ak][am / 4u][am % 4u] = av;
        }
        // B tile: 16 k x 64 columns.
        for (var e = flat; e < BK * BN; e = e + threads) {
            let bk = e / BN;
            let bn = e % BN;
            let gk = k0 + bk;
            let gc = col0 + bn;
            var bv = 0.0;
            if (gk < k_end && gc < p.n) {
                bv = b[b_base + gk * p.b_row + gc * p.b_col];
            }
            b_tile[bk][bn / 4u][bn % 4u] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let av = a_tile[kk][lid.y];
            let bv = b_tile[kk][lid.x];
            acc0 = fma(vec4<f32>(av.x), bv, acc0);
            acc1 = fma(vec4<f32>(av.y), bv, acc1);
            acc2 = fma(vec4<f32>(av.z), bv, acc2);
            acc3 = fma(vec4<f32>(av.w), bv, acc3);
        }
        workgroupBarrier();
    }
    let c_base = z * p.m * p.n;
    let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let r = row0 + lid.y * 4u + i;
        if (r >= p.m) {
            break;
        }
        for (var j = 0u; j < 4u; j = j + 1u) {
            let col = col0 + lid.x * 4u + j;
            if (col >= p.n) {
                break;
            }
            c[(c_base + r * p.n + col) * SPLITS + part] = p.alpha * rows[i][j];
        }
    }
}
