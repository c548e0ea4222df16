//! Size-class buffer pool. A tensor's buffer goes back to its class when the tensor drops,
//! so a training step in steady state creates no new GPU buffers.
//!
//! Reuse is safe without waiting for the GPU: every use of a buffer is recorded into the one
//! queue in program order, and wgpu inserts the barriers between dispatches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct BufferPool {
    device: wgpu::Device,
    free: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
    pub(crate) created: AtomicU64,
    pub(crate) reused: AtomicU64,
}

/// Four classes per octave: at most 19% of a buffer is slack.
pub fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(256);
    let p = 63 - (b - 1).leading_zeros() as u64; // 2^p < b <= 2^(p+1) for b > 1
    let base = 1u64 << p;
    let step = (base / 4).max(1);
    b.div_ceil(step) * step
}

impl BufferPool {
    pub fn new(device: wgpu::Device) -> Self {
        BufferPool {
            device,
            free: Mutex::new(HashMap::new()),
            created: AtomicU64::new(0),
            reused: AtomicU64::new(0),
        }
    }

    /// A storage buffer of at least `bytes` bytes with undefined contents.
    pub fn acquire(self: &Arc<Self>, bytes: u64) -> GpuBuffer {
        let class = size_class(bytes);
        let reused = self
            .free
            .lock()
            .unwrap()
            .get_mut(&class)
            .and_then(|v| v.pop());
        let buffer = match reused {
            Some(b) => {
                self.reused.fetch_add(1, Ordering::Relaxed);
                b
            }
            None => {
                self.created.fetch_add(1, Ordering::Relaxed);
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("pooled"),
                    size: class,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            }
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
        (
            self.created.load(Ordering::Relaxed),
            self.reused.load(Ordering::Relaxed),
        )
    }

    /// Drop every idle buffer (frees device memory, e.g. between resolutions).
    pub fn trim(&self) {
        self.free.lock().unwrap().clear();
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
            if let Ok(mut free) = pool.free.lock() {
                free.entry(class).or_default().push(b);
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
}
