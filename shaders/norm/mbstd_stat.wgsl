// Minibatch standard deviation statistic (ProGAN/StyleGAN): x viewed as [G, M, F] (sample
// n = g * M + m, F = C*H*W features). For each m: the mean over features of
// sqrt(var_g(x[g, m, f]) + eps), the variance taken over the group (biased, as the official
// code). One workgroup per m.

struct Params {
    groups: u32,
    m: u32,
    f: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// reduce_sum over WG = 256 threads.
//!include common/reduce_sum.wgsl

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let m = wid.x;
    if (m >= p.m) {
        return;
    }
    let gs = f32(p.groups);
    var acc = 0.0;
    for (var f = lid; f < p.f; f = f + WG) {
        var mean = 0.0;
        for (var g = 0u; g < p.groups; g = g + 1u) {
            mean = mean + x[(g * p.m + m) * p.f + f];
        }
        mean = mean / gs;
        var v = 0.0;
        for (var g = 0u; g < p.groups; g = g + 1u) {
            let d = x[(g * p.m + m) * p.f + f] - mean;
            v = fma(d, d, v);
        }
        acc = acc + sqrt(v / gs + p.eps);
    }
    let total = reduce_sum(lid, acc);
    if (lid == 0u) {
        y[m] = total / f32(p.f);
    }
}
