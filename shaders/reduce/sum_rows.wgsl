// y[m] = scale * sum_k x[m * K + k] for a row-major [M, K] input.
// PER_THREAD true (short rows): one invocation per row. False: one workgroup of 256 per
// part of a row, a strided partial sum per invocation, then a tree in workgroup memory.
// A row is cut into `splits` parts of `chunk` elements (the last one shorter), so a few long
// rows still fill the device: y[m * splits + j] is part j's sum, and a second pass adds the
// parts (one part per row, splits = 1 and chunk = K, is the plain row sum).

override PER_THREAD: bool = false;
// Sum the squares instead (the optimiser's finiteness guard: no squared copy in memory).
override SQUARE: bool = false;

fn term(v: f32) -> f32 {
    return select(v, v * v, SQUARE);
}

struct Params {
    m: u32,
    k: u32,
    scale: f32,
    splits: u32,
    chunk: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// reduce_sum over WG = 256 threads (also the 1-D width of the PER_THREAD path).
//!include common/reduce_sum.wgsl

@compute @workgroup_size(WG)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    if (PER_THREAD) {
        let row = gid.x + gid.y * nwg.x * WG;
        if (row < p.m) {
            var s = 0.0;
            for (var k = 0u; k < p.k; k = k + 1u) {
                s = s + term(x[row * p.k + k]);
            }
            y[row] = s * p.scale;
        }
        return;
    }
    let part = wid.x + wid.y * nwg.x;
    let row = part / p.splits;
    let start = (part % p.splits) * p.chunk;
    let end = min(p.k, start + p.chunk);
    var s = 0.0;
    if (row < p.m) {
        for (var k = start + lid; k < end; k = k + WG) {
            s = s + term(x[row * p.k + k]);
        }
    }
    let total = reduce_sum(lid, s);
    if (lid == 0u && row < p.m) {
        y[part] = total * p.scale;
    }
}
