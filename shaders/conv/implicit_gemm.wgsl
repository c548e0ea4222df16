// The convolution GEMM (see gemm_operands.wgsl) in ROWS x 64 tiles: 16 x (ROWS / 4)
// invocations, each holding a 4 x 4 block in vec4 registers (rows lid.y*4.., columns
// lid.x*4..); the reduction advances BK at a time through workgroup memory. ROWS (16, 32 or
// 64) follows the GEMM's row count, so a 16-channel layer does not waste three quarters of a
// 64-row tile. Large GEMMs take implicit_gemm_wide.wgsl.

//!include conv/gemm_operands.wgsl

// Rows of the output tile: 16, 32 or 64.
override ROWS: u32 = 64u;
// Reduction steps through workgroup memory per barrier: 8, 16 or 32 (the autotuner's K-step).
override BK: u32 = 16u;

const BN: u32 = 64u;

// Sized for the largest ROWS; a smaller tile uses the first ROWS / 4 vec4s of each row.
var<workgroup> a_tile: array<array<vec4<f32>, 16>, BK>; // [r][m / 4]
var<workgroup> b_tile: array<array<vec4<f32>, 16>, BK>; // [r][column / 4]

@compute @workgroup_size(16, ROWS / 4u)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let threads = 4u * ROWS;
    let e = extent(wid.z);
    let row0 = wid.y * ROWS;
    let col0 = wid.x * BN;
    let bn = flat % BN;
    let bcol = column(e, col0 + bn);
    let ak = flat % BK;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var r0 = e.r_begin; r0 < e.r_end; r0 = r0 + BK) {
        // A: BK x ROWS values, BK / 4 per invocation.
        for (var i = 0u; i < BK / 4u; i = i + 1u) {
            let am = flat / BK + (threads / BK) * i;
            a_tile[ak][am / 4u][am % 4u] = load_a(e, row0 + am, r0 + ak);
        }
        // B: BK x BN values, BK * BN / threads per invocation.
        for (var bk = flat / BN; bk < BK; bk = bk + threads / BN) {
            b_tile[bk][bn / 4u][bn % 4u] = load_b(e, bcol, r0 + bk);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let a = a_tile[kk][lid.y];
            let b = b_tile[kk][lid.x];
            acc0 = fma(vec4<f32>(a.x), b, acc0);
            acc1 = fma(vec4<f32>(a.y), b, acc1);
            acc2 = fma(vec4<f32>(a.z), b, acc2);
            acc3 = fma(vec4<f32>(a.w), b, acc3);
        }
        workgroupBarrier();
    }

    let m = row0 + lid.y * 4u;
    let col = col0 + lid.x * 4u;
    store4(e, wid.z, m, col, acc0);
    store4(e, wid.z, m + 1u, col, acc1);
    store4(e, wid.z, m + 2u, col, acc2);
    store4(e, wid.z, m + 3u, col, acc3);
}
