//! Every WGSL file parses and validates with naga, and every file is registered with the
//! pipeline cache (so a shader nobody can load is caught too).

use std::path::Path;

fn wgsl_files(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            wgsl_files(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "wgsl") {
            out.push(
                p.strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
}

#[test]
fn every_shader_validates_with_naga() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = Vec::new();
    wgsl_files(&base, &base, &mut files);
    files.sort();
    assert!(files.len() >= 8, "found only {files:?}");
    let mut errors = Vec::new();
    for f in &files {
        // Validate the file as loaded (includes expanded); include files validate alone too.
        let src = sgw::gpu::kernels::source(f);
        match naga::front::wgsl::parse_str(&src) {
            Err(e) => errors.push(format!("{f}: {}", e.emit_to_string(&src))),
            Ok(module) => {
                let mut v = naga::valid::Validator::new(
                    naga::valid::ValidationFlags::all(),
                    naga::valid::Capabilities::all(),
                );
                if let Err(e) = v.validate(&module) {
                    errors.push(format!("{f}: {e:?}"));
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn every_shader_file_is_registered() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = Vec::new();
    wgsl_files(&base, &base, &mut files);
    let registered: Vec<&str> = sgw::gpu::kernels::SHADERS.iter().map(|(p, _)| *p).collect();
    for f in &files {
        assert!(
            registered.contains(&f.as_str()),
            "{f} is not in gpu::kernels::SHADERS"
        );
    }
    assert_eq!(
        files.len(),
        registered.len(),
        "SHADERS lists a file that does not exist"
    );
}

#[test]
fn naga_rejects_a_broken_shader() {
    // The validation above must be able to fail.
    let bad = "@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }";
    let parsed = naga::front::wgsl::parse_str(bad);
    let failed = match parsed {
        Err(_) => true,
        Ok(m) => naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&m)
        .is_err(),
    };
    assert!(failed);
}
