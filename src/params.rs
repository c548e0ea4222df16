//! Floor 5: a model's parameters. They live in one [`ParamGroup`]: on the GPU a single flat
//! buffer (each parameter a 256-byte-aligned view into it), so the optimisers and the EMA
//! update a whole model in one dispatch each; on the CPU each parameter keeps its own storage.
//! Models, losses and checkpoints use it without the optimiser.

use std::sync::Arc;

use crate::gpu;
use crate::tensor::{Place, Storage, Tensor};

/// Parameter offsets are multiples of this many f32 (256 bytes: the storage offset alignment
/// every device supports).
const ALIGN: usize = 64;

/// Named parameters laid out in one flat array (GPU).
pub struct ParamGroup {
    names: Vec<String>,
    params: Vec<Tensor>,
    offsets: Vec<usize>,
    len: usize,
    arena: Option<Arc<gpu::GpuBuffer>>,
    place: Place,
}

impl ParamGroup {
    /// Lay out `named` initial values at `place`; every parameter records gradients.
    pub fn new(named: Vec<(String, Tensor)>, place: Place) -> Self {
        let (offsets, len) = Self::layout(named.iter().map(|(_, t)| t.numel()));
        let (names, values): (Vec<_>, Vec<_>) = named.into_iter().unzip();
        let mut g = ParamGroup {
            names,
            params: Vec::new(),
            offsets,
            len,
            arena: None,
            place,
        };
        if place == Place::Gpu {
            let ctx = gpu::gpu();
            let arena = Arc::new(ctx.alloc(len.max(1) as u64 * 4));
            ctx.fill_u32(&arena, 0);
            g.arena = Some(arena);
        }
        g.params = values
            .iter()
            .enumerate()
            .map(|(i, v)| g.make_param(i, v))
            .collect();
        g
    }

    /// Parameter i holding `value`: a view of the arena (GPU) or a fresh leaf (CPU).
    fn make_param(&self, i: usize, value: &Tensor) -> Tensor {
        match &self.arena {
            Some(arena) => {
                let bytes = value.numel() as u64 * 4;
                let view = arena.view(self.offsets[i] as u64 * 4, bytes);
                let data = value.to_vec();
                gpu::gpu().write(&view, bytemuck::cast_slice(&data));
                Tensor::from_storage(Storage::Gpu(Arc::new(view)), value.shape().to_vec())
                    .requires_grad_()
            }
            None => value.to_place(self.place).detach().requires_grad_(),
        }
    }

    /// Offsets and total length of the flat layout of parameters with these sizes, in order.
    pub fn layout(numels: impl Iterator<Item = usize>) -> (Vec<usize>, usize) {
        let mut offsets = Vec::new();
        let mut len = 0;
        for n in numels {
            offsets.push(len);
            len += n.div_ceil(ALIGN) * ALIGN;
        }
        (offsets, len)
    }

    /// Where parameter i starts in the flat layout.
    pub fn offset(&self, i: usize) -> usize {
        self.offsets[i]
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
    pub fn place(&self) -> Place {
        self.place
    }
    pub fn names(&self) -> &[String] {
        &self.names
    }
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }
    pub fn get(&self, i: usize) -> &Tensor {
        &self.params[i]
    }
    /// Index of the parameter called `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    /// Number of scalars (without alignment padding).
    pub fn numel(&self) -> usize {
        self.params.iter().map(|p| p.numel()).sum()
    }
    /// Length of the flat layout, padding included.
    pub fn flat_len(&self) -> usize {
        self.len
    }

    /// Overwrite parameter i (same shape). GPU: in place in the arena.
    pub fn set(&mut self, i: usize, value: &Tensor) {
        assert_eq!(
            value.shape(),
            self.params[i].shape(),
            "{}: shape mismatch",
            self.names[i]
        );
        self.params[i] = self.make_param(i, value);
    }

