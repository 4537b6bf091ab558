//! The only module that talks to the engine: it turns simulated device actions into
//! [`Command`]s applied with [`Engine::apply`] (the code path the HTTP service uses),
//! and the engine's [`Event`]s into [`Notice`]s, the simulator's own vocabulary.
//!
//! Engine events the simulator does not need fall into a `_ =>` arm, so new event
//! kinds do not break it.

use byterank_core::application::ResultMeta;
use byterank_core::device::Device;
use byterank_core::engine::{
    AttemptId, AttemptState, Command, CommandKind, ConfigError, Engine, EngineConfig, Event, JobId, RescueNeed,
};
use byterank_core::job::JobSpec;
use byterank_core::time::Timestamp;

pub use byterank_core::engine::DeviceId;

/// What the engine decided, as the simulator needs it.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// A job was planned.
    JobAccepted {
        /// The job.
        job: JobId,
        /// Copies planned, replicas included.
        copies: u32,
        /// The plan's probability of joint failure.
        pjf: f64,
        /// Whether the plan met the job's bound on it.
        achievable: bool,
    },
    /// A copy was given to a device.
    Assigned {
        /// The job.
        job: JobId,
        /// The task.
        task: u32,
        /// The device.
        device: DeviceId,
        /// The attempt.
        attempt: AttemptId,
        /// From the rescue queue.
        rescue: bool,
        /// A speculative copy of a task in its job's tail.
        speculative: bool,
    },
    /// A pull found nothing.
    NoTask {
        /// The device.
        device: DeviceId,
    },
    /// The engine ended a running attempt without the device's word (stale,
    /// abandoned, withdrawn): the device must stop working on it.
    Withdrawn {
        /// The device.
        device: DeviceId,
        /// The attempt.
        attempt: AttemptId,
    },
    /// The task's verdict became final elsewhere: the device stops, and the copy
    /// neither failed nor counts.
    Cancelled {
        /// The device.
        device: DeviceId,
        /// The attempt.
        attempt: AttemptId,
    },
    /// A result came after the attempt's deadline and was not taken.
    Late {
        /// The attempt.
        attempt: AttemptId,
    },
    /// A result lost a replica comparison.
    Incorrect {
        /// The attempt.
        attempt: AttemptId,
    },
    /// A task has a result (possibly replacing an earlier one after arbitration).
    Validated {
        /// The job.
        job: JobId,
        /// The task.
        task: u32,
        /// The attempt whose result is the task's.
        attempt: AttemptId,
    },
    /// A task went to the rescue queue.
    Rescued {
        /// The job.
        job: JobId,
        /// The task.
        task: u32,
        /// Because results disagreed (else: because its copies failed).
        dispute: bool,
    },
    /// A job completed with these results, in assembly order.
    JobCompleted {
        /// The job.
        job: JobId,
        /// One attempt per task.
        results: Vec<AttemptId>,
        /// Tasks decided by one untrusted result.
        unverified: u32,
    },
    /// A job failed.
    JobFailed {
        /// The job.
        job: JobId,
        /// The engine's reason.
        reason: String,
    },
    /// A device's owner was paid.
    Credited {
        /// The device.
        device: DeviceId,
        /// ByteChips.
        amount: u64,
        /// Earned by a result nothing cross-checked.
        unverified: bool,
    },
}

/// The engine and the translation to and from it.
pub struct Driver {
    engine: Engine,
    start: Timestamp,
    out: Vec<Event>,
    /// Commands applied.
    pub commands: u64,
}

impl Driver {
    /// An engine with these settings; simulated time 0 is `start`.
    pub fn new(cfg: EngineConfig, start: Timestamp) -> Result<Driver, ConfigError> {
        Ok(Driver { engine: Engine::new(cfg)?, start, out: Vec::new(), commands: 0 })
    }

    /// Whether the engine takes these settings (the engine's own check).
    pub fn check(cfg: &EngineConfig) -> Result<(), ConfigError> {
        Engine::new(cfg.clone()).map(|_| ())
    }

