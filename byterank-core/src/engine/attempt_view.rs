//! Reads of running attempts, for adapters: which job, task and device an
//! attempt is, and its deadlines, so that no adapter keeps its own copy.

use super::command::{DeviceId, JobId};
use crate::time::Timestamp;

/// A running attempt as the engine holds it ([`Engine::attempt`](super::Engine::attempt)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AttemptInfo {
    /// The job.
    pub job: JobId,
    /// The task (chunk index).
    pub task: u32,
    /// Which copy of the task (0 is the first).
    pub replica: u32,
    /// The device running it.
    pub device: DeviceId,
    /// It went T1 without a heartbeat: it counts as delayed however it ends.
    pub delayed: bool,
    /// When it was assigned.
    pub started: Timestamp,
    /// Its last heartbeat (or its assignment).
    pub last_beat: Timestamp,
    /// When it counts as delayed without a heartbeat before (past, once delayed).
    pub delayed_at: Timestamp,
    /// When it goes stale without a heartbeat or result before: T2 after the
    /// last heartbeat, or the hard deadline, whichever comes first.
    pub stale_at: Timestamp,
}
