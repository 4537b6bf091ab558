//! Distribution policies: how a job's target subset becomes pools (and so pool
//! queues), and which pools a pulling device may take a copy from.
//!
//! A policy is code, not state. The shipped ones are named in the engine's
//! configuration ([`Distribution`], `engine.plan.distribution` in a scenario):
//!
//! - [`ByteRankPools`] (`"byte_rank"`, the default): the paper's capacity pools
//!   over the target subset in ByteRank order;
//! - [`Fcfs`] (`"fcfs"`): one queue for the whole subset, no ranking, no pools;
//! - [`RandomPools`] (`{ random = { seed = 1 } }`): capacity pools over the subset
//!   in a seeded random order.
//!
//! An embedder adds one by implementing [`DistributionPolicy`] on a type of their
//! own and naming it with [`Distribution::Custom`]; the engine and the simulator
//! run it like the shipped ones. Given the same inputs a policy must give the same
//! answer: the engine is replayed from its journal.
//!
//! ```
//! use byterank_core::indexes::RankedGrid;
//! use byterank_core::job::JobSpec;
//! use byterank_core::policy::{capacity_pools_in_order, Distribution, DistributionPolicy, Policy, Pools};
//! use byterank_core::pools::PoolConfig;
//!
//! /// Capacity pools over the target subset ordered by capacity alone.
//! struct Fastest;
//!
//! impl DistributionPolicy for Fastest {
//!     fn name(&self) -> &str {
//!         "fastest"
//!     }
//!     fn pools(&self, ranked: &RankedGrid, job: &JobSpec, subset: &[u32], cfg: &PoolConfig) -> Pools {
//!         let mut order = subset.to_vec();
//!         let capacity = |i: &u32| ranked.indexes[*i as usize].capacity;
//!         order.sort_by(|a, b| capacity(b).total_cmp(&capacity(a)));
//!         capacity_pools_in_order(ranked, job, &order, cfg)
//!     }
//! }
//!
//! static FASTEST: Fastest = Fastest;
//! let mut cfg = byterank_core::EngineConfig::default();
//! cfg.plan.distribution = Distribution::Custom(Policy(&FASTEST));
//! let engine: byterank_core::Engine = byterank_core::Engine::new(cfg)?;
//! assert_eq!(engine.config().plan.distribution.name(), "fastest");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod byterank;
mod fcfs;
mod random;

use alloc::vec::Vec;

pub use byterank::ByteRankPools;
pub use fcfs::Fcfs;
pub use random::RandomPools;

use crate::indexes::RankedGrid;
use crate::job::JobSpec;
use crate::pools::{capacity_pools, default_params, pools_for_level, PoolConfig, PoolParams};

/// A job's target subset cut into pools: what a policy decides at submission and
/// at every re-plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Pools {
    /// The thresholds the pools were built with (reported in the plan).
    pub params: PoolParams,
    /// Every pool (snapshot indices, each a device of the target subset, none in
    /// two pools), pool 1 first; none empty.
    pub pools: Vec<Vec<u32>>,
    /// How many pools, from pool 1, the job uses: its copies are dealt to their
    /// queues only (at least 1, at most `pools.len()`).
    pub used: usize,
}

/// How a job's copies reach devices. Implement it to compare a policy of your own
/// with the shipped ones (see the [module docs](self)).
///
/// The planner deals a job's copies round-robin over the used pools' queues,
/// replication and rewards included, whatever the policy; a pulling device takes
/// from its own pool's queue and the ones after it ([`first_pool`](Self::first_pool)
/// says where it starts). Devices outside the used pools never see the job.
pub trait DistributionPolicy: Sync {
    /// The policy's name, shown in configurations and reports.
    fn name(&self) -> &str;

    /// Cuts `subset`, the job's target subset (eligible active devices as
    /// indices into `ranked`, best ByteRank first, never empty), into pools.
    /// A result that breaks the rules of [`Pools`] is refused: the job is not
    /// planned (at submission) or keeps its pools (at a re-plan).
    fn pools(&self, ranked: &RankedGrid, job: &JobSpec, subset: &[u32], cfg: &PoolConfig) -> Pools;

    /// The first pool (0-based) whose queue a device of pool `own` (0-based)
    /// takes from; it then goes on to the pools after it. The default, `own`,
    /// is the paper's rule: work is inherited from lower pools, never from
    /// higher ones; 0 lets every device take from every pool, the first first.
    fn first_pool(&self, own: usize) -> usize {
        own
    }
}

/// Capacity pools (Algorithm 2) over the target subset taken in `order`, as deep
/// as the job's ByteLevel reaches, with the job's thresholds or the defaults: the
/// shipped pool policies use it, and so may yours.
pub fn capacity_pools_in_order(ranked: &RankedGrid, job: &JobSpec, order: &[u32], cfg: &PoolConfig) -> Pools {
    let capacities: Vec<f64> = order.iter().map(|&i| ranked.indexes[i as usize].capacity).collect();
    let defaults = default_params(&capacities, cfg);
    let params = PoolParams {
        c_min: job.pools.c_min.unwrap_or(defaults.c_min),
        s_min: job.pools.s_min.unwrap_or(defaults.s_min),
    };
    let ranges = capacity_pools(&capacities, params);
    let used = pools_for_level(&ranges, job.preferences.byte_level, cfg);
    let pools = ranges.iter().map(|r| order[r.clone()].to_vec()).collect();
    Pools { params, pools, used }
}

