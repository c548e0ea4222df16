// c = a (op) b with numpy broadcasting. OP: 0 add, 1 sub, 2 mul, 3 div.
// BROADCAST false: a, b and c share one shape (the fast path). True: element i of c is
// decomposed over `shape` (rank <= 8) and a, b are read through strides that are 0 on
// broadcast axes.

override OP: u32 = 0u;
override BROADCAST: bool = false;

struct Params {
    n: u32,
    rank: u32,
    _p0: u32,
    _p1: u32,
    shape: array<vec4<u32>, 2>,
    sa: array<vec4<u32>, 2>,
    sb: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn op(u: f32, v: f32) -> f32 {
    switch OP {
        case 0u: { return u + v; }
        case 1u: { return u - v; }
        case 2u: { return u * v; }
        default: { return u / v; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.n) {
        return;
    }
    if (!BROADCAST) {
        c[i] = op(a[i], b[i]);
        return;
    }
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d = d - 1) {
        let dim = p.shape[d / 4][d % 4];
        let coord = rem % dim;
        rem = rem / dim;
        ia = ia + coord * p.sa[d / 4][d % 4];
        ib = ib + coord * p.sb[d / 4][d % 4];
    }
    c[i] = op(a[ia], b[ib]);
}
