//! The job plan: everything the scheduling algorithm decides at submission
//! (§3.3.4 of the paper), in one call over a ranked snapshot.
//!
//! 1. **Eligibility**: the target subset, in rank order ([`crate::eligibility`]).
//! 2. **Capacity pools** over it, and the pools the job's ByteLevel reaches
//!    ([`crate::pools`]).
//! 3. **Replication**: the number of copies `M` of the `m` unique tasks, solved for
//!    the job's bound on the probability of joint failure (or fixed by `r`)
//!    ([`crate::replication`]).
//! 4. **Queues**: the `M` copies dealt to the used pools' queues round-robin from
//!    pool 1, except that a pool never holds more copies of one task than it has
//!    devices (the copy goes to the next pool down), so small pools can make queue
//!    lengths differ by more than one. The plan says how many copies the job
//!    asked for, how many were placed, and on how many distinct devices: a
//!    task's copies beyond the used pools' devices cannot be placed.
//! 5. **Bounties**: the workers' 70% of the price, per task ([`crate::reward`]).
//!
//! # How replicas reach pool queues
//!
//! The paper's replication model pins copies to devices; distribution is pull-based.
//! The plan bridges the two with *slots*: slot `j` of the `M` is dealt to pool
//! `j mod K` (K pools used), and its failure probability is that of a device drawn
//! from its pool: the mean over the pool's devices of the probability that an
//! attempt of the expected length ends without a result ([`crate::reliability`];
//! the paper's fault rate `R` with [`FailureModel::Paper`], or when the snapshot has
//! no engine history), floored at [`PlanConfig::min_failure_probability`] (an empty
//! history is not proof of reliability). The replication assignment then maps slots to tasks, so a task's
//! copies sit in the queues of pools whose devices together make its joint failure
//! unlikely. Within a queue, copies are ordered by replica number, then task, so
//! that early pulls start distinct tasks.

use alloc::string::String;
use alloc::vec::Vec;

use crate::eligibility::{explain, target_subset, Ineligible};
use crate::indexes::RankedGrid;
use crate::job::{JobError, JobSpec, ReplicationGoal, Work};
use crate::policy::{check_pools, DistributionPolicy, Pools};
use crate::pools::{PoolConfig, PoolParams};
use crate::reliability::{FailureModel, FailurePrior};
use crate::replication::{self, Assignment, ReplicationError};
use crate::reward::{bounties, split_price, ByteChips, PriceSplit, RewardConfig, RewardError};

pub use crate::policy::Distribution;

/// Planner settings. `Default` gives the documented choices.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PlanConfig {
    /// Pool defaults and ByteLevel shares.
    pub pools: PoolConfig,
    /// Largest replication factor the solver may use (default 10).
    pub max_r: f64,
    /// How copies are grouped into tasks (default: ours, balanced).
    pub assignment: Assignment,
    /// The least failure probability assumed for a pool (default 0.001).
    pub min_failure_probability: f64,
    /// The price split.
    pub rewards: RewardConfig,
    /// How the target subset becomes pools and which pools a device takes from
    /// (default: the paper's; [`crate::policy`]).
    pub distribution: Distribution,
    /// The failure probability assumed for a copy (default: the session model).
    #[cfg_attr(feature = "serde", serde(default))]
    pub failure_model: FailureModel,
    /// The session model's priors.
    #[cfg_attr(feature = "serde", serde(default))]
    pub failure_prior: FailurePrior,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            pools: PoolConfig::default(),
            max_r: 10.0,
            assignment: Assignment::Balanced,
            min_failure_probability: 0.001,
            rewards: RewardConfig::default(),
            distribution: Distribution::ByteRank,
            failure_model: FailureModel::default(),
            failure_prior: FailurePrior::default(),
        }
    }
}

/// One copy of a task in a pool queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TaskCopy {
    /// Replica number, 0 for the first copy.
    pub replica: u32,
    /// The unique task (chunk) index.
    pub task: u32,
}

