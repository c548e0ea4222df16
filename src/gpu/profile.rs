//! Per-kernel GPU time. While a profile is on, each dispatch is recorded in a compute pass of
//! its own whose beginning and end write GPU timestamps; the work stays batched (no host
//! wait per dispatch), only the pass boundaries are added. `GpuContext::profile_take` (`gpu::context::profiling`)
//! resolves what was recorded and sums the intervals per kernel.
//!
//! Used by `bench` (the share of a training step spent in each kernel family) and by
//! `SGW_PROFILE=1 train ...` (a per-kernel table at the end of the run).

use std::collections::BTreeMap;

use std::sync::Arc;

use super::kernels::Kernel;
use super::pool::{BufferPool, GpuBuffer};

/// Timestamps per query set (wgpu's `QUERY_SET_MAX_QUERIES`): two per dispatch.
const SET_QUERIES: u32 = 4096;

/// GPU time of one kernel (a shader with its constants) over the profiled interval.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTime {
    /// `path` plus its override constants, e.g. `conv/implicit_gemm.wgsl MODE=2 ROWS=64`.
    pub kernel: String,
    /// The shader's folder: `conv`, `adain`, `optim`, ...
    pub family: String,
    pub dispatches: u64,
    pub ms: f64,
}

/// Timestamps recorded so far: filled query sets and the open one, with each dispatch's
/// kernel label.
#[derive(Default)]
pub(crate) struct Profiler {
    sets: Vec<wgpu::QuerySet>,
    labels: Vec<String>,
}

impl Profiler {
    /// The query set and the first of the two indices for the next dispatch of `kernel`.
    pub(crate) fn slot(&mut self, device: &wgpu::Device, kernel: &Kernel) -> (wgpu::QuerySet, u32) {
        let per_set = (SET_QUERIES / 2) as usize;
        let i = self.labels.len();
        if i / per_set == self.sets.len() {
            self.sets
                .push(device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("kernel profile"),
                    ty: wgpu::QueryType::Timestamp,
                    count: SET_QUERIES,
                }));
        }
        self.labels.push(kernel.label());
        (self.sets[i / per_set].clone(), 2 * (i % per_set) as u32)
    }

    /// Copy every recorded timestamp into pooled buffers (recorded on `enc`); each with its
    /// size in bytes, to be read back.
    pub(crate) fn resolve(
        &self,
        device: &wgpu::Device,
        pool: &Arc<BufferPool>,
        enc: &mut wgpu::CommandEncoder,
    ) -> Vec<(GpuBuffer, u64)> {
        let per_set = (SET_QUERIES / 2) as usize;
        let mut tmps = Vec::new();
        for (s, set) in self.sets.iter().enumerate() {
            let used = 2 * (self.labels.len() - s * per_set).min(per_set) as u32;
            let bytes = used as u64 * 8;
            let resolve = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("kernel profile resolve"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let tmp = pool.acquire(bytes);
            enc.resolve_query_set(set, 0..used, &resolve, 0);
            enc.copy_buffer_to_buffer(&resolve, 0, tmp.raw(), tmp.offset(), bytes);
            tmps.push((tmp, bytes));
        }
        tmps
    }

    /// Per-kernel times from the ticks read back (`period`: nanoseconds per tick).
    pub(crate) fn times(self, ticks: &[u64], period: f64) -> Vec<KernelTime> {
        let mut sums: BTreeMap<String, (u64, f64)> = BTreeMap::new();
        for (i, kernel) in self.labels.into_iter().enumerate() {
            let ns = ticks[2 * i + 1].wrapping_sub(ticks[2 * i]) as f64 * period;
            let e = sums.entry(kernel).or_default();
            e.0 += 1;
            e.1 += ns * 1e-6;
        }
        let times = sums
            .into_iter()
            .map(|(kernel, (dispatches, ms))| KernelTime {
                family: family(&kernel).to_string(),
                kernel,
                dispatches,
                ms,
            })
            .collect();
        times
    }
}

/// The folder of a kernel label: its family.
pub fn family(kernel: &str) -> &str {
    kernel.split('/').next().unwrap_or(kernel)
}

/// Totals per family, in ms, from per-kernel times.
pub fn by_family(times: &[KernelTime]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for t in times {
        *m.entry(t.family.clone()).or_insert(0.0) += t.ms;
    }
    m
}

/// The `most` largest families as "conv 72%, adain 9%, ...", shares of their sum.
pub fn family_shares(families: &BTreeMap<String, f64>, most: usize) -> String {
    let total: f64 = families.values().sum();
    let mut fams: Vec<(&String, &f64)> = families.iter().collect();
    fams.sort_by(|a, b| b.1.total_cmp(a.1));
    fams.iter()
        .take(most)
        .map(|(f, ms)| format!("{f} {:.0}%", 100.0 * **ms / total.max(1e-12)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Add `more` into `into`, kernel by kernel.
pub fn merge(into: &mut Vec<KernelTime>, more: Vec<KernelTime>) {
    for t in more {
        match into.iter_mut().find(|x| x.kernel == t.kernel) {
            Some(x) => {
                x.dispatches += t.dispatches;
                x.ms += t.ms;
            }
            None => into.push(t),
        }
    }
    into.sort_by(|a, b| b.ms.total_cmp(&a.ms));
}

/// A table of per-kernel times, slowest first, with each one's share of the total.
pub fn table(times: &[KernelTime]) -> String {
    let total: f64 = times.iter().map(|t| t.ms).sum();
    let mut s = format!(
        "{:<56} {:>10} {:>12} {:>7}\n",
        "kernel", "dispatches", "GPU ms", "share"
    );
    for t in times {
        s += &format!(
            "{:<56} {:>10} {:>12.3} {:>6.1}%\n",
            t.kernel,
            t.dispatches,
            t.ms,
            100.0 * t.ms / total.max(1e-12)
        );
    }
    s += &format!("{:<56} {:>10} {:>12.3}\n", "total", "", total);
    s
}
