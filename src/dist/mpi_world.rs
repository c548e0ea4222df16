//! The MPI side of [`super::Comm`] (feature `mpi`): the world communicator of rsmpi.

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::CommunicatorCollectives;

use super::Group;

/// Initialise MPI (main thread only; no other thread calls it) and find this rank's place.
pub(super) fn init() -> Option<(Universe, Group)> {
    let universe = mpi::initialize()?;
    let world = universe.world();
    let local = world.split_shared(world.rank());
    let group = Group {
        rank: world.rank() as usize,
        size: world.size() as usize,
        local_rank: local.rank() as usize,
        mpi: true,
    };
    Some((universe, group))
}

pub(super) fn host() -> String {
    mpi::environment::processor_name().unwrap_or_else(|_| "?".into())
}

pub(super) fn sum_f32(data: &mut [f32]) {
    let send = data.to_vec();
    SimpleCommunicator::world().all_reduce_into(&send[..], data, SystemOperation::sum());
}

pub(super) fn sum_f64(data: &mut [f64]) {
    let send = data.to_vec();
    SimpleCommunicator::world().all_reduce_into(&send[..], data, SystemOperation::sum());
}

pub(super) fn barrier() {
    SimpleCommunicator::world().barrier();
}

pub(super) fn abort(code: i32) -> ! {
    SimpleCommunicator::world().abort(code)
}
