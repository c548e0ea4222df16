//! The typed contract with the shaders holds (`gpu::params`): every kernel's WGSL `Params`
//! (binding 0, parsed with naga, includes expanded) has the same members, types, byte
//! offsets and size as the Rust struct `GpuContext::dispatch` is given for it, and the
//! kernel's storage bindings 1.. are the ones the struct declares. A field added on one side
//! only fails here, in CI, not as garbage on a GPU.

use naga::{AddressSpace, ArraySize, Module, ScalarKind, StorageAccess, TypeInner};
use sgw::gpu::params::{Access, Field, KernelParams};
use sgw::gpu::{self, kernels};

/// What one params struct promises, without its type.
struct Contract {
    name: &'static str,
    kernels: &'static [(&'static str, &'static [Access])],
    fields: &'static [Field],
    size: usize,
}

fn of<P: KernelParams>() -> Contract {
    let full = std::any::type_name::<P>();
    Contract {
        name: full.rsplit("::").next().unwrap(),
        kernels: P::KERNELS,
        fields: P::FIELDS,
        size: std::mem::size_of::<P>(),
    }
}

/// Every params struct of the engine. A kernel missing here fails
/// `every_kernel_has_exactly_one_params_struct`.
fn contracts() -> Vec<Contract> {
    use sgw::bench::ceilings::{CopyParams, FmaParams};
    use sgw::ops::adain::AdainParams;
    use sgw::ops::augment::GridSampleParams;
    use sgw::ops::binary::BinaryParams;
    use sgw::ops::conv::ConvParams;
    use sgw::ops::layout::{AxisCopyParams, StridedCopyParams};
    use sgw::ops::matmul::MatmulParams;
    use sgw::ops::noise::NoiseParams;
    use sgw::ops::norm::{MbstdStatParams, PixelNormParams};
    use sgw::ops::random::PhiloxFillParams;
    use sgw::ops::reduce::SumRowsParams;
    use sgw::ops::resample::ResampleParams;
    use sgw::ops::unary::UnaryParams;
    use sgw::ops::upfirdn::UpfirdnParams;
    use sgw::ops::winograd::WinogradParams;
    use sgw::optim::adam::AdamParams;
    use sgw::optim::ema::EmaParams;
    vec![
        of::<gpu::FillParams>(),
        of::<UnaryParams>(),
        of::<BinaryParams>(),
        of::<SumRowsParams>(),
        of::<MatmulParams>(),
        of::<StridedCopyParams>(),
        of::<AxisCopyParams>(),
        of::<PhiloxFillParams>(),
        of::<ConvParams>(),
        of::<WinogradParams>(),
        of::<ResampleParams>(),
        of::<AdainParams>(),
        of::<GridSampleParams>(),
        of::<UpfirdnParams>(),
        of::<NoiseParams>(),
        of::<PixelNormParams>(),
        of::<MbstdStatParams>(),
        of::<AdamParams>(),
        of::<EmaParams>(),
        of::<FmaParams>(),
        of::<CopyParams>(),
    ]
}

fn parse(path: &str, src: &str) -> Module {
    naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{path}: {}", e.emit_to_string(src)))
}

/// A naga type as WGSL spells it (the spelling `gpu::params::WgslType` uses).
fn wgsl_type(m: &Module, ty: naga::Handle<naga::Type>) -> String {
    let scalar = |s: &naga::Scalar| {
        let k = match s.kind {
            ScalarKind::Uint => "u",
            ScalarKind::Sint => "i",
            ScalarKind::Float => "f",
            _ => return format!("{s:?}"),
        };
        format!("{k}{}", s.width * 8)
    };
    match &m.types[ty].inner {
        TypeInner::Scalar(s) => scalar(s),
        TypeInner::Vector { size, scalar: s } => format!("vec{}<{}>", *size as u8, scalar(s)),
        TypeInner::Array {
            base,
            size: ArraySize::Constant(n),
            ..
        } => format!("array<{}, {n}>", wgsl_type(m, *base)),
        other => format!("{other:?}"),
    }
}

/// One line per member: `name: type @offset`, then the size.
fn render(fields: &[(String, String, u32)], size: u32) -> String {
    let f: Vec<String> = fields
        .iter()
        .map(|(n, t, o)| format!("{n}: {t} @{o}"))
        .collect();
    format!("{{ {} }} ({size} bytes)", f.join(", "))
}

