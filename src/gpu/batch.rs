//! Batched execution: dispatches are recorded into one open compute pass and submitted
//! together. Per-dispatch parameters live in a uniform arena (one 256-byte slot each) that is
//! written once per submit. The host waits on the GPU only in `read` (a sync point).

use std::sync::atomic::{AtomicU64, Ordering};

use super::kernels::{Kernel, Pipeline};
use super::pool::GpuBuffer;
use super::profile::Profiler;

/// Bytes of parameters one dispatch may pass.
pub const PARAM_BYTES: u64 = 256;
const ARENA_SLOTS: u64 = 2048;
/// Threads per workgroup of the 1-D kernels (elementwise, copies).
pub const WG_1D: u32 = 256;

pub type Binding<'a> = &'a GpuBuffer;

pub struct Batch {
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    arena: wgpu::Buffer,
    arena_data: Vec<u8>,
    slot: u64,
    stride: u64,
    pub(crate) dispatches: AtomicU64,
    pub(crate) submits: AtomicU64,
    /// Per-dispatch timestamps while a kernel profile is on (`gpu::profile`).
    pub(crate) profiler: Option<Profiler>,
}

impl Batch {
    pub fn new(device: &wgpu::Device, align: u64) -> Self {
        let stride = PARAM_BYTES.max(align);
        Batch {
            encoder: None,
            pass: None,
            arena: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("param arena"),
                size: stride * ARENA_SLOTS,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            arena_data: vec![0; (stride * ARENA_SLOTS) as usize],
            slot: 0,
            stride,
            dispatches: AtomicU64::new(0),
            submits: AtomicU64::new(0),
            profiler: None,
        }
    }

    pub(crate) fn encoder(&mut self, device: &wgpu::Device) -> &mut wgpu::CommandEncoder {
        self.pass = None;
        self.encoder
            .get_or_insert_with(|| device.create_command_encoder(&Default::default()))
    }

    fn pass(&mut self, device: &wgpu::Device) -> &mut wgpu::ComputePass<'static> {
        if self.pass.is_none() {
            let enc = self.encoder(device);
            let pass = enc
                .begin_compute_pass(&Default::default())
                .forget_lifetime();
            self.pass = Some(pass);
        }
        self.pass.as_mut().unwrap()
    }

    /// Record one dispatch of `pipe`: `params` go to binding 0 (a slot of the uniform arena),
    /// `buffers` to bindings 1... Submits first when the arena is full.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        kernel: &Kernel,
        pipe: &Pipeline,
        bytes: &[u8],
        buffers: &[Binding],
        groups: [u32; 3],
    ) {
        if self.slot == ARENA_SLOTS {
            self.submit(queue);
        }
        let b = self;
        let off = b.slot * b.stride;
        assert!(
            bytes.len() as u64 <= PARAM_BYTES,
            "{}: params too large",
            kernel.path
        );
        b.arena_data[off as usize..off as usize + bytes.len()].copy_from_slice(bytes);
        b.slot += 1;
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &b.arena,
                offset: off,
                size: wgpu::BufferSize::new(PARAM_BYTES),
            }),
        }];
        for (i, buf) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: buf.binding(),
            });
        }
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipe.layout,
            entries: &entries,
        });
        // Profiling: a pass of its own, timestamped at its beginning and end.
        let slot = b.profiler.as_mut().map(|p| p.slot(device, kernel));
        let mut own_pass;
        let pass = match &slot {
            Some((set, i)) => {
                let desc = wgpu::ComputePassDescriptor {
                    label: None,
                    timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                        query_set: set,
                        beginning_of_pass_write_index: Some(*i),
                        end_of_pass_write_index: Some(i + 1),
                    }),
                };
                let enc = b.encoder(device);
                own_pass = enc.begin_compute_pass(&desc).forget_lifetime();
                &mut own_pass
            }
            None => b.pass(device),
        };
        pass.set_pipeline(&pipe.pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        b.dispatches.fetch_add(1, Ordering::Relaxed);
    }

    /// Submit what was recorded (the parameters first); does not wait.
    pub(crate) fn submit(&mut self, queue: &wgpu::Queue) {
        let b = self;
        b.pass = None;
        if let Some(enc) = b.encoder.take() {
            if b.slot > 0 {
                let n = (b.slot * b.stride) as usize;
                queue.write_buffer(&b.arena, 0, &b.arena_data[..n]);
            }
            queue.submit([enc.finish()]);
            b.submits.fetch_add(1, Ordering::Relaxed);
        }
        b.slot = 0;
    }
}

/// Workgroup counts covering `threads` invocations of a 1-D kernel with `WG_1D` threads per
/// group, folded into y when x would exceed the per-dimension limit. Kernels recover the
/// linear index as `gid.x + gid.y * nwg.x * WG`.
pub fn groups_1d(threads: u64) -> [u32; 3] {
    let groups = threads.div_ceil(WG_1D as u64).max(1);
    if groups <= 65535 {
        [groups as u32, 1, 1]
    } else {
        let y = groups.div_ceil(65535);
        [groups.div_ceil(y) as u32, y as u32, 1]
    }
}
