// Equalized 2-D convolution, stride 1, zero padding k/2, as an implicit GEMM: the im2col
// matrix is never built; tiles of it are gathered straight into workgroup memory. This file
// holds what the two tile shapes share (implicit_gemm.wgsl: ROWS x 64 tiles, 4 x 4 per
// invocation; implicit_gemm_wide.wgsl: 128 x 128 tiles, 8 x 8 per invocation): the
// bindings, the GEMM's extent, the operand loads and the epilogue. Three passes, chosen by
// the MODE override (constant-folded when the pipeline is built):
//   MODE 0  forward         y[n,k,pix]  = scale * sum_{c,t} w[k,c,t] x[n,c,pix+t] + bias_scale * b[k]
//                           GEMM M = K, columns = N*H*W, reduction = C*taps
//   MODE 1  input gradient  dx[n,c,pix] = scale * sum_{k,u} w[k,c,T-1-u] g[n,k,pix+u]
//                           (the forward with the weight transposed and its taps flipped)
//                           GEMM M = C, columns = N*H*W, reduction = K*taps
//   MODE 2  weight gradient dw[k,c,t]   = scale * sum_{n,pix} g[n,k,pix] x[n,c,pix+t]
//                           GEMM M = K, columns = C*taps, reduction = N*H*W, split into
//                           `splits` chunks along wid.z (partials [K*C*taps, splits],
//                           summed by reduce/sum_rows) so small layers still fill the GPU.
// `scale` is the equalized learning-rate factor gain / sqrt(fan_in) * lr_mul, applied to the
// accumulator so the stored weight is never copied or rescaled.

override MODE: u32 = 0u;
// The kernel's size, as constants so that the many divisions by it in the gathers become
// multiplications (software devices scalarise integer division). Params.kh/kw hold the same.
override KH: u32 = 3u;
override KW: u32 = 3u;

struct Params {
    n: u32,
    c: u32,
    k: u32,
    h: u32,
    w: u32,
    kh: u32,
    kw: u32,
    splits: u32,
    chunk: u32,
    has_bias: u32,
    scale: f32,
    bias_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// MODE 0, 2: x.  MODE 1: the output gradient g.
@group(0) @binding(1) var<storage, read> src: array<f32>;
// MODE 0, 1: the weight [K, C, kh, kw].  MODE 2: the output gradient g.
@group(0) @binding(2) var<storage, read> wt: array<f32>;
// MODE 0 with has_bias: the bias [K]; otherwise any buffer (not read).
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;


// The GEMM this workgroup works on: rows, columns, and its slice of the reduction.
struct Extent {
    m_total: u32,
    n_total: u32,
    r_begin: u32,
    r_end: u32,
    hw: u32,
    taps: u32,
}

fn extent(split: u32) -> Extent {
    var e = Extent(p.k, p.n * p.h * p.w, 0u, p.c * KH * KW, p.h * p.w, KH * KW);
    if (MODE == 1u) {
        e.m_total = p.c;
        e.r_end = p.k * e.taps;
    } else if (MODE == 2u) {
        e.n_total = p.c * e.taps;
        e.r_begin = split * p.chunk;
        e.r_end = min(p.n * e.hw, e.r_begin + p.chunk);
    }
    return e;
}

// src at image `img`, channel `ch` of `chans`, output pixel (oy, ox) moved by tap `t`;
// 0 in the padding.
fn gather(img: u32, chans: u32, ch: u32, oy: u32, ox: u32, t: u32) -> f32 {
    let y = i32(oy + t / KW) - i32(KH / 2u);
    let x = i32(ox + t % KW) - i32(KW / 2u);
    if (y < 0 || x < 0 || y >= i32(p.h) || x >= i32(p.w)) {
        return 0.0;
    }
    return src[((img * chans + ch) * p.h + u32(y)) * p.w + u32(x)];
}

// The A operand at row m, reduction index r; 0 outside the GEMM.
fn load_a(e: Extent, m: u32, r: u32) -> f32 {
    if (m >= e.m_total || r >= e.r_end) {
        return 0.0;
    }
    if (MODE == 0u) {
        return wt[m * p.c * e.taps + r];
    }
    if (MODE == 1u) {
        let k = r / e.taps;
        let u = r % e.taps;
        return wt[(k * p.c + m) * e.taps + (e.taps - 1u - u)];
    }
    let img = r / e.hw;
    return wt[(img * p.k + m) * e.hw + r % e.hw];
}

// A B-operand column decomposed once: an invocation always loads the same tile column.
struct Column {
    ok: bool,
    img: u32,
    oy: u32,
    ox: u32,
    ch: u32,
    tap: u32,
}

fn column(e: Extent, col: u32) -> Column {
    let pix = col % e.hw;
    return Column(col < e.n_total, col / e.hw, pix / p.w, pix % p.w, col / e.taps, col % e.taps);
}

// The B operand at reduction index r of column c; 0 outside the GEMM.
fn load_b(e: Extent, c: Column, r: u32) -> f32 {
    if (!c.ok || r >= e.r_end) {
        return 0.0;
    }
    if (MODE == 0u) {
        return gather(c.img, p.c, r / e.taps, c.oy, c.ox, r % e.taps);
    }
    if (MODE == 1u) {
        return gather(c.img, p.k, r / e.taps, c.oy, c.ox, r % e.taps);
    }
    let pix = r % e.hw;
    return gather(r / e.hw, p.c, c.ch, pix / p.w, pix % p.w, c.tap);
}

// Scale, bias and store four consecutive columns of output row m (those inside the GEMM).
fn store4(e: Extent, split: u32, m: u32, col0: u32, acc: vec4<f32>) {
    if (m >= e.m_total) {
        return;
    }
    var add = 0.0;
    if (MODE == 0u && p.has_bias != 0u) {
        add = p.bias_scale * bias[m];
    }
    let v = fma(vec4<f32>(p.scale), acc, vec4<f32>(add));
    for (var j = 0u; j < 4u; j = j + 1u) {
        let col = col0 + j;
        if (col >= e.n_total) {
            return;
        }
        if (MODE == 2u) {
            out[(m * e.n_total + col) * p.splits + split] = v[j];
        } else {
            out[((col / e.hw) * e.m_total + m) * e.hw + col % e.hw] = v[j];
        }
    }
}
