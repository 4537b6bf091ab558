//! What `byterank rank` and `byterank plan` print, as data.

use std::collections::BTreeMap;
use std::fmt;

use byterank_core::engine::Replicas;
use byterank_core::grid::{Grid, GridSnapshot};
use byterank_core::indexes::RankedGrid;
use byterank_core::plan::{JobPlan, ReplicationPlan};
use byterank_core::reward::{ByteChips, PriceSplit};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

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
    /// Whether the device holds a lottery win (recorded, or drawn with
    /// `--lottery-seed`): an active winner is moved up by the lottery boost.
    pub lottery_winner: bool,
    /// Flags raised, by name.
    pub flags: Vec<&'static str>,
}

/// The counts behind a ranking, for one summary line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RankSummary {
    /// Devices in the grid.
    pub devices: usize,
    /// Devices with a rank (no flag).
    pub active: usize,
    /// Devices with at least one flag (rank 0).
    pub flagged: usize,
    /// Devices per flag, by flag name; a device with two flags counts under both.
    pub flags: BTreeMap<&'static str, usize>,
    /// Devices holding a lottery win, active or not.
    pub lottery_winners: usize,
    /// Devices listed in the report.
    pub shown: usize,
}

impl fmt::Display for RankSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |n: usize| if n == 1 { "" } else { "s" };
        write!(f, "{} device{}: {} active, {} flagged", self.devices, s(self.devices), self.active, self.flagged)?;
        if !self.flags.is_empty() {
            let reasons: Vec<String> = self.flags.iter().map(|(name, n)| format!("{n} {name}")).collect();
            write!(f, " ({})", reasons.join(", "))?;
        }
        write!(f, ", {} lottery winner{}", self.lottery_winners, s(self.lottery_winners))?;
        if self.shown < self.devices {
            write!(f, "; the top {} shown", self.shown)?;
        }
        Ok(())
    }
}

/// A grid's ranking, laid out: best rank first, then (unless only the top is
/// asked for) flagged devices in id order. Lines are made as they are written, so a
/// report of millions of devices takes no memory of its own.
#[derive(Clone, Debug)]
pub struct RankReport<'a> {
    grid: &'a Grid,
    ranked: &'a RankedGrid,
    top: Option<usize>,
    /// The counts of the whole grid.
    pub summary: RankSummary,
}

impl<'a> RankReport<'a> {
    /// Lays out a ranked grid; `top: Some(n)` keeps the `n` best-ranked devices
    /// only (flagged devices have no rank, so they are left out).
    pub fn new(grid: &'a Grid, ranked: &'a RankedGrid, top: Option<usize>) -> RankReport<'a> {
        let active = ranked.ranking.order().len();
        let mut flags = BTreeMap::new();
        let mut lottery_winners = 0;
        for ix in &ranked.indexes {
            for flag in ix.flags.iter() {
                *flags.entry(flag.name()).or_insert(0) += 1;
            }
            lottery_winners += usize::from(ix.lottery_winner);
        }
        let shown = match top {
            Some(n) => n.min(active),
            None => grid.len(),
        };
        let summary =
            RankSummary { devices: grid.len(), active, flagged: grid.len() - active, flags, lottery_winners, shown };
        RankReport { grid, ranked, top, summary }
    }

    /// The lines of the report, in order.
    pub fn devices(&self) -> impl Iterator<Item = RankedDevice<'a>> + '_ {
        let line = |i: usize| {
            let ix = &self.ranked.indexes[i];
            RankedDevice {
                id: &self.grid.device(i).id,
                rank: self.ranked.ranking.rank(i),
                capacity: ix.capacity,
                fault_rate: ix.fault_rate,
                lottery_winner: ix.lottery_winner,
                flags: ix.flags.iter().map(|f| f.name()).collect(),
            }
        };
        let order = self.ranked.ranking.order();
        let active = order[..self.top.unwrap_or(order.len()).min(order.len())].iter().map(move |&i| line(i as usize));
        let flagged_count = if self.top.is_some() { 0 } else { self.grid.len() };
        let flagged = (0..flagged_count).filter(|&i| self.ranked.ranking.rank(i) == 0).map(line);
        active.chain(flagged)
    }
}

impl Serialize for RankReport<'_> {
    /// `{"summary": {...}, "devices": [...]}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Lines<'r, 'a>(&'r RankReport<'a>);
        impl Serialize for Lines<'_, '_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.devices())
            }
        }
        let mut map = serializer.serialize_struct("RankReport", 2)?;
        map.serialize_field("summary", &self.summary)?;
        map.serialize_field("devices", &Lines(self))?;
        map.end()
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
    /// The copies asked for and placed, on how many distinct devices, and what
    /// the job does about those no pool could hold.
    pub replicas: Replicas,
}

impl<'a> PlanReport<'a> {
    /// Lays out a plan over its grid.
    pub fn new(grid: &'a Grid, plan: &'a JobPlan, replicas: Replicas) -> PlanReport<'a> {
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
            replicas,
        }
    }
}
