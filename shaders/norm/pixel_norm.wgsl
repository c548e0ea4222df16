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

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.c;
    var q = 0.0;
    for (var i = lid; i < p.c; i = i + 256u) {
        q = fma(x[base + i], x[base + i], q);
    }
    red[lid] = q;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
    let r = inverseSqrt(red[0] / f32(p.c) + p.eps);
    for (var i = lid; i < p.c; i = i + 256u) {
        y[base + i] = x[base + i] * r;
    }
}
