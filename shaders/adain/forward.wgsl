// AdaIN: per (n, c) plane, x_hat = (x - mean) / sqrt(mean((x - mean)^2) + eps), then
// y = (1 + ys[n, c]) * x_hat + yb[n, c]. One workgroup per plane: a first pass for the mean,
// a second for the variance about it (two passes keep f32 accurate for large means), a third
// writes y. When the plane fits in workgroup memory (CACHE >= hw) the first pass keeps it
// there and the later passes read it back, so x is read from memory once, not three times.

struct Params {
    planes: u32,
    hw: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> ys: array<f32>;
@group(0) @binding(3) var<storage, read> yb: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// reduce_sum and WG, the threads per plane: 64 for small planes (fewer idle threads, fewer
// barrier steps), 256 for large ones.
//!include common/reduce_sum.wgsl

// Values of the plane kept in workgroup memory: hw when it fits, else 1 (not used). Each
// invocation reads back only the elements it stored, so the cache needs no barrier.
override CACHE: u32 = 1u;

var<workgroup> plane: array<f32, CACHE>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let plane_id = wid.x + wid.y * nwg.x;
    if (plane_id >= p.planes) {
        return;
    }
    let base = plane_id * p.hw;
    let cached = p.hw <= CACHE;
    var s = 0.0;
    for (var i = lid; i < p.hw; i = i + WG) {
        let v = x[base + i];
        if (cached) {
            plane[i] = v;
        }
        s = s + v;
    }
    let mean = reduce_sum(lid, s) / f32(p.hw);
    var q = 0.0;
    for (var i = lid; i < p.hw; i = i + WG) {
        var v: f32;
        if (cached) {
            v = plane[i];
        } else {
            v = x[base + i];
        }
        let d = v - mean;
        q = fma(d, d, q);
    }
    let rstd = inverseSqrt(reduce_sum(lid, q) / f32(p.hw) + p.eps);
    let a = (1.0 + ys[plane_id]) * rstd;
    let b = yb[plane_id];
    for (var i = lid; i < p.hw; i = i + WG) {
        var v: f32;
        if (cached) {
            v = plane[i];
        } else {
            v = x[base + i];
        }
        y[base + i] = fma(a, v - mean, b);
    }
}
