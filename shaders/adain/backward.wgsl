// AdaIN backward, fused: per (n, c) plane recompute mean and rstd, then with
// S1 = sum(g), S2 = sum(g * x_hat):
//   dyb = S1, dys = S2, dx = (1 + ys) * rstd * (g - S1 / HW - x_hat * S2 / HW).
// One workgroup per plane; x and g are read from memory once when the plane fits in
// workgroup memory, else re-read per pass. Used for first-order gradients; a graph-recording backward
// (second order) takes the composite path in src/ops/adain.rs.

struct Params {
    planes: u32,
    hw: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> ys: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> dys: array<f32>;
@group(0) @binding(6) var<storage, read_write> dyb: array<f32>;

// reduce_sum and WG, the threads per plane: 64 for small planes (fewer idle threads, fewer
// barrier steps), 256 for large ones.
//!include common/reduce_sum.wgsl

// x and g of the plane kept in workgroup memory: hw when both fit, else 1 (not used). Each
// invocation reads back only the elements it stored, so the cache needs no barrier.
override CACHE: u32 = 1u;

var<workgroup> xc: array<f32, CACHE>;
var<workgroup> gc: array<f32, CACHE>;

// x's value at plane offset i (from the cache when the plane is held there).
fn x_at(cached: bool, base: u32, i: u32) -> f32 {
    if (cached) {
        return xc[i];
    }
    return x[base + i];
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let plane = wid.x + wid.y * nwg.x;
    if (plane >= p.planes) {
        return;
    }
    let base = plane * p.hw;
    let n = f32(p.hw);
    let cached = p.hw <= CACHE;
    var s = 0.0;
    for (var i = lid; i < p.hw; i = i + WG) {
        let v = x[base + i];
        if (cached) {
            xc[i] = v;
        }
        s = s + v;
    }
    let mean = reduce_sum(lid, s) / n;
    var q = 0.0;
    for (var i = lid; i < p.hw; i = i + WG) {
        let d = x_at(cached, base, i) - mean;
        q = fma(d, d, q);
    }
    let rstd = inverseSqrt(reduce_sum(lid, q) / n + p.eps);
    var s1 = 0.0;
    var s2 = 0.0;
    for (var i = lid; i < p.hw; i = i + WG) {
        let gi = g[base + i];
        if (cached) {
            gc[i] = gi;
        }
        s1 = s1 + gi;
        s2 = fma(gi, (x_at(cached, base, i) - mean) * rstd, s2);
    }
    let t1 = reduce_sum(lid, s1);
    let t2 = reduce_sum(lid, s2);
    let a = (1.0 + ys[plane]) * rstd;
    for (var i = lid; i < p.hw; i = i + WG) {
        let xh = (x_at(cached, base, i) - mean) * rstd;
        var gi: f32;
        if (cached) {
            gi = gc[i];
        } else {
            gi = g[base + i];
        }
        dx[base + i] = a * (gi - t1 / n - xh * t2 / n);
    }
    if (lid == 0u) {
        dys[plane] = t2;
        dyb[plane] = t1;
    }
}
