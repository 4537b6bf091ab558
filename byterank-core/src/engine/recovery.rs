//! Recovery (spec §11, Figure 9): attempts that fail, go stale or are abandoned,
//! and the copies (or the trusted arbitration) a task without a verdict still
//! needs to reach one.

use alloc::format;
use alloc::vec::Vec;

use super::attempts::{Attempt, CopyKind};
use super::command::{AttemptId, JobId};
use super::config::FailureAttribution;
use super::event::{AttemptState, Event};
use super::rescue::{Entry, RescueNeed};
use super::task::{agreement, by_quorum};
use super::{Engine, JobStatus};
use crate::fault::Outcome;

impl Engine {
    /// An attempt ended without a valid result (already off the books). Its outcome
    /// waits in the task's blame list until the task's verdict is final elsewhere;
    /// if the job fails instead, the fault is the system's and nothing is recorded.
    /// Under [`FailureAttribution::Task`] only outcomes that point at the task
    /// (FAILED, INCORRECT) count toward `max_failures`, once per distinct device;
    /// the rest point at the device and only get the task a new copy (§11c).
    pub(super) fn failed(&mut self, a: Attempt, attempt: AttemptId, state: AttemptState, out: &mut Vec<Event>) {
        out.push(Event::AttemptChanged { job: a.job, task: a.task, attempt, device: a.device, state });
        let lost =
            state == AttemptState::Abandoned || (state == AttemptState::Stale && self.devices.session_lost(a.device));
        self.devices.track_mut(a.device).failed(lost);
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
        let failures = match self.cfg.failure_attribution {
            FailureAttribution::Task => match state {
                AttemptState::Failed | AttemptState::Incorrect => Some(j.tasks.push_erred(a.task, a.device)),
                _ => None,
            },
            // A device leaving is not the task's fault; everything else counts.
            FailureAttribution::Any => (state != AttemptState::Abandoned).then(|| j.tasks[a.task].failures + 1),
        };
        if let Some(n) = failures {
            j.tasks[a.task].failures = n;
            if n >= self.cfg.max_failures {
                let reason = match self.cfg.failure_attribution {
                    FailureAttribution::Task => format!("task {} failed on {n} distinct devices", a.task),
                    FailureAttribution::Any => format!("task {} failed {n} times", a.task),
                };
                self.end_job(a.job, JobStatus::Failed, reason, out);
                return;
            }
        }
        self.progress(a.job, a.task, out);
    }

    /// Makes sure a task without a verdict can still reach one. Results that
    /// disagree wait for a trusted arbiter while one is asked for or running, or
    /// ask for one when a trusted device of the job's pools may arbitrate;
    /// without one, a credible quorum the results hold decides; otherwise the
    /// task gets enough copies (replacements, extra copies towards a majority,
    /// or one more copy for a quorum not credible enough) that a credible
    /// quorum can still agree. Called whenever one of the task's copies ends, so
    /// an undecided task always has something coming.
    pub(super) fn progress(&mut self, job: JobId, task: u32, out: &mut Vec<Event>) {
        let app = self.app(job);
        let (quorum, max_extra) = (self.cfg.quorum, self.cfg.max_failures);
        let j = &self.jobs[job];
        if j.status != JobStatus::Running || j.tasks[task].decided() {
            return;
        }
        let q = j.tasks[task].quorum(quorum);
        // In a block: the borrowed results are gone before the engine changes.
        let (best, disputed, found) = {
            let reports = self.provisional.iter(j.tasks.results(task));
            let metas = reports.clone().map(|r| &r.meta);
            let results = reports.map(|r| (r.device, &r.meta));
            let credible = |i| self.credible(job, q, task, results.clone(), i);
            let (best, disputed) = agreement(app, metas.clone());
            let found = if best >= q { by_quorum(app, metas, q, || false, credible) } else { None };
            (best, disputed, found)
        };
        // A quorum agrees, but no agreeing group is credible enough for the job.
        let doubtful = best >= q && found.is_none();
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
        // Without an arbiter, a credible quorum the results hold decides (after
        // a dispute, or once a re-plan left the task fewer copies).
        if let Some(d) = found {
            self.finalize(job, task, d, None, out);
            return;
        }
        let j = &mut self.jobs[job];
        let live = j.tasks.live_copies(task);
        let t = &mut j.tasks[task];
        let since = self.now;
        // A doubtful group needs one more agreeing result to weigh enough: a
        // copy through the rescue queue, where fast trusted devices come first
        // (their result decides) and any eligible device after `rescue_wait`.
        let needed = if doubtful { 1 } else { t.quorum(quorum).saturating_sub(best) };
        // Each rescue copy below adds one live copy.
        let mut live = live;
        while live < needed {
            live += 1;
            if disputed || doubtful {
                t.extra += 1;
                if t.extra > max_extra {
                    let reason = format!(
                        "task {task}: no {} credible results agreed within {max_extra} extra copies",
                        t.quorum(quorum)
                    );
                    self.end_job(job, JobStatus::Failed, reason, out);
                    return;
                }
            }
            t.add_rescue();
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
}
