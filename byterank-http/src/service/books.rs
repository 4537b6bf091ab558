//! What the service keeps beside the engine: accounts and keys, each job's book
//! (its owner, its input, its end), and which device holds
//! which attempt. All of it is derived from the journal, so it is snapshotted with
//! the engine and rebuilt by replay.

use std::collections::{BTreeMap, VecDeque};

use byterank_core::{AttemptId, AttemptState, ByteChips, DeviceId, JobId, JobSpec, Timestamp};
use serde::{Deserialize, Serialize};

use crate::auth::KeyRecord;

/// Who a credential speaks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Principal {
    /// The operator.
    Operator,
    /// A user (pays for jobs).
    User(String),
    /// A device, by id (its owner is paid for its work).
    Device(String),
    /// A worker owner: registers devices, reads the wallet.
    Owner(String),
}

/// A key and whom it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The key.
    pub record: KeyRecord,
    /// Whom it speaks for.
    pub principal: Principal,
}

/// A user's account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserBook {
    /// Every top-up, in all.
    pub topped_up: ByteChips,
    /// ByteChips set aside for the user's jobs that wait for their input.
    pub reserved: ByteChips,
}

/// Where a job is, as the service tells users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Created; the service waits for its input.
    AwaitingInput,
    /// Its tasks are being processed.
    Running,
    /// Every task has a verdict; the output is assembled.
    Completed,
    /// It cannot complete (the reason is in the status).
    Failed,
    /// Its user cancelled it.
    Cancelled,
}

/// A job as the service keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobBook {
    /// Who pays.
    pub user: String,
    /// The job file.
    pub spec: JobSpec,
    /// Where it is.
    pub state: JobState,
    /// Its engine handle while it runs.
    pub handle: Option<JobId>,
    /// Tasks (0 until it was accepted).
    pub tasks: u32,
    /// Tasks with a final verdict.
    pub done: u32,
    /// Copies planned at acceptance.
    pub copies: u32,
    /// PJF at acceptance, or as last re-planned.
    pub pjf: f64,
    /// What became of the copies its replication asked for, at acceptance.
    #[serde(default)]
    pub replicas: Option<byterank_core::engine::Replicas>,
    /// Tasks decided by one untrusted result.
    pub unverified: u32,
    /// Attempts whose uploaded results are stored, while it runs.
    pub results: Vec<AttemptId>,
    /// Whether its input is stored (blob `input/<job>`).
    pub has_input: bool,
    /// Whether its output is stored (blob `output/<job>`).
    pub has_output: bool,
    /// What went back to the user.
    pub refunded: ByteChips,
    /// Why it failed.
    pub reason: Option<String>,
    /// When it ended.
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Jobs created before it (its place in creation order, for "newest first").
    #[serde(default)]
    pub number: u64,
    /// When its price was charged (it was accepted).
    #[serde(default)]
    pub charged_at: Option<Timestamp>,
    /// Attempts that failed, went stale or returned an incorrect result.
    #[serde(default)]
    pub failures: u32,
}

/// Ended jobs in the order they ended, for retention: the oldest are forgotten
/// first, without a scan of every book.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedJobs {
    order: VecDeque<(Timestamp, String)>,
}

impl EndedJobs {
    /// `job` ended at `at` (never before the last one: engine time only moves on).
    pub fn push(&mut self, at: Timestamp, job: &str) {
        self.order.push_back((at, job.into()));
    }

    /// Whether a job ended before `before`.
    pub fn any_before(&self, before: Timestamp) -> bool {
        self.order.front().is_some_and(|(at, _)| *at < before)
    }

    /// Takes the next job that ended before `before`.
    pub fn pop_before(&mut self, before: Timestamp) -> Option<String> {
        if self.any_before(before) {
            self.order.pop_front().map(|(_, j)| j)
        } else {
            None
        }
    }
}

/// Which device holds a running attempt, on which task, by the ids the service
/// uses: read from the engine (`Engine::attempt`), never kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// The job id.
    pub job: String,
    /// The task.
    pub task: u32,
    /// The device id.
    pub device: String,
    /// Which copy of the task.
    #[serde(default)]
    pub replica: u32,
}

/// How recently ended attempts ended, so that a heartbeat or a late upload can be
/// told why its attempt is over. Bounded: the oldest are forgotten first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ended {
    states: BTreeMap<AttemptId, AttemptState>,
    order: VecDeque<AttemptId>,
    /// Which device held each (so that another device is told nothing of it).
    #[serde(default)]
    holders: BTreeMap<AttemptId, DeviceId>,
}

impl Ended {
    /// Attempts remembered.
    pub const CAPACITY: usize = 1 << 16;

    /// Remembers how `attempt`, held by `device`, ended.
    pub fn insert(&mut self, attempt: AttemptId, state: AttemptState, device: DeviceId) {
        self.holders.insert(attempt, device);
        if self.states.insert(attempt, state).is_none() {
            self.order.push_back(attempt);
            if self.order.len() > Self::CAPACITY {
                if let Some(old) = self.order.pop_front() {
                    self.states.remove(&old);
                    self.holders.remove(&old);
                }
            }
        }
    }

    /// How `attempt` ended, if it is remembered and `device` held it.
    pub fn get_for(&self, attempt: AttemptId, device: DeviceId) -> Option<AttemptState> {
        (self.holders.get(&attempt) == Some(&device)).then(|| self.get(attempt)).flatten()
    }

    /// How `attempt` ended, if it is remembered.
    pub fn get(&self, attempt: AttemptId) -> Option<AttemptState> {
        self.states.get(&attempt).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_attempts_are_bounded_oldest_first() {
        let mut e = Ended::default();
        for i in 0..(Ended::CAPACITY as u64 + 10) {
            e.insert(AttemptId(i), AttemptState::Cancelled, DeviceId(0));
        }
        assert_eq!(e.states.len(), Ended::CAPACITY);
        assert_eq!(e.get(AttemptId(9)), None);
        assert_eq!(e.get(AttemptId(10)), Some(AttemptState::Cancelled));
    }
}
