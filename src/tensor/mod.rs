//! Floor 2: the tensor. Shape, storage on one device, and the autograd node that made it.
//!
//! Storage is immutable once written (ops make new tensors), so reshape and detach share it.
//! The one exception is the optimiser, which updates parameter buffers in place.

pub mod grad_mode;
mod op;
pub mod storage;

pub use op::Op;
pub use storage::{host_memory, reset_host_peak, HostVec, MetaVec, Storage};

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::gpu;
use crate::shape::numel;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Gpu,
    /// Shapes without values (memory planning).
    Meta,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
}

/// Where a new tensor lives: the GPU (always f32), the CPU in f32 or f64, or nowhere
/// (`Meta`: shapes and the CPU path's byte accounting, no values, no arithmetic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    Gpu,
    Cpu32,
    Cpu64,
    Meta,
}

impl Place {
    pub fn device(self) -> Device {
        match self {
            Place::Gpu => Device::Gpu,
            Place::Meta => Device::Meta,
            Place::Cpu32 | Place::Cpu64 => Device::Cpu,
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Inner {
    pub(crate) id: u64,
    pub(crate) shape: Vec<usize>,
    pub(crate) place: Place,
    /// The values; None in a graph edge (see [`Tensor::edge`]).
    pub(crate) storage: Option<Storage>,
    pub(crate) requires_grad: bool,
    /// The tensor's place in the graph, shared by the tensor and its edges.
    pub(crate) graph: Arc<GraphSlots>,
}

/// What the graph knows of a tensor, shared between the tensor and the edges that ops
/// recorded to it, so a walk through an edge finds the op that made it and a leaf's
/// gradient lands where the tensor's owner reads it.
#[derive(Default)]
pub(crate) struct GraphSlots {
    /// The op that produced this tensor, while the graph is alive.
    pub(crate) node: Mutex<Option<Op>>,
    /// The name of the op this tensor was made by, once a walk without `retain_graph` has
    /// released it: a later walk through it is an error, not a silent zero.
    pub(crate) released: Mutex<Option<&'static str>>,
    /// Accumulated gradient of a leaf after `backward`.
    pub(crate) grad: Mutex<Option<Tensor>>,
}

/// A handle to an n-dimensional array; cloning is cheap (shared).
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor(#{} {:?} {:?}",
            self.id(),
            self.shape(),
            self.place()
        )?;
        if self.requires_grad() {
            write!(f, ", grad")?;
        }
        write!(f, ")")
    }
}

impl Tensor {
    /// A tensor from storage with no history.
    pub fn from_storage(storage: Storage, shape: Vec<usize>) -> Tensor {
        debug_assert_eq!(
            storage.len(),
            numel(&shape),
            "storage size vs shape {shape:?}"
        );
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shape,
            place: storage.place(),
            storage: Some(storage),
            requires_grad: false,
            graph: Arc::default(),
        }))
    }

    /// The result of an op: records `op` when gradients are being recorded and any input
    /// requires them.
    pub(crate) fn from_op(storage: Storage, shape: Vec<usize>, op: Op) -> Tensor {
        let record = grad_mode::is_grad_enabled() && op.inputs().iter().any(|t| t.requires_grad());
        let graph = GraphSlots {
            // Inputs whose values the backward does not read are kept as edges only.
            node: Mutex::new(record.then(|| op.keep_only_saved())),
            ..GraphSlots::default()
        };
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shape,
            place: storage.place(),
            storage: Some(storage),
            requires_grad: record,
            graph: Arc::new(graph),
        }))
    }

    pub fn from_vec(data: Vec<f32>, shape: &[usize], place: Place) -> Tensor {
        assert_eq!(
            data.len(),
            numel(shape),
            "from_vec: {} values for shape {shape:?}",
            data.len()
        );
        Tensor::from_storage(Storage::F32(HostVec::arc(data)), shape.to_vec()).to_place(place)
    }

    pub fn from_vec_f64(data: Vec<f64>, shape: &[usize], place: Place) -> Tensor {
        assert_eq!(
            data.len(),
            numel(shape),
            "from_vec_f64: {} values for shape {shape:?}",
            data.len()
        );
        let storage = match place {
            Place::Cpu64 => Storage::F64(HostVec::arc(data)),
            // Straight to f32: no f64 copy is counted on the way (the CPU optimisers' path).
            Place::Cpu32 => Storage::F32(HostVec::arc(data.iter().map(|&x| x as f32).collect())),
            Place::Meta => Storage::meta(data.len()),
            Place::Gpu => {
                return Tensor::from_vec(data.iter().map(|&x| x as f32).collect(), shape, place)
            }
        };
        Tensor::from_storage(storage, shape.to_vec())
    }

    pub fn scalar(v: f64, place: Place) -> Tensor {
        Tensor::full(&[], v, place)
    }

    pub fn full(shape: &[usize], v: f64, place: Place) -> Tensor {
        let n = numel(shape);
        let storage = match place {
            Place::Cpu32 => Storage::F32(HostVec::arc(vec![v as f32; n])),
            Place::Cpu64 => Storage::F64(HostVec::arc(vec![v; n])),
            Place::Meta => Storage::Meta(MetaVec::arc(n)),
            Place::Gpu => {
                let ctx = gpu::gpu();
                let buf = ctx.alloc(n as u64 * 4);
                ctx.fill_u32(&buf, (v as f32).to_bits());
                Storage::Gpu(Arc::new(buf))
            }
        };
        Tensor::from_storage(storage, shape.to_vec())
    }

    pub fn zeros(shape: &[usize], place: Place) -> Tensor {
        Tensor::full(shape, 0.0, place)
    }

    pub fn ones(shape: &[usize], place: Place) -> Tensor {
        Tensor::full(shape, 1.0, place)
    }

    pub fn zeros_like(&self) -> Tensor {
        Tensor::zeros(self.shape(), self.place())
    }

    pub fn ones_like(&self) -> Tensor {
        Tensor::ones(self.shape(), self.place())
    }

    pub fn id(&self) -> u64 {
        self.0.id
    }
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    pub fn dim(&self, d: usize) -> usize {
        self.0.shape[d]
    }
    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }
    pub fn numel(&self) -> usize {
        numel(&self.0.shape)
    }
    /// The values.
    ///
    /// # Panics
    /// On a graph edge (a backward rule reading an input its op did not save).
    pub fn storage(&self) -> &Storage {
        self.0.storage.as_ref().unwrap_or_else(|| {
            panic!(
                "tensor #{} {:?}: its values were not saved for the backward (a graph edge)",
                self.0.id, self.0.shape
            )
        })
    }

    /// The same node of the graph without its values: what an op records for an input
    /// whose values its backward never reads (add, reshape, blur, ...), so the input's
    /// memory goes as soon as nothing else holds it, as PyTorch frees unsaved tensors.
    /// Shape, place, gradient recording and a leaf's gradient are those of `self`.
    pub fn edge(&self) -> Tensor {
        Tensor(Arc::new(Inner {
            id: self.0.id,
            shape: self.0.shape.clone(),
            place: self.0.place,
            storage: None,
            requires_grad: self.0.requires_grad,
            graph: self.0.graph.clone(),
        }))
    }

    /// True for a graph edge made by [`Tensor::edge`].
    pub fn is_edge(&self) -> bool {
        self.0.storage.is_none()
    }
    pub fn device(&self) -> Device {
        self.place().device()
    }
    pub fn dtype(&self) -> DType {
        match self.0.place {
            Place::Cpu64 => DType::F64,
            _ => DType::F32,
        }
    }
    pub fn place(&self) -> Place {
        self.0.place
    }
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// The same data as a leaf that records gradients.
    pub fn requires_grad_(&self) -> Tensor {
        let t = self.detach();
        Tensor(Arc::new(Inner {
            requires_grad: true,
            ..Arc::try_unwrap(t.0).unwrap_or_else(|_| unreachable!("fresh tensor"))
        }))
    }

    /// The same data with no history.
    pub fn detach(&self) -> Tensor {
        Tensor::from_storage(self.storage().clone(), self.0.shape.clone())
    }

    /// The gradient accumulated by `backward`, for a leaf.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.graph.grad.lock().unwrap().clone()
    }

    pub fn set_grad(&self, g: Option<Tensor>) {
        *self.0.graph.grad.lock().unwrap() = g;
    }

    /// True while this tensor still holds the op that made it (the graph is alive).
    pub fn has_graph(&self) -> bool {
        self.node().is_some()
    }

    pub(crate) fn node(&self) -> std::sync::MutexGuard<'_, Option<Op>> {
        self.0.graph.node.lock().unwrap()
    }

    /// Take the op out of the graph (freeing what it saved) and remember its name.
    pub(crate) fn release_node(&self) -> Option<Op> {
        let op = self.node().take();
        if let Some(op) = &op {
            *self.0.graph.released.lock().unwrap() = Some(op.name());
        }
        op
    }

    /// The op whose record a walk released, if one did.
    pub(crate) fn released_op(&self) -> Option<&'static str> {
        *self.0.graph.released.lock().unwrap()
    }

    /// True when both handles refer to the same tensor.
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A copy at `place` (a no-op when already there). Not differentiable: device moves
    /// happen at the edges of a computation.
    pub fn to_place(&self, place: Place) -> Tensor {
        if self.place() == place {
            return self.clone();
        }
        Tensor::from_storage(self.storage().to_place(place), self.0.shape.clone())
    }
    pub fn to_cpu(&self) -> Tensor {
        match self.place() {
            Place::Gpu => self.to_place(Place::Cpu32),
            _ => self.clone(),
        }
    }
    pub fn to_gpu(&self) -> Tensor {
        self.to_place(Place::Gpu)
    }

    /// The values as f32 (reads back from the GPU: a sync point).
    pub fn to_vec(&self) -> Vec<f32> {
        self.storage().to_vec_f32()
    }
    /// The values as f64 (reads back from the GPU: a sync point).
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.storage().to_vec_f64()
    }
    /// The single value of a one-element tensor.
    pub fn item(&self) -> f64 {
        assert_eq!(
            self.numel(),
            1,
            "item() of a tensor of shape {:?}",
            self.shape()
        );
        self.to_vec_f64()[0]
    }
}
