// Noise injection fused with bias and leaky ReLU (the StyleGAN layer epilogue):
// y[n,c,i] = lrelu(x[n,c,i] + weight[c] * noise[n,i] + bias_scale * bias[c]) * gain,
// lrelu(v) = v > 0 ? v : slope * v. One pass instead of three.

struct Params {
    n: u32,
    c: u32,
    hw: u32,
    bias_scale: f32,
    slope: f32,
    gain: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> noise: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n * p.c * p.hw) {
        return;
    }
    let s = i % p.hw;
    let c = (i / p.hw) % p.c;
    let n = i / (p.hw * p.c);
    let v = fma(weight[c], noise[n * p.hw + s], x[i]) + p.bias_scale * bias[c];
    y[i] = select(p.slope * v, v, v > 0.0) * p.gain;
}
