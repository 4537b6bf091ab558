//! Typed helpers over [`Engine::apply`] for the commands a host sends most: each
//! builds the command, applies it, and returns what the host acts on as a value,
//! so a call site needs no `Command` and no scan of the events. Each one is
//! exactly its command: the journal a host keeps for replay is the same.

use super::*;

/// What a pull gave ([`Engine::pull`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pulled {
    /// A copy to run: dispatch the task's chunk, keep the attempt.
    Task {
        /// The job.
        job: JobId,
        /// The task (chunk index).
        task: u32,
        /// Which copy (0 is the first).
        replica: u32,
        /// The attempt's handle, for heartbeats and results.
        attempt: AttemptId,
        /// Whether it came from the rescue queue.
        rescue: bool,
    },
    /// Nothing for the device, and why.
    Nothing(Idle),
}

impl<Q: TaskQueue> Engine<Q> {
    /// [`CommandKind::RegisterDevice`] at `at`: the device's handle.
    pub fn register_device(&mut self, at: Timestamp, device: Device, owner: &str) -> Result<DeviceId, EngineError> {
        let mut out = Vec::new();
        self.apply(&Command { at, kind: CommandKind::RegisterDevice { device, owner: owner.into() } }, &mut out)?;
        match out[..] {
            [Event::DeviceRegistered { device, .. }] => Ok(device),
            _ => unreachable!("a registration answers with its handle"),
        }
    }

    /// [`CommandKind::SubmitJob`] at `at`: the job's handle. Its events (the
    /// `JobAccepted`, and a ranking refresh's when devices changed since the last
    /// one) are appended to `out`.
    pub fn submit_job(
        &mut self,
        at: Timestamp,
        job: JobSpec,
        user: &str,
        out: &mut Vec<Event>,
    ) -> Result<JobId, EngineError> {
        let from = out.len();
        self.apply(&Command { at, kind: CommandKind::SubmitJob { job, user: user.into() } }, out)?;
        match out[from..].last() {
            Some(&Event::JobAccepted { job, .. }) => Ok(job),
            _ => unreachable!("an accepted job's last event is its acceptance"),
        }
    }

    /// [`CommandKind::Pull`] at `at`: the copy the device is to run, or why there
    /// is none (a pull has no other event).
    ///
    /// ```
    /// use byterank_core::application::{Chunk, Synthetic};
    /// use byterank_core::engine::Pulled;
    /// use byterank_core::prelude::*;
    ///
    /// let mut engine = Engine::default();
    /// let at = Timestamp::parse_rfc3339("2026-12-02T09:00:00Z")?;
    /// let device = engine.register_device(at, Device::new("laptop"), "alice")?;
    /// let mut events = Vec::new();
    /// engine.submit_job(at, JobSpec::new("hello", 1), "bob", &mut events)?;
    /// let Pulled::Task { task, attempt, .. } = engine.pull(at, device)? else { unreachable!() };
    /// let result = Synthetic::expected("hello", &Chunk { index: task, offset: 0, len: 1 });
    /// engine.report(at, device, attempt, result, &mut events)?;
    /// assert!(events.iter().any(|e| matches!(e, Event::JobCompleted { .. })));
    /// assert!(matches!(engine.pull(at, device)?, Pulled::Nothing(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pull(&mut self, at: Timestamp, device: DeviceId) -> Result<Pulled, EngineError> {
        let mut out = Vec::new();
        self.apply(&Command { at, kind: CommandKind::Pull { device } }, &mut out)?;
        match out[..] {
            [Event::TaskAssigned { job, task, replica, attempt, rescue, .. }] => {
                Ok(Pulled::Task { job, task, replica, attempt, rescue })
            }
            [Event::NoTask { reason, .. }] => Ok(Pulled::Nothing(reason)),
            _ => unreachable!("a pull answers with one event"),
        }
    }

    /// [`CommandKind::ReportResult`] at `at`; what it decided (validation,
    /// rewards, the job's completion) is appended to `out`.
    pub fn report(
        &mut self,
        at: Timestamp,
        device: DeviceId,
        attempt: AttemptId,
        result: ResultMeta,
        out: &mut Vec<Event>,
    ) -> Result<(), EngineError> {
        self.apply(&Command { at, kind: CommandKind::ReportResult { device, attempt, result } }, out)
    }
}
