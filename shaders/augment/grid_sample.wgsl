// ADA's affine grid sample: y[n, c, i, j] = bilinear sample of x[n, c] at the source point
// of output pixel (i, j), with half-sample symmetric reflection (PyTorch's grid_sample with
// padding_mode='reflection', align_corners=False; the convention is spelled out in
// src/cpu/augment.rs, this kernel's twin). One invocation per output element.
// geo: 16 words per image (cpu::augment::geometry): rx = g0 j + g1 i + g2,
// ry = g3 j + g4 i + g5, in pixel units. The bilinear taps are integer pixels reflected
// one by one, so identity and integer shifts are exact.

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> geo: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// The half-sample symmetric reflection of integer tap k into 0..n.
fn fold(k: i32, n: u32) -> u32 {
    let p2 = 2 * i32(n);
    var m = k % p2;
    if (m < 0) {
        m = m + p2;
    }
    if (m >= i32(n)) {
        m = p2 - 1 - m;
    }
    return u32(m);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.x + gid.y * nwg.x * 256u;
    let hw = p.h * p.w;
    if (e >= p.n * p.c * hw) {
        return;
    }
    let plane = e / hw;
    let r = e % hw;
    let i = f32(r / p.w);
    let j = f32(r % p.w);
    let b = 16u * (plane / p.c);
    let rx = geo[b] * j + geo[b + 1u] * i + geo[b + 2u];
    let ry = geo[b + 3u] * j + geo[b + 4u] * i + geo[b + 5u];
    let fx0 = floor(rx);
    let fy0 = floor(ry);
    let fx = rx - fx0;
    let fy = ry - fy0;
    let x0 = i32(fx0);
    let y0 = i32(fy0);
    let cx0 = fold(x0, p.w);
    let cx1 = fold(x0 + 1, p.w);
    let base = plane * hw;
    let row0 = base + fold(y0, p.h) * p.w;
    let row1 = base + fold(y0 + 1, p.h) * p.w;
    let top = (1.0 - fx) * x[row0 + cx0] + fx * x[row0 + cx1];
    let bottom = (1.0 - fx) * x[row1 + cx0] + fx * x[row1 + cx1];
    y[e] = (1.0 - fy) * top + fy * bottom;
}
