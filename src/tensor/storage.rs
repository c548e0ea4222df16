//! Where a tensor's numbers live.

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::Place;
use crate::gpu::{self, GpuBuffer, MemoryStats};

/// Bytes of live CPU tensor storage (all `HostVec`s), and the most reached since the last
/// `reset_host_peak`. Process-wide.
static HOST_LIVE: AtomicU64 = AtomicU64::new(0);
static HOST_PEAK: AtomicU64 = AtomicU64::new(0);
static HOST_COUNT: AtomicU64 = AtomicU64::new(0);
static HOST_CREATED: AtomicU64 = AtomicU64::new(0);

/// A CPU tensor's values: a `Vec` whose bytes count as live from creation until it drops
/// (the last `Arc` of its storage), so the CPU path reports the same live-tensor figure as
/// the GPU pool's `live_requested_bytes`.
pub struct HostVec<T>(Vec<T>);

fn count_alloc(bytes: u64) {
    let now = HOST_LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    HOST_PEAK.fetch_max(now, Ordering::Relaxed);
    HOST_COUNT.fetch_add(1, Ordering::Relaxed);
    HOST_CREATED.fetch_add(1, Ordering::Relaxed);
}

fn count_free(bytes: u64) {
    HOST_LIVE.fetch_sub(bytes, Ordering::Relaxed);
    HOST_COUNT.fetch_sub(1, Ordering::Relaxed);
}

impl<T> HostVec<T> {
    pub fn new(v: Vec<T>) -> Self {
        count_alloc(std::mem::size_of_val(v.as_slice()) as u64);
        HostVec(v)
    }

    /// `Arc::new(HostVec::new(v))`, the form `Storage` holds.
    pub fn arc(v: Vec<T>) -> Arc<Self> {
        Arc::new(Self::new(v))
    }
}

impl<T> Deref for HostVec<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> Drop for HostVec<T> {
    fn drop(&mut self) {
        count_free(std::mem::size_of_val(self.0.as_slice()) as u64);
    }
}

/// A meta tensor's storage: a length and no values. It counts as `len` f32s in the CPU
/// accounting, exactly like the `HostVec<f32>` the CPU path would hold, so a graph run on
/// [`Place::Meta`] reports the CPU path's live bytes without doing the arithmetic
/// (memory planning for models too big to run here).
pub struct MetaVec(usize);

impl MetaVec {
    pub fn arc(len: usize) -> Arc<Self> {
        count_alloc(len as u64 * 4);
        Arc::new(MetaVec(len))
    }
}

impl Drop for MetaVec {
    fn drop(&mut self) {
        count_free(self.0 as u64 * 4);
    }
}

/// Live CPU tensor bytes in the pool's terms: live = requested (no size classes), nothing
/// pooled, `buffers_created` = storage vectors made. Process-wide, so tests that read it
/// must not run CPU work in parallel.
pub fn host_memory() -> MemoryStats {
    let live = HOST_LIVE.load(Ordering::Relaxed);
    let peak = HOST_PEAK.load(Ordering::Relaxed).max(live);
    MemoryStats {
        live_bytes: live,
        live_requested_bytes: live,
        live_buffers: HOST_COUNT.load(Ordering::Relaxed),
        peak_bytes: peak,
        peak_live_bytes: peak,
        peak_requested_bytes: peak,
        buffers_created: HOST_CREATED.load(Ordering::Relaxed),
        ..MemoryStats::default()
    }
}

/// The CPU peak restarts from the live bytes now.
pub fn reset_host_peak() {
    HOST_PEAK.store(HOST_LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

#[derive(Clone)]
pub enum Storage {
    F32(Arc<HostVec<f32>>),
    F64(Arc<HostVec<f64>>),
    /// f32 values in a pooled GPU buffer.
    Gpu(Arc<GpuBuffer>),
    /// No values: a shape's worth of f32 bytes in the accounting (see [`MetaVec`]).
    Meta(Arc<MetaVec>),
}

impl Storage {
    /// Meta storage for `len` values.
    pub fn meta(len: usize) -> Storage {
        Storage::Meta(MetaVec::arc(len))
    }

    pub fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
            Storage::Gpu(b) => (b.bytes / 4) as usize,
            Storage::Meta(m) => m.0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn place(&self) -> Place {
        match self {
            Storage::F32(_) => Place::Cpu32,
            Storage::F64(_) => Place::Cpu64,
            Storage::Gpu(_) => Place::Gpu,
            Storage::Meta(_) => Place::Meta,
        }
    }

    /// The f32 CPU values (panics on other storage: callers match the variant first).
    pub fn f32s(&self) -> &[f32] {
        match self {
            Storage::F32(v) => v,
            _ => panic!("expected CPU f32 storage"),
        }
    }

    /// The f64 CPU values (panics on other storage: callers match the variant first).
    pub fn f64s(&self) -> &[f64] {
        match self {
            Storage::F64(v) => v,
            _ => panic!("expected CPU f64 storage"),
        }
    }

    pub fn gpu_buffer(&self) -> &Arc<GpuBuffer> {
        match self {
            Storage::Gpu(b) => b,
            _ => panic!("expected GPU storage"),
        }
    }

    pub fn to_vec_f32(&self) -> Vec<f32> {
        match self {
            Storage::F32(v) => v.to_vec(),
            Storage::F64(v) => v.iter().map(|&x| x as f32).collect(),
            Storage::Gpu(b) => {
                let bytes = gpu::gpu().read(b, b.bytes);
                bytemuck::pod_collect_to_vec(&bytes)
            }
            // Reading a meta tensor gives zeros: a loss read back mid-step still has a value.
            Storage::Meta(m) => vec![0.0; m.0],
        }
    }

    pub fn to_vec_f64(&self) -> Vec<f64> {
        match self {
            Storage::F64(v) => v.to_vec(),
            _ => self.to_vec_f32().into_iter().map(f64::from).collect(),
        }
    }

    pub fn to_place(&self, place: Place) -> Storage {
        match place {
            Place::Cpu32 => Storage::F32(HostVec::arc(self.to_vec_f32())),
            Place::Cpu64 => Storage::F64(HostVec::arc(self.to_vec_f64())),
            Place::Meta => Storage::Meta(MetaVec::arc(self.len())),
            Place::Gpu => {
                let data = self.to_vec_f32();
                let ctx = gpu::gpu();
                if data.is_empty() {
                    return Storage::Gpu(Arc::new(ctx.alloc(0)));
                }
                Storage::Gpu(Arc::new(ctx.upload(bytemuck::cast_slice(&data))))
            }
        }
    }
}
