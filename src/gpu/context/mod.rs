//! Opening the GPU: one process-wide device, chosen once. The context owns the device, the
//! pipeline cache, the buffer pool and the open batch; what it records is in `commands`, its
//! kernel profile in `profiling`.

mod commands;
mod profiling;

pub use commands::FillParams;

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use crate::gpu::batch::Batch;
use crate::gpu::kernels::PipelineCache;
use crate::gpu::pool::BufferPool;

/// Why no GPU could be opened. Always printable as advice for a person.
#[derive(Debug, Clone)]
pub enum GpuError {
    NoAdapter {
        wanted: Option<String>,
        kind: AdapterKind,
        seen: Vec<String>,
    },
    RequestDevice(String),
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuError::NoAdapter { wanted, kind, seen } => {
                let what = match kind {
                    AdapterKind::Any => "GPU adapter",
                    AdapterKind::Hardware => "hardware GPU adapter",
                    AdapterKind::Software => "software GPU adapter",
                };
                match wanted {
                    Some(w) => writeln!(f, "no {what} matches '{w}'.")?,
                    None => writeln!(f, "no {what} found.")?,
                }
                if !seen.is_empty() {
                    writeln!(f, "adapters present: {}", seen.join("; "))?;
                }
                write!(
                    f,
                    "Install a GPU driver with Vulkan, Metal or DX12 support. On headless Linux a \
                     software Vulkan device works: `apt-get install mesa-vulkan-drivers` (Debian/Ubuntu). \
                     WGPU_BACKEND=vulkan|metal|dx12|gl restricts the backends tried."
                )
            }
            GpuError::RequestDevice(e) => {
                write!(f, "the GPU adapter refused to open a device: {e}")
            }
        }
    }
}

impl std::error::Error for GpuError {}

/// Which kind of adapter may be opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AdapterKind {
    /// The best one: hardware first, then software.
    #[default]
    Any,
    /// A real GPU only.
    Hardware,
    /// A software rasteriser only (lavapipe, SwiftShader, WARP).
    Software,
}

/// Which adapter to open: a substring of its name (case-insensitive), or the best one of a
/// kind.
#[derive(Debug, Clone, Default)]
pub struct AdapterChoice {
    pub name_contains: Option<String>,
    pub kind: AdapterKind,
}

static CHOICE: Mutex<Option<AdapterChoice>> = Mutex::new(None);
static GPU: OnceLock<Result<Arc<GpuContext>, GpuError>> = OnceLock::new();
/// Which of the equally good adapters to open (a data-parallel rank's node-local rank).
static INDEX: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Open the `i`-th (modulo their count) of the best adapters that match the choice, so the
/// ranks of a data-parallel run on one host spread over its GPUs. No effect once open.
pub fn configure_index(i: usize) {
    INDEX.store(i, std::sync::atomic::Ordering::SeqCst);
}

/// Set the adapter name filter before the first use of the GPU (the CLI's `--adapter`).
/// Also read from the `SGW_ADAPTER` environment variable when not set here. No effect once
/// the device is open.
pub fn configure(choice: AdapterChoice) {
    *CHOICE.lock().unwrap_or_else(|e| e.into_inner()) = Some(choice);
}

/// Restrict the kind of adapter the first use of the GPU opens (keeps the name filter).
pub fn configure_kind(kind: AdapterKind) {
    let mut c = CHOICE.lock().unwrap_or_else(|e| e.into_inner());
    c.get_or_insert_with(default_choice).kind = kind;
}

fn default_choice() -> AdapterChoice {
    AdapterChoice {
        name_contains: std::env::var("SGW_ADAPTER").ok().filter(|s| !s.is_empty()),
        kind: AdapterKind::Any,
    }
}

/// True when the user named an adapter (`--adapter` or `SGW_ADAPTER`).
pub fn adapter_named() -> bool {
    CHOICE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(default_choice)
        .name_contains
        .is_some()
}

/// True once the process-wide device has been opened (or failed to open).
pub fn is_open() -> bool {
    GPU.get().is_some()
}

/// The process-wide GPU context, opened on first use.
pub fn try_gpu() -> Result<&'static Arc<GpuContext>, GpuError> {
    GPU.get_or_init(|| {
        let choice = CHOICE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(default_choice)
            .clone();
        GpuContext::open(&choice).map(Arc::new)
    })
    .as_ref()
    .map_err(|e| e.clone())
}

/// The GPU context for code that already knows a GPU tensor exists (so a device was opened).
pub fn gpu() -> &'static Arc<GpuContext> {
    match try_gpu() {
        Ok(g) => g,
        Err(e) => panic!("GPU requested but unavailable: {e}"),
    }
}

pub struct GpuContext {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    pub(crate) pipelines: PipelineCache,
    pub(crate) pool: Arc<BufferPool>,
    pub(crate) batch: Mutex<Batch>,
}

fn type_rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Features that help compute; requested only where the adapter has them.
pub const WANTED_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS)
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::SHADER_F16);

