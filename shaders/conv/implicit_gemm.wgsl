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
// Each workgroup computes a ROWS x 64 output tile with 16 x (ROWS / 4) invocations, each
// holding a 4 x 4 block in vec4 registers (rows lid.y*4.., columns lid.x*4..); the reduction
// advances 16 at a time through workgroup memory. ROWS (16, 32 or 64) follows the GEMM's row
// count, so a 16-channel layer does not waste three quarters of a 64-row tile.
// `scale` is the equalized learning-rate factor gain / sqrt(fan_in) * lr_mul, applied to the
// accumulator so the stored weight is never copied or rescaled.

override MODE: u32 = 0u;
// Rows of the output tile: 16, 32 or 64.
override ROWS: u32 = 64u;
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

const BN: u32 = 64u;
const BK: u32 = 16u;

// Sized for the largest ROWS; a smaller tile uses the first ROWS / 4 vec4s of each row.
var<workgroup> a_tile: array<array<vec4<f32>, 16>, 16>; // [r][m / 4]
var<workgroup> b_tile: array<array<vec4<f32>, 16>, 16>; // [r][column / 4]

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

@compute @workgroup_size(16, ROWS / 4u)
fn main(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) flat: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let threads = 4u * ROWS;
    let hw = p.h * p.w;
    let taps = KH * KW;
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
    let row0 = wid.y * ROWS;
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

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var r0 = r_begin; r0 < r_end; r0 = r0 + BK) {
        // A: BK x ROWS values, 4 per invocation.
        for (var i = 0u; i < 4u; i = i + 1u) {
            let am = flat / BK + (threads / BK) * i;
            let ar = r0 + ak;
            var av = 0.0;
            if (row0 + am < m_total && ar < r_end) {
                av = load_a(row0 + am, ar, taps, hw);
            }
            a_tile[ak][am / 4u][am % 4u] = av;
        }
        // B: BK x BN values, BK * BN / threads per invocation.
        for (var bk = flat / BN; bk < BK; bk = bk + threads / BN) {
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
            b_tile[bk][bn / 4u][bn % 4u] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let a = a_tile[kk][lid.y];
            let b = b_tile[kk][lid.x];
            acc0 = fma(vec4<f32>(a.x), b, acc0);
            acc1 = fma(vec4<f32>(a.y), b, acc1);
            acc2 = fma(vec4<f32>(a.z), b, acc2);
            acc3 = fma(vec4<f32>(a.w), b, acc3);
        }
        workgroupBarrier();
    }

    let rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let m = row0 + lid.y * 4u + i;
        if (m >= m_total) {
            break;
        }
        var add = 0.0;
        if (MODE == 0u && p.has_bias != 0u) {
            add = p.bias_scale * bias[m];
        }
        let v = fma(vec4<f32>(p.scale), rows[i], vec4<f32>(add));
        for (var j = 0u; j < 4u; j = j + 1u) {
            let col = col0 + lid.x * 4u + j;
            if (col >= n_total) {
                break;
            }
            if (MODE == 2u) {
                out[(m * n_total + col) * p.splits + wid.z] = v[j];
            } else {
                out[((col / hw) * m_total + m) * hw + col % hw] = v[j];
            }
        }
    }
}
