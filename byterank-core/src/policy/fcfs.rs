//! First come, first served: what a BOINC-style feeder does, the baseline the
//! paper's pools are compared with.

use alloc::vec;

use super::{DistributionPolicy, Pools};
use crate::indexes::RankedGrid;
use crate::job::JobSpec;
use crate::pools::{PoolConfig, PoolParams};

/// One queue for the whole target subset: no ranking, no pools, every eligible
/// device takes the next copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fcfs;

impl DistributionPolicy for Fcfs {
    fn name(&self) -> &str {
        "fcfs"
    }

    fn pools(&self, _: &RankedGrid, _: &JobSpec, subset: &[u32], _: &PoolConfig) -> Pools {
        let params = PoolParams { c_min: 0.0, s_min: subset.len() };
        Pools { params, pools: vec![subset.to_vec()], used: 1 }
    }
}
