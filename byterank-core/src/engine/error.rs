//! What the engine refuses: bad configurations and commands it cannot apply.
//!
//! Each operation has its own error listing only what it can be refused for
//! ([`PullError`], [`SubmitError`], ...), built from leaf errors the operations
//! share ([`TimeError`], [`DeviceGone`], [`UnknownJob`], ...), so that every
//! message is written once. [`Engine::apply`](super::Engine::apply) refuses a
//! command with an [`EngineError`], which wraps the error of the command's
//! operation: a typed helper ([`Engine::pull`](super::Engine::pull) and the
//! others) and `apply` refuse the same command with the same error.
//!
//! Messages name devices and jobs by the ids people gave them (`device
//! `phone-1``, `job `j1``) and, where no id is known, by handle (`device #7`).

use alloc::string::String;

use super::admission::AdmissionError;
use super::command::{AttemptId, DeviceId, JobId};
use crate::application::ApplicationError;
use crate::device::DeviceError;
use crate::plan::PlanError;
use crate::reward::RewardError;
use crate::time::Timestamp;

/// Two of the engine's internal records disagree ([`Engine::audit`](super::Engine::audit)):
/// a defect of the engine, never of the input. Report it with the journal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("engine state inconsistent: {0}; please report it with the journal that led here")]
pub struct Inconsistency(pub String);

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

/// A command stamped with a time the engine cannot take. Every command is checked
/// for it first.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TimeError {
    /// Commands must come in time order.
    #[error("command at {at} is before the engine's time {now}: stamp commands in time order")]
    WentBack {
        /// The engine's time.
        now: Timestamp,
        /// The command's.
        at: Timestamp,
    },
    /// The command's time cannot be written down (RFC 3339 years 0000 to 9999),
    /// so a journal holding it could not be read back.
    #[error("command at {ms} ms since the epoch is outside the years 0000 to 9999: stamp it within them")]
    OutOfRange {
        /// The command's time, in milliseconds since the epoch.
        ms: i64,
    },
}

/// No device has this handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {device}: register the device first, and use the handle it gets")]
pub struct UnknownDevice {
    /// The handle given.
    pub device: DeviceId,
}

/// Why a device cannot act: the checks of the commands of a live device.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceGone {
    /// No device has this handle.
    #[error(transparent)]
    Unknown(#[from] UnknownDevice),
    /// The device left the grid; its attempts were abandoned.
    #[error("device `{id}` was removed and its attempts abandoned: register it again before it acts")]
    Removed {
        /// Its handle.
        device: DeviceId,
        /// Its id.
        id: String,
    },
}

/// No job has this handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {job}: it was never accepted, or was released")]
pub struct UnknownJob {
    /// The handle given.
    pub job: JobId,
}

/// A registration the engine refuses ([`Engine::register_device`](super::Engine::register_device)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RegisterError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The device's state is invalid.
    #[error(transparent)]
    BadDevice(#[from] DeviceError),
    /// A device with this id is registered and live.
    #[error("device `{id}` is already registered: update it instead, or remove it first")]
    DuplicateDevice {
        /// The id.
        id: String,
    },
}

/// A device update the engine refuses ([`Engine::update_device`](super::Engine::update_device)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum UpdateError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The device is unknown or was removed.
    #[error(transparent)]
    Device(#[from] DeviceGone),
    /// An update must keep the device's id.
    #[error("{device} is device `{id}`, not `{given}`: an update keeps its id (register another id as a new device)")]
    IdChanged {
        /// Its handle.
        device: DeviceId,
        /// Its id.
        id: String,
        /// The id the update gave.
        given: String,
    },
    /// The device's new state is invalid.
    #[error(transparent)]
    BadDevice(#[from] DeviceError),
}

/// A pull the engine refuses ([`Engine::pull`](super::Engine::pull)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PullError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The device is unknown or was removed.
    #[error(transparent)]
    Device(#[from] DeviceGone),
}

/// A device's removal the engine refuses ([`Engine::remove_device`](super::Engine::remove_device)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RemoveError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The device is unknown or was removed already.
    #[error(transparent)]
    Device(#[from] DeviceGone),
}

/// An operator's command on a device the engine refuses
/// ([`Engine::set_trust`](super::Engine::set_trust),
/// [`Engine::reset_history`](super::Engine::reset_history)). A removed device may
/// still be trusted or reviewed: it keeps both if it comes back.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OperatorError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// No device has this handle.
    #[error(transparent)]
    UnknownDevice(#[from] UnknownDevice),
}

/// A job the engine refuses ([`Engine::submit_job`](super::Engine::submit_job),
/// and, but for the time, [`Engine::quote`](super::Engine::quote)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SubmitError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A job with this id was submitted, and not released since.
    #[error("job `{job}` was already submitted: give this one another id, or release the old one first")]
    DuplicateJob {
        /// The job's id.
        job: String,
    },
    /// The job's price would overflow the ledger's sums.
    #[error(
        "job `{job}`: its price would overflow the ledger (all prices charged must sum below 2^64 ByteChips): lower it"
    )]
    LedgerFull {
        /// The job's id.
        job: String,
    },
    /// The job names an application the engine does not have.
    #[error("job `{job}`: unknown application `{application}`: name one this engine runs ({known})")]
    UnknownApplication {
        /// The job's id.
        job: String,
        /// The name the job gave, as messages show ids.
        application: String,
        /// The names the engine knows, comma-separated.
        known: String,
    },
    /// The application cannot split the job's input (its message names the job).
    #[error("{error}")]
    Application {
        /// The job's id.
        job: String,
        /// Why.
        error: ApplicationError,
    },
    /// The job cannot be planned (the message names the job).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The job's money cannot be set up.
    #[error("job `{job}`: {error}")]
    Reward {
        /// The job's id.
        job: String,
        /// Why.
        error: RewardError,
    },
    /// The job breaks an admission rule.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
}

