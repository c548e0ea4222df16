// StyleGAN2's resampling primitive (stylegan2-ada-pytorch's upfirdn2d_ref), on planes
// [P, H, W] -> [P, OH, OW]: upsample by zero insertion (UP), pad by (px0, py0) at the start
// (negative crops; the end padding only sets OH, OW), convolve with the flipped fh x fw
// filter f (gain folded in), keep every DOWN-th pixel. Twin: src/cpu/upfirdn.rs.
// y[oy, ox] = sum_{ky, kx} z[oy down + ky - py0, ox down + kx - px0] f[fh-1-ky, fw-1-kx],
// z[a] = x[a / up] where up divides a, zero elsewhere and out of range.
// One invocation per output element.

struct Params {
    planes: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    up: u32,
    down: u32,
    fh: u32,
    fw: u32,
    px0: i32,
    py0: i32,
    _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> f: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    let ohw = p.oh * p.ow;
    if (e >= p.planes * ohw) {
        return;
    }
    let plane = e / ohw;
    let r = e % ohw;
    let oy = i32(r / p.ow);
    let ox = i32(r % p.ow);
    let up = i32(p.up);
    let down = i32(p.down);
    let hu = i32(p.h) * up;
    let wu = i32(p.w) * up;
    let base = plane * p.h * p.w;
    var s = 0.0;
    for (var ky = 0; ky < i32(p.fh); ky = ky + 1) {
        let a = oy * down + ky - p.py0;
        if (a < 0 || a >= hu || a % up != 0) {
            continue;
        }
        let row = base + u32(a / up) * p.w;
        let frow = (p.fh - 1u - u32(ky)) * p.fw;
        for (var kx = 0; kx < i32(p.fw); kx = kx + 1) {
            let b = ox * down + kx - p.px0;
            if (b < 0 || b >= wu || b % up != 0) {
                continue;
            }
            s = s + f[frow + p.fw - 1u - u32(kx)] * x[row + u32(b / up)];
        }
    }
    y[e] = s;
}
