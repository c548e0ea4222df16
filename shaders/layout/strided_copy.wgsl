// y[i] = x[sum_d coord_d(i) * src[d]], coords of i over y's shape (rank <= 8). With x's strides
// permuted this is a permute; with stride 0 on some axes, a broadcast.

struct Params {
    n: u32,
    rank: u32,
    _p0: u32,
    _p1: u32,
    shape: array<vec4<u32>, 2>,
    src: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) {
        return;
    }
    var rem = i;
    var j = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d = d - 1) {
        let dim = p.shape[d / 4][d % 4];
        j = j + (rem % dim) * p.src[d / 4][d % 4];
        rem = rem / dim;
    }
    y[i] = x[j];
}
