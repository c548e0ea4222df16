//! Batched execution: dispatches are recorded into one open compute pass and submitted
//! together. Per-dispatch parameters live in a uniform arena (one 256-byte slot each) that is
//! written once per submit. The host waits on the GPU only in `read` (a sync point).

use std::sync::atomic::{AtomicU64, Ordering};

use super::context::GpuContext;
use super::kernels::Kernel;
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

impl GpuContext {
    /// A buffer for `bytes` bytes; NaN-filled when poisoning is on (tests).
    pub fn alloc(&self, bytes: u64) -> GpuBuffer {
        let buf = self.pool.acquire(bytes);
        if super::poison_enabled() {
            self.fill_u32(&buf, f32::NAN.to_bits());
        }
        buf
    }

    /// Fill the first `bytes/4` words of a buffer with one 32-bit pattern.
    pub fn fill_u32(&self, buf: &GpuBuffer, bits: u32) {
        let n = buf.bytes / 4;
        self.dispatch(
            &Kernel::new("elementwise/fill.wgsl"),
            &[n as u32, bits],
            &[buf],
            groups_1d(n),
        );
    }

    /// A new buffer holding `data`; the copy is recorded in the batch, in order.
    pub fn upload(&self, data: &[u8]) -> GpuBuffer {
        let buf = self.pool.acquire(data.len() as u64);
        self.write(&buf, data);
        buf
    }

    /// Overwrite the start of `buf` with `data`, in batch order.
    pub fn write(&self, buf: &GpuBuffer, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let padded = (data.len() as u64).div_ceil(4) * 4;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("upload"),
            size: padded,
            usage: wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: true,
        });
        {
            let mut view = staging.get_mapped_range_mut(..).expect("fresh mapping");
            if data.len() as u64 == padded {
                view.copy_from_slice(data);
            } else {
                let mut tail = data.to_vec();
                tail.resize(padded as usize, 0);
                view.copy_from_slice(&tail);
            }
        }
        staging.unmap();
        let mut b = self.batch.lock().unwrap();
        let enc = b.encoder(&self.device);
        enc.copy_buffer_to_buffer(&staging, 0, buf.raw(), buf.offset(), padded);
    }

    /// Copy `bytes` bytes from `src` to `dst` (offsets in bytes, multiples of 4), in batch order.
    pub fn copy(&self, src: &GpuBuffer, src_off: u64, dst: &GpuBuffer, dst_off: u64, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let mut b = self.batch.lock().unwrap();
        let enc = b.encoder(&self.device);
        enc.copy_buffer_to_buffer(
            src.raw(),
            src.offset() + src_off,
            dst.raw(),
            dst.offset() + dst_off,
            bytes,
        );
    }

    /// Record one dispatch: `params` go to binding 0 (uniform), `buffers` to bindings 1...
    pub fn dispatch(&self, kernel: &Kernel, params: &[u32], buffers: &[Binding], groups: [u32; 3]) {
        let pipe = self.pipelines.get(&self.device, kernel);
        let mut b = self.batch.lock().unwrap();
        if b.slot == ARENA_SLOTS {
            self.flush_locked(&mut b);
        }
        let off = b.slot * b.stride;
        let bytes: &[u8] = bytemuck::cast_slice(params);
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
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipe.layout,
            entries: &entries,
        });
        // Profiling: a pass of its own, timestamped at its beginning and end.
        let slot = b.profiler.as_mut().map(|p| p.slot(&self.device, kernel));
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
                let enc = b.encoder(&self.device);
                own_pass = enc.begin_compute_pass(&desc).forget_lifetime();
                &mut own_pass
            }
            None => b.pass(&self.device),
        };
        pass.set_pipeline(&pipe.pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        b.dispatches.fetch_add(1, Ordering::Relaxed);
    }

    /// Run a closure on the batch's command encoder (the open pass is ended first).
    pub(crate) fn with_encoder<R>(&self, f: impl FnOnce(&mut wgpu::CommandEncoder) -> R) -> R {
        let mut b = self.batch.lock().unwrap();
        f(b.encoder(&self.device))
    }

    fn flush_locked(&self, b: &mut Batch) {
        b.pass = None;
        if let Some(enc) = b.encoder.take() {
            if b.slot > 0 {
                let n = (b.slot * b.stride) as usize;
                self.queue.write_buffer(&b.arena, 0, &b.arena_data[..n]);
            }
            self.queue.submit([enc.finish()]);
            b.submits.fetch_add(1, Ordering::Relaxed);
        }
        b.slot = 0;
    }

    /// Submit everything recorded so far (does not wait).
    pub fn flush(&self) {
        let mut b = self.batch.lock().unwrap();
        self.flush_locked(&mut b);
    }

    /// Submit and wait until the GPU is idle.
    pub fn sync(&self) {
        self.flush();
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }

    /// Read the first `bytes` bytes of `buf` back to the host: a sync point.
    pub fn read(&self, buf: &GpuBuffer, bytes: u64) -> Vec<u8> {
        if bytes == 0 {
            return Vec::new();
        }
        let padded = bytes.div_ceil(4) * 4;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: padded,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        {
            let mut b = self.batch.lock().unwrap();
            let enc = b.encoder(&self.device);
            enc.copy_buffer_to_buffer(buf.raw(), buf.offset(), &staging, 0, padded);
            self.flush_locked(&mut b);
        }
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        rx.recv()
            .expect("map callback ran")
            .expect("readback mapping failed");
        let out = staging.get_mapped_range(..).expect("mapped")[..bytes as usize].to_vec();
        staging.unmap();
        out
    }

    /// (dispatches recorded, submits made) since start.
    pub fn counters(&self) -> (u64, u64) {
        let b = self.batch.lock().unwrap();
        (
            b.dispatches.load(Ordering::Relaxed),
            b.submits.load(Ordering::Relaxed),
        )
    }

    /// (buffers created, buffer acquisitions served from the pool).
    pub fn pool_stats(&self) -> (u64, u64) {
        self.pool.stats()
    }

    /// Number of compiled pipelines.
    pub fn pipeline_count(&self) -> usize {
        self.pipelines.len()
    }
}
