// Batched C[z] = alpha * A[z] (M x K) * B[z] (K x N), C row-major and contiguous. alpha is
// the equalized learning-rate scale, applied here so no scaled weight copy is ever made.
// A and B are read through (batch, row, column) strides, so transposed and broadcast
// operands need no copy. Each workgroup computes a 64 x 64 tile of C: 16 x 16 invocations,
// each holding a 4 x 4 block of accumulators in registers (rows ty + 16 i, columns
// tx + 16 j, so workgroup-memory reads and global stores are contiguous across tx).
// K advances in steps of 16 through workgroup memory. Out-of-range loads read 0.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    a_batch: u32,
    a_row: u32,
    a_col: u32,
    b_batch: u32,
    b_row: u32,
    b_col: u32,
    a_off: u32,
    b_off: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> a_tile: array<array<f32, 64>, 16>; // [k][m]
var<workgroup> b_tile: array<array<f32, 64>, 16>; // [k][n]

@compute @workgroup_size(16, 16)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let z = wid.z;
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;
    let a_base = p.a_off + z * p.a_batch;
    let b_base = p.b_off + z * p.b_batch;
    var acc: array<array<f32, 4>, 4>;
    for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
            acc[i][j] = 0.0;
        }
    }
    for (var k0 = 0u; k0 < p.k; k0 = k0 + BK) {
        for (var t = 0u; t < 4u; t = t + 1u) {
            let e = flat + t * 256u;
            // A tile: 64 rows x 16 k.
            let am = e / BK;
            let ak = e % BK;
            let gr = row0 + am;
            let gk = k0 + ak;
            var av = 0.0;
            if (gr < p.m && gk < p.k) {
                av = a[a_base + gr * p.a_row + gk * p.a_col];
            }
            a_tile[ak][am] = av;
            // B tile: 16 k x 64 columns.
            let bk = e / BN;
            let bn = e % BN;
            let gk2 = k0 + bk;
            let gc = col0 + bn;
            var bv = 0.0;
            if (gk2 < p.k && gc < p.n) {
                bv = b[b_base + gk2 * p.b_row + gc * p.b_col];
            }
            b_tile[bk][bn] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            var ar: array<f32, 4>;
            var br: array<f32, 4>;
            for (var i = 0u; i < 4u; i = i + 1u) {
                ar[i] = a_tile[kk][lid.y + 16u * i];
                br[i] = b_tile[kk][lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i = i + 1u) {
                for (var j = 0u; j < 4u; j = j + 1u) {
                    acc[i][j] = fma(ar[i], br[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }
    let c_base = z * p.m * p.n;
    for (var i = 0u; i < 4u; i = i + 1u) {
        let r = row0 + lid.y + 16u * i;
        if (r < p.m) {
            for (var j = 0u; j < 4u; j = j + 1u) {
                let col = col0 + lid.x + 16u * j;
                if (col < p.n) {
                    c[c_base + r * p.n + col] = p.alpha * acc[i][j];
                }
            }
        }
    }
}
