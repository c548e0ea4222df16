// The adjoint of grid_sample.wgsl (its gradient with respect to the image), in gather form:
// one invocation per input element (n, c, p, q) sums g over the output pixels whose bilinear
// taps land on it, so every element is written once and no float atomics are needed (WGSL
// has none). The taps are integer pixels reflected by `fold`, so the pixel (p, q) is reached
// through its copies: integer taps kx with fold(kx) = q (q + 2Wm and 2Wm + 2W - 1 - q) in
// the range any output reaches (geo words 12..15), and ky alike. For each copy the outputs
// that can tap it lie in the preimage of the square (kx, ky) + (-1, 1)^2 under the affine
// map: a parallelogram, walked as its bounding box (centre from the inverse b, half-extents
// geo words 10, 11) widened by 0.05 pixel; each candidate recomputes the forward's taps
// and adds its exact weight, so spare candidates add zero and each (output pixel, tap) pair
// counts once. A scatter (one invocation per output pixel adding to its four taps) would
// race without atomics, and a serial scatter per image would leave the GPU idle; the gather
// costs a few spare candidates per pixel instead. Twin: cpu::augment::grid_sample_adjoint.

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> geo: array<f32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;

// The bilinear weight that a tap at (k0, frac) gives integer pixel k.
fn weight(k0: i32, frac: f32, k: i32) -> f32 {
    if (k == k0) {
        return 1.0 - frac;
    }
    if (k == k0 + 1) {
        return frac;
    }
    return 0.0;
}

// floor(a / b) for b > 0.
fn floor_div(a: i32, b: i32) -> i32 {
    let q = a / b;
    if (a % b != 0 && a < 0) {
        return q - 1;
    }
    return q;
}

// Output pixels [lo, hi) along an axis of n pixels whose preimage coordinate may lie within
// `half` of `c`.
fn span(c: f32, half: f32, n: u32) -> vec2<i32> {
    let lo = i32(max(ceil(c - half - 0.05), 0.0));
    let hi = i32(min(floor(c + half + 0.05), f32(n) - 1.0)) + 1;
    return vec2<i32>(lo, max(hi, lo));
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
    let pi = i32(r / p.w);
    let qj = i32(r % p.w);
    let b = 16u * (plane / p.c);
    let a = array<f32, 6>(geo[b], geo[b + 1u], geo[b + 2u], geo[b + 3u], geo[b + 4u], geo[b + 5u]);
    let kx_lo = i32(geo[b + 12u]);
    let kx_hi = i32(geo[b + 13u]);
    let ky_lo = i32(geo[b + 14u]);
    let ky_hi = i32(geo[b + 15u]);
    let pw = 2 * i32(p.w);
    let ph = 2 * i32(p.h);
    let base = plane * hw;
    var s = 0.0;
    for (var my = floor_div(ky_lo, ph); my <= floor_div(ky_hi, ph); my = my + 1) {
        for (var vy = 0; vy < 2; vy = vy + 1) {
            var ky = ph * my + pi;
            if (vy == 1) {
                ky = ph * my + ph - 1 - pi;
            }
            if (ky < ky_lo || ky > ky_hi) {
                continue;
            }
            for (var mx = floor_div(kx_lo, pw); mx <= floor_div(kx_hi, pw); mx = mx + 1) {
                for (var vx = 0; vx < 2; vx = vx + 1) {
                    var kx = pw * mx + qj;
                    if (vx == 1) {
                        kx = pw * mx + pw - 1 - qj;
                    }
                    if (kx < kx_lo || kx > kx_hi) {
                        continue;
                    }
                    let dx = f32(kx) - a[2];
                    let dy = f32(ky) - a[5];
                    let js = span(geo[b + 6u] * dx + geo[b + 7u] * dy, geo[b + 10u], p.w);
                    let is = span(geo[b + 8u] * dx + geo[b + 9u] * dy, geo[b + 11u], p.h);
                    for (var i = is.x; i < is.y; i = i + 1) {
                        for (var j = js.x; j < js.y; j = j + 1) {
                            let rx = a[0] * f32(j) + a[1] * f32(i) + a[2];
                            let ry = a[3] * f32(j) + a[4] * f32(i) + a[5];
                            let fx0 = floor(rx);
                            let fy0 = floor(ry);
                            let wgt = weight(i32(fy0), ry - fy0, ky) * weight(i32(fx0), rx - fx0, kx);
                            s = fma(wgt, g[base + u32(i) * p.w + u32(j)], s);
                        }
                    }
                }
            }
        }
    }
    gx[e] = s;
}
