//! `--device auto|gpu|software|cpu`: where `train` and `generate` run.
//!
//! `auto` takes a hardware GPU when there is one. Without one it takes the CPU reference
//! backend rather than a software GPU: on a 2-core machine the quick run (`--max-res 16
//! --kimg 0.2`) takes 25 s on the CPU reference and 37 s through lavapipe, and the CPU path
//! needs no driver at all. An explicit `--adapter NAME` is obeyed, software or not.

use std::fmt;

use crate::gpu::context::{adapter_named, configure_kind, is_open};
use crate::gpu::{try_gpu, AdapterKind, GpuError};
use crate::tensor::Place;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// A hardware GPU if there is one, otherwise the CPU reference backend.
    #[default]
    Auto,
    /// A hardware GPU (an error when there is none).
    Gpu,
    /// A software GPU adapter such as lavapipe (the WGSL kernels on the CPU).
    Software,
    /// The CPU reference backend (no driver needed).
    Cpu,
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Gpu => "gpu",
            DeviceChoice::Software => "software",
            DeviceChoice::Cpu => "cpu",
        })
    }
}

/// Where a run goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub place: Place,
    /// No fast hardware: the small preset is the default.
    pub slow: bool,
    /// One line for the user: the adapter, or why the CPU was taken.
    pub note: String,
}

/// The line printed when `auto` falls back to the CPU.
pub const CPU_FALLBACK: &str =
    "no hardware GPU found: running on the CPU reference backend (slow; \
     install a Vulkan, Metal or DX12 GPU driver, or `apt-get install mesa-vulkan-drivers` for a \
     software Vulkan device and pass --device software)";

/// Open what `choice` asks for. An adapter the user named (`--adapter`, `SGW_ADAPTER`) is
/// taken by `auto` whatever its kind.
pub fn place(choice: DeviceChoice) -> Result<Placement, GpuError> {
    let adapter_named = adapter_named();
    let kind = match choice {
        DeviceChoice::Cpu => {
            return Ok(Placement {
                place: Place::Cpu32,
                slow: true,
                note: "device: the CPU reference backend (--device cpu)".into(),
            })
        }
        DeviceChoice::Auto | DeviceChoice::Gpu => AdapterKind::Hardware,
        DeviceChoice::Software => AdapterKind::Software,
    };
    let kind = if choice == DeviceChoice::Auto && adapter_named {
        AdapterKind::Any
    } else {
        kind
    };
    if !is_open() {
        configure_kind(kind);
    }
    let ctx = match try_gpu() {
        Ok(ctx) => ctx,
        Err(GpuError::NoAdapter { seen, .. }) if choice == DeviceChoice::Auto => {
            let note = if seen.is_empty() {
                CPU_FALLBACK.to_string()
            } else {
                format!(
                    "no hardware GPU found (present: {}): running on the CPU reference backend, which is faster than a software adapter on small machines; --device software runs the WGSL kernels there instead",
                    seen.join("; ")
                )
            };
            return Ok(Placement {
                place: Place::Cpu32,
                slow: true,
                note,
            });
        }
        Err(_) if choice == DeviceChoice::Auto => {
            return Ok(Placement {
                place: Place::Cpu32,
                slow: true,
                note: CPU_FALLBACK.into(),
            })
        }
        Err(e) => return Err(e),
    };
    let software = ctx.is_software();
    // The device is opened once per process: a test binary may already hold another kind.
    if choice == DeviceChoice::Auto && software && !adapter_named {
        return Ok(Placement {
            place: Place::Cpu32,
            slow: true,
            note: format!(
                "no hardware GPU found (only the software adapter {}): running on the CPU reference backend, which is faster than a software adapter on small machines; --device software runs the WGSL kernels there instead",
                ctx.info.name
            ),
        });
    }
    Ok(Placement {
        place: Place::Gpu,
        slow: software,
        note: format!(
            "adapter: {} ({:?}, {:?})",
            ctx.info.name, ctx.info.backend, ctx.info.device_type
        ),
    })
}
