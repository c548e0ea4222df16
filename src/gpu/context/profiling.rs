//! Turning a [`GpuContext`]'s per-dispatch timestamps (`gpu::profile`) on and off and reading
//! them back as per-kernel times.

use super::GpuContext;
use crate::gpu::profile::{merge, KernelTime, Profiler};

impl GpuContext {
    /// Whether per-kernel profiling can run here (timestamp queries on compute passes).
    pub fn can_profile(&self) -> bool {
        self.features.contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// Start timing every dispatch; false (and nothing changes) where the adapter has no
    /// timestamp queries.
    pub fn profile_start(&self) -> bool {
        if !self.can_profile() {
            return false;
        }
        let mut b = self.batch.lock().unwrap();
        b.profiler.get_or_insert_with(Profiler::default);
        true
    }

    /// The per-kernel GPU time of everything dispatched since the profile started or was last
    /// taken, slowest first (a sync point). `stop` ends profiling.
    pub fn profile_take(&self, stop: bool) -> Vec<KernelTime> {
        let (prof, tmps) = {
            let mut b = self.batch.lock().unwrap();
            let prof = if stop {
                b.profiler.take()
            } else {
                b.profiler.as_mut().map(std::mem::take)
            };
            let Some(prof) = prof else {
                return Vec::new();
            };
            let enc = b.encoder(&self.device);
            let tmps = prof.resolve(&self.device, &self.pool, enc);
            (prof, tmps)
        };
        let period = self.queue.get_timestamp_period() as f64;
        let mut ticks = Vec::new();
        for (tmp, bytes) in &tmps {
            ticks.extend(
                self.read(tmp, *bytes)
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))),
            );
        }
        let times = prof.times(&ticks, period);
        let mut out = Vec::new();
        merge(&mut out, times);
        out
    }
}
