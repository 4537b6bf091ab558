//! Fault response (spec §11, Figure 9): attempts that fail, go stale or are
//! abandoned; the copies a task without a verdict still needs; heartbeat timers;
//! and the liveness checks that keep every job from waiting forever.

use super::*;

impl Engine {
    /// An attempt ended without a valid result (already off the books). Its outcome
    /// waits in the task's blame list until the task's verdict is final elsewhere;
    /// if the job fails instead, the fault is the system's and nothing is recorded.
    pub(super) fn failed(&mut self, a: Attempt, attempt: AttemptId, state: AttemptState, out: &mut Vec<Event>) {
        out.push(Event::AttemptChanged { job: a.job, task: a.task, attempt, device: a.device, state });
        let j = &mut self.jobs[a.job];
        if j.status != JobStatus::Running {
            return;
        }
        if a.kind == CopyKind::Arbiter {
            j.tasks[a.task].set_arbiter(false);
        }
        let outcome = Outcome {
            failed: state != AttemptState::Incorrect,
            delayed: a.delayed || state == AttemptState::Stale,
            incorrect: state == AttemptState::Incorrect,
        };
        j.tasks.push_blame(a.task, a.device, outcome);
        let t = &mut j.tasks[a.task];
        // A device leaving is not the task's fault: it does not count towards
        // `max_failures`.
        if state != AttemptState::Abandoned {
            t.failures += 1;
            if t.failures >= self.cfg.max_failures {
                let reason = format!("task {} failed {} times", a.task, t.failures);
                self.end_job(a.job, JobStatus::Failed, reason, out);
                return;
            }
        }
        self.progress(a.job, a.task, out);
    }

    /// Makes sure a task without a verdict can still reach one. Results that
    /// disagree wait for a trusted arbiter while one is asked for or running, or
    /// ask for one when a trusted device of the job's pools may arbitrate;
    /// without one, a quorum the results hold decides; otherwise the task gets
    /// enough copies (replacements, or extra copies towards a majority) that a
    /// quorum can still agree. Called whenever one of the task's copies ends, so
    /// an undecided task always has something coming.
    pub(super) fn progress(&mut self, job: JobId, task: u32, out: &mut Vec<Event>) {
        let app = self.app(job);
        let (quorum, max_extra) = (self.cfg.quorum, self.cfg.max_failures);
        let j = &self.jobs[job];
        if j.status != JobStatus::Running || j.tasks[task].decided() {
            return;
        }
        let (best, disputed) = agreement(app, self.provisional.metas(j.tasks.results(task)));
        if disputed {
            if j.tasks[task].arbiter() || self.trusted_running(job, task) {
                return;
            }
            if self.may_arbitrate(job, task) {
                self.jobs[job].tasks[task].set_arbiter(true);
                self.rescue.push(Entry { job, task, since: self.now, need: RescueNeed::Arbitration });
                out.push(Event::TaskRescued { job, task, need: RescueNeed::Arbitration });
                return;
            }
        }
        // Without an arbiter, a quorum the results hold decides (after a
        // dispute, or once a re-plan left the task fewer copies).
        let q = j.tasks[task].quorum(quorum);
        if best >= q {
            if let Some(d) = by_quorum(app, self.provisional.metas(j.tasks.results(task)), q, || false) {
                self.finalize(job, task, d, None, out);
                return;
            }
        }
        let j = &mut self.jobs[job];
        let live = j.tasks.live_copies(task);
        let t = &mut j.tasks[task];
        let since = self.now;
        let needed = t.quorum(quorum).saturating_sub(best);
        // Each rescue copy below adds one live copy.
        let mut live = live;
        while live < needed {
            live += 1;
            if disputed {
                t.extra += 1;
                if t.extra > max_extra {
                    let reason =
                        format!("task {task}: no {} results agreed within {max_extra} extra copies", t.quorum(quorum));
                    self.end_job(job, JobStatus::Failed, reason, out);
                    return;
                }
            }
            t.rescue += 1;
            self.rescue.push(Entry { job, task, since, need: RescueNeed::Copy });
            out.push(Event::TaskRescued { job, task, need: RescueNeed::Copy });
        }
    }

    /// Whether a device the operator trusts runs a copy of the task now: its
    /// result will decide.
    pub(super) fn trusted_running(&self, job: JobId, task: u32) -> bool {
        let tasks = &self.jobs[job].tasks;
        tasks.running(task).any(|a| self.attempts.get(a).is_some_and(|x| self.devices.trusted(x.device)))
    }

    /// Whether a trusted device may arbitrate the task now: one the operator
    /// trusts, live, in the job's pools, fit for the job, that has not run the
    /// task. Decided per task at every use, from the devices as they are: the
    /// trusted devices are few, and a dispute is rare.
    pub(super) fn may_arbitrate(&self, job: JobId, task: u32) -> bool {
        let j = &self.jobs[job];
        self.devices.trusted_live().any(|d| {
            self.pool_table.targets(&j.pool_of, d)
                && self.devices.may_run(d, &j.spec, j.chunk_bytes)
                && !j.tasks.has_tried(task, d)
        })
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
        j.members > tried
    }

    /// Liveness, at each tick:
    /// - rescue entries no longer needed are dropped;
    /// - an arbitration no live trusted device of the job may take falls back to
    ///   copies towards a majority (the job's pools lost their trusted devices);
    /// - a copy no live device of the job may take fails its job: every one of
    ///   them has tried the task;
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
                    let reason =
                        format!("task {} needs another copy and every device that may run it has tried it", e.task);
                    self.end_job(e.job, JobStatus::Failed, reason, out);
                }
            }
        }
        let patience = self.now.add_millis(-self.cfg.rescue_wait_ms);
        for job in self.running.clone() {
            let j = &self.jobs[job];
            if j.status == JobStatus::Running && j.last_assigned <= patience && j.running == 0 && j.queues.waiting() > 0
            {
                self.unstall(job, patience, out);
            }
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
            t.queued -= 1;
            t.rescue += 1;
            self.rescue.push(Entry { job, task: c.task, since: waited, need: RescueNeed::Copy });
            out.push(Event::TaskRescued { job, task: c.task, need: RescueNeed::Copy });
        }
    }
}