/// The replication part of a plan.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReplicationPlan {
    /// `m`, the unique tasks.
    pub unique: usize,
    /// `M`, all copies.
    pub copies: usize,
    /// `r = M / m`.
    pub r: f64,
    /// The probability that some task fails on every copy, under the model above.
    pub pjf: f64,
    /// Whether the job's bound was met by the copies as placed (always true for a
    /// fixed `r`).
    pub achievable: bool,
    /// Copies the solver asked for that no pool could hold: a task never gets more
    /// copies than the used pools have devices, since a device never runs two
    /// copies of one task.
    pub unplaced: usize,
    /// The most copies the solver asked for one task: to cross-check it, that
    /// many distinct devices must run it.
    pub per_task: u32,
    /// The tasks given fewer copies than asked, and how many each lacks, in task
    /// order.
    pub short: Vec<(u32, u32)>,
    /// Distinct devices in the used pools: the most copies of one task that can
    /// be placed.
    pub devices: usize,
    /// The assignment used.
    pub assignment: Assignment,
    /// The failure probability assumed for each used pool, pool 1 first.
    pub pool_failure: Vec<f64>,
}

/// Everything decided for one job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPlan {
    /// The job's id.
    pub job: String,
    /// Eligible active devices (indices into the snapshot), best rank first.
    pub target_subset: Vec<u32>,
    /// The thresholds the pools were built with.
    pub params: PoolParams,
    /// Every capacity pool of the target subset (device indices), pool 1 first.
    pub pools: Vec<Vec<u32>>,
    /// How many pools (from pool 1) the job's ByteLevel reaches.
    pub pools_used: usize,
    /// Each used pool's queue, in pull order.
    pub queues: Vec<Vec<TaskCopy>>,
    /// Copies and their probability of joint failure.
    pub replication: ReplicationPlan,
    /// Workers' and platform's shares of the price.
    pub split: PriceSplit,
    /// Each task's bounty; they sum to the workers' share.
    pub bounties: Vec<ByteChips>,
}

/// A job the planner cannot plan.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The job file is wrong.
    #[error(transparent)]
    Job(#[from] JobError),
    /// No active device meets the job's requirements.
    #[error(
        "job `{job}`: no active device meets its requirements ({reasons}); relax the preferences or wait for devices"
    )]
    NoEligibleDevice {
        /// The job.
        job: String,
        /// Devices counted by the first requirement they fail.
        reasons: String,
    },
    /// The distribution policy's pools break its contract ([`crate::policy::Pools`]).
    #[error("job `{job}`: the distribution policy `{policy}` {problem}; fix the policy")]
    Policy {
        /// The job.
        job: String,
        /// The policy's name.
        policy: String,
        /// What it did wrong.
        problem: &'static str,
    },
    /// The replication solver rejected its input.
    #[error("job `{0}`: replication: {1}")]
    Replication(String, ReplicationError),
    /// The rewards cannot be computed.
    #[error("job `{0}`: rewards: {1}")]
    Reward(String, RewardError),
}

/// A job's target subset cut into capacity pools (steps 1 and 2 of a plan).
#[derive(Clone, Debug, PartialEq)]
pub struct JobPools {
    /// Eligible active devices (snapshot indices), best rank first.
    pub subset: Vec<u32>,
    /// The thresholds the pools were built with (the job's, or the defaults).
    pub params: PoolParams,
    /// Every pool (device indices), pool 1 first.
    pub pools: Vec<Vec<u32>>,
    /// How many pools, from pool 1, the job's ByteLevel reaches.
    pub used: usize,
}

/// The target subset of `job` over a ranked snapshot and its pools, as the
/// configured policy cuts them; `Ok(None)` when no device qualifies, an error
/// naming the fault when the policy's pools break their contract. The planner and
/// the engine's re-planning share it.
pub fn job_pools(
    ranked: &RankedGrid,
    job: &JobSpec,
    work: &Work,
    cfg: &PlanConfig,
) -> Result<Option<JobPools>, &'static str> {
    let subset = target_subset(&ranked.eligibility, &ranked.ranking, job, work);
    if subset.is_empty() {
        return Ok(None);
    }
    let p = cfg.distribution.pools(ranked, job, &subset, &cfg.pools);
    // The shipped policies keep the contract by construction; an embedder's is
    // checked (a sort of the subset: too dear for every re-plan of every job).
    if matches!(cfg.distribution, Distribution::Custom(_)) {
        check_pools(&p, &subset)?;
    }
    let Pools { params, pools, used } = p;
    Ok(Some(JobPools { subset, params, pools, used }))
}