/// A cancellation the engine refuses ([`Engine::cancel_job`](super::Engine::cancel_job)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CancelError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// No job has this handle.
    #[error(transparent)]
    UnknownJob(#[from] UnknownJob),
    /// The job already ended.
    #[error("job `{id}` already ended: there is nothing to cancel")]
    JobEnded {
        /// Its handle.
        job: JobId,
        /// Its id.
        id: String,
    },
}

/// A release the engine refuses ([`Engine::release_job`](super::Engine::release_job)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReleaseError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// No job has this handle.
    #[error(transparent)]
    UnknownJob(#[from] UnknownJob),
    /// A job must end before it is released.
    #[error("job `{id}` is still running: cancel it, or wait for it to end, before releasing it")]
    JobRunning {
        /// Its handle.
        job: JobId,
        /// Its id.
        id: String,
    },
}

/// A device's word on an attempt the engine refuses: a heartbeat, a result or a
/// failure ([`Engine::heartbeat`](super::Engine::heartbeat),
/// [`Engine::report`](super::Engine::report),
/// [`Engine::report_failure`](super::Engine::report_failure)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AttemptError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The device is unknown or was removed (its attempts abandoned).
    #[error(transparent)]
    Device(#[from] DeviceGone),
    /// No attempt has this handle.
    #[error("unknown {attempt}: use the handle the pull gave")]
    UnknownAttempt {
        /// The handle given.
        attempt: AttemptId,
    },
    /// The attempt already ended (a second result, one after a timeout, or one for
    /// a copy that was cancelled).
    #[error("{attempt} already ended: nothing more is taken for it, stop working on it")]
    AttemptEnded {
        /// The attempt.
        attempt: AttemptId,
    },
    /// The attempt belongs to another device.
    #[error("{attempt} is not held by device `{id}`: send it from the device that pulled it")]
    NotHolder {
        /// The attempt.
        attempt: AttemptId,
        /// The device that claimed it.
        device: DeviceId,
        /// That device's id.
        id: String,
    },
}

/// A command the engine refuses ([`Engine::apply`](super::Engine::apply)): the
/// error of the command's operation, which its typed helper gives too. The
/// engine is unchanged, its clock included.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// A tick or a resume at a time the engine cannot take (every other command
    /// gives its operation's [`TimeError`]).
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A registration.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// A device update.
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// A pull.
    #[error(transparent)]
    Pull(#[from] PullError),
    /// A device's removal.
    #[error(transparent)]
    Remove(#[from] RemoveError),
    /// An operator's command.
    #[error(transparent)]
    Operator(#[from] OperatorError),
    /// A submission.
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// A cancellation.
    #[error(transparent)]
    Cancel(#[from] CancelError),
    /// A release.
    #[error(transparent)]
    Release(#[from] ReleaseError),
    /// A heartbeat, result or failure.
    #[error(transparent)]
    Attempt(#[from] AttemptError),
}

/// What sort of refusal an [`EngineError`] is, for an adapter that answers in
/// its own terms (an HTTP status, an exit code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The command names a device, job or attempt that does not exist.
    NotFound,
    /// It names one that existed and is gone (a removed device, an ended attempt).
    Gone,
    /// It conflicts with the engine's state (a duplicate id, an ended or running job).
    Conflict,
    /// It acts on what belongs to another (an attempt of another device).
    Forbidden,
    /// Its input is invalid (a bad device or job, a time out of order).
    Invalid,
}

impl EngineError {
    /// What sort of refusal this is.
    pub fn refusal(&self) -> Refusal {
        use EngineError as E;
        let gone = |g: &DeviceGone| match g {
            DeviceGone::Unknown(_) => Refusal::NotFound,
            DeviceGone::Removed { .. } => Refusal::Gone,
        };
        match self {
            E::Update(UpdateError::Device(g))
            | E::Pull(PullError::Device(g))
            | E::Remove(RemoveError::Device(g))
            | E::Attempt(AttemptError::Device(g)) => gone(g),
            E::Operator(OperatorError::UnknownDevice(_))
            | E::Cancel(CancelError::UnknownJob(_))
            | E::Release(ReleaseError::UnknownJob(_))
            | E::Attempt(AttemptError::UnknownAttempt { .. }) => Refusal::NotFound,
            E::Attempt(AttemptError::AttemptEnded { .. }) => Refusal::Gone,
            E::Attempt(AttemptError::NotHolder { .. }) => Refusal::Forbidden,
            E::Register(RegisterError::DuplicateDevice { .. })
            | E::Submit(SubmitError::DuplicateJob { .. })
            | E::Cancel(CancelError::JobEnded { .. })
            | E::Release(ReleaseError::JobRunning { .. }) => Refusal::Conflict,
            _ => Refusal::Invalid,
        }
    }
}
