//! What a [`GpuContext`] records and runs: allocation, uploads, copies, dispatches into the
//! open batch (`gpu::batch`), submission, and readback at sync points.

use std::sync::atomic::Ordering;

use super::GpuContext;
use crate::gpu::batch::{groups_1d, Binding};
use crate::gpu::kernels::Kernel;
use crate::gpu::params::KernelParams;
use crate::gpu::pool::{GpuBuffer, MemoryStats};

crate::kernel_params! {
    /// `shaders/elementwise/fill.wgsl`: the first `n` words of the buffer become `bits`.
    pub struct FillParams {
        kernels: ["elementwise/fill.wgsl" => [ReadWrite]],
        pub n: u32,
        pub bits: u32,
    }
}

impl GpuContext {
    /// A buffer for `bytes` bytes; NaN-filled when poisoning is on (tests).
    pub fn alloc(&self, bytes: u64) -> GpuBuffer {
        let buf = self.pool.acquire(bytes);
        if crate::gpu::poison_enabled() {
            self.fill_u32(&buf, f32::NAN.to_bits());
        }
        buf
    }

    /// Fill the first `bytes/4` words of a buffer with one 32-bit pattern.
    pub fn fill_u32(&self, buf: &GpuBuffer, bits: u32) {
        let n = buf.bytes / 4;
        self.dispatch(
            &Kernel::new("elementwise/fill.wgsl"),
            &FillParams { n: n as u32, bits },
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

    /// Record one dispatch: `params` (the kernel's own [`KernelParams`] struct) go to binding
    /// 0 (uniform), `buffers` to bindings 1... Panics when the kernel does not take `P` or is
    /// given another number of buffers than it declares: a clear message before wgpu's
    /// validation error.
    pub fn dispatch<P: KernelParams>(
        &self,
        kernel: &Kernel,
        params: &P,
        buffers: &[Binding],
        groups: [u32; 3],
    ) {
        let bindings = P::bindings(kernel.path).unwrap_or_else(|| {
            panic!(
                "{} does not take {} (it is for {:?})",
                kernel.path,
                std::any::type_name::<P>(),
                P::KERNELS.iter().map(|k| k.0).collect::<Vec<_>>()
            )
        });
        assert_eq!(
            buffers.len(),
            bindings.len(),
            "{}: {} buffers bound, the kernel declares {:?}",
            kernel.path,
            buffers.len(),
            bindings
        );
        let pipe = self.pipelines.get(&self.device, kernel);
        let mut b = self.batch.lock().unwrap();
        let bytes: &[u8] = bytemuck::bytes_of(params);
        b.record(
            &self.device,
            &self.queue,
            kernel,
            &pipe,
            bytes,
            buffers,
            groups,
        );
    }

    /// Run a closure on the batch's command encoder (the open pass is ended first).
    pub(crate) fn with_encoder<R>(&self, f: impl FnOnce(&mut wgpu::CommandEncoder) -> R) -> R {
        let mut b = self.batch.lock().unwrap();
        f(b.encoder(&self.device))
    }

    /// Submit everything recorded so far (does not wait).
    pub fn flush(&self) {
        let mut b = self.batch.lock().unwrap();
        b.submit(&self.queue);
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
            b.submit(&self.queue);
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

    /// The pool's byte counts: live, pooled, their peaks, buffers created.
    pub fn memory(&self) -> MemoryStats {
        self.pool.memory()
    }

    /// Restart the pool's peaks from the current figures (one step's peak: reset, step,
    /// `memory().peak_bytes`).
    pub fn reset_peak(&self) {
        self.pool.reset_peak()
    }

    /// The pool's idle buffers per size class (class bytes, count), smallest first.
    pub fn idle_classes(&self) -> Vec<(u64, usize)> {
        self.pool.idle_classes()
    }

    /// Free the pool's idle buffers (device memory back to the driver).
    pub fn trim_pool(&self) {
        self.pool.trim()
    }

    /// Number of compiled pipelines.
    pub fn pipeline_count(&self) -> usize {
        self.pipelines.len()
    }
}