/// Plans `job` over a ranked snapshot ([`rank_grid`](crate::indexes::rank_grid)).
pub fn plan_job(ranked: &RankedGrid, job: &JobSpec, cfg: &PlanConfig) -> Result<JobPlan, PlanError> {
    let work = job.work()?;
    let policy_err =
        |problem| PlanError::Policy { job: job.id.clone(), policy: cfg.distribution.name().into(), problem };
    let Some(JobPools { subset, params, pools, used: pools_used }) =
        job_pools(ranked, job, &work, cfg).map_err(policy_err)?
    else {
        return Err(PlanError::NoEligibleDevice { job: job.id.clone(), reasons: count_reasons(ranked, job, &work) });
    };

    let sessions = cfg.failure_model == FailureModel::Sessions && ranked.reliability.len() == ranked.indexes.len();
    let failure = |i: u32| match sessions {
        true => ranked.reliability[i as usize].expected_failure(),
        false => ranked.indexes[i as usize].fault_rate,
    };
    let pool_failure: Vec<f64> = pools[..pools_used]
        .iter()
        .map(|pool| {
            let mean = pool.iter().map(|&i| failure(i)).sum::<f64>() / pool.len() as f64;
            mean.clamp(cfg.min_failure_probability, 1.0)
        })
        .collect();
    let m = work.sizes.len();
    let k = pools_used;
    let slots = |copies: usize| -> Vec<f64> { (0..copies).map(|j| pool_failure[j % k]).collect() };
    let rep_err = |e| PlanError::Replication(job.id.clone(), e);
    let (copies, achievable) = match job.replication {
        None => (m, true),
        Some(ReplicationGoal::R(r)) => (replication::copies_for(r, m).map_err(rep_err)?, true),
        Some(ReplicationGoal::MaxPjf(delta)) => {
            let most = replication::copies_for(cfg.max_r, m).map_err(rep_err)?;
            let s = replication::solve(&slots(most), m, delta, cfg.max_r, cfg.assignment).map_err(rep_err)?;
            (s.copies, s.achievable)
        }
    };
    let probs = slots(copies);
    let task_of_slot = replication::assign(&probs, m, cfg.assignment).map_err(rep_err)?;
    let sizes: Vec<usize> = pools[..k].iter().map(Vec::len).collect();
    let asked_of = copies_of(task_of_slot.iter().copied(), m);
    let per_task = asked_of.iter().copied().max().unwrap_or(0);
    let placed = place_copies(&task_of_slot, m, &sizes);
    let placed_probs: Vec<f64> = placed.iter().map(|c| pool_failure[c.pool as usize]).collect();
    let placed_tasks: Vec<u32> = placed.iter().map(|c| c.copy.task).collect();
    let pjf = replication::pjf_of(&placed_probs, &placed_tasks, m).map_err(rep_err)?;
    let achievable = match job.replication {
        Some(ReplicationGoal::MaxPjf(delta)) => achievable && pjf <= delta,
        _ => achievable,
    };
    let mut queues: Vec<Vec<TaskCopy>> = (0..k).map(|_| Vec::with_capacity(placed.len() / k + 1)).collect();
    for c in &placed {
        queues[c.pool as usize].push(c.copy);
    }
    for q in &mut queues {
        q.sort_unstable();
    }
    let unplaced = copies - placed.len();
    let short: Vec<(u32, u32)> = match unplaced {
        0 => Vec::new(),
        _ => {
            let placed_of = copies_of(placed.iter().map(|c| c.copy.task), m);
            let lacking = asked_of.iter().zip(&placed_of).map(|(a, p)| a - p);
            lacking.enumerate().filter(|(_, n)| *n > 0).map(|(t, n)| (t as u32, n)).collect()
        }
    };
    let copies = placed.len();

    let reward_err = |e| PlanError::Reward(job.id.clone(), e);
    let split = split_price(job.price_chips, &cfg.rewards).map_err(reward_err)?;
    let bounties = bounties(split.workers, &work.sizes).map_err(reward_err)?;
    Ok(JobPlan {
        job: job.id.clone(),
        target_subset: subset,
        params,
        pools,
        pools_used,
        queues,
        replication: ReplicationPlan {
            unique: m,
            copies,
            r: copies as f64 / m as f64,
            pjf,
            achievable,
            unplaced,
            per_task,
            short,
            devices: sizes.iter().sum(),
            assignment: cfg.assignment,
            pool_failure,
        },
        split,
        bounties,
    })
}

