// Arithmetic ceiling: each invocation runs 8 independent vec4 FMA chains (32 scalar chains)
// for `iters` steps, entirely in registers, and writes one value so nothing is optimised
// away. Independent chains hide the FMA latency; `a` and `b` come from the uniform so the
// compiler cannot fold the loop. With a < 1 every chain converges to b / (1 - a) = 1: no
// overflow, no denormals (which would slow a CPU-backed device such as lavapipe).
// FMAs executed = threads * iters * 32; FLOP = 2 * FMAs.

struct Params {
    iters: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let seed = f32(i & 255u) * 1e-3;
    let a = vec4<f32>(p.a);
    let b = vec4<f32>(p.b);
    var x0 = vec4<f32>(seed, seed + 0.1, seed + 0.2, seed + 0.3);
    var x1 = x0 + vec4<f32>(0.01);
    var x2 = x0 + vec4<f32>(0.02);
    var x3 = x0 + vec4<f32>(0.03);
    var x4 = x0 + vec4<f32>(0.04);
    var x5 = x0 + vec4<f32>(0.05);
    var x6 = x0 + vec4<f32>(0.06);
    var x7 = x0 + vec4<f32>(0.07);
    for (var it = 0u; it < p.iters; it = it + 1u) {
        x0 = fma(x0, a, b);
        x1 = fma(x1, a, b);
        x2 = fma(x2, a, b);
        x3 = fma(x3, a, b);
        x4 = fma(x4, a, b);
        x5 = fma(x5, a, b);
        x6 = fma(x6, a, b);
        x7 = fma(x7, a, b);
    }
    let s = (x0 + x1) + (x2 + x3) + (x4 + x5) + (x6 + x7);
    out[i] = s.x + s.y + s.z + s.w;
}
