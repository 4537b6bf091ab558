//! The paper's policy (§3.3.4, Algorithm 2): capacity pools over the target
//! subset in ByteRank order, as deep as the job's ByteLevel reaches.

use super::{capacity_pools_in_order, DistributionPolicy, Pools};
use crate::indexes::RankedGrid;
use crate::job::JobSpec;
use crate::pools::PoolConfig;

/// Capacity pools in ByteRank order; a device takes from its own pool and lower
/// ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteRankPools;

impl DistributionPolicy for ByteRankPools {
    fn name(&self) -> &str {
        "byte_rank"
    }

    fn pools(&self, ranked: &RankedGrid, job: &JobSpec, subset: &[u32], cfg: &PoolConfig) -> Pools {
        capacity_pools_in_order(ranked, job, subset, cfg)
    }
}
