//! The typed contract between the host and a kernel: each kernel's uniform `Params` is a Rust
//! struct declared with [`kernel_params!`](crate::kernel_params), which also records the
//! kernels that take it and the storage buffers each binds. `GpuContext::dispatch` takes such
//! a struct, never a list of words, and `tests/params_layout.rs` holds every one of them
//! against its WGSL with naga.
//!
//! Layout rule: a struct mirrors its WGSL `Params` member for member (same names, order and
//! types: `u32`, `i32`, `f32`, `[T; 4]` for `vec4<T>`, `[[u32; 4]; N]` for
//! `array<vec4<u32>, N>`), and its size equals the WGSL struct's size under the uniform
//! layout rules. Padding is spelled out on both sides (members named `_p0`, `_p1`, ...), so
//! neither side has a gap the other does not; scalar-only structs need none, and their size
//! is not rounded up to 16 because each dispatch binds a whole 256-byte slot
//! (`gpu::batch::PARAM_BYTES`), which the struct must fit (checked when it is compiled).

/// How a kernel declares one of its storage buffers (bindings 1.. in order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `var<storage, read>`
    Read,
    /// `var<storage, read_write>`
    ReadWrite,
}

/// One field of a params struct: its name, byte offset and the WGSL type it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub wgsl: &'static str,
}

/// A kernel's uniform parameters (binding 0), as the bytes the WGSL `Params` struct reads.
/// Implement it with [`kernel_params!`](crate::kernel_params).
pub trait KernelParams: bytemuck::Pod {
    /// The kernels (shader paths under `shaders/`) whose `Params` this struct is, each with
    /// the storage buffers it binds at 1, 2, ...
    const KERNELS: &'static [(&'static str, &'static [Access])];
    /// The fields in declaration order.
    const FIELDS: &'static [Field];

    /// The storage bindings of `path`, or None when that kernel does not take these params.
    fn bindings(path: &str) -> Option<&'static [Access]> {
        Self::KERNELS.iter().find(|(p, _)| *p == path).map(|k| k.1)
    }
}

/// The WGSL type a Rust field type stands for in a params struct.
pub trait WgslType {
    const WGSL: &'static str;
}

macro_rules! wgsl_types {
    ($($t:ty => $w:literal),* $(,)?) => {
        $(impl WgslType for $t {
            const WGSL: &'static str = $w;
        })*
    };
}
wgsl_types! {
    u32 => "u32",
    i32 => "i32",
    f32 => "f32",
    [u32; 4] => "vec4<u32>",
    [i32; 4] => "vec4<i32>",
    [f32; 4] => "vec4<f32>",
    [[u32; 4]; 1] => "array<vec4<u32>, 1>",
    [[u32; 4]; 2] => "array<vec4<u32>, 2>",
    [[u32; 4]; 4] => "array<vec4<u32>, 4>",
    [[f32; 4]; 1] => "array<vec4<f32>, 1>",
    [[f32; 4]; 2] => "array<vec4<f32>, 2>",
    [[f32; 4]; 4] => "array<vec4<f32>, 4>",
}

/// Declares a kernel's params struct (`#[repr(C)]`, `Pod`) and its [`KernelParams`] record
/// together, so the field list the layout test compares is the struct's own:
///
/// ```ignore
/// kernel_params! {
///     /// `shaders/elementwise/unary.wgsl`
///     pub struct UnaryParams {
///         kernels: ["elementwise/unary.wgsl" => [Read, ReadWrite]],
///         pub n: u32,
///         pub a: f32,
///         pub b: f32,
///     }
/// }
/// ```
#[macro_export]
macro_rules! kernel_params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            kernels: [$($path:literal => [$($access:ident),* $(,)?]),+ $(,)?],
            $($fvis:vis $field:ident: $ty:ty),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name {
            $($fvis $field: $ty),+
        }

        impl $crate::gpu::params::KernelParams for $name {
            const KERNELS: &'static [(&'static str, &'static [$crate::gpu::params::Access])] = &[
                $(($path, &[$($crate::gpu::params::Access::$access),*])),+
            ];
            const FIELDS: &'static [$crate::gpu::params::Field] = &[
                $($crate::gpu::params::Field {
                    name: stringify!($field),
                    offset: std::mem::offset_of!($name, $field),
                    wgsl: <$ty as $crate::gpu::params::WgslType>::WGSL,
                }),+
            ];
        }

        const _: () = assert!(
            std::mem::size_of::<$name>() as u64 <= $crate::gpu::batch::PARAM_BYTES,
            concat!(stringify!($name), " does not fit a dispatch's parameter slot"),
        );
    };
}
