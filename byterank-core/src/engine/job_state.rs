//! A job's state in the engine: its spec, chunks, pools and their queues, tasks,
//! account, and the counts kept so that no command scans its tasks (attempts
//! running, tasks open and unverified, live devices in its pools). The counts
//! change only through this file's methods; `Engine::audit` recounts them.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::command::{AttemptId, DeviceId, JobId};
use super::pool_map::PoolMap;
use super::pool_queues::{PoolQueues, QueuedCopy};
use super::tails::Tail;
use super::task::Verdict;
use super::tasks::{Few, Tasks};
use super::JobStatus;
use crate::application::Chunks;
use crate::fault::Outcome;
use crate::job::JobSpec;
use crate::plan::TaskCopy;
use crate::reward::JobAccount;
use crate::time::Timestamp;

/// One job the engine remembers.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct JobEntry {
    pub(super) id: String,
    pub(super) user: String,
    pub(super) spec: JobSpec,
    pub(super) status: JobStatus,
    pub(super) chunks: Chunks,
    /// What eligibility needs of the work (the sizes live in `chunks`).
    pub(super) chunk_bytes: Option<u64>,
    /// The used pools of the last plan, pool 1 first.
    pub(super) pools: Vec<Vec<DeviceId>>,
    /// Where its pool number (1-based; 0: not targeted) of each device is.
    pub(super) pool_of: PoolMap,
    /// Each used pool's assumed failure probability.
    pub(super) pool_failure: Vec<f64>,
    /// Live devices in the used pools: those of the last plan, less those
    /// removed since, plus those registered again since.
    members: u32,
    pub(super) queues: PoolQueues,
    pub(super) tasks: Tasks,
    pub(super) account: JobAccount,
    pub(super) task_count: u32,
    /// Tasks without a final verdict.
    open_tasks: u32,
    /// Tasks decided by one untrusted result.
    unverified: u32,
    /// Attempts of the job running now.
    running: u32,
    /// When a copy of the job was last assigned.
    last_assigned: Timestamp,
    /// Since when no live device qualifies for the job.
    pub(super) starving_since: Option<Timestamp>,
    /// The application's assembly order, checked at admission, when it is not
    /// ascending index order.
    pub(super) assembly: Option<Vec<u32>>,
    /// What its tail needs: the work it learned, its median device, its
    /// speculative copies.
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) tail: Tail,
}

/// What a job starts with ([`JobEntry::new`]).
pub(super) struct NewJob {
    pub id: String,
    pub user: String,
    pub spec: JobSpec,
    pub chunks: Chunks,
    pub chunk_bytes: Option<u64>,
    pub pools: Vec<Vec<DeviceId>>,
    pub pool_of: PoolMap,
    pub pool_failure: Vec<f64>,
    pub account: JobAccount,
    pub assembly: Option<Vec<u32>>,
}

impl JobEntry {
    /// A running job at `now` with its plan's copies dealt to its pool queues
    /// (`queues[k]`: pool k's copies, in pull order).
    pub fn new(job: NewJob, queues: &[Vec<TaskCopy>], now: Timestamp) -> JobEntry {
        let NewJob { id, user, spec, chunks, chunk_bytes, pools, pool_of, pool_failure, account, assembly } = job;
        let n = chunks.len() as u32;
        let mut tasks = Tasks::new(n as usize);
        let mut pool_queues = PoolQueues::new(queues.len());
        for (k, copies) in queues.iter().enumerate() {
            for c in copies {
                pool_queues.push(k, QueuedCopy { task: c.task, replica: c.replica });
                tasks[c.task].plan_copy(c.replica);
            }
        }
        let members = pools.iter().map(|p| p.len() as u32).sum();
        JobEntry {
            id,
            user,
            spec,
            status: JobStatus::Running,
            chunks,
            chunk_bytes,
            pools,
            pool_of,
            pool_failure,
            members,
            queues: pool_queues,
            tasks,
            account,
            task_count: n,
            open_tasks: n,
            unverified: 0,
            running: 0,
            last_assigned: now,
            starving_since: None,
            assembly,
            tail: Tail::default(),
        }
    }

    /// Attempts of the job running now.
    #[inline]
    pub fn running(&self) -> u32 {
        self.running
    }

    /// Tasks without a final verdict.
    #[inline]
    pub fn open_tasks(&self) -> u32 {
        self.open_tasks
    }

    /// Tasks decided by one untrusted result.
    #[inline]
    pub fn unverified(&self) -> u32 {
        self.unverified
    }

    /// Live devices in the used pools.
    #[inline]
    pub fn members(&self) -> u32 {
        self.members
    }

    /// When a copy of the job was last assigned.
    #[inline]
    pub fn last_assigned(&self) -> Timestamp {
        self.last_assigned
    }

    /// A copy of `task` starts running as `attempt` on `device` at `now` (an
    /// arbitration when `arbiter`).
    #[inline]
    pub fn start_attempt(&mut self, task: u32, attempt: AttemptId, device: DeviceId, arbiter: bool, now: Timestamp) {
        self.last_assigned = now;
        self.running += 1;
        self.tasks.push_tried(task, device);
        self.tasks.push_running(task, attempt);
        if arbiter {
            self.tasks[task].set_arbiter(true);
        }
    }

    /// A running attempt of `task` ended, whatever its outcome.
    #[inline]
    pub fn end_attempt(&mut self, task: u32, attempt: AttemptId) {
        self.running -= 1;
        // An ended job has no tasks any more.
        if (task as usize) < self.tasks.len() {
            self.tasks.remove_running(task, attempt);
        }
    }

    /// The task's verdict is final: the outcomes waiting for it, and the
    /// attempts still running, to record and cancel.
    #[inline]
    pub fn decide(&mut self, task: u32, verdict: Verdict) -> (Vec<(DeviceId, Outcome)>, Few<AttemptId>) {
        self.open_tasks -= 1;
        self.unverified += u32::from(verdict.unverified);
        self.tasks.decide(task, verdict)
    }

    /// Its pools are `pools` as of now: their devices are its members.
    pub fn count_members(&mut self, pools: &[Vec<DeviceId>]) {
        self.members = pools.iter().map(|p| p.len() as u32).sum();
    }

    /// A device of its pools left.
    #[inline]
    pub fn member_left(&mut self) {
        self.members -= 1;
    }

    /// A device of its pools came back.
    #[inline]
    pub fn member_back(&mut self) {
        self.members += 1;
    }
}

/// The jobs the engine remembers: running ones, and ended ones until they are
/// released.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Jobs {
    entries: BTreeMap<JobId, JobEntry>,
    next: u32,
}

impl Jobs {
    pub(super) fn get(&self, id: JobId) -> Option<&JobEntry> {
        self.entries.get(&id)
    }

    pub(super) fn next_id(&self) -> JobId {
        JobId(self.next)
    }

    pub(super) fn insert(&mut self, e: JobEntry) -> JobId {
        let id = self.next_id();
        self.next += 1;
        self.entries.insert(id, e);
        id
    }

    pub(super) fn remove(&mut self, id: JobId) -> Option<JobEntry> {
        self.entries.remove(&id)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (JobId, &JobEntry)> {
        self.entries.iter().map(|(id, j)| (*id, j))
    }
}

impl core::ops::Index<JobId> for Jobs {
    type Output = JobEntry;
    fn index(&self, id: JobId) -> &JobEntry {
        &self.entries[&id]
    }
}

impl core::ops::IndexMut<JobId> for Jobs {
    fn index_mut(&mut self, id: JobId) -> &mut JobEntry {
        self.entries.get_mut(&id).expect("a job the engine remembers")
    }
}
