// Winograd weight transform U[e, m, r] = (G g G^T)[e] (see winograd_params.wgsl), with
// G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. One invocation per (m, r).

//!include conv/winograd_params.wgsl

@group(0) @binding(1) var<storage, read> wt: array<f32>;
@group(0) @binding(2) var<storage, read_write> u: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= p.m * p.r) {
        return;
    }
    let m = i / p.r;
    let r = i % p.r;
    // g[y][x]: the weight [K, C, 3, 3] at (m, r) for the forward; at (r, m) with the taps
    // flipped for the input gradient.
    var g: array<f32, 9>;
    for (var t = 0u; t < 9u; t++) {
        if (p.mode == 0u) {
            g[t] = wt[(m * p.r + r) * 9u + t];
        } else {
            g[t] = wt[(r * p.m + m) * 9u + 8u - t];
        }
    }
    // t = G g (4 x 3), then U = t G^T (4 x 4).
    var t4: array<f32, 12>;
    for (var x = 0u; x < 3u; x++) {
        let a = g[x];
        let b = g[3u + x];
        let c = g[6u + x];
        t4[x] = a;
        t4[3u + x] = 0.5 * (a + b + c);
        t4[6u + x] = 0.5 * (a - b + c);
        t4[9u + x] = c;
    }
    let plane = p.m * p.r;
    for (var row = 0u; row < 4u; row++) {
        let a = t4[row * 3u];
        let b = t4[row * 3u + 1u];
        let c = t4[row * 3u + 2u];
        let at = (row * 4u) * plane + i;
        u[at] = a;
        u[at + plane] = 0.5 * (a + b + c);
        u[at + 2u * plane] = 0.5 * (a - b + c);
        u[at + 3u * plane] = c;
    }
}
