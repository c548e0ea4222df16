//! Which tile configuration a conv or matmul row ran (`ops::tune`): the fixed rule's, the
//! autotuner's cached winner, or a forced one. Read back from the row's name and shape
//! string, whose format `kernels` fixes (the PyTorch script matches it too).

use super::kernels::{conv_dims, ConvPass, KernelBench};
use crate::gpu::autotune;
use crate::ops::{matmul, tune};

/// Whether the autotuner ran in this bench, and where its winners are kept.
pub fn status_note() -> String {
    if !autotune::enabled() {
        return "autotune: off (fixed tile rules; --no-autotune or SGW_AUTOTUNE=off)".into();
    }
    let file = match (autotune::file_in_use(), autotune::cache_dir()) {
        (Some(f), _) => f.display().to_string(),
        (None, Some(d)) => format!("{}/autotune-*.json", d.display()),
        (None, None) => "memory only (no home folder)".into(),
    };
    format!(
        "autotune: on, {} ms per shape class, winners in {file}",
        autotune::budget().as_millis()
    )
}

/// `key=value` fields of a shape string such as `N=2 C=17 K=16 H=16 W=16 k=3`.
fn field(shape: &str, key: &str) -> Option<usize> {
    shape
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

/// The configuration of row `b`, None for ops without tile choices.
pub fn describe(b: &KernelBench) -> Option<String> {
    let s = b.shape.as_str();
    if b.name == "matmul" {
        let (m, n, k) = (field(s, "M")?, field(s, "N")?, field(s, "K")?);
        let key = matmul::matmul_key(1, m, n, k, [true, true]);
        return Some(matmul::describe_matmul(
            &key,
            matmul::MatmulShape {
                batches: 1,
                m,
                n,
                k,
            },
        ));
    }
    let mode = ConvPass::ALL.iter().position(|p| p.name() == b.name)? as u32;
    let f = |k| field(s, k);
    let d = conv_dims((f("N")?, f("C")?, f("K")?, f("H")?, f("W")?, f("k")?));
    Some(tune::describe_conv(mode, &d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::kernels::{conv, matmul};

    #[test]
    fn rows_with_tiles_name_them_and_others_do_not() {
        let d = conv_dims((2, 17, 16, 16, 16, 3));
        assert_eq!(
            describe(&conv(ConvPass::BackwardWeight, d)).as_deref(),
            Some("narrow16/g512 (2 splits, rule)")
        );
        assert_eq!(
            describe(&matmul(64, 64, 64)).as_deref(),
            Some("rows64 (rule)")
        );
        let pn = crate::bench::kernels::pixel_norm(8, 64);
        assert_eq!(describe(&pn), None);
    }
}