    /// The engine, read-only (ledger, ranks, device states).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn apply(&mut self, at_ms: u64, kind: CommandKind, dispute: bool, notices: &mut Vec<Notice>) {
        self.try_apply(at_ms, kind, dispute, notices).unwrap_or_else(|e| panic!("the engine refused a command: {e}"));
    }

    fn try_apply(
        &mut self,
        at_ms: u64,
        kind: CommandKind,
        dispute: bool,
        notices: &mut Vec<Notice>,
    ) -> Result<(), byterank_core::engine::EngineError> {
        let cmd = Command { at: self.start.add_millis(at_ms as i64), kind };
        self.out.clear();
        self.commands += 1;
        self.engine.apply(&cmd, &mut self.out)?;
        // Every pattern ends in `..`, so fields the engine adds do not break it.
        for e in self.out.drain(..) {
            notices.push(match e {
                Event::JobAccepted { job, copies, pjf, achievable, .. } => {
                    Notice::JobAccepted { job, copies, pjf, achievable }
                }
                Event::TaskAssigned { job, task, device, attempt, rescue, speculative, .. } => {
                    Notice::Assigned { job, task, device, attempt, rescue, speculative }
                }
                Event::NoTask { device, .. } => Notice::NoTask { device },
                Event::AttemptChanged { device, attempt, state, .. } => match state {
                    // Delayed is informational; Failed and Completed answer the
                    // device's own report.
                    AttemptState::Delayed | AttemptState::Failed | AttemptState::Completed => continue,
                    AttemptState::Incorrect => Notice::Incorrect { attempt },
                    AttemptState::Cancelled => Notice::Cancelled { device, attempt },
                    // Stale, Abandoned, and any state that ends an attempt without
                    // the device's word (a withdrawn copy): the device stops.
                    _ => Notice::Withdrawn { device, attempt },
                },
                Event::TaskValidated { job, task, attempt, .. } => Notice::Validated { job, task, attempt },
                Event::TaskRescued { job, task, need, .. } => {
                    Notice::Rescued { job, task, dispute: dispute || need == RescueNeed::Arbitration }
                }
                Event::LateReport { attempt, .. } => Notice::Late { attempt },
                Event::JobCompleted { job, results, unverified, .. } => {
                    Notice::JobCompleted { job, results, unverified }
                }
                Event::JobFailed { job, reason } => Notice::JobFailed { job, reason },
                Event::JobCancelled { job } => Notice::JobFailed { job, reason: "cancelled".to_string() },
                Event::RewardCredited { device, amount, unverified, .. } => {
                    Notice::Credited { device, amount: amount.0, unverified }
                }
                _ => continue,
            });
        }
        Ok(())
    }

    /// Registers a device; `trusted` is the operator's designation.
    pub fn register(&mut self, at_ms: u64, device: Device, owner: String, trusted: bool) -> DeviceId {
        // THE ONE PLACE TRUST IS SET: the engine ignores what a device claims, and
        // the operator's `SetTrust` is the only way to make it trusted.
        let cmd =
            Command { at: self.start.add_millis(at_ms as i64), kind: CommandKind::RegisterDevice { device, owner } };
        self.out.clear();
        self.commands += 1;
        self.engine.apply(&cmd, &mut self.out).unwrap_or_else(|e| panic!("the engine refused a device: {e}"));
        let handle = match self.out.first() {
            Some(&Event::DeviceRegistered { device, .. }) => device,
            other => panic!("registration answered {other:?}"),
        };
        if trusted {
            let mut n = Vec::new();
            self.apply(at_ms, CommandKind::SetTrust { device: handle, trusted }, false, &mut n);
        }
        handle
    }

    /// A device reports its measured state: the engine's copy with `change` applied.
    pub fn report(&mut self, at_ms: u64, device: DeviceId, change: impl FnOnce(&mut Device)) {
        let mut state = self.engine.device(device).expect("a registered device").clone();
        change(&mut state);
        let mut n = Vec::new();
        self.apply(at_ms, CommandKind::UpdateDevice { device, state }, false, &mut n);
    }

    /// A device leaves for good.
    pub fn remove(&mut self, at_ms: u64, device: DeviceId, notices: &mut Vec<Notice>) {
        self.apply(at_ms, CommandKind::RemoveDevice { device }, false, notices);
    }

    /// A user submits a job; `Err` is the engine's reason for refusing it.
    pub fn submit(&mut self, at_ms: u64, job: JobSpec, notices: &mut Vec<Notice>) -> Result<(), String> {
        let user = format!("user-{}", job.id);
        self.try_apply(at_ms, CommandKind::SubmitJob { job, user }, false, notices).map_err(|e| e.to_string())
    }

    /// A device asks for a task.
    pub fn pull(&mut self, at_ms: u64, device: DeviceId, notices: &mut Vec<Notice>) {
        self.apply(at_ms, CommandKind::Pull { device }, false, notices);
    }

    /// The adapter took an ended job's results: the engine may forget the job.
    pub fn release(&mut self, at_ms: u64, job: JobId) {
        let mut n = Vec::new();
        self.apply(at_ms, CommandKind::ReleaseJob { job }, false, &mut n);
    }

    /// A heartbeat.
    pub fn heartbeat(&mut self, at_ms: u64, device: DeviceId, attempt: AttemptId, notices: &mut Vec<Notice>) {
        self.apply(at_ms, CommandKind::Heartbeat { device, attempt }, false, notices);
    }

    /// A result.
    pub fn result(
        &mut self,
        at_ms: u64,
        device: DeviceId,
        attempt: AttemptId,
        result: ResultMeta,
        notices: &mut Vec<Notice>,
    ) {
        self.apply(at_ms, CommandKind::ReportResult { device, attempt, result }, true, notices);
    }

    /// An error report.
    pub fn error(&mut self, at_ms: u64, device: DeviceId, attempt: AttemptId, notices: &mut Vec<Notice>) {
        self.apply(at_ms, CommandKind::ReportError { device, attempt }, false, notices);
    }

    /// Time passes.
    pub fn tick(&mut self, at_ms: u64, notices: &mut Vec<Notice>) {
        self.apply(at_ms, CommandKind::Tick, false, notices);
    }
}
