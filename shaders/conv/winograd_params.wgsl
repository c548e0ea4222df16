// Winograd F(2x2, 3x3) (Lavin & Gray 2016) for the 3x3 convolution's forward (MODE 0) and
// input gradient (MODE 1): each 2x2 output tile is A^T [ (G g G^T) . (B^T d B) ] A, with d
// the 4x4 input patch around it. Three kernels and a batched matmul between them:
//   winograd_weight.wgsl  U[e, m, r] = (G g G^T)[e]   per output channel m, input channel r
//   winograd_input.wgsl   V[e, r, p] = (B^T d B)[e]   per input channel and 2x2 tile p
//   (matmul)              M[e] = scale * U[e] V[e]     16 products of (M x R) by (R x P)
//   winograd_output.wgsl  y = A^T M A (+ bias_scale * b), cropped to H x W
// 16 multiplies per 4 outputs and input channel instead of 36: 2.25x fewer in the GEMM,
// for three memory-bound passes over 4x the input and output sizes.
// MODE 0: m runs over K, r over C, the source is x.  MODE 1: m over C, r over K, the source
// is the output gradient, and g is the weight transposed with its taps flipped.

struct Params {
    n: u32,
    // Input channels (the reduction) and output channels of this pass.
    r: u32,
    m: u32,
    h: u32,
    w: u32,
    // 2x2 tiles along y and x: ceil(h / 2), ceil(w / 2).
    th: u32,
    tw: u32,
    mode: u32,
    has_bias: u32,
    bias_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn linear_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * 256u;
}

// 2x2 tiles in the batch: n * th * tw.
fn tile_count() -> u32 {
    return p.n * p.th * p.tw;
}

// Invocation i of a (channel, tile) kernel: the channel, the image and the tile's row and
// column (tiles run fastest, so neighbouring invocations touch neighbouring memory).
struct TileAt {
    ch: u32,
    n: u32,
    ty: u32,
    tx: u32,
}

fn tile_at(i: u32) -> TileAt {
    let t = i % tile_count();
    return TileAt(i / tile_count(), t / (p.th * p.tw), (t / p.tw) % p.th, t % p.tw);
}