/// An embedder's policy, by reference: equal to another when their names are.
#[derive(Clone, Copy)]
pub struct Policy(pub &'static dyn DistributionPolicy);

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.0.name() == other.0.name()
    }
}

impl Eq for Policy {}

impl core::fmt::Debug for Policy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Policy({:?})", self.0.name())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

/// The distribution policy a configuration names: a shipped one, or an
/// embedder's ([`Distribution::Custom`], code: it serializes as its name and is
/// set again in code, not read from a file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Distribution {
    /// The paper's: capacity pools over the target subset in ByteRank order, as
    /// deep as the job's ByteLevel reaches ([`ByteRankPools`]).
    #[default]
    ByteRank,
    /// First come, first served: one queue for the whole target subset, no
    /// ranking and no pools, what a BOINC-style feeder does ([`Fcfs`]).
    Fcfs,
    /// Capacity pools built the same way over the target subset in a random order
    /// (seeded, per job): pools without the ranking ([`RandomPools`]).
    Random {
        /// Seed of the shuffles (mixed with the job's id).
        seed: u64,
    },
    /// An embedder's policy.
    #[cfg_attr(feature = "serde", serde(skip_deserializing))]
    Custom(Policy),
}

impl Distribution {
    /// Runs `f` on the policy this names.
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&dyn DistributionPolicy) -> R) -> R {
        match *self {
            Distribution::ByteRank => f(&ByteRankPools),
            Distribution::Fcfs => f(&Fcfs),
            Distribution::Random { seed } => f(&RandomPools { seed }),
            Distribution::Custom(Policy(p)) => f(p),
        }
    }
}

impl DistributionPolicy for Distribution {
    fn name(&self) -> &str {
        match self {
            Distribution::ByteRank => ByteRankPools.name(),
            Distribution::Fcfs => Fcfs.name(),
            Distribution::Random { .. } => "random",
            Distribution::Custom(Policy(p)) => p.name(),
        }
    }

    fn pools(&self, ranked: &RankedGrid, job: &JobSpec, subset: &[u32], cfg: &PoolConfig) -> Pools {
        self.with(|p| p.pools(ranked, job, subset, cfg))
    }

    #[inline]
    fn first_pool(&self, own: usize) -> usize {
        match self {
            Distribution::Custom(Policy(p)) => p.first_pool(own),
            _ => own,
        }
    }
}

/// What is wrong with a policy's pools for `subset`, if anything.
pub(crate) fn check_pools(p: &Pools, subset: &[u32]) -> Result<(), &'static str> {
    if p.used == 0 || p.used > p.pools.len() {
        return Err("uses no pool, or more pools than it made");
    }
    if p.pools.iter().any(Vec::is_empty) {
        return Err("made an empty pool");
    }
    let mut members: Vec<u32> = p.pools.iter().flatten().copied().collect();
    members.sort_unstable();
    if members.windows(2).any(|w| w[0] == w[1]) {
        return Err("put a device in two pools");
    }
    let mut subset = subset.to_vec();
    subset.sort_unstable();
    if members.iter().any(|m| subset.binary_search(m).is_err()) {
        return Err("put a device outside the target subset in a pool");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::grid::Grid;
    use crate::indexes::{rank_grid, IndexConfig, Lottery};
    use crate::time::Timestamp;

    /// The shipped policies keep the contract by construction (the planner
    /// checks only an embedder's): every pool non-empty, from the subset, no
    /// device twice, at least one pool used.
    #[test]
    fn the_shipped_policies_keep_the_contract() {
        let devices = (0..300)
            .map(|i| Device {
                processor_score: Some(100.0 + f64::from(i * 37 % 400)),
                ..Device::new(alloc::format!("d{i}"))
            })
            .collect();
        let ranked = rank_grid(&Grid::new(Timestamp(0), devices).unwrap(), &IndexConfig::default(), Lottery::Recorded);
        let subset: Vec<u32> = (0..300).filter(|i| i % 3 != 0).collect();
        for level in [crate::job::ByteLevel::Low, crate::job::ByteLevel::Balanced, crate::job::ByteLevel::High] {
            let mut job = JobSpec::new("j", 100);
            job.preferences.byte_level = level;
            for d in [Distribution::ByteRank, Distribution::Fcfs, Distribution::Random { seed: 9 }] {
                let p = d.pools(&ranked, &job, &subset, &PoolConfig::default());
                assert_eq!(check_pools(&p, &subset), Ok(()), "{d:?} {level:?}");
                assert_eq!(p.pools.iter().map(Vec::len).sum::<usize>(), subset.len(), "{d:?} keeps the subset");
            }
        }
    }
}
