//! What the engine refuses: bad configurations and commands it cannot apply.

use alloc::string::String;

use super::command::{AttemptId, DeviceId, JobId};
use crate::application::ApplicationError;
use crate::device::DeviceError;
use crate::plan::PlanError;
use crate::reward::RewardError;
use crate::time::Timestamp;

/// An [`EngineConfig`](super::EngineConfig) the engine cannot run with.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("engine configuration: `{field}` is {value}, but it must be {rule}")]
pub struct ConfigError {
    /// The field at fault.
    pub field: &'static str,
    /// Its value, as written.
    pub value: String,
    /// What it must be.
    pub rule: &'static str,
}

/// A command the engine refuses. The engine is unchanged, its clock included.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// Commands must come in time order.
    #[error("command at {at} is before the engine's time {now}: commands must not go back in time")]
    TimeWentBack {
        /// The engine's time.
        now: Timestamp,
        /// The command's.
        at: Timestamp,
    },
    /// The command's time cannot be written down (RFC 3339 years 0000 to 9999),
    /// so a journal holding it could not be read back.
    #[error("command at {0} ms since the epoch is outside the years 0000 to 9999")]
    TimeOutOfRange(i64),
    /// No device has this handle.
    #[error("unknown device {0:?}: register it first")]
    UnknownDevice(DeviceId),
    /// The device left the grid.
    #[error("device {0:?} was removed: register it again to act")]
    DeviceRemoved(DeviceId),
    /// A device with this id is registered and live.
    #[error("device `{0}` is already registered: update it instead")]
    DuplicateDevice(String),
    /// An update must keep the device's id.
    #[error("device {0:?}: an update must keep the id `{1}`")]
    IdChanged(DeviceId, String),
    /// The device's state is invalid.
    #[error(transparent)]
    BadDevice(#[from] DeviceError),
    /// No job has this handle.
    #[error("unknown job {0:?}")]
    UnknownJob(JobId),
    /// The job already ended.
    #[error("job {0:?} is no longer running")]
    JobEnded(JobId),
    /// A job must end before it is released.
    #[error("job {0:?} is still running: cancel it, or wait for it to end, before releasing it")]
    JobRunning(JobId),
    /// A job with this id was submitted before.
    #[error("job `{0}` was already submitted: job ids are unique")]
    DuplicateJob(String),
    /// The job names an application the engine does not have.
    #[error("job `{0}`: unknown application `{1}` (known: {2})")]
    UnknownApplication(String, String, String),
    /// The application cannot split the job's input (the message names the job).
    #[error("{1}")]
    Application(String, ApplicationError),
    /// The job cannot be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The job's money cannot be set up.
    #[error("job `{0}`: {1}")]
    Reward(String, RewardError),
    /// The job's price would overflow the ledger's sums.
    #[error("job `{0}`: its price would overflow the ledger (all prices charged must sum below 2^64 ByteChips)")]
    LedgerFull(String),
    /// No attempt has this handle.
    #[error("unknown attempt {0:?}")]
    UnknownAttempt(AttemptId),
    /// The attempt already ended (a second result, one after a timeout, or one for
    /// a copy that was cancelled).
    #[error("attempt {0:?} already ended; nothing more is taken for it")]
    AttemptEnded(AttemptId),
    /// The attempt belongs to another device.
    #[error("attempt {attempt:?} is not held by device {device:?}")]
    NotHolder {
        /// The attempt.
        attempt: AttemptId,
        /// The device that claimed it.
        device: DeviceId,
    },
}
