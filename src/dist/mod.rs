//! Floor 1: data-parallel communication. A [`Comm`] is the process's place among the ranks
//! of a run: `Single` (rank 0 of 1) without the `mpi` feature or outside `mpirun`/`srun`,
//! else the MPI world. [`Group`] is a copyable handle to it that the trainer keeps: rank,
//! size, node-local rank, and the collectives the step needs (a sum of host f32 vectors).
//! Knows no tensors: the caller reads a flat gradient to the host, sums it here, uploads it.

#[cfg(feature = "mpi")]
mod mpi_world;

use std::fmt;

/// The process's communicator; it owns MPI (initialised in [`Comm::init`], finalised when
/// it drops), so it lives in `main` for the whole run.
pub struct Comm {
    group: Group,
    #[cfg(feature = "mpi")]
    _universe: Option<mpi::environment::Universe>,
}

/// Where this process stands among the ranks; `Copy`, so the trainer can hold one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    pub rank: usize,
    pub size: usize,
    /// Rank among the processes on this host (picks the adapter).
    pub local_rank: usize,
    /// True when the collectives go through MPI (even with one rank).
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    mpi: bool,
}

impl Default for Group {
    fn default() -> Self {
        Group::single()
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rank {}/{}", self.rank, self.size)
    }
}

/// True when a process launcher (OpenMPI's mpirun, PMIx, Slurm's srun, MPICH's PMI) started
/// this process, so MPI should be initialised.
pub fn launched_by_mpi() -> bool {
    [
        "OMPI_COMM_WORLD_SIZE",
        "PMIX_RANK",
        "PMI_SIZE",
        "PMI_RANK",
        "SLURM_PROCID",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
}

impl Comm {
    /// One process: rank 0 of 1.
    pub fn single() -> Comm {
        Comm {
            group: Group::single(),
            #[cfg(feature = "mpi")]
            _universe: None,
        }
    }

    /// The MPI world when built with `mpi` and started by a launcher, else [`Comm::single`].
    pub fn init() -> Comm {
        #[cfg(feature = "mpi")]
        if launched_by_mpi() {
            if let Some((universe, group)) = mpi_world::init() {
                return Comm {
                    group,
                    _universe: Some(universe),
                };
            }
        }
        Comm::single()
    }

    pub fn group(&self) -> Group {
        self.group
    }
}

impl Group {
    pub const fn single() -> Group {
        Group {
            rank: 0,
            size: 1,
            local_rank: 0,
            mpi: false,
        }
    }

    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// The host's name (MPI's processor name under MPI).
    pub fn host(&self) -> String {
        #[cfg(feature = "mpi")]
        if self.mpi {
            return mpi_world::host();
        }
        std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".into())
    }

    /// Sum `data` element-wise over all ranks, in place (every rank gets the sum).
    pub fn sum_f32(&self, data: &mut [f32]) {
        #[cfg(feature = "mpi")]
        if self.mpi && self.size > 1 {
            mpi_world::sum_f32(data);
        }
        let _ = data;
    }

    /// Sum `data` element-wise over all ranks, in place.
    pub fn sum_f64(&self, data: &mut [f64]) {
        #[cfg(feature = "mpi")]
        if self.mpi && self.size > 1 {
            mpi_world::sum_f64(data);
        }
        let _ = data;
    }

    /// Wait for every rank.
    pub fn barrier(&self) {
        #[cfg(feature = "mpi")]
        if self.mpi && self.size > 1 {
            mpi_world::barrier();
        }
    }

    /// End every rank of the run with `code` (after an error on this one, so the others do not
    /// wait forever in a collective). Returns only with one process.
    pub fn abort(&self, code: i32) {
        #[cfg(feature = "mpi")]
        if self.mpi && self.size > 1 {
            mpi_world::abort(code);
        }
        let _ = code;
    }
}
