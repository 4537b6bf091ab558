//! What the engine refuses: bad configurations and commands it cannot apply.
//!
//! [`Engine::apply`](super::Engine::apply) refuses a command with an
//! [`EngineError`], which lists every refusal of every command. The typed helpers
//! ([`Engine::pull`](super::Engine::pull) and the others) refuse with an error that
//! lists only what their command can be refused for; each converts into the
//! `EngineError` that `apply` gives for the same command (`From`), and every one
//! starts from the clock's checks, [`TimeError`].

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
    #[error("command at {0} ms since the epoch is outside the years 0000 to 9999: stamp it within them")]
    OutOfRange(i64),
}

/// Why a device handle cannot act: the checks of the commands of a live device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Gone {
    Unknown(DeviceId),
    Removed(DeviceId),
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
    #[error("device `{0}` is already registered: update it instead, or remove it first")]
    DuplicateDevice(String),
}

/// A device update the engine refuses ([`Engine::update_device`](super::Engine::update_device)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum UpdateError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// No device has this handle.
    #[error("unknown {0:?}: register the device first, and use the handle it gets")]
    UnknownDevice(DeviceId),
    /// The device left the grid.
    #[error("{0:?} was removed: register the device again before updating it")]
    DeviceRemoved(DeviceId),
    /// An update must keep the device's id.
    #[error("{0:?} is device `{1}`: an update must keep its id (register another id as a new device)")]
    IdChanged(DeviceId, String),
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
    /// No device has this handle.
    #[error("unknown {0:?}: register the device first, and use the handle it gets")]
    UnknownDevice(DeviceId),
    /// The device left the grid.
    #[error("{0:?} was removed: register the device again before it pulls")]
    DeviceRemoved(DeviceId),
}

/// A device's removal the engine refuses ([`Engine::remove_device`](super::Engine::remove_device)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RemoveError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// No device has this handle.
    #[error("unknown {0:?}: only a registered device can be removed")]
    UnknownDevice(DeviceId),
    /// The device left the grid already.
    #[error("{0:?} was already removed: there is nothing more to do")]
    DeviceRemoved(DeviceId),
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
    #[error("unknown {0:?}: the device must have registered once")]
    UnknownDevice(DeviceId),
}

/// A job the engine refuses ([`Engine::submit_job`](super::Engine::submit_job),
/// and, but for the time, [`Engine::quote`](super::Engine::quote)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SubmitError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A job with this id was submitted, and not released since.
    #[error("job `{0}` was already submitted: give this one another id, or release the old one first")]
    DuplicateJob(String),
    /// The job's price would overflow the ledger's sums.
    #[error(
        "job `{0}`: its price would overflow the ledger (all prices charged must sum below 2^64 ByteChips): lower it"
    )]
    LedgerFull(String),
    /// The job names an application the engine does not have.
    #[error("job `{0}`: unknown application `{1}`: register it with the engine, or name a known one ({2})")]
    UnknownApplication(String, String, String),
    /// The application cannot split the job's input (the message names the job).
    #[error("{1}")]
    Application(String, ApplicationError),
    /// The job cannot be planned (the message names the job).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The job's money cannot be set up.
    #[error("job `{0}`: {1}")]
    Reward(String, RewardError),
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
    #[error("unknown {0:?}: it was never accepted, or was released")]
    UnknownJob(JobId),
    /// The job already ended.
    #[error("{0:?} already ended: there is nothing to cancel")]
    JobEnded(JobId),
}

/// A release the engine refuses ([`Engine::release_job`](super::Engine::release_job)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReleaseError {
    /// The command's time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// No job has this handle.
    #[error("unknown {0:?}: it was never accepted, or was released already")]
    UnknownJob(JobId),
    /// A job must end before it is released.
    #[error("{0:?} is still running: cancel it, or wait for it to end, before releasing it")]
    JobRunning(JobId),
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
    /// No device has this handle.
    #[error("unknown {0:?}: register the device first, and use the handle it gets")]
    UnknownDevice(DeviceId),
    /// The device left the grid; its attempts were abandoned.
    #[error("{0:?} was removed and its attempts abandoned: stop working on them")]
    DeviceRemoved(DeviceId),
    /// No attempt has this handle.
    #[error("unknown {0:?}: use the handle the pull gave")]
    UnknownAttempt(AttemptId),
    /// The attempt already ended (a second result, one after a timeout, or one for
    /// a copy that was cancelled).
    #[error("{0:?} already ended: nothing more is taken for it, stop working on it")]
    AttemptEnded(AttemptId),
    /// The attempt belongs to another device.
    #[error("{attempt:?} is not held by {device:?}: send it from the device that pulled it")]
    NotHolder {
        /// The attempt.
        attempt: AttemptId,
        /// The device that claimed it.
        device: DeviceId,
    },
}

