//! Random pools: the paper's capacity pools without its ranking, to tell what the
//! ranking adds from what pools add.

use alloc::vec::Vec;

use super::{capacity_pools_in_order, DistributionPolicy, Pools};
use crate::indexes::RankedGrid;
use crate::job::JobSpec;
use crate::pools::PoolConfig;

/// Capacity pools over the target subset in a seeded random order, shuffled per
/// job (the seed mixed with the job's id).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RandomPools {
    /// Seed of the shuffles.
    pub seed: u64,
}

impl DistributionPolicy for RandomPools {
    fn name(&self) -> &str {
        "random"
    }

    fn pools(&self, ranked: &RankedGrid, job: &JobSpec, subset: &[u32], cfg: &PoolConfig) -> Pools {
        let order = shuffled(subset, self.seed ^ fnv1a(job.id.as_bytes()));
        capacity_pools_in_order(ranked, job, &order, cfg)
    }
}

/// A seeded Fisher-Yates shuffle.
fn shuffled(xs: &[u32], seed: u64) -> Vec<u32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = xs.to_vec();
    for i in (1..out.len()).rev() {
        out.swap(i, rng.random_range(0..=i));
    }
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
