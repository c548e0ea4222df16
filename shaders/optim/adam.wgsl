// Adam, in place, one invocation per element (PyTorch's bias-corrected form):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1 - b1^t, bc2 = 1 - b2^t.

struct Params {
    n: u32,
    lr: f32,
    b1: f32,
    b2: f32,
    eps: f32,
    bc1: f32,
    bc2: f32,
    // 1 - b1 and 1 - b2, rounded once from f64: 1.0 - 0.99 in f32 is off by 1e-6 relative.
    c1: f32,
    c2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
// guard[0]: the step's loss plus its squared gradient norm. Not finite (a NaN or infinity
// anywhere upstream) means skip: the weights and moments stay as they were, and the host
// needs no sync to decide.
@group(0) @binding(5) var<storage, read> guard: array<f32>;

fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n || !is_finite(guard[0])) {
        return;
    }
    let gi = g[i];
    let mi = fma(p.b1, m[i], p.c1 * gi);
    let vi = fma(p.b2, v[i], p.c2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
}