/// Where `src` (the kernel at `path`) and the contract `c` with `bindings` disagree.
fn check(path: &str, src: &str, c: &Contract, bindings: &[Access]) -> Vec<String> {
    let m = parse(path, src);
    let mut errors = Vec::new();
    let mut storage = Vec::new();
    let mut params = None;
    for (_, g) in m.global_variables.iter() {
        let Some(b) = &g.binding else { continue };
        let name = g.name.as_deref().unwrap_or("?");
        if b.group != 0 {
            errors.push(format!(
                "{path}: `{name}` is in group {}, the engine binds group 0 only",
                b.group
            ));
            continue;
        }
        match (b.binding, g.space) {
            (0, AddressSpace::Uniform) => params = Some(g.ty),
            (0, space) => errors.push(format!(
                "{path}: binding 0 (`{name}`) must be var<uniform>, is {space:?}"
            )),
            (i, AddressSpace::Storage { access }) => {
                let a = if access.contains(StorageAccess::STORE) {
                    Access::ReadWrite
                } else {
                    Access::Read
                };
                storage.push((i, a, name.to_string()));
            }
            (i, space) => errors.push(format!(
                "{path}: binding {i} (`{name}`) must be var<storage>, is {space:?}"
            )),
        }
    }

    // Binding 0: the Params struct, member for member.
    match params.map(|t| (&m.types[t].name, &m.types[t].inner)) {
        None => errors.push(format!("{path}: no var<uniform> at binding 0")),
        Some((name, TypeInner::Struct { members, span })) => {
            if name.as_deref() != Some("Params") {
                errors.push(format!(
                    "{path}: binding 0 is a {name:?}, the convention is a struct named Params"
                ));
            }
            let wgsl: Vec<(String, String, u32)> = members
                .iter()
                .map(|mb| {
                    let n = mb.name.clone().unwrap_or_default();
                    (n, wgsl_type(&m, mb.ty), mb.offset)
                })
                .collect();
            let rust: Vec<(String, String, u32)> = c
                .fields
                .iter()
                .map(|f| (f.name.to_string(), f.wgsl.to_string(), f.offset as u32))
                .collect();
            if wgsl != rust || *span as usize != c.size {
                let first = (0..wgsl.len().max(rust.len()))
                    .find(|&i| wgsl.get(i) != rust.get(i))
                    .map(|i| {
                        let show = |f: Option<&(String, String, u32)>| match f {
                            Some((n, t, o)) => format!("{n}: {t} @{o}"),
                            None => "nothing".to_string(),
                        };
                        format!(
                            "member {i}: WGSL has {}, Rust has {}",
                            show(wgsl.get(i)),
                            show(rust.get(i))
                        )
                    })
                    .unwrap_or_else(|| format!("size: WGSL {span}, Rust {}", c.size));
                errors.push(format!(
                    "{path}: WGSL Params and {} differ ({first})\n    WGSL: Params {}\n    Rust: {} {}",
                    c.name,
                    render(&wgsl, *span),
                    c.name,
                    render(&rust, c.size as u32)
                ));
            }
        }
        Some((_, other)) => {
            errors.push(format!("{path}: binding 0 must be a struct, is {other:?}"))
        }
    }

    // Bindings 1..: contiguous, and the accesses the struct declares.
    storage.sort_by_key(|s| s.0);
    let numbers: Vec<u32> = storage.iter().map(|s| s.0).collect();
    let want: Vec<u32> = (1..=storage.len() as u32).collect();
    if numbers != want {
        errors.push(format!(
            "{path}: storage bindings {numbers:?}, expected contiguous from 1"
        ));
    }
    let got: Vec<Access> = storage.iter().map(|s| s.1).collect();
    if got != bindings {
        let names: Vec<String> = storage
            .iter()
            .map(|(i, a, n)| format!("{i} {n}: {a:?}"))
            .collect();
        errors.push(format!(
            "{path}: the kernel binds [{}], {} declares {bindings:?}",
            names.join(", "),
            c.name
        ));
    }
    errors
}

