//! Liveness (spec §11): heartbeats and deadlines keep an attempt alive (none for
//! T1 marks it delayed, none for T2, or the hard `max_attempt` deadline, makes it
//! stale), and the checks at each tick that keep every job from waiting forever
//! on copies no device will take.

use alloc::format;
use alloc::vec::Vec;

use super::attempts::{Due, Touch};
use super::command::{AttemptId, DeviceId, JobId};
use super::config::FailureAttribution;
use super::event::{AttemptState, Event};
use super::rescue::{Entry, RescueNeed};
use super::{Engine, JobStatus};
use crate::time::Timestamp;

impl Engine {
    /// Applies an attempt's deadlines at a command that concerns it. False when the
    /// attempt was late: it is now stale, and the command's report is not taken.
    pub(super) fn on_time(&mut self, attempt: AttemptId, beat: bool, out: &mut Vec<Event>) -> bool {
        let deadlines = self.cfg.deadlines();
        match self.attempts.touch(attempt, self.now, beat, &deadlines) {
            Touch::Alive => true,
            Touch::Delayed => {
                let a = self.attempts.get(attempt).expect("touched");
                let (job, task, device) = (a.job, a.task, a.device);
                out.push(Event::AttemptChanged { job, task, attempt, device, state: AttemptState::Delayed });
                true
            }
            Touch::Late => {
                let a = self.finish_attempt(attempt).expect("checked before");
                let device = a.device;
                self.failed(a, attempt, AttemptState::Stale, out);
                if !beat {
                    out.push(Event::LateReport { attempt, device });
                }
                false
            }
        }
    }

    pub(super) fn take_heartbeat(&mut self, attempt: AttemptId, out: &mut Vec<Event>) {
        self.on_time(attempt, true, out);
    }

    /// The host is back from a stop ([`CommandKind::Resume`]): every running
    /// attempt counts as having sent a heartbeat now.
    pub(super) fn beat_all(&mut self) {
        self.attempts.beat_all(self.now);
    }

    pub(super) fn fire_timers(&mut self, out: &mut Vec<Event>) {
        let deadlines = self.cfg.deadlines();
        while let Some((attempt, due)) = self.attempts.pop_due(self.now, &deadlines) {
            match due {
                Due::Delayed => {
                    let a = self.attempts.get(attempt).expect("due");
                    let (job, task, device) = (a.job, a.task, a.device);
                    out.push(Event::AttemptChanged { job, task, attempt, device, state: AttemptState::Delayed });
                }
                Due::Stale => {
                    let a = self.finish_attempt(attempt).expect("due");
                    self.failed(a, attempt, AttemptState::Stale, out);
                }
            }
        }
    }

    /// Whether some live device of the job's pools (a trusted, fit one, for an
    /// arbitration) has not yet run the task: counts, not a scan of the grid.
    fn someone_may_take(&self, job: JobId, task: u32, trusted_only: bool) -> bool {
        if trusted_only {
            return self.may_arbitrate(job, task);
        }
        let j = &self.jobs[job];
        let counts = |d: &DeviceId| self.devices.entry(*d).live && self.pool_table.targets(&j.pool_of, *d);
        let tried = j.tasks.tried(task).filter(counts).count() as u32;
        j.members() > tried
    }

    /// Liveness, at each tick:
    /// - rescue entries no longer needed are dropped;
    /// - an arbitration no live trusted device of the job may take falls back to
    ///   copies towards a majority (the job's pools lost their trusted devices);
    /// - a copy no live device of the job may take fails its job: every one of
    ///   them has tried the task (under [`FailureAttribution::Task`], once it has
    ///   waited `starve_ms` in the rescue queue, so a device joining the job's
    ///   pools may still take it), unless the job set a deadline: it waits for
    ///   devices until then;
    /// - a job with nothing running whose queued copies found no taker for
    ///   `rescue_wait` (the devices of their pools and lower ones all tried those
    ///   tasks, or left) has them moved to the rescue queue, where any eligible
    ///   device of its pools may take them at once (they waited already), and
    ///   from where, if no live device of its pools may, the job fails.
    pub(super) fn check_liveness(&mut self, out: &mut Vec<Event>) {
        let jobs = &self.jobs;
        self.rescue
            .retain(|e| jobs.get(e.job).is_some_and(|j| j.status == JobStatus::Running && !j.tasks[e.task].decided()));
        let stuck: Vec<Entry> = self
            .rescue
            .iter()
            .copied()
            // A copy of a job with a deadline waits for devices: not asked.
            .filter(|e| e.need == RescueNeed::Arbitration || self.jobs[e.job].spec.deadline_s.is_none())
            .filter(|e| !self.someone_may_take(e.job, e.task, e.need == RescueNeed::Arbitration))
            .collect();
        for e in stuck {
            let j = &mut self.jobs[e.job];
            if j.status != JobStatus::Running {
                continue;
            }
            match e.need {
                RescueNeed::Arbitration => {
                    // This task's arbitration only: no trusted device may take
                    // it, so a quorum the results hold decides, or copies seek one.
                    j.tasks[e.task].set_arbiter(false);
                    self.rescue.retain(|x| *x != e);
                    self.progress(e.job, e.task, out);
                }
                RescueNeed::Copy => {
                    // Under §11c's attribution the copy waits `starve_ms` for a
                    // device that has not tried the task (one joining the pools).
                    let patient = self.cfg.failure_attribution == FailureAttribution::Task;
                    if patient && e.since.add_millis(self.cfg.starve_ms) > self.now {
                        continue;
                    }
                    let reason =
                        format!("task {} needs another copy and every device that may run it has tried it", e.task);
                    self.end_job(e.job, JobStatus::Failed, reason, out);
                }
            }
        }
        let patience = self.now.add_millis(-self.cfg.rescue_wait_ms);
        for job in self.running.clone() {
            let j = &self.jobs[job];
            if j.status == JobStatus::Running
                && j.last_assigned() <= patience
                && j.running() == 0
                && j.queues.waiting() > 0
            {
                self.unstall(job, patience, out);
            }
        }
    }

    /// Fails every running job whose deadline (`deadline_s` after its
    /// submission) has come, naming it.
    pub(super) fn fire_job_deadlines(&mut self, out: &mut Vec<Event>) {
        while let Some(&(at, job)) = self.job_deadlines.first() {
            if at > self.now {
                break;
            }
            self.job_deadlines.pop_first();
            let Some(j) = self.jobs.get(job) else { continue };
            if j.status != JobStatus::Running {
                continue;
            }
            let open = j.open_tasks();
            let reason = format!(
                "the job reached its deadline (`deadline_s` = {}) with {open} of {} tasks without a verdict",
                j.spec.deadline_s.unwrap_or_default(),
                j.task_count,
            );
            self.end_job(job, JobStatus::Failed, reason, out);
        }
    }

    /// Moves a stalled job's queued copies to the rescue queue, as having waited
    /// since `waited`: only they leave their pools, and the job's later copies
    /// keep to the pool rule.
    fn unstall(&mut self, job: JobId, waited: Timestamp, out: &mut Vec<Event>) {
        let j = &mut self.jobs[job];
        let copies = j.queues.drain_all();
        self.share.leave(job);
        for c in copies {
            let t = &mut j.tasks[c.task];
            if t.decided() {
                continue;
            }
            t.queued_to_rescue();
            self.rescue.push(Entry { job, task: c.task, since: waited, need: RescueNeed::Copy });
            out.push(Event::TaskRescued { job, task: c.task, need: RescueNeed::Copy });
        }
    }
}