/// A command the engine refuses ([`Engine::apply`](super::Engine::apply)): every
/// refusal of every command. The engine is unchanged, its clock included.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// Commands must come in time order.
    #[error("command at {at} is before the engine's time {now}: stamp commands in time order")]
    TimeWentBack {
        /// The engine's time.
        now: Timestamp,
        /// The command's.
        at: Timestamp,
    },
    /// The command's time cannot be written down (RFC 3339 years 0000 to 9999),
    /// so a journal holding it could not be read back.
    #[error("command at {0} ms since the epoch is outside the years 0000 to 9999: stamp it within them")]
    TimeOutOfRange(i64),
    /// No device has this handle.
    #[error("unknown {0:?}: register the device first, and use the handle it gets")]
    UnknownDevice(DeviceId),
    /// The device left the grid.
    #[error("{0:?} was removed: register the device again to act")]
    DeviceRemoved(DeviceId),
    /// A device with this id is registered and live.
    #[error("device `{0}` is already registered: update it instead, or remove it first")]
    DuplicateDevice(String),
    /// An update must keep the device's id.
    #[error("{0:?} is device `{1}`: an update must keep its id (register another id as a new device)")]
    IdChanged(DeviceId, String),
    /// The device's state is invalid.
    #[error(transparent)]
    BadDevice(#[from] DeviceError),
    /// No job has this handle.
    #[error("unknown {0:?}: it was never accepted, or was released")]
    UnknownJob(JobId),
    /// The job already ended.
    #[error("{0:?} already ended: there is nothing to cancel")]
    JobEnded(JobId),
    /// A job must end before it is released.
    #[error("{0:?} is still running: cancel it, or wait for it to end, before releasing it")]
    JobRunning(JobId),
    /// A job with this id was submitted, and not released since.
    #[error("job `{0}` was already submitted: give this one another id, or release the old one first")]
    DuplicateJob(String),
    /// The job names an application the engine does not have.
    #[error("job `{0}`: unknown application `{1}`: register it with the engine, or name a known one ({2})")]
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
    /// The job breaks an admission rule.
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    /// The job's price would overflow the ledger's sums.
    #[error(
        "job `{0}`: its price would overflow the ledger (all prices charged must sum below 2^64 ByteChips): lower it"
    )]
    LedgerFull(String),
    /// No attempt has this handle.
    #[error("unknown {0:?}: use the handle the pull gave")]
    UnknownAttempt(AttemptId),
    /// The attempt already ended (a second result, one after a timeout, or one for
    /// a copy that was cancelled).
    #[error("{0:?} already ended: nothing more is taken for it, stop working on it")]
    AttemptEnded(AttemptId),
    /// The attempt belongs to another device.
    #[error("{attempt:?} is not held by {device:?}: send it from the device that pulled it")]
    NotHolder {
        /// The attempt.
        attempt: AttemptId,
        /// The device that claimed it.
        device: DeviceId,
    },
}

// Each operation's refusals are `apply`'s for the same command: the conversions
// below are exhaustive, so a refusal added to an operation must be given its
// `EngineError`.

impl From<TimeError> for EngineError {
    fn from(e: TimeError) -> Self {
        match e {
            TimeError::WentBack { now, at } => EngineError::TimeWentBack { now, at },
            TimeError::OutOfRange(ms) => EngineError::TimeOutOfRange(ms),
        }
    }
}

impl From<Gone> for EngineError {
    fn from(e: Gone) -> Self {
        match e {
            Gone::Unknown(d) => EngineError::UnknownDevice(d),
            Gone::Removed(d) => EngineError::DeviceRemoved(d),
        }
    }
}

