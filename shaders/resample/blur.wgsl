// StyleGAN's low-pass filter: depthwise 3x3 [1,2,1] x [1,2,1] / 16 with zero padding 1 (the
// official blur2d, padding SAME), planes [P, H, W] -> same size. The filter is symmetric, so
// this kernel is also its own backward.

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
    let hw = p.h * p.w;
    if (i >= p.planes * hw) {
        return;
    }
    let plane = i / hw;
    let r = i % hw;
    let oy = i32(r / p.w);
    let ox = i32(r % p.w);
    let taps = array<f32, 3>(1.0, 2.0, 1.0);
    var s = 0.0;
    for (var dy = -1; dy <= 1; dy = dy + 1) {
        let yy = oy + dy;
        if (yy < 0 || yy >= i32(p.h)) {
            continue;
        }
        for (var dx = -1; dx <= 1; dx = dx + 1) {
            let xx = ox + dx;
            if (xx < 0 || xx >= i32(p.w)) {
                continue;
            }
            s = fma(taps[dy + 1] * taps[dx + 1], x[plane * hw + u32(yy) * p.w + u32(xx)], s);
        }
    }
    y[i] = s * 0.0625;
}
