//! Admission: the rules every job meets before the engine changes anything, the
//! same for every adapter (CLI, service, simulator, embedder).
//!
//! A job is admitted when its ids are valid, its work can be sized, its price
//! pays every task a bounty of at least 1 ByteChip (and the engine's least
//! price per task, when it has one), its application splits it into exactly
//! the chunks its work implies and gives a valid assembly order. The cheap
//! rules come first, so that a 10,000,000-chunk job for 1 ByteChip is refused
//! before anything is split. Once planned, a job whose replication its pools
//! cannot hold is refused, unless it accepts unverified results or waits for
//! devices until a deadline it set ([`ReplicationAdmission`]).

use alloc::string::String;
use alloc::vec::Vec;

use super::config::EngineConfig;
use super::error::SubmitError;
use crate::application::{Application, Chunk};
use crate::device::{display_id, id_problem};
use crate::job::{JobSpec, ReplicationGoal};
use crate::plan::{JobPlan, PlanError};
use crate::reward::{split_price, ByteChips, JobAccount};

/// A job the admission rules refuse ([`Engine::submit_job`](super::Engine::submit_job),
/// [`Engine::quote`](super::Engine::quote)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AdmissionError {
    /// The user the job is charged to has no valid id.
    #[error("job `{job}`: user id `{user}` {problem}")]
    BadUser {
        /// The job.
        job: String,
        /// The user's id, as error messages show ids.
        user: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The price is below the engine's least price per task.
    #[error(
        "job `{job}`: `price_chips` = {price} is below the {least} this engine takes for {tasks} tasks \
         ({per_task} per task): raise it"
    )]
    BelowMinimumPrice {
        /// The job.
        job: String,
        /// Its tasks.
        tasks: u64,
        /// The price given.
        price: ByteChips,
        /// The least price per task.
        per_task: ByteChips,
        /// The least price of the job.
        least: u128,
    },
    /// Some task's bounty would be 0 ByteChips.
    #[error(
        "job `{job}`: `price_chips` = {price} leaves {unpaid} of {tasks} tasks with a bounty of 0 ByteChips: \
         raise it (workers get {workers} of the price, split by task size, and every task's bounty must be \
         at least 1 ByteChip)"
    )]
    Unpaid {
        /// The job.
        job: String,
        /// The price given.
        price: ByteChips,
        /// Tasks without a bounty (a lower bound when found before the split).
        unpaid: u64,
        /// The job's tasks.
        tasks: u64,
        /// The workers' share, as a fraction (`7/10`).
        workers: String,
    },
    /// The application's split disagrees with the work the job describes.
    #[error(
        "job `{job}`: application `{application}` split it into {chunks} chunks where its work has {tasks}, or \
         chunk {at} is not the one the work implies (index {at}, size {size}): the application is faulty"
    )]
    SplitMismatch {
        /// The job.
        job: String,
        /// The application.
        application: &'static str,
        /// Chunks the split returned.
        chunks: u64,
        /// Tasks the work implies.
        tasks: u64,
        /// The first chunk at fault (or the count, when one is missing).
        at: u64,
        /// The size the work implies for it.
        size: u64,
    },
    /// The job's replication cannot be met on the devices its plan may use, and
    /// it neither accepts unverified results nor waits for devices.
    #[error(
        "job `{job}`: {goal} needs {per_task} distinct devices per task but the pools it may use have {devices} \
         ({unplaced} of {asked} copies cannot be placed): set `accept_unverified` to run with unverified results, \
         or `deadline_s` to wait for devices"
    )]
    ReplicationShortfall {
        /// The job.
        job: String,
        /// Its replication goal, as written in the job file (`replication r = 2`).
        goal: String,
        /// The most copies the plan asks for one task.
        per_task: u32,
        /// Distinct devices in the pools the job may use.
        devices: u64,
        /// Copies asked for.
        asked: u64,
        /// Copies that cannot be placed.
        unplaced: u64,
    },
    /// The application's assembly order is not a permutation of the chunks.
    #[error(
        "job `{job}`: application `{application}` gives an assembly order that is not each of its {tasks} \
         chunk indexes once: the application is faulty"
    )]
    BadAssemblyOrder {
        /// The job.
        job: String,
        /// The application.
        application: &'static str,
        /// The job's tasks.
        tasks: u64,
    },
}

