// 2x2 average pooling of planes [P, H, W] (H, W even) -> [P, H/2, W/2]; one invocation per
// output, reading its 2x2 window.

struct Params {
    planes: u32,
    h: u32,
    w: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let ho = p.h / 2u;
    let wo = p.w / 2u;
    if (i >= p.planes * ho * wo) {
        return;
    }
    let plane = i / (ho * wo);
    let r = i % (ho * wo);
    let base = (plane * p.h + 2u * (r / wo)) * p.w + 2u * (r % wo);
    y[i] = 0.25 * (x[base] + x[base + 1u] + x[base + p.w] + x[base + p.w + 1u]);
}
