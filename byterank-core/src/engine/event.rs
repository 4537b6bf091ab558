//! What the engine decides: events, returned as data for adapters to act on.

use alloc::string::String;
use alloc::vec::Vec;

use super::command::{AttemptId, DeviceId, JobId};
use crate::flags::Flags;
use crate::reward::ByteChips;

/// How an attempt ended, or that it is late.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AttemptState {
    /// No heartbeat for T1: the attempt counts as delayed however it ends.
    Delayed,
    /// The device reported an error, or its result failed the integrity check.
    Failed,
    /// No heartbeat or result for T2; the task is freed.
    Stale,
    /// The result passed validation.
    Completed,
    /// The result lost a replica comparison (a trusted device arbitrated).
    Incorrect,
    /// The attempt ended without a verdict: the device left, or the job ended.
    Abandoned,
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
        /// Probability of joint failure of the plan.
        pjf: f64,
        /// What the user paid.
        price: ByteChips,
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
        /// Whether it came from the rescue queue.
        rescue: bool,
    },
    /// A pull found no task the device may take.
    NoTask {
        /// The device.
        device: DeviceId,
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
    /// A task has its result for assembly.
    TaskValidated {
        /// The job.
        job: JobId,
        /// The task.
        task: u32,
        /// The attempt whose result the assembler uses.
        attempt: AttemptId,
    },
    /// A task that lost every copy was sent to the rescue queue (trusted devices).
    TaskRescued {
        /// The job.
        job: JobId,
        /// The task.
        task: u32,
    },
    /// Every task has a validated result: assemble these, in this order.
    JobCompleted {
        /// The job.
        job: JobId,
        /// The attempt whose result to use for each chunk, in assembly order.
        results: Vec<AttemptId>,
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