impl AdmissionError {
    /// Whether the job's price is at fault (raising it would admit the job).
    pub fn names_the_price(&self) -> bool {
        matches!(self, AdmissionError::BelowMinimumPrice { .. } | AdmissionError::Unpaid { .. })
    }
}

/// What admission does with a job whose replication cannot be met: its target
/// subset has fewer distinct devices than a task's copies need, so some copies
/// cannot be placed ([`EngineConfig::replication_admission`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ReplicationAdmission {
    /// Refused with the shortfall named, unless the job sets `accept_unverified`
    /// (it runs, and its tasks short of copies complete unverified) or
    /// `deadline_s` (it runs and waits for devices until its deadline; its
    /// tasks reach a verdict only as cross-checked ones).
    #[default]
    Strict,
    /// The copies that fit are placed, the rest dropped, and the job runs: its
    /// tasks short of copies complete unverified.
    Lenient,
}

/// How a job admitted with copies its pools cannot hold runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shortfall {
    /// Every copy was placed, or the unplaced ones are dropped: its tasks
    /// short of copies complete unverified.
    Drop,
    /// The unplaced copies wait in the rescue queue for devices that have not
    /// run their tasks; they count towards each task's verdict.
    Wait,
}

/// What admission does with a plan whose copies do not all fit in its pools.
pub(super) fn replication_rule(
    spec: &JobSpec,
    plan: &JobPlan,
    cfg: &EngineConfig,
) -> Result<Shortfall, AdmissionError> {
    let r = &plan.replication;
    // A job run only by trusted devices has each result verified by its
    // device (spec §11, rule 2): copies short of the plan cost no verification.
    let lenient = cfg.replication_admission == ReplicationAdmission::Lenient;
    if r.unplaced == 0 || lenient || spec.accept_unverified || spec.preferences.trusted {
        return Ok(Shortfall::Drop);
    }
    if spec.deadline_s.is_some() {
        return Ok(Shortfall::Wait);
    }
    let goal = match spec.replication {
        Some(ReplicationGoal::R(x)) => alloc::format!("replication r = {x}"),
        Some(ReplicationGoal::MaxPjf(d)) => alloc::format!("replication max_pjf = {d}"),
        None => String::from("replication"),
    };
    Err(AdmissionError::ReplicationShortfall {
        job: display_id(&spec.id),
        goal,
        per_task: r.per_task,
        devices: r.devices as u64,
        asked: (r.copies + r.unplaced) as u64,
        unplaced: r.unplaced as u64,
    })
}

/// What admission decided of a job: its chunks, money and assembly order.
pub(super) struct Admitted {
    pub(super) chunks: Vec<Chunk>,
    pub(super) account: JobAccount,
    pub(super) chunk_bytes: Option<u64>,
    /// The assembly order when it is not ascending index order.
    pub(super) assembly: Option<Vec<u32>>,
}

/// The rules that need no split, in O(1): the job's own checks (ids, limits, how
/// its work is given), the user's id, and the price against its tasks.
pub(super) fn terms(spec: &JobSpec, user: Option<&str>, cfg: &EngineConfig) -> Result<(), SubmitError> {
    let job = || display_id(&spec.id);
    let tasks = spec.tasks().map_err(PlanError::from)?;
    if let Some((user, problem)) = user.and_then(|u| Some((u, id_problem(u)?))) {
        return Err(AdmissionError::BadUser { job: job(), user: display_id(user), problem }.into());
    }
    let price = spec.price_chips;
    let per_task = cfg.min_task_price;
    let least = u128::from(tasks) * u128::from(per_task.0);
    if u128::from(price.0) < least {
        return Err(AdmissionError::BelowMinimumPrice { job: job(), tasks, price, per_task, least }.into());
    }
    let rewards = &cfg.plan.rewards;
    let workers =
        split_price(price, rewards).map_err(|e| SubmitError::Reward { job: display_id(&spec.id), error: e })?.workers;
    if workers.0 < tasks {
        // Fewer chips than tasks: at least that many tasks get none.
        let unpaid = tasks - workers.0;
        return Err(AdmissionError::Unpaid { job: job(), price, unpaid, tasks, workers: share(cfg) }.into());
    }
    Ok(())
}

