//! The WGSL kernels, embedded at build time, and the pipeline cache: each kernel is compiled
//! once per specialisation (its `override` constants) and reused for the life of the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Every file under `shaders/`, by path relative to it. A test checks this list against the
/// directory, and validates each file with naga.
pub const SHADERS: &[(&str, &str)] = &[
    (
        "common/philox.wgsl",
        include_str!("../../shaders/common/philox.wgsl"),
    ),
    (
        "common/reduce_sum.wgsl",
        include_str!("../../shaders/common/reduce_sum.wgsl"),
    ),
    (
        "elementwise/unary.wgsl",
        include_str!("../../shaders/elementwise/unary.wgsl"),
    ),
    (
        "elementwise/binary.wgsl",
        include_str!("../../shaders/elementwise/binary.wgsl"),
    ),
    (
        "elementwise/fill.wgsl",
        include_str!("../../shaders/elementwise/fill.wgsl"),
    ),
    (
        "reduce/sum_rows.wgsl",
        include_str!("../../shaders/reduce/sum_rows.wgsl"),
    ),
    (
        "matmul/matmul_params.wgsl",
        include_str!("../../shaders/matmul/matmul_params.wgsl"),
    ),
    (
        "matmul/matmul.wgsl",
        include_str!("../../shaders/matmul/matmul.wgsl"),
    ),
    (
        "matmul/matmul_wide.wgsl",
        include_str!("../../shaders/matmul/matmul_wide.wgsl"),
    ),
    (
        "layout/strided_copy.wgsl",
        include_str!("../../shaders/layout/strided_copy.wgsl"),
    ),
    (
        "layout/axis_copy.wgsl",
        include_str!("../../shaders/layout/axis_copy.wgsl"),
    ),
    (
        "random/philox_fill.wgsl",
        include_str!("../../shaders/random/philox_fill.wgsl"),
    ),
    (
        "conv/gemm_operands.wgsl",
        include_str!("../../shaders/conv/gemm_operands.wgsl"),
    ),
    (
        "conv/implicit_gemm.wgsl",
        include_str!("../../shaders/conv/implicit_gemm.wgsl"),
    ),
    (
        "conv/implicit_gemm_wide.wgsl",
        include_str!("../../shaders/conv/implicit_gemm_wide.wgsl"),
    ),
    (
        "conv/winograd_params.wgsl",
        include_str!("../../shaders/conv/winograd_params.wgsl"),
    ),
    (
        "conv/winograd_weight.wgsl",
        include_str!("../../shaders/conv/winograd_weight.wgsl"),
    ),
    (
        "conv/winograd_input.wgsl",
        include_str!("../../shaders/conv/winograd_input.wgsl"),
    ),
    (
        "conv/winograd_output.wgsl",
        include_str!("../../shaders/conv/winograd_output.wgsl"),
    ),
    (
        "conv/winograd_grad.wgsl",
        include_str!("../../shaders/conv/winograd_grad.wgsl"),
    ),
    (
        "conv/winograd_wgrad_out.wgsl",
        include_str!("../../shaders/conv/winograd_wgrad_out.wgsl"),
    ),
    (
        "resample/upsample.wgsl",
        include_str!("../../shaders/resample/upsample.wgsl"),
    ),
    (
        "resample/downsample.wgsl",
        include_str!("../../shaders/resample/downsample.wgsl"),
    ),
    (
        "resample/blur.wgsl",
        include_str!("../../shaders/resample/blur.wgsl"),
    ),
    (
        "upfirdn/upfirdn2d.wgsl",
        include_str!("../../shaders/upfirdn/upfirdn2d.wgsl"),
    ),
    (
        "augment/grid_sample.wgsl",
        include_str!("../../shaders/augment/grid_sample.wgsl"),
    ),
    (
        "augment/grid_sample_adjoint.wgsl",
        include_str!("../../shaders/augment/grid_sample_adjoint.wgsl"),
    ),
    (
        "adain/forward.wgsl",
        include_str!("../../shaders/adain/forward.wgsl"),
    ),
    (
        "adain/backward.wgsl",
        include_str!("../../shaders/adain/backward.wgsl"),
    ),
    (
        "noise/forward.wgsl",
        include_str!("../../shaders/noise/forward.wgsl"),
    ),
    (
        "norm/pixel_norm.wgsl",
        include_str!("../../shaders/norm/pixel_norm.wgsl"),
    ),
    (
        "norm/mbstd_stat.wgsl",
        include_str!("../../shaders/norm/mbstd_stat.wgsl"),
    ),
    (
        "optim/adam.wgsl",
        include_str!("../../shaders/optim/adam.wgsl"),
    ),
    (
        "optim/ema.wgsl",
        include_str!("../../shaders/optim/ema.wgsl"),
    ),
    (
        "bench/fma.wgsl",
        include_str!("../../shaders/bench/fma.wgsl"),
    ),
    (
        "bench/copy.wgsl",
        include_str!("../../shaders/bench/copy.wgsl"),
    ),
];

/// The source of a shader with its `//!include <path>` lines expanded.
pub fn source(path: &str) -> String {
    let raw = SHADERS
        .iter()
        .find(|(p, _)| *p == path)
        .unwrap_or_else(|| panic!("unknown shader {path}"))
        .1;
    let mut out = String::with_capacity(raw.len());
    for line in raw.lines() {
        match line.trim().strip_prefix("//!include ") {
            Some(inc) => out += &source(inc.trim()),
            None => out += line,
        }
        out.push('\n');
    }
    out
}

/// A kernel and its specialisation: the shader path and values for its `override` constants.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub path: &'static str,
    pub constants: Vec<(&'static str, f64)>,
}

impl Kernel {
    pub fn new(path: &'static str) -> Self {
        Kernel {
            path,
            constants: Vec::new(),
        }
    }
    pub fn with(mut self, name: &'static str, value: impl Into<f64>) -> Self {
        self.constants.push((name, value.into()));
        self
    }
    /// The path and its constants, e.g. `conv/implicit_gemm.wgsl MODE=2 ROWS=64`: the
    /// pipeline cache key and the name the kernel profile reports.
    pub fn label(&self) -> String {
        let mut k = self.path.to_string();
        for (n, v) in &self.constants {
            k += &format!(" {n}={v}");
        }
        k
    }
}

pub struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

#[derive(Default)]
pub struct PipelineCache {
    map: Mutex<HashMap<String, Arc<Pipeline>>>,
}

impl PipelineCache {
    pub fn get(&self, device: &wgpu::Device, kernel: &Kernel) -> Arc<Pipeline> {
        let key = kernel.label();
        if let Some(p) = self.map.lock().unwrap().get(&key) {
            return p.clone();
        }
        // Compile outside the lock; a rare duplicate compile is harmless.
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(kernel.path),
            source: wgpu::ShaderSource::Wgsl(source(kernel.path).into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(&key),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &kernel.constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let layout = pipeline.get_bind_group_layout(0);
        let p = Arc::new(Pipeline { pipeline, layout });
        self.map.lock().unwrap().insert(key, p.clone());
        p
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
