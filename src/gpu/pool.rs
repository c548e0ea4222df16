//! Size-class buffer pool. A tensor's buffer goes back to its class when the tensor drops,
//! so a training step in steady state creates no new GPU buffers.
//!
//! Reuse is safe without waiting for the GPU: every use of a buffer is recorded into the one
//! queue in program order, and wgpu inserts the barriers between dispatches.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub struct BufferPool {
    device: wgpu::Device,
    /// The idle buffers by size class and the byte counts, under one lock so that a
    /// snapshot is consistent (live + pooled never double-counts a buffer in transit).
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    /// Idle buffers by size class, smallest first (a request may take a bigger one).
    free: BTreeMap<u64, Vec<wgpu::Buffer>>,
    stats: MemoryStats,
}

/// What the pool holds, in bytes. Plain data: take one with `GpuContext::memory()` (or
/// `tensor::storage::host_memory()` for the CPU path, same meaning) and compare.
///
/// "Live" buffers are handed out and not yet returned (a tensor, a parameter arena, a
/// profiler's temporary); views into an arena are not allocations of their own, the arena
/// is. "Pooled" buffers are idle in their size class, ready for reuse. The peaks run from
/// the pool's creation or the last `reset_peak`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Size-class bytes of the live buffers (what the device actually allocated for them).
    pub live_bytes: u64,
    /// Bytes the live buffers were asked for (`live_bytes` minus size-class rounding).
    pub live_requested_bytes: u64,
    pub live_buffers: u64,
    /// Size-class bytes of idle buffers kept for reuse.
    pub pooled_bytes: u64,
    pub pooled_buffers: u64,
    /// The most `live_bytes + pooled_bytes` reached: the device memory the pool held.
    pub peak_bytes: u64,
    /// The most `live_bytes` reached.
    pub peak_live_bytes: u64,
    /// The most `live_requested_bytes` reached: the bytes of live tensors at their peak.
    pub peak_requested_bytes: u64,
    /// Buffers created since the start (never reset): flat in a steady state.
    pub buffers_created: u64,
    /// Acquisitions served from the pool since the start.
    pub buffers_reused: u64,
}

impl MemoryStats {
    /// Live plus pooled: what the pool holds now.
    pub fn held_bytes(&self) -> u64 {
        self.live_bytes + self.pooled_bytes
    }

    /// Peaks restart from the current figures.
    pub fn reset_peak(&mut self) {
        self.peak_bytes = self.held_bytes();
        self.peak_live_bytes = self.live_bytes;
        self.peak_requested_bytes = self.live_requested_bytes;
    }

    fn note_peaks(&mut self) {
        self.peak_bytes = self.peak_bytes.max(self.held_bytes());
        self.peak_live_bytes = self.peak_live_bytes.max(self.live_bytes);
        self.peak_requested_bytes = self.peak_requested_bytes.max(self.live_requested_bytes);
    }

    /// A buffer of `class` bytes (asked for `requested`) is handed out; `reused` when it
    /// came from the idle list.
    fn hand_out(&mut self, class: u64, requested: u64, reused: bool) {
        if reused {
            self.pooled_bytes -= class;
            self.pooled_buffers -= 1;
            self.buffers_reused += 1;
        } else {
            self.buffers_created += 1;
        }
        self.live_bytes += class;
        self.live_requested_bytes += requested;
        self.live_buffers += 1;
        self.note_peaks();
    }

    /// A live buffer goes back to the idle list.
    fn give_back(&mut self, class: u64, requested: u64) {
        self.live_bytes -= class;
        self.live_requested_bytes -= requested;
        self.live_buffers -= 1;
        self.pooled_bytes += class;
        self.pooled_buffers += 1;
    }

    /// Several lines for a person, in MiB.
    pub fn describe(&self) -> String {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        format!(
            "live {:.2} MiB in {} buffers ({:.2} MiB requested), pooled {:.2} MiB in {} \
             buffers, peak {:.2} MiB (live {:.2}, requested {:.2}); {} buffers created, {} \
             reuses",
            mib(self.live_bytes),
            self.live_buffers,
            mib(self.live_requested_bytes),
            mib(self.pooled_bytes),
            self.pooled_buffers,
            mib(self.peak_bytes),
            mib(self.peak_live_bytes),
            mib(self.peak_requested_bytes),
            self.buffers_created,
            self.buffers_reused,
        )
    }
}

/// How far above its own size class a request may take an idle buffer, in quarters of the
/// class (a quarter of an octave below 1 MiB): 2 is up to 1.5x the class.
const REUSE_UP: u64 = 2;

/// Four classes per octave below 1 MiB (at most 19% of a buffer is slack), sixteen from
/// 1 MiB up (at most 6%): a big buffer's rounding costs real memory (parameter arenas,
/// flat gradients), while small ones gain more from sharing a class.
pub fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(256);
    let p = 63 - (b - 1).leading_zeros() as u64; // 2^p < b <= 2^(p+1) for b > 1
    let base = 1u64 << p;
    let per_octave = if base >= 1 << 20 { 16 } else { 4 };
    let step = (base / per_octave).max(1);
    b.div_ceil(step) * step
}

impl BufferPool {
    pub fn new(device: wgpu::Device) -> Self {
        BufferPool {
            device,
            state: Mutex::new(PoolState::default()),
        }
    }