#[test]
fn every_kernel_params_struct_matches_its_wgsl() {
    let mut errors = Vec::new();
    for c in contracts() {
        for (path, bindings) in c.kernels {
            errors.extend(check(path, &kernels::source(path), &c, bindings));
        }
    }
    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}

#[test]
fn every_kernel_has_exactly_one_params_struct() {
    let all = contracts();
    let mut errors = Vec::new();
    for (path, _) in kernels::SHADERS {
        let has_entry = !parse(path, &kernels::source(path)).entry_points.is_empty();
        let claimed: Vec<&str> = all
            .iter()
            .filter(|c| c.kernels.iter().any(|k| k.0 == *path))
            .map(|c| c.name)
            .collect();
        match (has_entry, claimed.len()) {
            (true, 1) | (false, 0) => {}
            (true, 0) => errors.push(format!(
                "{path} has no params struct: declare one with kernel_params! and list it in tests/params_layout.rs"
            )),
            (true, _) => errors.push(format!("{path} is claimed by {claimed:?}")),
            (false, _) => errors.push(format!(
                "{path} is an include (no entry point) but {claimed:?} claim it"
            )),
        }
    }
    for c in &all {
        for (path, _) in c.kernels {
            if !kernels::SHADERS.iter().any(|(p, _)| p == path) {
                errors.push(format!("{} names {path}, which is not a shader", c.name));
            }
        }
    }
    assert!(errors.is_empty(), "\n{}", errors.join("\n"));
}

sgw::kernel_params! {
    /// UnaryParams with a field that unary.wgsl does not have.
    struct UnaryPlusOne {
        kernels: ["elementwise/unary.wgsl" => [Read, ReadWrite]],
        n: u32,
        a: f32,
        b: f32,
        c: f32,
    }
}

sgw::kernel_params! {
    /// UnaryParams with `a` as a u32 and the bindings swapped.
    struct UnaryMistyped {
        kernels: ["elementwise/unary.wgsl" => [ReadWrite, Read]],
        n: u32,
        a: u32,
        b: f32,
    }
}

#[test]
fn a_one_sided_field_fails_the_check() {
    use sgw::ops::unary::UnaryParams;
    let path = "elementwise/unary.wgsl";
    let src = kernels::source(path);
    let rw = [Access::Read, Access::ReadWrite];
    assert!(check(path, &src, &of::<UnaryParams>(), &rw).is_empty());

    // A field on the Rust side only.
    let e = check(path, &src, &of::<UnaryPlusOne>(), &rw).join("\n");
    assert!(
        e.contains("member 3: WGSL has nothing, Rust has c: f32 @12"),
        "{e}"
    );
    // A member on the WGSL side only.
    let more = src.replacen("    b: f32,\n", "    b: f32,\n    c: f32,\n", 1);
    assert_ne!(more, src);
    let e = check(path, &more, &of::<UnaryParams>(), &rw).join("\n");
    assert!(
        e.contains("member 3: WGSL has c: f32 @12, Rust has nothing"),
        "{e}"
    );
    // A type that differs, and bindings in another order.
    let c = of::<UnaryMistyped>();
    let e = check(path, &src, &c, c.kernels[0].1).join("\n");
    assert!(
        e.contains("member 1: WGSL has a: f32 @4, Rust has a: u32 @4"),
        "{e}"
    );
    assert!(e.contains("declares [ReadWrite, Read]"), "{e}");
}

#[test]
#[should_panic(expected = "does not take")]
fn dispatch_refuses_params_of_another_kernel() {
    use sgw::ops::unary::UnaryParams;
    let ctx = gpu::gpu();
    let buf = ctx.alloc(16);
    ctx.dispatch(
        &gpu::Kernel::new("elementwise/fill.wgsl"),
        &UnaryParams {
            n: 4,
            a: 0.0,
            b: 0.0,
        },
        &[&buf],
        [1, 1, 1],
    );
}

#[test]
#[should_panic(expected = "buffers bound")]
fn dispatch_refuses_a_wrong_number_of_buffers() {
    let ctx = gpu::gpu();
    let buf = ctx.alloc(16);
    ctx.dispatch(
        &gpu::Kernel::new("elementwise/fill.wgsl"),
        &gpu::FillParams { n: 4, bits: 0 },
        &[&buf, &buf],
        [1, 1, 1],
    );
}
