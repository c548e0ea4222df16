// Exponential moving average, in place: ema += (1 - beta) * (p - ema).

struct Params {
    n: u32,
    beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> ema: array<f32>;
@group(0) @binding(2) var<storage, read> param: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i < p.n) {
        ema[i] = fma(1.0 - p.beta, param[i] - ema[i], ema[i]);
    }
}
