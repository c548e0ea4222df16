// Winograd output transform y = A^T M A (+ bias_scale * b[m]) (see winograd_params.wgsl),
// A^T = [1 1 1 0; 0 1 -1 -1], written to the 2x2 tile's pixels that lie inside H x W. One
// invocation per (m, tile p).

//!include conv/winograd_params.wgsl

@group(0) @binding(1) var<storage, read> mm: array<f32>;
// The bias [m] when has_bias; otherwise any buffer (not read).
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let tiles = tile_count();
    let i = linear_id(gid, nwg);
    if (i >= p.m * tiles) {
        return;
    }
    let tile = tile_at(i);
    let m = tile.ch;
    let n = tile.n;
    let ty = tile.ty;
    let tx = tile.tx;
    let stride = p.m * tiles;
    var x: array<f32, 16>;
    for (var e = 0u; e < 16u; e++) {
        x[e] = mm[e * stride + i];
    }
    // s = A^T x (2 x 4), then y = s A (2 x 2).
    var s: array<f32, 8>;
    for (var b = 0u; b < 4u; b++) {
        s[b] = x[b] + x[4u + b] + x[8u + b];
        s[4u + b] = x[4u + b] - x[8u + b] - x[12u + b];
    }
    var add = 0.0;
    if (p.has_bias != 0u) {
        add = p.bias_scale * bias[m];
    }
    let plane = (n * p.m + m) * p.h * p.w;
    for (var a = 0u; a < 2u; a++) {
        let y = 2u * ty + a;
        let y0 = s[a * 4u] + s[a * 4u + 1u] + s[a * 4u + 2u];
        let y1 = s[a * 4u + 1u] - s[a * 4u + 2u] - s[a * 4u + 3u];
        let x0 = 2u * tx;
        if (y < p.h) {
            out[plane + y * p.w + x0] = y0 + add;
            if (x0 + 1u < p.w) {
                out[plane + y * p.w + x0 + 1u] = y1 + add;
            }
        }
    }
}
