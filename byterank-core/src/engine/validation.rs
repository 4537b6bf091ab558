//! Validation (spec §11): integrity by the application, replica comparison, trusted
//! arbitration, and the outcomes they record on devices' fault histories.

use super::*;

impl<Q: TaskQueue> Engine<Q> {
    pub(super) fn result(&mut self, attempt: AttemptId, meta: &ResultMeta, out: &mut Vec<Event>) {
        let a = self.finish_attempt(attempt);
        let j = &self.jobs[a.job.0 as usize];
        let app = application(&j.spec.application).expect("checked at submission");
        if app.check(&j.chunks[a.task as usize], meta).is_err() {
            // A malformed result is the worker's fault, known at once.
            self.record(a.device, Outcome { failed: false, delayed: a.delayed, incorrect: true });
            self.failure(a, attempt, AttemptState::Failed, out);
            return;
        }
        let record = ResultRecord {
            attempt,
            device: a.device,
            meta: meta.clone(),
            delayed: a.delayed,
            verdict: Verdict::Pending,
        };
        let t = &mut self.jobs[a.job.0 as usize].tasks[a.task as usize];
        t.results.push(record);
        let arbiter = a.rescue && t.disputed;
        if arbiter {
            self.arbitrate(a.job, a.task, attempt, out);
        } else if t.disputed {
            // Waits for the trusted verdict.
        } else if let Some(acc) = t.accepted {
            let first = t.results.iter().find(|r| r.attempt == acc).expect("accepted is a result");
            if app.agree(&first.meta, meta) {
                self.set_verdict(a.job, a.task, attempt, Verdict::Valid, out);
            } else {
                t.disputed = true;
                self.jobs[a.job.0 as usize].disputes += 1;
                self.rescue.push_back((a.job, a.task, self.now));
                out.push(Event::TaskRescued { job: a.job, task: a.task });
            }
        } else {
            t.accepted = Some(attempt);
            self.jobs[a.job.0 as usize].open_tasks -= 1;
            out.push(Event::TaskValidated { job: a.job, task: a.task, attempt });
            self.set_verdict(a.job, a.task, attempt, Verdict::Valid, out);
            self.blame(a.job, a.task);
        }
        self.settle_task(a.job, a.task, false, out);
        self.maybe_complete(a.job, out);
    }

    /// A trusted result settles a dispute: results that agree with it are valid,
    /// the others incorrect; the task's result becomes the first valid one.
    pub(super) fn arbitrate(&mut self, job: JobId, task: u32, arbiter: AttemptId, out: &mut Vec<Event>) {
        let j = &self.jobs[job.0 as usize];
        let app = application(&j.spec.application).expect("checked at submission");
        let t = &j.tasks[task as usize];
        let truth = &t.results.iter().find(|r| r.attempt == arbiter).expect("just pushed").meta;
        let verdicts: Vec<(AttemptId, Verdict)> = t
            .results
            .iter()
            .filter(|r| r.verdict != Verdict::Incorrect)
            .map(|r| (r.attempt, if app.agree(&r.meta, truth) { Verdict::Valid } else { Verdict::Incorrect }))
            .collect();
        let first_valid = verdicts.iter().find(|(_, v)| *v == Verdict::Valid).map(|(a, _)| *a).unwrap_or(arbiter);
        for (a, v) in verdicts {
            self.set_verdict(job, task, a, v, out);
        }
        let j = &mut self.jobs[job.0 as usize];
        let t = &mut j.tasks[task as usize];
        t.disputed = false;
        j.disputes -= 1;
        if t.accepted != Some(first_valid) {
            t.accepted = Some(first_valid);
            out.push(Event::TaskValidated { job, task, attempt: first_valid });
        }
    }

    /// Records a result's verdict once, and its outcome on the device's history.
    pub(super) fn set_verdict(&mut self, job: JobId, task: u32, attempt: AttemptId, v: Verdict, out: &mut Vec<Event>) {
        let t = &mut self.jobs[job.0 as usize].tasks[task as usize];
        let r = t.results.iter_mut().find(|r| r.attempt == attempt).expect("a result of the task");
        if r.verdict == v {
            return;
        }
        let was = core::mem::replace(&mut r.verdict, v);
        let (device, delayed) = (r.device, r.delayed);
        if was == Verdict::Pending {
            let outcome = Outcome { failed: false, delayed, incorrect: v == Verdict::Incorrect };
            self.record(device, outcome);
        } else if v == Verdict::Incorrect {
            // A result accepted earlier lost the trusted comparison.
            self.record(device, Outcome { failed: false, delayed, incorrect: true });
        }
        let state = if v == Verdict::Valid { AttemptState::Completed } else { AttemptState::Incorrect };
        out.push(Event::AttemptChanged { job, task, attempt, device, state });
    }

    pub(super) fn record(&mut self, device: DeviceId, outcome: Outcome) {
        self.devices[device.0 as usize].state.faults.push(outcome);
    }

    /// The task validated: the failures it saw were the workers'.
    pub(super) fn blame(&mut self, job: JobId, task: u32) {
        let blame = core::mem::take(&mut self.jobs[job.0 as usize].tasks[task as usize].blame);
        for (device, outcome) in blame {
            self.record(device, outcome);
        }
    }
}
