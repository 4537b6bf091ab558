//! Validation (spec §11): results in, integrity by the application, the verdict
//! once final ([`task`](super::task) decides when), and what a final verdict
//! does: outcomes recorded, the bounty paid to the agreeing results, the task's
//! other copies withdrawn or cancelled.

use alloc::vec::Vec;

use super::attempts::CopyKind;
use super::command::{AttemptId, JobId};
use super::event::{AttemptState, Event};
use super::task::{decide, Decision, Report, Seen, Verdict};
use super::Engine;
use crate::application::ResultMeta;
use crate::fault::Outcome;
use crate::reward::ByteChips;

impl Engine {
    pub(super) fn report_error(&mut self, attempt: AttemptId, out: &mut Vec<Event>) {
        if self.on_time(attempt, false, out) {
            let a = self.finish_attempt(attempt).expect("checked before");
            self.failed(a, attempt, AttemptState::Failed, out);
        }
    }

    pub(super) fn report_result(&mut self, attempt: AttemptId, meta: &ResultMeta, out: &mut Vec<Event>) {
        if !self.on_time(attempt, false, out) {
            return;
        }
        let a = self.finish_attempt(attempt).expect("checked before");
        let app = self.app(a.job);
        let j = &self.jobs[a.job];
        if app.check(&j.chunks.get(a.task).expect("a task of the job"), meta).is_err() {
            // A malformed result: an incorrect outcome, attributed like a failure.
            self.failed(a, attempt, AttemptState::Incorrect, out);
            return;
        }
        self.devices.track_mut(a.device).result(a.started, self.now);
        let trusted = self.devices.trusted(a.device);
        if a.kind == CopyKind::Arbiter {
            self.jobs[a.job].tasks[a.task].set_arbiter(false);
        }
        // Decided on with the new result borrowed: only one left waiting is copied.
        let tasks = &self.jobs[a.job].tasks;
        let quorum = tasks[a.task].quorum(self.cfg.quorum);
        let seen = Seen { attempt, device: a.device, meta, delayed: a.delayed };
        let stored = self.provisional.metas(tasks.results(a.task));
        // Asked only once results disagree: may a trusted device settle them?
        let arbiter =
            || tasks[a.task].arbiter() || self.trusted_running(a.job, a.task) || self.may_arbitrate(a.job, a.task);
        match decide(app, stored.chain([meta]), trusted, quorum, arbiter) {
            Some(d) => self.finalize(a.job, a.task, d, Some(seen), out),
            None => {
                let report = Report { attempt, device: a.device, meta: meta.clone(), delayed: a.delayed };
                self.provisional.push(self.jobs[a.job].tasks.results_mut(a.task), report);
                self.progress(a.job, a.task, out);
            }
        }
    }

    /// A task's verdict is final: results that agree with the truth are valid, the
    /// others incorrect (one outcome each on their devices), failures seen on the
    /// way are the workers', the bounty is paid to the valid results, and the
    /// task's other copies are withdrawn (queued) or cancelled (running). The
    /// results are the task's provisional ones, then `newest` (the result that
    /// decided, not stored) if any.
    pub(super) fn finalize(&mut self, job: JobId, task: u32, d: Decision, newest: Option<Seen>, out: &mut Vec<Event>) {
        let app = self.app(job);
        let j = &mut self.jobs[job];
        let stored = self.provisional.take(j.tasks.results_mut(task));
        let results = || stored.iter().map(Report::seen).chain(newest);
        let truth = results().nth(d.truth).expect("the deciding result").meta;
        let agrees = |r: &Seen| app.agree(r.meta, truth);
        let attempt = results().find(agrees).expect("the truth agrees with itself").attempt;
        let valid = results().filter(agrees).count();
        let (blame, cancel) = j.decide(task, Verdict { attempt, unverified: d.unverified });
        let each = j.account.settle(task as usize, valid);
        out.push(Event::TaskValidated { job, task, attempt, valid: valid as u32, unverified: d.unverified });
        for r in results() {
            let ok = agrees(&r);
            let outcome = Outcome { failed: false, delayed: r.delayed, incorrect: !ok };
            self.devices.record(r.device, outcome, &self.cfg.index.flags);
            let state = if ok { AttemptState::Completed } else { AttemptState::Incorrect };
            out.push(Event::AttemptChanged { job, task, attempt: r.attempt, device: r.device, state });
            if ok && each > ByteChips::ZERO {
                self.ledger.release(each);
                self.ledger.pay(self.devices.owner(r.device), each);
                out.push(Event::RewardCredited { device: r.device, job, task, amount: each });
            }
        }
        for (device, outcome) in blame {
            self.devices.record(device, outcome, &self.cfg.index.flags);
        }
        for attempt in cancel {
            if let Some(a) = self.finish_attempt(attempt) {
                out.push(Event::AttemptChanged {
                    job,
                    task,
                    attempt,
                    device: a.device,
                    state: AttemptState::Cancelled,
                });
            }
        }
        self.maybe_complete(job, out);
    }
}
