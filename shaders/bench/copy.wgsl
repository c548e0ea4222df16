// Bandwidth ceiling: dst = src as vec4<f32>, one 16-byte element per invocation, so each
// byte is read once and written once (2 * bytes moved). Workgroups fold into y past the
// per-dimension limit, as the engine's 1-D kernels do (`gpu::batch::groups_1d`).

struct Params {
    n: u32, // vec4 elements
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i < p.n) {
        dst[i] = src[i];
    }
}
