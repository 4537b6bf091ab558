//! What drives the engine: commands, each stamped with the engine time it happens at.

use alloc::string::String;

use crate::application::ResultMeta;
use crate::device::Device;
use crate::job::JobSpec;
use crate::time::Timestamp;

/// A device's handle, given when it registers. Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct DeviceId(pub u32);

/// A job's handle, given when it is accepted. Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct JobId(pub u32);

/// One attempt at one copy of a task on one device, given at assignment. Never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct AttemptId(pub u64);

/// Messages name a handle by its number where no id is known: `device #7`.
impl core::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "device #{}", self.0)
    }
}

/// `job #3`.
impl core::fmt::Display for JobId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "job #{}", self.0)
    }
}

/// `attempt #4294967297`.
impl core::fmt::Display for AttemptId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "attempt #{}", self.0)
    }
}

/// An input to the engine, with the instant it happens at. Instants never go back.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Command {
    /// When it happens (engine time).
    pub at: Timestamp,
    /// What happens.
    pub kind: CommandKind,
}

/// Everything that can happen to the Core System.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "type"))]
pub enum CommandKind {
    /// A new device joins the grid, or one that left comes back under its id and
    /// gets its handle, trust and fault history back. Its owner's wallet receives
    /// its rewards. What a device claims of trust, fault history, lottery or last
    /// task is ignored: those belong to the engine.
    RegisterDevice {
        /// Its state (Tables 2 and 3); its id must be new.
        device: Device,
        /// Who is paid for its work.
        owner: String,
    },
    /// A device reports its measured state. The engine keeps what it owns: trust,
    /// fault history, lottery outcome, hours since the last task.
    UpdateDevice {
        /// The device.
        device: DeviceId,
        /// Its new state (same id).
        state: Device,
    },
    /// The operator verifies a device for trusted processing, or withdraws it
    /// (spec §11b): the only way a device becomes trusted.
    SetTrust {
        /// The device.
        device: DeviceId,
        /// Trusted from now on, or not.
        trusted: bool,
    },
    /// The operator clears a device's fault history after review (spec §4).
    ResetHistory {
        /// The device.
        device: DeviceId,
    },
    /// A device leaves; its tasks in hand are abandoned. It may register again.
    RemoveDevice {
        /// The device.
        device: DeviceId,
    },
    /// A user submits a job; its price is charged now.
    SubmitJob {
        /// The job file.
        job: JobSpec,
        /// Who pays.
        user: String,
    },
    /// A user cancels a running job.
    CancelJob {
        /// The job.
        job: JobId,
    },
    /// The adapter has taken an ended job's results: the engine forgets the job,
    /// its id included (it may be submitted again).
    ReleaseJob {
        /// The job.
        job: JobId,
    },
    /// A device asks for a task.
    Pull {
        /// The device.
        device: DeviceId,
    },
    /// A device says it is still working on an attempt.
    Heartbeat {
        /// The device.
        device: DeviceId,
        /// The attempt.
        attempt: AttemptId,
    },
    /// A device returns a result. One after T2 or the hard deadline is late: the
    /// attempt goes stale and the result is not taken.
    ReportResult {
        /// The device.
        device: DeviceId,
        /// The attempt.
        attempt: AttemptId,
        /// What it produced (metadata; the bytes stay with the adapter).
        result: ResultMeta,
    },
    /// A device reports that an attempt failed (execution or transfer error).
    ReportError {
        /// The device.
        device: DeviceId,
        /// The attempt.
        attempt: AttemptId,
    },
    /// Time passes: fires heartbeat timeouts, ranking refreshes and the daily lottery.
    Tick,
    /// The host is back after a stop in which it could not hear its workers (a
    /// restart, a failover): every running attempt counts as having sent a
    /// heartbeat now, so the host's own absence is not held against devices.
    /// The hard deadline (`max_attempt_ms`) still holds. Apply it before any
    /// other command after the stop.
    Resume,
}
