// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
// Counter-based: the numbers for (key, counter) are a pure function, so the CPU reference
// (src/cpu/random.rs) produces exactly the same bits.

fn philox_mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key_in: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key_in;
    for (var r = 0u; r < 10u; r = r + 1u) {
        if (r > 0u) {
            k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
        }
        let p0 = philox_mulhilo(0xD2511F53u, c.x);
        let p1 = philox_mulhilo(0xCD9E8D57u, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

// Uniform in [0, 1) with 24 random bits: exactly representable in f32.
fn philox_uniform(x: u32) -> f32 {
    return f32(x >> 8u) * 5.9604644775390625e-8;
}

// Uniform in (0, 1]: safe for log.
fn philox_uniform_open0(x: u32) -> f32 {
    return (f32(x >> 8u) + 1.0) * 5.9604644775390625e-8;
}

// Standard normal by Box-Muller from two words.
fn philox_normal(x0: u32, x1: u32) -> f32 {
    let u1 = philox_uniform_open0(x0);
    let u2 = philox_uniform(x1);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
