// The convolution GEMM (see gemm_operands.wgsl) in 128 x 128 tiles for large layers: 16 x 16
// invocations, each holding an 8 x 8 block as four 4 x 4 quadrants in vec4 registers (rows
// lid.y*4.. and 64 + lid.y*4.., columns lid.x*4.. and 64 + lid.x*4..). Per reduction step an
// invocation reads four vec4s from workgroup memory for 64 FMAs, twice the ratio of the
// 64 x 64 tiles, and the operand gathers (integer index arithmetic) are amortised over four
// times the work. The host picks it only when the grid still has enough workgroups.
//
// PREFETCH (the autotuner's "widepf" candidate, with A_STRIDE 33): the next reduction step's
// operands are loaded into registers while this step multiplies, so global latency hides
// behind the FMAs instead of stalling at the top of each step. A_STRIDE 33 pads A's rows in
// workgroup memory: 16 consecutive invocations store one column of A (16 reduction indices,
// one row), which with a 128-word row stride all land in one of 32 banks (16-way conflict on
// NVIDIA and AMD); 132 words spread them over 8 banks. Results are bit-identical either way.

//!include conv/gemm_operands.wgsl

const TILE: u32 = 128u;
// Reduction steps through workgroup memory per barrier (the loads below assume 16).
const BK: u32 = 16u;
override PREFETCH: bool = false;
// vec4s per row of A's tile: 32, or 33 to spread the column stores over the banks.
override A_STRIDE: u32 = 32u;

var<workgroup> wa: array<vec4<f32>, BK * A_STRIDE>; // [r * A_STRIDE + m / 4]
var<workgroup> wb: array<array<vec4<f32>, 32>, BK>; // [r][column / 4]

@compute @workgroup_size(16, 16)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let e = extent(wid.z);
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let bn = flat % TILE;
    let bcol = column(e, col0 + bn);
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
    // The step's operands in registers: A rows flat / BK + 16 i, B rows flat / TILE + 2 i.
    var pa: array<f32, 8>;
    var pb: array<f32, 8>;
    if (PREFETCH) {
        for (var i = 0u; i < 8u; i = i + 1u) {
            pa[i] = load_a(e, row0 + flat / BK + 16u * i, e.r_begin + ak);
            pb[i] = load_b(e, bcol, e.r_begin + flat / TILE + 2u * i);
        }
    }
    for (var r0 = e.r_begin; r0 < e.r_end; r0 = r0 + BK) {
        // A: BK x 128 values, 8 per invocation; B: BK x 128, 8 per invocation.
        for (var i = 0u; i < 8u; i = i + 1u) {
            let am = flat / BK + 16u * i;
            let bk = flat / TILE + 2u * i;
            if (PREFETCH) {
                wa[ak * A_STRIDE + am / 4u][am % 4u] = pa[i];
                wb[bk][bn / 4u][bn % 4u] = pb[i];
            } else {
                wa[ak * A_STRIDE + am / 4u][am % 4u] = load_a(e, row0 + am, r0 + ak);
                wb[bk][bn / 4u][bn % 4u] = load_b(e, bcol, r0 + bk);
            }
        }
        workgroupBarrier();
        if (PREFETCH) {
            // Past the end the loads read 0 and are never stored.
            for (var i = 0u; i < 8u; i = i + 1u) {
                pa[i] = load_a(e, row0 + flat / BK + 16u * i, r0 + BK + ak);
                pb[i] = load_b(e, bcol, r0 + BK + flat / TILE + 2u * i);
            }
        }
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

    let m = row0 + lid.y * 4u;
    let c0 = col0 + lid.x * 4u;
    let c1 = c0 + 64u;
    store4(e, wid.z, m, c0, c00);
    store4(e, wid.z, m + 1u, c0, c10);
    store4(e, wid.z, m + 2u, c0, c20);
    store4(e, wid.z, m + 3u, c0, c30);
    store4(e, wid.z, m, c1, c01);
    store4(e, wid.z, m + 1u, c1, c11);
    store4(e, wid.z, m + 2u, c1, c21);
    store4(e, wid.z, m + 3u, c1, c31);
    store4(e, wid.z, m + 64u, c0, d00);
    store4(e, wid.z, m + 65u, c0, d10);
    store4(e, wid.z, m + 66u, c0, d20);
    store4(e, wid.z, m + 67u, c0, d30);
    store4(e, wid.z, m + 64u, c1, d01);
    store4(e, wid.z, m + 65u, c1, d11);
    store4(e, wid.z, m + 66u, c1, d21);
    store4(e, wid.z, m + 67u, c1, d31);
}
