// Nearest-neighbour 2x upsampling of planes [P, H, W] -> [P, 2H, 2W]; one invocation per output.

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
    let w2 = 2u * p.w;
    let per_plane = 4u * p.h * p.w;
    if (i >= p.planes * per_plane) {
        return;
    }
    let plane = i / per_plane;
    let r = i % per_plane;
    let oy = r / w2;
    let ox = r % w2;
    y[i] = x[(plane * p.h + oy / 2u) * p.w + ox / 2u];
}
