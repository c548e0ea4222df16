//! Floor 1: the plain reference kernels, generic over f32 and f64, parallel with rayon.
//! Each function here mirrors one WGSL kernel's contract exactly (same inputs, same
//! layout), so the tensor layer can run either and tests can compare them.

pub mod adain;
pub mod augment;
pub mod conv;
pub mod elementwise;
pub mod layout;
pub mod matmul;
pub mod noise;
pub mod norm;
pub mod optim;
pub mod random;
pub mod reduce;
pub mod resample;
pub mod upfirdn;

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

/// The float types the reference runs in.
pub trait Real:
    Copy
    + Send
    + Sync
    + Debug
    + Default
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn sqrt(self) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn abs(self) -> Self;
    fn cos(self) -> Self;
}

macro_rules! impl_real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline]
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
        }
    };
}
impl_real!(f32);
impl_real!(f64);

/// Below this many elements rayon's overhead outweighs the work.
pub(crate) const PAR_MIN: usize = 1 << 14;
