//! Typed helpers over the engine for the commands a host sends: each builds the
//! command, applies it, and returns what the host acts on as a value, so a call
//! site needs no `Command` and no scan of the events. Each one is exactly its
//! command (the same checks and the same state changes as [`Engine::apply`] of
//! it), so the journal a host keeps for replay is the same. Each refuses with an
//! error that lists only what its command can be refused for; on a refusal the
//! engine is unchanged and nothing is appended.

use alloc::vec::Vec;

use super::command::{AttemptId, CommandKind, DeviceId, JobId};
use super::error::{
    AttemptError, CancelError, OperatorError, PullError, RegisterError, ReleaseError, RemoveError, SubmitError,
    TimeError, UpdateError,
};
use super::event::{Event, Idle};
use super::Engine;
use crate::application::ResultMeta;
use crate::device::Device;
use crate::job::JobSpec;
use crate::time::Timestamp;

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

impl Engine {
    /// [`CommandKind::RegisterDevice`] at `at`: the device's handle.
    pub fn register_device(&mut self, at: Timestamp, device: Device, owner: &str) -> Result<DeviceId, RegisterError> {
        self.check_time(at)?;
        self.devices.check_register(&device)?;
        let mut out = Vec::new();
        self.run(at, &CommandKind::RegisterDevice { device, owner: owner.into() }, &mut out);
        match out[..] {
            [Event::DeviceRegistered { device, .. }] => Ok(device),
            _ => unreachable!("a registration answers with its handle"),
        }
    }

    /// [`CommandKind::UpdateDevice`] at `at`: the device's newly measured state.
    pub fn update_device(&mut self, at: Timestamp, device: DeviceId, state: Device) -> Result<(), UpdateError> {
        self.check_time(at)?;
        self.devices.check_update(device, &state)?;
        self.run(at, &CommandKind::UpdateDevice { device, state }, &mut Vec::new());
        Ok(())
    }

    /// [`CommandKind::SetTrust`] at `at`: the operator trusts the device, or no
    /// longer does.
    pub fn set_trust(&mut self, at: Timestamp, device: DeviceId, trusted: bool) -> Result<(), OperatorError> {
        self.check_time(at)?;
        self.check_known(device)?;
        self.run(at, &CommandKind::SetTrust { device, trusted }, &mut Vec::new());
        Ok(())
    }

    /// [`CommandKind::ResetHistory`] at `at`: the operator clears the device's
    /// fault history.
    pub fn reset_history(&mut self, at: Timestamp, device: DeviceId) -> Result<(), OperatorError> {
        self.check_time(at)?;
        self.check_known(device)?;
        self.run(at, &CommandKind::ResetHistory { device }, &mut Vec::new());
        Ok(())
    }

    /// [`CommandKind::RemoveDevice`] at `at`; the attempts it abandons (and what
    /// follows from them) are appended to `out`.
    pub fn remove_device(&mut self, at: Timestamp, device: DeviceId, out: &mut Vec<Event>) -> Result<(), RemoveError> {
        self.check_time(at)?;
        self.devices.live(device)?;
        self.run(at, &CommandKind::RemoveDevice { device }, out);
        Ok(())
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
    ) -> Result<JobId, SubmitError> {
        self.check_time(at)?;
        let ready = self.prepare(&job, Some(user), at)?;
        self.now = at;
        self.submit(ready, user, out);
        match out.last() {
            Some(&Event::JobAccepted { job, .. }) => Ok(job),
            _ => unreachable!("an accepted job's last event is its acceptance"),
        }
    }

    /// [`CommandKind::CancelJob`] at `at`; what it ends (the job, its running
    /// attempts, the refund) is appended to `out`.
    pub fn cancel_job(&mut self, at: Timestamp, job: JobId, out: &mut Vec<Event>) -> Result<(), CancelError> {
        self.check_time(at)?;
        self.check_cancel(job)?;
        self.run(at, &CommandKind::CancelJob { job }, out);
        Ok(())
    }

    /// [`CommandKind::ReleaseJob`] at `at`: the engine forgets the ended job.
    pub fn release_job(&mut self, at: Timestamp, job: JobId) -> Result<(), ReleaseError> {
        self.check_time(at)?;
        self.check_release(job)?;
        self.run(at, &CommandKind::ReleaseJob { job }, &mut Vec::new());
        Ok(())
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
    pub fn pull(&mut self, at: Timestamp, device: DeviceId) -> Result<Pulled, PullError> {
        self.prefetch_pull(device);
        self.check_time(at)?;
        self.devices.live(device)?;
        let mut out = Vec::new();
        self.run(at, &CommandKind::Pull { device }, &mut out);
        match out[..] {
            [Event::TaskAssigned { job, task, replica, attempt, rescue, .. }] => {
                Ok(Pulled::Task { job, task, replica, attempt, rescue })
            }
            [Event::NoTask { reason, .. }] => Ok(Pulled::Nothing(reason)),
            _ => unreachable!("a pull answers with one event"),
        }
    }

    /// [`CommandKind::Heartbeat`] at `at`; a heartbeat after the attempt's
    /// deadline makes it stale, and that is appended to `out`.
    pub fn heartbeat(
        &mut self,
        at: Timestamp,
        device: DeviceId,
        attempt: AttemptId,
        out: &mut Vec<Event>,
    ) -> Result<(), AttemptError> {
        self.on_held(at, device, attempt, CommandKind::Heartbeat { device, attempt }, out)
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
    ) -> Result<(), AttemptError> {
        self.on_held(at, device, attempt, CommandKind::ReportResult { device, attempt, result }, out)
    }

    /// [`CommandKind::ReportError`] at `at`: the attempt failed on the device;
    /// what follows (its copy rescued, or its job failed) is appended to `out`.
    pub fn report_failure(
        &mut self,
        at: Timestamp,
        device: DeviceId,
        attempt: AttemptId,
        out: &mut Vec<Event>,
    ) -> Result<(), AttemptError> {
        self.on_held(at, device, attempt, CommandKind::ReportError { device, attempt }, out)
    }

    /// A command on an attempt `device` holds: checked, then run.
    fn on_held(
        &mut self,
        at: Timestamp,
        device: DeviceId,
        attempt: AttemptId,
        kind: CommandKind,
        out: &mut Vec<Event>,
    ) -> Result<(), AttemptError> {
        let report = !matches!(kind, CommandKind::Heartbeat { .. });
        self.prefetch_held(device, attempt, matches!(kind, CommandKind::ReportResult { .. }));
        self.check_time(at)?;
        self.check_held(device, attempt)?;
        if report {
            self.prefetch_task(attempt);
        }
        self.run(at, &kind, out);
        Ok(())
    }

    /// [`CommandKind::Resume`] at `at`: the host is back after a stop; every
    /// running attempt counts as having sent a heartbeat at `at`.
    pub fn resume(&mut self, at: Timestamp) -> Result<(), TimeError> {
        self.check_time(at)?;
        self.run(at, &CommandKind::Resume, &mut Vec::new());
        Ok(())
    }

    /// [`CommandKind::Tick`] at `at`: deadlines, ranking refreshes and the daily
    /// lottery fire, appending their events to `out`.
    pub fn tick(&mut self, at: Timestamp, out: &mut Vec<Event>) -> Result<(), TimeError> {
        self.check_time(at)?;
        self.run(at, &CommandKind::Tick, out);
        Ok(())
    }
}
