// y = f(x) elementwise; OP selects f (same numbering as UnaryOp::code in src/op_kind.rs).
// a, b: the op's scalar parameters (leaky ReLU slope and gain, the scalar of add/mul).

override OP: u32 = 0u;

struct Params {
    n: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn f(v: f32) -> f32 {
    switch OP {
        case 0u: { return -v; }
        case 1u: { return v * v; }
        case 2u: { return sqrt(v); }
        case 3u: { return inverseSqrt(v); }
        case 4u: { return exp(v); }
        case 5u: { return log(v); }
        case 6u: { return max(v, 0.0) + log(1.0 + exp(-abs(v))); }
        case 7u: {
            // Branches keep exp's argument <= 0, so large |v| never overflows.
            if (v >= 0.0) { return 1.0 / (1.0 + exp(-v)); }
            let e = exp(v);
            return e / (1.0 + e);
        }
        case 8u: { return select(v * p.a, v, v > 0.0) * p.b; }
        case 9u: { return select(p.a, 1.0, v > 0.0) * p.b; }
        case 10u: { return v + p.a; }
        case 11u: { return v * p.a; }
        case 12u: { return 1.0 / v; }
        case 13u: { return abs(v); }
        case 14u: { return sign(v); }
        default: { return v; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i < p.n) {
        y[i] = f(x[i]);
    }
}
