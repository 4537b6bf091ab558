//! What `byterank rank` and `byterank plan` print, as data.

use byterank_core::grid::{Grid, GridSnapshot};
use byterank_core::indexes::RankedGrid;
use byterank_core::plan::{JobPlan, ReplicationPlan};
use byterank_core::reward::{ByteChips, PriceSplit};
use serde::Serialize;

/// One device's line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankedDevice<'a> {
    /// Device id.
    pub id: &'a str,
    /// ByteRank, 1 is best; 0 when flagged.
    pub rank: u32,
    /// Capacity score.
    pub capacity: f64,
    /// Fault rate.
    pub fault_rate: f64,
    /// Flags raised, by name.
    pub flags: Vec<&'static str>,
}

/// Every device of a grid, best rank first, flagged devices last (in id order).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankReport<'a> {
    /// The devices.
    pub devices: Vec<RankedDevice<'a>>,
}

impl<'a> RankReport<'a> {
    /// Lays out a ranked grid.
    pub fn new(grid: &'a Grid, ranked: &RankedGrid) -> RankReport<'a> {
        let line = |i: usize| {
            let ix = &ranked.indexes[i];
            RankedDevice {
                id: &grid.device(i).id,
                rank: ranked.ranking.rank(i),
                capacity: ix.capacity,
                fault_rate: ix.fault_rate,
                flags: ix.flags.iter().map(|f| f.name()).collect(),
            }
        };
        let active = ranked.ranking.order().iter().map(|&i| line(i as usize));
        let flagged = (0..grid.len()).filter(|&i| ranked.ranking.rank(i) == 0).map(line);
        RankReport { devices: active.chain(flagged).collect() }
    }
}

/// `byterank plan`'s output: the plan with device ids instead of indices.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanReport<'a> {
    /// The job's id.
    pub job: &'a str,
    /// Eligible active devices, best rank first.
    pub target_subset: Vec<&'a str>,
    /// Least cumulative capacity of a pool.
    pub c_min: f64,
    /// Least pool size.
    pub s_min: usize,
    /// Every pool (device ids, best first), pool 1 first.
    pub pools: Vec<Vec<&'a str>>,
    /// Pools the job's ByteLevel reaches.
    pub pools_used: usize,
    /// Each used pool's queue: `[task, replica]` pairs in pull order.
    pub queues: Vec<Vec<[u32; 2]>>,
    /// Copies, r and the probability of joint failure.
    pub replication: &'a ReplicationPlan,
    /// Workers' and platform's shares of the price.
    pub price: &'a PriceSplit,
    /// Each task's bounty, ByteChips.
    pub bounties: &'a [ByteChips],
}

impl<'a> PlanReport<'a> {
    /// Lays out a plan over its grid.
    pub fn new(grid: &'a Grid, plan: &'a JobPlan) -> PlanReport<'a> {
        let id = |i: &u32| grid.device(*i as usize).id.as_str();
        PlanReport {
            job: &plan.job,
            target_subset: plan.target_subset.iter().map(id).collect(),
            c_min: plan.params.c_min,
            s_min: plan.params.s_min,
            pools: plan.pools.iter().map(|p| p.iter().map(id).collect()).collect(),
            pools_used: plan.pools_used,
            queues: plan.queues.iter().map(|q| q.iter().map(|c| [c.task, c.replica]).collect()).collect(),
            replication: &plan.replication,
            price: &plan.split,
            bounties: &plan.bounties,
        }
    }
}