impl GpuContext {
    fn open(choice: &AdapterChoice) -> Result<GpuContext, GpuError> {
        let desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        let instance = wgpu::Instance::new(desc);
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
        let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
        let seen: Vec<String> = adapters
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
            })
            .collect();
        if let Some(want) = &choice.name_contains {
            let w = want.to_lowercase();
            adapters.retain(|a| a.get_info().name.to_lowercase().contains(&w));
        }
        let software = |a: &wgpu::Adapter| a.get_info().device_type == wgpu::DeviceType::Cpu;
        match choice.kind {
            AdapterKind::Any => {}
            AdapterKind::Hardware => adapters.retain(|a| !software(a)),
            AdapterKind::Software => adapters.retain(software),
        }
        // Prefer real GPUs, then Vulkan/Metal/DX12 over GL.
        adapters.sort_by_key(|a| {
            let i = a.get_info();
            (type_rank(i.device_type), i.backend == wgpu::Backend::Gl)
        });
        // Among the adapters as good as the best, the configured index (modulo their count).
        let tier = |a: &wgpu::Adapter| {
            let i = a.get_info();
            (type_rank(i.device_type), i.backend == wgpu::Backend::Gl)
        };
        if let Some(best) = adapters.first().map(tier) {
            adapters.retain(|a| tier(a) == best);
        }
        let n = adapters.len().max(1);
        let pick = INDEX.load(std::sync::atomic::Ordering::SeqCst) % n;
        let Some(adapter) = adapters.into_iter().nth(pick) else {
            return Err(GpuError::NoAdapter {
                wanted: choice.name_contains.clone(),
                kind: choice.kind,
                seen,
            });
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        let features = adapter.features() & WANTED_FEATURES;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("sgw"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| GpuError::RequestDevice(e.to_string()))?;
        let align = limits.min_uniform_buffer_offset_alignment as u64;
        let batch = Batch::new(&device, align);
        Ok(GpuContext {
            pool: Arc::new(BufferPool::new(device.clone())),
            pipelines: PipelineCache::default(),
            batch: Mutex::new(batch),
            adapter,
            device,
            queue,
            info,
            limits,
            features,
        })
    }

    pub fn has_timestamps(&self) -> bool {
        self.features.contains(
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
        )
    }

    /// True for software rasterisers such as lavapipe/llvmpipe/SwiftShader.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// A multi-line human description, printed by `info`.
    pub fn describe(&self) -> String {
        let i = &self.info;
        let l = &self.limits;
        let mut s = String::new();
        s += &format!("adapter      : {}\n", i.name);
        s += &format!("backend      : {:?}\n", i.backend);
        s += &format!(
            "device type  : {:?}{}\n",
            i.device_type,
            if self.is_software() {
                " (software)"
            } else {
                ""
            }
        );
        s += &format!("driver       : {} {}\n", i.driver, i.driver_info);
        s += &format!("vendor/device: {:#06x}/{:#06x}\n", i.vendor, i.device);
        s += "limits (compute):\n";
        s += &format!(
            "  max_storage_buffer_binding_size     : {} MiB\n",
            l.max_storage_buffer_binding_size / (1 << 20)
        );
        s += &format!(
            "  max_buffer_size                     : {} MiB\n",
            l.max_buffer_size / (1 << 20)
        );
        s += &format!(
            "  max_storage_buffers_per_shader_stage: {}\n",
            l.max_storage_buffers_per_shader_stage
        );
        s += &format!(
            "  max_compute_workgroup_storage_size  : {} B\n",
            l.max_compute_workgroup_storage_size
        );
        s += &format!(
            "  max_compute_invocations_per_workgroup: {}\n",
            l.max_compute_invocations_per_workgroup
        );
        s += &format!(
            "  max_compute_workgroup_size          : {} x {} x {}\n",
            l.max_compute_workgroup_size_x,
            l.max_compute_workgroup_size_y,
            l.max_compute_workgroup_size_z
        );
        s += &format!(
            "  max_compute_workgroups_per_dimension: {}\n",
            l.max_compute_workgroups_per_dimension
        );
        s += &format!(
            "  min_uniform_buffer_offset_alignment : {}\n",
            l.min_uniform_buffer_offset_alignment
        );
        s += "features:\n";
        for (name, f) in [
            ("timestamp queries", wgpu::Features::TIMESTAMP_QUERY),
            (
                "timestamps inside encoders",
                wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
            ),
            ("subgroups", wgpu::Features::SUBGROUP),
            ("shader f16", wgpu::Features::SHADER_F16),
        ] {
            s += &format!(
                "  {:<27}: {}\n",
                name,
                if self.features.contains(f) {
                    "yes"
                } else {
                    "no"
                }
            );
        }
        s += &format!(
            "  {:<27}: {}\n",
            "cooperative matrices",
            self.coop_matrices()
        );
        s += &format!("buffer pool  : {}\n", self.memory().describe());
        s
    }

    /// The adapter's cooperative-matrix shapes and types ("16x16x16 f16*f16+f32", ...), or
    /// why there are none. Reported only: no kernel uses them yet.
    pub fn coop_matrices(&self) -> String {
        if !self
            .adapter
            .features()
            .contains(wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX)
        {
            return "no".into();
        }
        let ty = |t: wgpu::CooperativeScalarType| format!("{t:?}").to_lowercase();
        let list: Vec<String> = self
            .adapter
            .cooperative_matrix_properties()
            .iter()
            .map(|p| {
                format!(
                    "{}x{}x{} {}*{}+{}{}",
                    p.m_size,
                    p.n_size,
                    p.k_size,
                    ty(p.ab_type),
                    ty(p.ab_type),
                    ty(p.cr_type),
                    if p.saturating_accumulation {
                        " (sat)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        if list.is_empty() {
            "feature present, no configurations listed".into()
        } else {
            format!("yes: {}", list.join(", "))
        }
    }
}
