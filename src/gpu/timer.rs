//! GPU timestamps around a region of recorded work.

use super::context::GpuContext;

/// Up to `capacity` timestamps; `mark` records one in batch order, `read_ns` syncs and
/// returns the intervals between consecutive marks in nanoseconds.
pub struct GpuTimer {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    capacity: u32,
    used: u32,
}

impl GpuTimer {
    /// None when the adapter has no timestamp queries inside encoders.
    pub fn new(ctx: &GpuContext, capacity: u32) -> Option<Self> {
        if !ctx.has_timestamps() {
            return None;
        }
        let set = ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("timer"),
            ty: wgpu::QueryType::Timestamp,
            count: capacity,
        });
        let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timer resolve"),
            size: capacity as u64 * 8,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        Some(GpuTimer {
            set,
            resolve,
            capacity,
            used: 0,
        })
    }

    pub fn mark(&mut self, ctx: &GpuContext) {
        assert!(self.used < self.capacity, "GpuTimer capacity exceeded");
        let i = self.used;
        ctx.with_encoder(|enc| enc.write_timestamp(&self.set, i));
        self.used += 1;
    }

    /// Intervals between consecutive marks, in nanoseconds; resets the timer.
    pub fn read_ns(&mut self, ctx: &GpuContext) -> Vec<f64> {
        let n = self.used;
        self.used = 0;
        if n < 2 {
            return Vec::new();
        }
        let tmp = ctx.alloc(n as u64 * 8);
        ctx.with_encoder(|enc| {
            enc.resolve_query_set(&self.set, 0..n, &self.resolve, 0);
            enc.copy_buffer_to_buffer(&self.resolve, 0, tmp.raw(), 0, n as u64 * 8);
        });
        let bytes = ctx.read(&tmp, n as u64 * 8);
        let ticks: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        let period = ctx.queue.get_timestamp_period() as f64;
        ticks
            .windows(2)
            .map(|w| w[1].wrapping_sub(w[0]) as f64 * period)
            .collect()
    }
}