    /// The flat layout of per-parameter tensors (gradients, moments): zeros in the padding.
    /// A missing entry (a parameter that got no gradient) is all zeros.
    pub fn gather(&self, parts: &[Option<Tensor>]) -> Tensor {
        assert_eq!(parts.len(), self.params.len());
        match self.place {
            Place::Gpu => {
                let ctx = gpu::gpu();
                let flat = ctx.alloc(self.len.max(1) as u64 * 4);
                ctx.fill_u32(&flat, 0);
                for (i, t) in parts.iter().enumerate() {
                    if let Some(t) = t {
                        let bytes = t.numel() as u64 * 4;
                        ctx.copy(
                            t.storage().gpu_buffer(),
                            0,
                            &flat,
                            self.offsets[i] as u64 * 4,
                            bytes,
                        );
                    }
                }
                Tensor::from_storage(Storage::Gpu(Arc::new(flat)), vec![self.len])
            }
            Place::Meta => Tensor::from_storage(Storage::meta(self.len), vec![self.len]),
            place => {
                let mut v = vec![0.0f64; self.len];
                for (i, t) in parts.iter().enumerate() {
                    if let Some(t) = t {
                        v[self.offsets[i]..][..t.numel()].copy_from_slice(&t.to_vec_f64());
                    }
                }
                Tensor::from_vec_f64(v, &[self.len], place)
            }
        }
    }

    /// The parameters' values in the flat layout (a GPU tensor sharing the arena, or a copy).
    pub fn flat(&self) -> Tensor {
        match &self.arena {
            Some(a) => Tensor::from_storage(Storage::Gpu(a.clone()), vec![self.len]),
            None => self.gather(&self.params.iter().cloned().map(Some).collect::<Vec<_>>()),
        }
    }

    /// Replace every parameter from a flat layout (CPU path of the optimisers).
    pub(crate) fn scatter(&mut self, flat: &[f64]) {
        for i in 0..self.params.len() {
            let shape = self.params[i].shape().to_vec();
            let n = self.params[i].numel();
            let v = flat[self.offsets[i]..][..n].to_vec();
            self.params[i] = Tensor::from_vec_f64(v, &shape, self.place).requires_grad_();
        }
    }

    /// The same parameters with no gradient recording (on the GPU: views of the same arena,
    /// so later updates show through). For a network that is used but not trained in a pass.
    pub fn frozen(&self) -> ParamGroup {
        ParamGroup {
            names: self.names.clone(),
            params: self.params.iter().map(|p| p.detach()).collect(),
            offsets: self.offsets.clone(),
            len: self.len,
            arena: self.arena.clone(),
            place: self.place,
        }
    }

    /// A group with the same names and layout holding copies of these values (the EMA copy).
    /// Copies on every device (the GPU copies into its own arena anyway), so the copy's
    /// bytes count from the start and not only once an update first writes it.
    pub fn duplicate(&self) -> ParamGroup {
        let copy = |p: &Tensor| match self.place {
            Place::Gpu => p.detach(),
            place => Tensor::from_storage(p.storage().to_place(place), p.shape().to_vec()),
        };
        let named = self
            .names
            .iter()
            .cloned()
            .zip(self.params.iter().map(copy))
            .collect();
        ParamGroup::new(named, self.place)
    }

    /// Every parameter's values as f32 (one readback of the whole arena on the GPU).
    pub fn to_vecs(&self) -> Vec<Vec<f32>> {
        let flat = self.flat().to_vec();
        self.params
            .iter()
            .zip(&self.offsets)
            .map(|(p, &o)| flat[o..o + p.numel()].to_vec())
            .collect()
    }

    /// Copy every parameter to `place` (a new group).
    pub fn to_place(&self, place: Place) -> ParamGroup {
        let named = self
            .names
            .iter()
            .cloned()
            .zip(self.params.iter().cloned())
            .collect();
        ParamGroup::new(named, place)
    }
}
