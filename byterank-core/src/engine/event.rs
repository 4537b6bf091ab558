//! What the engine decides: events, returned as data for adapters to act on.

use alloc::string::String;
use alloc::vec::Vec;

use super::command::{AttemptId, DeviceId, JobId};
use super::jobs::Replicas;
use super::rescue::RescueNeed;
use crate::flags::Flags;
use crate::reward::ByteChips;

/// How an attempt ended, or that it is late.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AttemptState {
    /// No heartbeat for T1: the attempt counts as delayed however it ends.
    Delayed,
    /// The device reported an error.
    Failed,
    /// No heartbeat or result for T2; the task is freed.
    Stale,
    /// The result is valid: the task's verdict is final and it agrees.
    Completed,
    /// The result failed the integrity check, or disagrees with the task's final
    /// verdict.
    Incorrect,
    /// The attempt ended without a verdict: the device left, or the job ended.
    Abandoned,
    /// The task's verdict became final elsewhere: the device should stop; nothing
    /// is recorded on its history and nothing is paid for the copy.
    Cancelled,
}

/// Why a pull found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "why"))]
pub enum Idle {
    /// The last ranking did not rank it: flagged then, or registered since.
    Unranked,
    /// Its current state raises these flags (offline, hot, outside its schedule...).
    Flagged {
        /// The flags.
        flags: Flags,
    },
    /// It holds as many tasks as it may (`in_hand`).
    HandsFull,
    /// No running job has a copy it may take: none targets it, its requirements
    /// exclude it now, or what is queued for it are tasks it already ran.
    NothingForIt,
}

/// Something the engine decided.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "type"))]
pub enum Event {
    /// A device joined.
    DeviceRegistered {
        /// Its handle.
        device: DeviceId,
        /// Its id.
        id: String,
    },
    /// A device left for good.
    DeviceRemoved {
        /// The device.
        device: DeviceId,
    },
    /// A job was planned and its price charged.
    JobAccepted {
        /// Its handle.
        job: JobId,
        /// Its id.
        id: String,
        /// Unique tasks.
        tasks: u32,
        /// Copies planned, replicas included.
        copies: u32,
        /// Probability of joint failure of the copies as placed.
        pjf: f64,
        /// Whether the job's bound on the PJF was met (always, for a fixed `r`).
        achievable: bool,
        /// What the user paid.
        price: ByteChips,
        /// The copies asked for and placed, on how many distinct devices, and
        /// what the job does about copies no pool could hold.
        replicas: Replicas,
    },
    /// A copy of a task was given to a device.
    TaskAssigned {
        /// The job.
        job: JobId,
        /// The task (chunk index).
        task: u32,
        /// Which copy (0 is the first).
        replica: u32,
        /// The device.
        device: DeviceId,
        /// The attempt's handle, for heartbeats and results.
        attempt: AttemptId,
        /// Whether it came from the rescue queue (a speculative copy counts as one).
        rescue: bool,
        /// Whether it is a speculative copy of a task in its job's tail.
        #[cfg_attr(feature = "serde", serde(default))]
        speculative: bool,
    },
    /// A pull found no task the device may take.
    NoTask {
        /// The device.
        device: DeviceId,
        /// Why.
        reason: Idle,
    },
    /// An attempt changed state.
    AttemptChanged {
        /// The job.
        job: JobId,
        /// The task.
        task: u32,
        /// The attempt.
        attempt: AttemptId,
        /// The device.
        device: DeviceId,
        /// The new state.
        state: AttemptState,
    },
    /// A task's verdict is final; its result is the one to assemble.
    TaskValidated {
        /// The job.
        job: JobId,
        /// The task.
        task: u32,
        /// The attempt whose result the assembler uses.
        attempt: AttemptId,
        /// Results that agree with it (each earns a share of the bounty).
        valid: u32,
        /// Decided by one untrusted result (a single-copy task): not cross-checked.
        unverified: bool,
    },
    /// A task needs a copy beyond its pool queues: it went to the rescue queue.
    TaskRescued {
        /// The job.
        job: JobId,
        /// The task.
        task: u32,
        /// A copy (replacement or towards a majority) or a trusted arbitration.
        need: RescueNeed,
    },
    /// A running job was re-planned because its pools changed: the PJF in force.
    PlanChanged {
        /// The job.
        job: JobId,
        /// Pools it uses now.
        pools: u32,
        /// Probability that some task not yet decided fails on every copy it has
        /// left, as they are placed now.
        pjf: f64,
    },
    /// A report came after the attempt's T2 or hard deadline: it went stale
    /// instead, and the result was not taken.
    LateReport {
        /// The attempt.
        attempt: AttemptId,
        /// The device.
        device: DeviceId,
    },
    /// Every task's verdict is final: assemble these, in this order.
    JobCompleted {
        /// The job.
        job: JobId,
        /// The attempt whose result to use for each chunk, in assembly order.
        results: Vec<AttemptId>,
        /// Tasks decided by one untrusted result.
        unverified: u32,
    },
    /// The job cannot complete.
    JobFailed {
        /// The job.
        job: JobId,
        /// Why.
        reason: String,
    },
    /// The user cancelled the job.
    JobCancelled {
        /// The job.
        job: JobId,
    },
    /// An ended job was released and forgotten.
    JobReleased {
        /// The job.
        job: JobId,
    },
    /// ByteChips were credited to the wallet of a device's owner
    /// ([`Engine::owner`](super::Engine::owner)).
    RewardCredited {
        /// The device whose work earned it.
        device: DeviceId,
        /// The job.
        job: JobId,
        /// The task.
        task: u32,
        /// The amount.
        amount: ByteChips,
        /// Earned by a result nothing cross-checked (a task decided by one
        /// untrusted result): paid, but never counted as verified work.
        unverified: bool,
    },
    /// Unearned bounties went back to the user of a failed or cancelled job.
    Refunded {
        /// The user.
        user: String,
        /// The job.
        job: JobId,
        /// The amount.
        amount: ByteChips,
    },
    /// A device's flags changed at a ranking refresh.
    DeviceFlagged {
        /// The device.
        device: DeviceId,
        /// The flags now raised (none: back in scheduling).
        flags: Flags,
    },
    /// The ranking was recomputed.
    RankingRefreshed {
        /// Active devices.
        active: u32,
    },
    /// The daily lottery was drawn.
    LotteryDrawn {
        /// Day number since the epoch.
        day: i64,
        /// Winners.
        winners: u32,
    },
}
