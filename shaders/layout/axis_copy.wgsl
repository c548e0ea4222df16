// Copy `count` positions along one axis: src viewed as [outer, src_len, inner] from
// src_start, into dst viewed as [outer, dst_len, inner] at dst_start. Slice, concat and the
// zero-padding that is slice's backward are all this copy.

struct Params {
    outer: u32,
    count: u32,
    inner: u32,
    src_len: u32,
    src_start: u32,
    dst_len: u32,
    dst_start: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let per_outer = p.count * p.inner;
    if (i >= p.outer * per_outer) {
        return;
    }
    let o = i / per_outer;
    let r = i % per_outer;
    let c = r / p.inner;
    let k = r % p.inner;
    dst[(o * p.dst_len + p.dst_start + c) * p.inner + k] = src[(o * p.src_len + p.src_start + c) * p.inner + k];
}
