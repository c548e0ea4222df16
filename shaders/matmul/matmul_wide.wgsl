// Batched C[z] = alpha * A[z] (M x K) * B[z] (K x N) in 128 x 128 tiles (the matmul
// autotuner's "wide" candidate, unsplit): 16 x 16 invocations, each holding an 8 x 8 block
// as four 4 x 4 quadrants in vec4 registers (rows lid.y*4.. and 64 + lid.y*4.., columns
// lid.x*4.. and 64 + lid.x*4..), as conv/implicit_gemm_wide.wgsl does for the convolution:
// four vec4 reads from workgroup memory per 64 FMAs, twice the narrow tile's ratio. For the
// large products (Winograd's 16 per convolution, big fully connected layers). Operands are
// read through their strides as in matmul.wgsl; out-of-range loads read 0.

//!include matmul/matmul_params.wgsl

const TILE: u32 = 128u;
// Reduction steps per barrier (the loads below assume 16).
const BK: u32 = 16u;
// vec4s per row of A's tile: 33, not 32, so that the 16 invocations storing one column of
// A (16 reduction indices, one row) spread over the banks instead of hitting one.
const A_STRIDE: u32 = 33u;

var<workgroup> wa: array<vec4<f32>, BK * A_STRIDE>; // [r * A_STRIDE + m / 4]
var<workgroup> wb: array<array<vec4<f32>, 32>, BK>; // [r][column / 4]

fn load_a(base: u32, m: u32, k: u32) -> f32 {
    if (m >= p.m || k >= p.k) {
        return 0.0;
    }
    return a[base + m * p.a_row + k * p.a_col];
}

fn load_b(base: u32, k: u32, n: u32) -> f32 {
    if (k >= p.k || n >= p.n) {
        return 0.0;
    }
    return b[base + k * p.b_row + n * p.b_col];
}

// alpha times four consecutive columns of row m (those inside C).
fn store4(base: u32, m: u32, col0: u32, acc: vec4<f32>) {
    if (m >= p.m) {
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (col0 + j >= p.n) {
            return;
        }
        c[base + m * p.n + col0 + j] = p.alpha * acc[j];
    }
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let a_base = p.a_off + wid.z * p.a_batch;
    let b_base = p.b_off + wid.z * p.b_batch;
    let bn = flat % TILE;
    let ak = flat % BK;

    // c: rows lid.y*4 + i; d: rows 64 + lid.y*4 + i. *0: columns lid.x*4..; *1: 64 + lid.x*4..
    var c00 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0);
    var c01 = vec4<f32>(0.0);
    var c11 = vec4<f32>(0.0);
    var c21 = vec4<f32>(0.0);
    var c31 = vec4<f32>(0.0);
    var d00 = vec4<f32>(0.0);
    var d10 = vec4<f32>(0.0);
    var d20 = vec4<f32>(0.0);
    var d30 = vec4<f32>(0.0);
    var d01 = vec4<f32>(0.0);
    var d11 = vec4<f32>(0.0);
    var d21 = vec4<f32>(0.0);
    var d31 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 = k0 + BK) {
        // A: BK x 128 values, 8 per invocation; B: BK x 128, 8 per invocation.
        for (var i = 0u; i < 8u; i = i + 1u) {
            let am = flat / BK + 16u * i;
            let bk = flat / TILE + 2u * i;
            wa[ak * A_STRIDE + am / 4u][am % 4u] = load_a(a_base, row0 + am, k0 + ak);
            wb[bk][bn / 4u][bn % 4u] = load_b(b_base, k0 + bk, col0 + bn);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let a0 = wa[kk * A_STRIDE + lid.y];
            let a1 = wa[kk * A_STRIDE + lid.y + 16u];
            let b0 = wb[kk][lid.x];
            let b1 = wb[kk][lid.x + 16u];
            c00 = fma(vec4<f32>(a0.x), b0, c00);
            c10 = fma(vec4<f32>(a0.y), b0, c10);
            c20 = fma(vec4<f32>(a0.z), b0, c20);
            c30 = fma(vec4<f32>(a0.w), b0, c30);
            c01 = fma(vec4<f32>(a0.x), b1, c01);
            c11 = fma(vec4<f32>(a0.y), b1, c11);
            c21 = fma(vec4<f32>(a0.z), b1, c21);
            c31 = fma(vec4<f32>(a0.w), b1, c31);
            d00 = fma(vec4<f32>(a1.x), b0, d00);
            d10 = fma(vec4<f32>(a1.y), b0, d10);
            d20 = fma(vec4<f32>(a1.z), b0, d20);
            d30 = fma(vec4<f32>(a1.w), b0, d30);
            d01 = fma(vec4<f32>(a1.x), b1, d01);
            d11 = fma(vec4<f32>(a1.y), b1, d11);
            d21 = fma(vec4<f32>(a1.z), b1, d21);
            d31 = fma(vec4<f32>(a1.w), b1, d31);
        }
        workgroupBarrier();
    }

    let base = wid.z * p.m * p.n;
    let m = row0 + lid.y * 4u;
    let n0 = col0 + lid.x * 4u;
    let n1 = n0 + 64u;
    store4(base, m, n0, c00);
    store4(base, m + 1u, n0, c10);
    store4(base, m + 2u, n0, c20);
    store4(base, m + 3u, n0, c30);
    store4(base, m, n1, c01);
    store4(base, m + 1u, n1, c11);
    store4(base, m + 2u, n1, c21);
    store4(base, m + 3u, n1, c31);
    store4(base, m + 64u, n0, d00);
    store4(base, m + 65u, n0, d10);
    store4(base, m + 66u, n0, d20);
    store4(base, m + 67u, n0, d30);
    store4(base, m + 64u, n1, d01);
    store4(base, m + 65u, n1, d11);
    store4(base, m + 66u, n1, d21);
    store4(base, m + 67u, n1, d31);
}