    /// A storage buffer of at least `bytes` bytes with undefined contents.
    pub fn acquire(self: &Arc<Self>, bytes: u64) -> GpuBuffer {
        let class = size_class(bytes);
        let (class, reused) = {
            let mut st = self.state.lock().unwrap();
            // The smallest idle buffer of this class or up to REUSE_UP classes above it:
            // reusing a somewhat bigger idle buffer holds less than creating a new one next
            // to it (idle buffers of other sizes are most of a step's pool slack).
            let limit = class + class / 4 * REUSE_UP;
            let hit = st
                .free
                .range_mut(class..=limit)
                .find_map(|(&c, v)| v.pop().map(|b| (c, b)));
            let class = hit.as_ref().map_or(class, |(c, _)| *c);
            st.stats.hand_out(class, bytes, hit.is_some());
            (class, hit.map(|(_, b)| b))
        };
        let buffer = match reused {
            Some(b) => b,
            None => self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("pooled"),
                size: class,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
        };
        GpuBuffer {
            buffer: Some(buffer),
            bytes,
            offset: 0,
            pool: Some(self.clone()),
            _parent: None,
        }
    }

    /// (buffers created, acquisitions served from the pool).
    pub fn stats(&self) -> (u64, u64) {
        let m = self.memory();
        (m.buffers_created, m.buffers_reused)
    }

    /// The byte counts now (a consistent snapshot).
    pub fn memory(&self) -> MemoryStats {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stats
    }

    /// The peaks restart from the current figures (to measure one step's peak).
    pub fn reset_peak(&self) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .stats
            .reset_peak();
    }

    /// Idle buffers per size class (class bytes, count), smallest first.
    pub fn idle_classes(&self) -> Vec<(u64, usize)> {
        let st = self.state.lock().unwrap();
        st.free
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(&c, v)| (c, v.len()))
            .collect()
    }

    /// Drop every idle buffer (frees device memory, e.g. between resolutions).
    pub fn trim(&self) {
        let mut st = self.state.lock().unwrap();
        st.free.clear();
        st.stats.pooled_bytes = 0;
        st.stats.pooled_buffers = 0;
    }
}

/// A storage buffer holding `bytes` meaningful bytes: either a pooled buffer of its own
/// (returned to the pool on drop) or a view of `bytes` bytes at `offset` in a parent buffer
/// (a parameter inside a group's flat arena, so one dispatch can update the whole group).
pub struct GpuBuffer {
    buffer: Option<wgpu::Buffer>,
    pub bytes: u64,
    offset: u64,
    pool: Option<Arc<BufferPool>>,
    _parent: Option<Arc<GpuBuffer>>,
}

impl GpuBuffer {
    pub fn raw(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("buffer alive until drop")
    }

    /// Byte offset of this buffer's data in `raw()`.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// A view of `bytes` bytes at `offset` (relative to this buffer; a multiple of the
    /// device's storage offset alignment, 256 is always safe). Keeps the parent alive.
    pub fn view(self: &Arc<Self>, offset: u64, bytes: u64) -> GpuBuffer {
        assert!(offset + bytes <= self.bytes, "view out of range");
        GpuBuffer {
            buffer: Some(self.raw().clone()),
            bytes,
            offset: self.offset + offset,
            pool: None,
            _parent: Some(self.clone()),
        }
    }

    /// The binding for a kernel: the whole pooled buffer, or exactly the view's range.
    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        if self._parent.is_none() {
            return self.raw().as_entire_binding();
        }
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: self.raw(),
            offset: self.offset,
            size: wgpu::BufferSize::new(self.bytes.div_ceil(4).max(1) * 4),
        })
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        let Some(pool) = self.pool.take() else {
            return;
        };
        if let Some(b) = self.buffer.take() {
            let class = b.size();
            if let Ok(mut st) = pool.state.lock() {
                st.stats.give_back(class, self.bytes);
                st.free.entry(class).or_default().push(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_cover_and_bound_slack() {
        for b in [
            1u64,
            255,
            256,
            257,
            1000,
            4096,
            4097,
            1 << 20,
            (1 << 20) + 1,
            123_456_789,
        ] {
            let c = size_class(b);
            assert!(c >= b, "{b} -> {c}");
            assert!(c as f64 <= (b.max(256) as f64) * 1.25 + 1.0, "{b} -> {c}");
            assert_eq!(c % 4, 0);
        }
    }

    #[test]
    fn big_buffers_round_up_by_at_most_a_sixteenth_of_their_octave() {
        // Just over a power of two is the worst case: 2^p + 1 -> 2^p + 2^p / 16.
        for p in 20..34 {
            let b = (1u64 << p) + 1;
            assert_eq!(size_class(b), (1 << p) + (1 << (p - 4)), "2^{p} + 1");
        }
        // G's parameter arena of the default model (26,081,223 floats, 100 MiB): 6% at most.
        let arena = 26_081_223u64 * 4;
        let c = size_class(arena);
        assert!(
            c >= arena && (c - arena) as f64 <= 0.0625 * arena as f64,
            "{c}"
        );
        // Below 1 MiB the classes stay coarse, so small tensors keep sharing them.
        assert_eq!(size_class((1 << 19) + 1), (1 << 19) + (1 << 17));
    }
}
