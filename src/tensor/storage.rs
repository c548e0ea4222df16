//! Where a tensor's numbers live.

use std::sync::Arc;

use super::Place;
use crate::gpu::{self, GpuBuffer};

#[derive(Clone)]
pub enum Storage {
    F32(Arc<Vec<f32>>),
    F64(Arc<Vec<f64>>),
    /// f32 values in a pooled GPU buffer.
    Gpu(Arc<GpuBuffer>),
}

impl Storage {
    pub fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F64(v) => v.len(),
            Storage::Gpu(b) => (b.bytes / 4) as usize,
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
            Storage::F32(v) => v.as_ref().clone(),
            Storage::F64(v) => v.iter().map(|&x| x as f32).collect(),
            Storage::Gpu(b) => {
                let bytes = gpu::gpu().read(b, b.bytes);
                bytemuck::pod_collect_to_vec(&bytes)
            }
        }
    }

    pub fn to_vec_f64(&self) -> Vec<f64> {
        match self {
            Storage::F64(v) => v.as_ref().clone(),
            _ => self.to_vec_f32().into_iter().map(f64::from).collect(),
        }
    }

    pub fn to_place(&self, place: Place) -> Storage {
        match place {
            Place::Cpu32 => Storage::F32(Arc::new(self.to_vec_f32())),
            Place::Cpu64 => Storage::F64(Arc::new(self.to_vec_f64())),
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
