// Winograd weight gradient, output transform: dw[k, c] (3 x 3) = G^T M G from the 16 sums
// M[e, k, c] (the batched product over tiles), G the forward's 4 x 3 weight matrix (see
// winograd_grad.wgsl). scale is already in M. One invocation per (k, c).

//!include conv/winograd_params.wgsl

@group(0) @binding(1) var<storage, read> mm: array<f32>;
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    let plane = p.m * p.r;
    if (i >= plane) {
        return;
    }
    var x: array<f32, 16>;
    for (var e = 0u; e < 16u; e++) {
        x[e] = mm[e * plane + i];
    }
    // s = G^T x (3 x 4), G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1].
    var s: array<f32, 12>;
    for (var b = 0u; b < 4u; b++) {
        let h = 0.5 * (x[4u + b] + x[8u + b]);
        s[b] = x[b] + h;
        s[4u + b] = 0.5 * (x[4u + b] - x[8u + b]);
        s[8u + b] = h + x[12u + b];
    }
    // dw = s G (3 x 3).
    for (var a = 0u; a < 3u; a++) {
        let h = 0.5 * (s[a * 4u + 1u] + s[a * 4u + 2u]);
        dw[i * 9u + a * 3u] = s[a * 4u] + h;
        dw[i * 9u + a * 3u + 1u] = 0.5 * (s[a * 4u + 1u] - s[a * 4u + 2u]);
        dw[i * 9u + a * 3u + 2u] = h + s[a * 4u + 3u];
    }
}