/// The conversions of a [`Gone`] into an operation's error with the same two
/// variants.
macro_rules! from_gone {
    ($($error:ident),*) => {$(
        impl From<Gone> for $error {
            fn from(e: Gone) -> Self {
                match e {
                    Gone::Unknown(d) => $error::UnknownDevice(d),
                    Gone::Removed(d) => $error::DeviceRemoved(d),
                }
            }
        }
    )*};
}

from_gone!(UpdateError, PullError, RemoveError, AttemptError);

impl From<RegisterError> for EngineError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Time(e) => e.into(),
            RegisterError::BadDevice(e) => EngineError::BadDevice(e),
            RegisterError::DuplicateDevice(id) => EngineError::DuplicateDevice(id),
        }
    }
}

impl From<UpdateError> for EngineError {
    fn from(e: UpdateError) -> Self {
        match e {
            UpdateError::Time(e) => e.into(),
            UpdateError::UnknownDevice(d) => EngineError::UnknownDevice(d),
            UpdateError::DeviceRemoved(d) => EngineError::DeviceRemoved(d),
            UpdateError::IdChanged(d, id) => EngineError::IdChanged(d, id),
            UpdateError::BadDevice(e) => EngineError::BadDevice(e),
        }
    }
}

impl From<PullError> for EngineError {
    fn from(e: PullError) -> Self {
        match e {
            PullError::Time(e) => e.into(),
            PullError::UnknownDevice(d) => EngineError::UnknownDevice(d),
            PullError::DeviceRemoved(d) => EngineError::DeviceRemoved(d),
        }
    }
}

impl From<RemoveError> for EngineError {
    fn from(e: RemoveError) -> Self {
        match e {
            RemoveError::Time(e) => e.into(),
            RemoveError::UnknownDevice(d) => EngineError::UnknownDevice(d),
            RemoveError::DeviceRemoved(d) => EngineError::DeviceRemoved(d),
        }
    }
}

impl From<OperatorError> for EngineError {
    fn from(e: OperatorError) -> Self {
        match e {
            OperatorError::Time(e) => e.into(),
            OperatorError::UnknownDevice(d) => EngineError::UnknownDevice(d),
        }
    }
}

impl From<SubmitError> for EngineError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Time(e) => e.into(),
            SubmitError::DuplicateJob(id) => EngineError::DuplicateJob(id),
            SubmitError::LedgerFull(id) => EngineError::LedgerFull(id),
            SubmitError::UnknownApplication(id, app, known) => EngineError::UnknownApplication(id, app, known),
            SubmitError::Application(id, e) => EngineError::Application(id, e),
            SubmitError::Plan(e) => EngineError::Plan(e),
            SubmitError::Reward(id, e) => EngineError::Reward(id, e),
            SubmitError::Admission(e) => EngineError::Admission(e),
        }
    }
}

impl From<CancelError> for EngineError {
    fn from(e: CancelError) -> Self {
        match e {
            CancelError::Time(e) => e.into(),
            CancelError::UnknownJob(j) => EngineError::UnknownJob(j),
            CancelError::JobEnded(j) => EngineError::JobEnded(j),
        }
    }
}

impl From<ReleaseError> for EngineError {
    fn from(e: ReleaseError) -> Self {
        match e {
            ReleaseError::Time(e) => e.into(),
            ReleaseError::UnknownJob(j) => EngineError::UnknownJob(j),
            ReleaseError::JobRunning(j) => EngineError::JobRunning(j),
        }
    }
}

impl From<AttemptError> for EngineError {
    fn from(e: AttemptError) -> Self {
        match e {
            AttemptError::Time(e) => e.into(),
            AttemptError::UnknownDevice(d) => EngineError::UnknownDevice(d),
            AttemptError::DeviceRemoved(d) => EngineError::DeviceRemoved(d),
            AttemptError::UnknownAttempt(a) => EngineError::UnknownAttempt(a),
            AttemptError::AttemptEnded(a) => EngineError::AttemptEnded(a),
            AttemptError::NotHolder { attempt, device } => EngineError::NotHolder { attempt, device },
        }
    }
}
