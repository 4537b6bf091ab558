//! Fault response (spec §11, Figure 9): failed and stale attempts, heartbeat
//! timeouts, the rescue queue, and the liveness checks that keep jobs from waiting
//! forever.

use super::*;

impl<Q: TaskQueue> Engine<Q> {
    pub(super) fn failure(&mut self, a: Attempt, attempt: AttemptId, state: AttemptState, out: &mut Vec<Event>) {
        out.push(Event::AttemptChanged { job: a.job, task: a.task, attempt, device: a.device, state });
        let max_failures = self.cfg.max_failures;
        let j = &mut self.jobs[a.job.0 as usize];
        if j.status != JobStatus::Running {
            return;
        }
        let t = &mut j.tasks[a.task as usize];
        t.failures += 1;
        if a.rescue {
            // The trusted double-check failed too: the fault is the system's.
            t.blame.clear();
        } else if matches!(state, AttemptState::Failed | AttemptState::Stale) {
            let outcome =
                Outcome { failed: true, delayed: a.delayed || state == AttemptState::Stale, incorrect: false };
            match t.accepted {
                Some(_) => self.devices[a.device.0 as usize].state.faults.push(outcome),
                None => t.blame.push((a.device, outcome)),
            }
        }
        let t = &self.jobs[a.job.0 as usize].tasks[a.task as usize];
        // A dispute needs its arbiter again if the arbiter failed; an unvalidated
        // task with no copy running goes to the rescue queue even when copies wait
        // in pool queues: those may be for devices that already tried it.
        let needs_copy = if t.disputed { a.rescue } else { t.accepted.is_none() && t.running == 0 };
        if t.accepted.is_none() && t.failures >= max_failures {
            let reason = format!("task {} failed {} times", a.task, t.failures);
            self.end_job(a.job, JobStatus::Failed, reason, out);
            return;
        }
        if needs_copy && !self.rescue.iter().any(|&(j, t, _)| (j, t) == (a.job, a.task)) {
            self.rescue.push_back((a.job, a.task, self.now));
            out.push(Event::TaskRescued { job: a.job, task: a.task });
        }
        self.settle_task(a.job, a.task, false, out);
        self.maybe_complete(a.job, out);
    }

    pub(super) fn fire_timers(&mut self, out: &mut Vec<Event>) {
        while let Some(&(deadline, attempt)) = self.timers.first() {
            if deadline > self.now {
                break;
            }
            self.timers.pop_first();
            let a = self.attempts.get_mut(&attempt).expect("finished attempts leave the timers");
            let (t1, t2) = (a.last_beat.add_millis(self.cfg.t1_ms), a.last_beat.add_millis(self.cfg.t2_ms));
            if self.now >= t2 {
                let a = self.finish_attempt(attempt);
                self.failure(a, attempt, AttemptState::Stale, out);
            } else if !a.delayed && self.now >= t1 {
                a.delayed = true;
                a.timer = t2;
                let (job, task, device) = (a.job, a.task, a.device);
                out.push(Event::AttemptChanged { job, task, attempt, device, state: AttemptState::Delayed });
                self.timers.insert((t2, attempt));
            } else {
                // A heartbeat moved the deadline.
                a.timer = if a.delayed { t2 } else { t1 };
                self.timers.insert((a.timer, attempt));
            }
        }
    }

    /// Drops rescue entries that no longer need a copy, and fails a job whose task
    /// waits for a copy that no live device may ever run (every one tried it).
    pub(super) fn check_rescues(&mut self, out: &mut Vec<Event>) {
        let mut entries = core::mem::take(&mut self.rescue);
        entries.retain(|&(j, t, _)| {
            let job = &self.jobs[j.0 as usize];
            job.status == JobStatus::Running && {
                let task = &job.tasks[t as usize];
                task.accepted.is_none() || task.disputed
            }
        });
        let hopeless = entries.iter().copied().find(|&(j, t, _)| {
            !(0..self.devices.len()).any(|d| self.devices[d].live && self.rescuable(j, t, DeviceId(d as u32)))
        });
        self.rescue = entries;
        if let Some((job, task, _)) = hopeless {
            let reason = format!("task {task} needs another copy and every device that may run it has tried it");
            self.end_job(job, JobStatus::Failed, reason, out);
        }
    }
}
