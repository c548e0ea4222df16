// Winograd weight gradient, output-gradient transform: U[e, k, p] = (A g A^T)[e] for the 2x2
// tile p of the output gradient g (zero past the image), A = [1 0; 1 1; 1 -1; 0 -1], the
// transpose of the forward's output matrix. With the forward's input transform V (the same
// 4x4 patches of x), sum_p U[e] V[e] is the Winograd F(3x3, 2x2) of the weight gradient:
// each tile's 3x3 correlation of its 4x4 patch with its 2x2 gradient, summed over tiles (see
// winograd_params.wgsl). One invocation per (k, tile p).

//!include conv/winograd_params.wgsl

@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let tiles = tile_count();
    let i = linear_id(gid, nwg);
    if (i >= p.m * tiles) {
        return;
    }
    let tile = tile_at(i);
    let k = tile.ch;
    let n = tile.n;
    let ty = tile.ty;
    let tx = tile.tx;
    let plane = (n * p.m + k) * p.h * p.w;
    var d: array<f32, 4>;
    for (var a = 0u; a < 2u; a++) {
        for (var b = 0u; b < 2u; b++) {
            let y = 2u * ty + a;
            let x = 2u * tx + b;
            var val = 0.0;
            if (y < p.h && x < p.w) {
                val = g[plane + y * p.w + x];
            }
            d[a * 2u + b] = val;
        }
    }
    // s = A d (4 x 2), then U = s A^T (4 x 4).
    var s: array<f32, 8>;
    for (var b = 0u; b < 2u; b++) {
        s[b] = d[b];
        s[2u + b] = d[b] + d[2u + b];
        s[4u + b] = d[b] - d[2u + b];
        s[6u + b] = -d[2u + b];
    }
    let stride = p.m * tiles;
    for (var a = 0u; a < 4u; a++) {
        let at = (a * 4u) * stride + i;
        let s0 = s[a * 2u];
        let s1 = s[a * 2u + 1u];
        u[at] = s0;
        u[at + stride] = s0 + s1;
        u[at + 2u * stride] = s0 - s1;
        u[at + 3u * stride] = -s1;
    }
}