/// The workers' share, as a fraction (`7/10`).
fn share(cfg: &EngineConfig) -> String {
    let r = &cfg.plan.rewards;
    alloc::format!("{}/{}", r.workers_numerator, r.workers_denominator)
}

/// Runs every admission rule on `spec`, charged to `user` (none for a quote)
/// and split by `app`, without changing anything.
pub(super) fn admit(
    app: &dyn Application,
    spec: &JobSpec,
    user: Option<&str>,
    cfg: &EngineConfig,
) -> Result<Admitted, SubmitError> {
    terms(spec, user, cfg)?;
    let job = || display_id(&spec.id);
    let work = spec.work().map_err(PlanError::from)?;
    let tasks = work.sizes.len() as u64;
    let price = spec.price_chips;
    let rewards = &cfg.plan.rewards;
    let chunks = app.split(spec).map_err(|e| SubmitError::Application { job: display_id(&spec.id), error: e })?;
    let mismatch = |at: u64, size: u64| {
        SubmitError::Admission(AdmissionError::SplitMismatch {
            job: job(),
            application: app.name(),
            chunks: chunks.len() as u64,
            tasks,
            at,
            size,
        })
    };
    if chunks.len() as u64 != tasks {
        let at = tasks.min(chunks.len() as u64);
        return Err(mismatch(at, work.sizes.get(at as usize).copied().unwrap_or(0)));
    }
    // A job of bytes has sizes its bounties follow; a job of `chunks` counts
    // abstract units of 1, and its application may give chunks sizes of its own.
    let sized = work.chunk_bytes.is_some();
    if let Some(i) = chunks.iter().zip(&work.sizes).position(|(c, &s)| sized && c.len != s) {
        return Err(mismatch(i as u64, work.sizes[i]));
    }
    if let Some(i) = chunks.iter().enumerate().position(|(i, c)| c.index as usize != i) {
        return Err(mismatch(i as u64, work.sizes[i]));
    }
    let account = JobAccount::new(price, &work.sizes, rewards)
        .map_err(|e| SubmitError::Reward { job: display_id(&spec.id), error: e })?;
    let unpaid = account.bounties().filter(|b| *b == ByteChips::ZERO).count() as u64;
    if unpaid > 0 {
        return Err(SubmitError::Admission(AdmissionError::Unpaid {
            job: job(),
            price,
            unpaid,
            tasks,
            workers: share(cfg),
        }));
    }
    let order = app.assembly_order(&chunks);
    let assembly = assembly_of(order, chunks.len()).map_err(|()| AdmissionError::BadAssemblyOrder {
        job: job(),
        application: app.name(),
        tasks,
    })?;
    Ok(Admitted { chunks, account, chunk_bytes: work.chunk_bytes, assembly })
}

/// `order` when it is a permutation of `0..n` other than the identity, `None`
/// for the identity, `Err` when it is no permutation.
fn assembly_of(order: Vec<u32>, n: usize) -> Result<Option<Vec<u32>>, ()> {
    if order.len() != n {
        return Err(());
    }
    if order.iter().enumerate().all(|(i, &c)| c as usize == i) {
        return Ok(None);
    }
    let mut seen = alloc::vec![false; n];
    for &c in &order {
        match seen.get_mut(c as usize) {
            Some(s) if !*s => *s = true,
            _ => return Err(()),
        }
    }
    Ok(Some(order))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembly_orders() {
        assert_eq!(assembly_of(alloc::vec![0, 1, 2], 3), Ok(None));
        assert_eq!(assembly_of(alloc::vec![2, 0, 1], 3), Ok(Some(alloc::vec![2, 0, 1])));
        assert_eq!(assembly_of(alloc::vec![0, 0, 1], 3), Err(()));
        assert_eq!(assembly_of(alloc::vec![0, 1, 3], 3), Err(()));
        assert_eq!(assembly_of(alloc::vec![0, 1], 3), Err(()));
        assert_eq!(assembly_of(alloc::vec![], 0), Ok(None));
    }
}
