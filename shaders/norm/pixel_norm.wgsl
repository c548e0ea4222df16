// Pixel norm over the feature axis: y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) for rows
// [R, C] (StyleGAN normalises z this way). One workgroup per row.

struct Params {
    rows: u32,
    c: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// reduce_sum over WG = 256 threads.
//!include common/reduce_sum.wgsl

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.c;
    var q = 0.0;
    for (var i = lid; i < p.c; i = i + WG) {
        q = fma(x[base + i], x[base + i], q);
    }
    let r = inverseSqrt(reduce_sum(lid, q) / f32(p.c) + p.eps);
    for (var i = lid; i < p.c; i = i + WG) {
        y[base + i] = x[base + i] * r;
    }
}
