//! Validation (spec §11): results in, integrity by the application, the verdict
//! once final ([`task`](super::task) decides when), and what a final verdict
//! does: outcomes recorded, the bounty paid to the agreeing results, the task's
//! other copies withdrawn or cancelled.

use alloc::vec::Vec;

use super::attempts::CopyKind;
use super::command::{AttemptId, DeviceId, JobId};
use super::credibility::{group_error, within};
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
        self.learn_work(a.job, a.device, self.now.0 - a.started.0);
        self.devices.track_mut(a.device).result(a.started, self.now);
        let trusted = self.devices.trusted(a.device);
        if a.kind == CopyKind::Arbiter {
            self.jobs[a.job].tasks[a.task].set_arbiter(false);
        }
        // Decided on with the new result borrowed: only one left waiting is copied.
        let tasks = &self.jobs[a.job].tasks;
        let quorum = tasks[a.task].quorum(self.cfg.quorum);
        let seen = Seen { attempt, device: a.device, meta, delayed: a.delayed };
        // In a block: the borrowed results are gone before the engine changes.
        let decision = {
            let stored = self.provisional.iter(tasks.results(a.task));
            let metas = stored.clone().map(|r| &r.meta).chain([meta]);
            let results = stored.map(|r| (r.device, &r.meta)).chain([(a.device, meta)]);
            // Asked only once results disagree: may a trusted device settle them?
            let arbiter =
                || tasks[a.task].arbiter() || self.trusted_running(a.job, a.task) || self.may_arbitrate(a.job, a.task);
            let credible = |i| self.credible(a.job, quorum, a.task, results.clone(), i);
            decide(app, metas, trusted, quorum, arbiter, credible)
        };
        match decision {
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
        let judge = results().nth(d.truth).expect("the deciding result").device;
        self.weigh(results().map(|r| (r.device, agrees(&r))), judge);
        for r in results() {
            let ok = agrees(&r);
            let outcome = Outcome { failed: false, delayed: r.delayed, incorrect: !ok };
            self.devices.record(r.device, outcome, &self.cfg.index.flags);
            let state = if ok { AttemptState::Completed } else { AttemptState::Incorrect };
            out.push(Event::AttemptChanged { job, task, attempt: r.attempt, device: r.device, state });
            if ok && each > ByteChips::ZERO {
                self.ledger.release(each);
                self.ledger.pay(self.devices.owner(r.device), each, d.unverified);
                let unverified = d.unverified;
                out.push(Event::RewardCredited { device: r.device, job, task, amount: each, unverified });
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

    /// Whether the results agreeing with result `i` of the task's `results`
    /// (device and result, in arrival order) are credible enough for the job:
    /// the probability that they are all wrong is within its `max_error`.
    /// Always so with credibility off, for a quorum of one (a single-copy task),
    /// and when no trusted device runs the task or may take it. Asked only of a
    /// quorum found, so at most once or twice a task.
    pub(super) fn credible<'a>(
        &self,
        job: JobId,
        quorum: usize,
        task: u32,
        results: impl Iterator<Item = (DeviceId, &'a ResultMeta)> + Clone,
        i: usize,
    ) -> bool {
        let c = &self.cfg.credibility;
        // Nothing could check the group (no trusted device runs the task or may
        // take it): more untrusted votes are all there is, and a small grid may
        // have no device left to cast one, so the plain quorum decides.
        if !c.enabled || quorum < 2 || !(self.trusted_running(job, task) || self.may_arbitrate(job, task)) {
            return true;
        }
        let app = self.app(job);
        let bound = self.jobs[job].spec.max_error.unwrap_or(c.max_error);
        let Some((_, truth)) = results.clone().nth(i) else { return false };
        let agreeing = results.filter(|(_, r)| app.agree(r, truth));
        within(group_error(agreeing.map(|(d, _)| self.device_error(d))), bound)
    }

    /// The probability that a result of the device is wrong: 0 if the operator
    /// trusts it, else from its credibility record.
    fn device_error(&self, d: DeviceId) -> f64 {
        if self.devices.trusted(d) {
            0.0
        } else {
            self.credibility.error(d, self.cfg.credibility.assumed_bad)
        }
    }

    /// What a final verdict teaches about the devices whose results it judged
    /// (`results`: device, and whether its result agrees): decided by a trusted
    /// device (`judge`), agreeing untrusted devices passed a check and the
    /// others are caught; decided by agreement, an agreeing device passed a
    /// check when the others that agree with it weigh at least as much as one
    /// device that passed a check (their error is at most `assumed_bad / 2`).
    /// Results judged only by untrusted agreement never catch anyone: the
    /// disagreeing device may be the honest one.
    fn weigh(&mut self, results: impl Iterator<Item = (DeviceId, bool)> + Clone, judge: DeviceId) {
        if self.devices.trusted(judge) {
            for (d, ok) in results.filter(|&(d, _)| !self.devices.trusted(d)) {
                if ok {
                    self.credibility.confirm(d);
                } else {
                    self.credibility.catch(d);
                }
            }
            return;
        }
        let voucher = self.cfg.credibility.assumed_bad / 2.0;
        let agreeing: Vec<DeviceId> = results.filter(|&(_, ok)| ok).map(|(d, _)| d).collect();
        let others = |d: DeviceId| group_error(agreeing.iter().filter(|&&o| o != d).map(|&o| self.device_error(o)));
        let vouched: Vec<DeviceId> = agreeing
            .iter()
            .copied()
            .filter(|&d| !self.devices.trusted(d) && agreeing.len() > 1 && within(others(d), voucher))
            .collect();
        for d in vouched {
            self.credibility.vouch(d);
        }
    }
}
