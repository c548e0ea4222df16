// Winograd input transform V[e, r, p] = (B^T d B)[e] (see winograd_params.wgsl), d the 4x4
// patch at rows 2ty-1.. and columns 2tx-1.. (zero outside the image), with
// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. One invocation per (r, tile p), p running
// fastest so that the 16 stores of neighbouring invocations are contiguous.

//!include conv/winograd_params.wgsl

@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let tiles = tile_count();
    let i = linear_id(gid, nwg);
    if (i >= p.r * tiles) {
        return;
    }
    let tile = tile_at(i);
    let r = tile.ch;
    let n = tile.n;
    let ty = tile.ty;
    let tx = tile.tx;
    let plane = (n * p.r + r) * p.h * p.w;
    var d: array<f32, 16>;
    for (var a = 0u; a < 4u; a++) {
        // Row 2ty - 1 + a and column 2tx - 1 + b, kept one up so they stay unsigned.
        let y1 = 2u * ty + a;
        for (var b = 0u; b < 4u; b++) {
            let x1 = 2u * tx + b;
            var val = 0.0;
            if (y1 >= 1u && y1 <= p.h && x1 >= 1u && x1 <= p.w) {
                val = src[plane + (y1 - 1u) * p.w + x1 - 1u];
            }
            d[a * 4u + b] = val;
        }
    }
    // s = B^T d (rows), then V = s B (columns).
    var s: array<f32, 16>;
    for (var b = 0u; b < 4u; b++) {
        s[b] = d[b] - d[8u + b];
        s[4u + b] = d[4u + b] + d[8u + b];
        s[8u + b] = d[8u + b] - d[4u + b];
        s[12u + b] = d[4u + b] - d[12u + b];
    }
    let stride = p.r * tiles;
    for (var a = 0u; a < 4u; a++) {
        let at = (a * 4u) * stride + i;
        v[at] = s[a * 4u] - s[a * 4u + 2u];
        v[at + stride] = s[a * 4u + 1u] + s[a * 4u + 2u];
        v[at + 2u * stride] = s[a * 4u + 2u] - s[a * 4u + 1u];
        v[at + 3u * stride] = s[a * 4u + 1u] - s[a * 4u + 3u];
    }
}
