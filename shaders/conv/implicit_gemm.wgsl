// Equalized 2-D convolution, stride 1, zero padding k/2, as an implicit GEMM: the im2col
// matrix is never built; tiles of it are gathered straight into workgroup memory. One file,
// three passes chosen by the MODE override (constant-folded when the pipeline is built):
//   MODE 0  forward         y[n,k,pix]  = scale * sum_{c,t} w[k,c,t] x[n,c,pix+t] + bias_scale * b[k]
//                           GEMM M = K, columns = N*H*W, reduction = C*taps
//   MODE 1  input gradient  dx[n,c,pix] = scale * sum_{k,u} w[k,c,T-1-u] g[n,k,pix+u]
//                           (the forward with the weight transposed and its taps flipped)
//                           GEMM M = C, columns = N*H*W, reduction = K*taps
//   MODE 2  weight gradient dw[k,c,t]   = scale * sum_{n,pix} g[n,k,pix] x[n,c,pix+t]
//                           GEMM M = K, columns = C*taps, reduction = N*H*W, split into
//                           `splits` chunks along wid.z (partials [K*C*taps, splits],
//                           summed by reduce/sum_rows) so small layers still fill the GPU.
// Each workgroup computes a 64 x 64 output tile with 16 x 16 invocations, each holding a
// 4 x 4 block in registers; the reduction advances 16 at a time through workgroup memory.
// `scale` is the equalized learning-rate factor gain / sqrt(fan_in) * lr_mul, applied to the
// accumulator so the stored weight is never copied or rescaled.

override MODE: u32 = 0u;

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

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> a_tile: array<array<f32, 64>, 16>; // [r][m]
var<workgroup> b_tile: array<array<f32, 64>, 16>; // [r][column]

// src at image `img`, channel `ch` of `chans`, output pixel (oy, ox) moved by tap `t`;
// 0 in the padding.
fn gather(img: u32, chans: u32, ch: u32, oy: u32, ox: u32, t: u32) -> f32 {
    let y = i32(oy + t / p.kw) - i32(p.kh / 2u);
    let x = i32(ox + t % p.kw) - i32(p.kw / 2u);
    if (y < 0 || x < 0 || y >= i32(p.h) || x >= i32(p.w)) {
        return 0.0;
    }
    return src[((img * chans + ch) * p.h + u32(y)) * p.w + u32(x)];
}

// The A operand (rows m, reduction index r).
fn load_a(m: u32, r: u32, taps: u32, hw: u32) -> f32 {
    if (MODE == 0u) {
        return wt[m * p.c * taps + r];
    }
    if (MODE == 1u) {
        let k = r / taps;
        let u = r % taps;
        return wt[(k * p.c + m) * taps + (taps - 1u - u)];
    }
    let img = r / hw;
    return wt[(img * p.k + m) * hw + r % hw];
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let hw = p.h * p.w;
    let taps = p.kh * p.kw;
    var m_total = p.k;
    var n_total = p.n * hw;
    var r_begin = 0u;
    var r_end = p.c * taps;
    if (MODE == 1u) {
        m_total = p.c;
        r_end = p.k * taps;
    } else if (MODE == 2u) {
        n_total = p.c * taps;
        r_begin = wid.z * p.chunk;
        r_end = min(p.n * hw, r_begin + p.chunk);
    }
    let row0 = wid.y * BM;
    let col0 = wid.x * BN;

    // Each invocation always loads the same tile column: decompose it once.
    let bn = flat % BN;
    let bcol = col0 + bn;
    let col_ok = bcol < n_total;
    let b_img = bcol / hw;
    let b_oy = (bcol % hw) / p.w;
    let b_ox = bcol % p.w;
    let b_ch = bcol / taps;
    let b_tap = bcol % taps;
    let ak = flat % BK;

    var acc: array<array<f32, 4>, 4>;
    for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
            acc[i][j] = 0.0;
        }
    }
    for (var r0 = r_begin; r0 < r_end; r0 = r0 + BK) {
        for (var i = 0u; i < 4u; i = i + 1u) {
            let am = flat / BK + 16u * i;
            let ar = r0 + ak;
            var av = 0.0;
            if (row0 + am < m_total && ar < r_end) {
                av = load_a(row0 + am, ar, taps, hw);
            }
            a_tile[ak][am] = av;

            let bk = flat / BN + 4u * i;
            let br = r0 + bk;
            var bv = 0.0;
            if (col_ok && br < r_end) {
                if (MODE == 0u) {
                    bv = gather(b_img, p.c, br / taps, b_oy, b_ox, br % taps);
                } else if (MODE == 1u) {
                    bv = gather(b_img, p.k, br / taps, b_oy, b_ox, br % taps);
                } else {
                    let pix = br % hw;
                    bv = gather(br / hw, p.c, b_ch, pix / p.w, pix % p.w, b_tap);
                }
            }
            b_tile[bk][bn] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            var ar: array<f32, 4>;
            var br: array<f32, 4>;
            for (var i = 0u; i < 4u; i = i + 1u) {
                ar[i] = a_tile[kk][lid.y + 16u * i];
                br[i] = b_tile[kk][lid.x + 16u * i];
            }
            for (var i = 0u; i < 4u; i = i + 1u) {
                for (var j = 0u; j < 4u; j = j + 1u) {
                    acc[i][j] = fma(ar[i], br[j], acc[i][j]);
                }
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i = i + 1u) {
        let m = row0 + lid.y + 16u * i;
        if (m >= m_total) {
            continue;
        }
        var add = 0.0;
        if (MODE == 0u && p.has_bias != 0u) {
            add = p.bias_scale * bias[m];
        }
        for (var j = 0u; j < 4u; j = j + 1u) {
            let col = col0 + lid.x + 16u * j;
            if (col >= n_total) {
                continue;
            }
            let v = fma(p.scale, acc[i][j], add);
            if (MODE == 2u) {
                out[(m * n_total + col) * p.splits + wid.z] = v;
            } else {
                out[((col / hw) * m_total + m) * hw + col % hw] = v;
            }
        }
    }
}