/// How many of `tasks` name each of the `m` tasks.
fn copies_of(tasks: impl Iterator<Item = u32>, m: usize) -> Vec<u32> {
    let mut count = alloc::vec![0u32; m];
    for t in tasks {
        count[t as usize] += 1;
    }
    count
}

/// A copy placed in a pool queue (0-based pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Placed {
    pool: u32,
    copy: TaskCopy,
}

/// Places slot `j` (task `task_of_slot[j]`) in pool `j mod K`, except that no pool
/// holds more copies of one task than it has devices: such a copy goes to the next
/// pool down (wrapping to pool 1 after the last), and a copy no pool can hold is
/// not placed. Replica numbers follow slot order within each task.
fn place_copies(task_of_slot: &[u32], m: usize, sizes: &[usize]) -> Vec<Placed> {
    let k = sizes.len();
    // Slots grouped by task (a counting sort), so each task's pools are a short list.
    let mut start = alloc::vec![0u32; m + 1];
    for &t in task_of_slot {
        start[t as usize + 1] += 1;
    }
    for t in 0..m {
        start[t + 1] += start[t];
    }
    let mut next = start.clone();
    let mut by_task = alloc::vec![0u32; task_of_slot.len()];
    for (j, &t) in task_of_slot.iter().enumerate() {
        by_task[next[t as usize] as usize] = j as u32;
        next[t as usize] += 1;
    }
    let mut placed = Vec::with_capacity(task_of_slot.len());
    let mut used: Vec<(u32, u32)> = Vec::new(); // (pool, copies of this task in it)
    for t in 0..m {
        used.clear();
        let mut replica = 0;
        for &j in &by_task[start[t] as usize..start[t + 1] as usize] {
            let home = j as usize % k;
            let fits = |p: usize, used: &[(u32, u32)]| {
                used.iter().find(|(q, _)| *q as usize == p).map_or(0, |(_, n)| *n as usize) < sizes[p]
            };
            let Some(pool) = (0..k).map(|i| (home + i) % k).find(|&p| fits(p, &used)) else { continue };
            match used.iter_mut().find(|(q, _)| *q as usize == pool) {
                Some((_, n)) => *n += 1,
                None => used.push((pool as u32, 1)),
            }
            placed.push(Placed { pool: pool as u32, copy: TaskCopy { replica, task: t as u32 } });
            replica += 1;
        }
    }
    placed
}

fn count_reasons(ranked: &RankedGrid, job: &JobSpec, work: &Work) -> String {
    use core::fmt::Write;
    let mut counts: Vec<(Ineligible, usize)> = Vec::new();
    for why in explain(&ranked.eligibility, &ranked.ranking, job, work).into_iter().filter_map(Result::err) {
        match counts.iter_mut().find(|(r, _)| *r == why) {
            Some((_, n)) => *n += 1,
            None => counts.push((why, 1)),
        }
    }
    let mut s = String::new();
    for (i, (why, n)) in counts.iter().enumerate() {
        let _ = write!(s, "{}{n} {}", if i > 0 { ", " } else { "" }, why.name());
    }
    if s.is_empty() {
        s.push_str("the grid has no device");
    }
    s
}
