// out[i] = random number for counter (offset + i), key = seed.
// DIST 0: uniform in [a, b). DIST 1: normal with mean a and standard deviation b.
//!include common/philox.wgsl

override DIST: u32 = 0u;

struct Params {
    n: u32,
    seed_lo: u32,
    seed_hi: u32,
    off_lo: u32,
    off_hi: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) {
        return;
    }
    let lo = p.off_lo + i;
    let carry = select(0u, 1u, lo < p.off_lo);
    let r = philox4x32_10(vec4<u32>(lo, p.off_hi + carry, 0u, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
    if (DIST == 0u) {
        out[i] = p.a + (p.b - p.a) * philox_uniform(r.x);
    } else {
        out[i] = p.a + p.b * philox_normal(r.x, r.y);
    }
}
