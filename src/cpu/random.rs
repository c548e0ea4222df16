//! Philox 4x32-10, bit-identical to `shaders/common/philox.wgsl`.

use super::Real;

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

#[inline]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for r in 0..10 {
        if r > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let (hi0, lo0) = mulhilo(M0, c[0]);
        let (hi1, lo1) = mulhilo(M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// The four words for element `i` of a draw at (seed, offset).
#[inline]
pub fn words(seed: u64, offset: u64, i: u64) -> [u32; 4] {
    let ctr = offset.wrapping_add(i);
    philox4x32_10(
        [ctr as u32, (ctr >> 32) as u32, 0, 0],
        [seed as u32, (seed >> 32) as u32],
    )
}

/// Uniform in [0, 1): 24 bits, exactly representable in f32.
#[inline]
pub fn uniform01(x: u32) -> f64 {
    (x >> 8) as f64 * (1.0 / 16_777_216.0)
}

/// Standard normal by Box-Muller from two words (the kernel's formula, evaluated in f64).
#[inline]
pub fn normal(x0: u32, x1: u32) -> f64 {
    let u1 = ((x0 >> 8) as f64 + 1.0) * (1.0 / 16_777_216.0);
    let u2 = uniform01(x1);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Uniform in [lo, hi) for elements 0..n.
pub fn uniform<T: Real>(n: usize, seed: u64, offset: u64, lo: f64, hi: f64) -> Vec<T> {
    (0..n as u64)
        .map(|i| {
            let u = T::from_f64(uniform01(words(seed, offset, i)[0]));
            T::from_f64(lo) + (T::from_f64(hi) - T::from_f64(lo)) * u
        })
        .collect()
}

/// Normal with the given mean and standard deviation for elements 0..n.
pub fn normal_fill<T: Real>(n: usize, seed: u64, offset: u64, mean: f64, std: f64) -> Vec<T> {
    (0..n as u64)
        .map(|i| {
            let w = words(seed, offset, i);
            T::from_f64(mean + std * normal(w[0], w[1]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::philox4x32_10;

    /// Known-answer vectors published with Random123 (kat_vectors), not derived from this code.
    #[test]
    fn philox_matches_random123_known_answers() {
        assert_eq!(
            philox4x32_10([0; 4], [0; 2]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }
}
