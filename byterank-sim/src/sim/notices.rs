//! The bookkeeping of the engine's decisions: what each attempt was (job, task,
//! line) and what became of its result, and the handling of every [`Notice`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use byterank_core::engine::JobId;

use super::device::{Answer, Line};
use super::output::JobStatus;
use super::run::Sim;
use super::streams::unit;
use crate::driver::Notice;
use crate::queue::SimTime;

/// What became of an attempt's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// No result the engine took: still running, failed, lost, or late.
    NoResult,
    /// The device returned this result and the engine took it.
    Result(Answer),
}

/// The simulator's record of one attempt.
#[derive(Clone, Copy, Debug)]
pub(super) struct AttemptRecord {
    /// The job's index in the run.
    pub(super) job: u32,
    pub(super) task: u32,
    pub(super) line: Line,
    pub(super) fate: Fate,
}

/// The attempt records by the engine's attempt handle (generation << 32 | slot).
/// Only looked up, never iterated, so the hash order cannot leak into a run.
pub(super) type AttemptRecords = HashMap<u64, AttemptRecord, BuildHasherDefault<HandleHasher>>;

/// A hasher for the engine's attempt handles: one multiply of the slot and
/// generation folded together. SipHash's resistance to chosen keys is not needed
/// for handles the engine hands out, and cost a lookup per engine notice.
#[derive(Default)]
pub(super) struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, k: u64) {
        self.0 = (k ^ (k >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// How the results a job was assembled from compare with the simulator's record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Assembly {
    wrong: u32,
    colluded: u32,
    colluded_over_honest: u32,
    misassembled: u32,
}

impl Sim<'_> {
    /// A first-line copy of task `task` of job `ji` did not fail.
    fn copy_ok(&mut self, ji: u32, task: u32) {
        if let Some(t) = self.live[ji as usize].tasks.get_mut(task as usize) {
            t.oks += 1;
        }
    }

    /// The engine took the device's attempt away: it stops and asks for work again.
    fn stop(&mut self, d: u32, now: SimTime) {
        self.end_busy(d, now);
        if self.devs[d as usize].awake() {
            self.wake(d, now, 0);
        }
    }

    /// Handles the notices of the last engine call, then releases the jobs that ended.
    pub(super) fn handle_notices(&mut self, now: SimTime) {
        if self.notices.is_empty() {
            return;
        }
        let mut notices = std::mem::take(&mut self.notices);
        // Attempts withdrawn because their job ended are nobody's failure.
        let ended: Vec<JobId> = notices
            .iter()
            .filter_map(|n| match n {
                Notice::JobCompleted { job, .. } | Notice::JobFailed { job, .. } => Some(*job),
                _ => None,
            })
            .collect();
        for notice in &notices {
            self.handle(notice, &ended, now);
        }
        notices.clear();
        if self.notices.is_empty() {
            self.notices = notices;
        }
        for job in std::mem::take(&mut self.to_release) {
            self.drv.release(now, job);
            let ji = self.job_of_engine[job.0 as usize] as usize;
            for id in std::mem::take(&mut self.live[ji].attempts) {
                self.attempts.remove(&id.0);
            }
        }
    }

    fn handle(&mut self, notice: &Notice, ended: &[JobId], now: SimTime) {
        match notice {
            Notice::JobAccepted { job, copies, pjf, achievable } => {
                let ji = self.job_of_engine[job.0 as usize] as usize;
                self.live[ji].engine = Some(*job);
                let j = &mut self.jobs[ji];
                (j.copies, j.pjf_plan, j.achievable) = (*copies, *pjf, *achievable);
            }
            Notice::Assigned { job, task, device, attempt, rescue, speculative } => {
                let d = self.by_engine[device.0 as usize];
                let line = if *rescue { Line::Rescue } else { Line::First };
                self.start_attempt(d, now, *job, *task, *attempt, line);
                if *speculative {
                    self.jobs[self.job_of_engine[job.0 as usize] as usize].speculative += 1;
                }
            }
            Notice::NoTask { device } => {
                let d = self.by_engine[device.0 as usize];
                let dev = &mut self.devs[d as usize];
                dev.polls += 1;
                // Back off while there is no work: poll_s, doubling per empty
                // answer up to poll_max_s, each within ±50%.
                let base = (self.p.poll_ms * f64::from(1u32 << dev.idle_polls.min(16))).min(self.p.poll_max_ms);
                dev.idle_polls = dev.idle_polls.saturating_add(1);
                let delay = base * (0.5 + unit(self.p.seed, d, dev.polls));
                self.wake(d, now, delay as u64);
            }
            Notice::Withdrawn { device, attempt } => {
                let d = self.by_engine[device.0 as usize];
                let Some(&rec) = self.attempts.get(&attempt.0) else { return };
                let job_ended = self.live[rec.job as usize].engine.is_some_and(|j| ended.contains(&j));
                if self.devs[d as usize].running.is_some_and(|r| r.attempt == *attempt) {
                    self.devs[d as usize].totals.lost += 1;
                    self.stop(d, now);
                    if job_ended {
                        // Not a failure of the copy.
                        self.copy_ok(rec.job, rec.task);
                    }
                }
            }
            Notice::Cancelled { device, attempt } => {
                let d = self.by_engine[device.0 as usize];
                let Some(&rec) = self.attempts.get(&attempt.0) else { return };
                if self.devs[d as usize].running.is_some_and(|r| r.attempt == *attempt) {
                    self.stop(d, now);
                    // The task was decided elsewhere: this copy did not fail.
                    if rec.line == Line::First {
                        self.copy_ok(rec.job, rec.task);
                    }
                }
            }
            Notice::Late { attempt } => {
                let Some(rec) = self.attempts.get_mut(&attempt.0) else { return };
                if rec.fate != Fate::NoResult {
                    // Returned, but not taken: a failure of the copy.
                    self.results -= 1;
                    rec.fate = Fate::NoResult;
                    if rec.line == Line::First {
                        if let Some(t) = self.live[rec.job as usize].tasks.get_mut(rec.task as usize) {
                            t.oks = t.oks.saturating_sub(1);
                        }
                    }
                }
            }
            Notice::Incorrect { .. } | Notice::Rescued { .. } => {}
            Notice::Validated { job, task, .. } => {
                let ji = self.job_of_engine[job.0 as usize] as usize;
                if let Some(t) = self.live[ji].tasks.get_mut(*task as usize) {
                    if !t.validated {
                        t.validated = true;
                        self.jobs[ji].validated += 1;
                    }
                }
            }
            Notice::JobCompleted { job, results, unverified } => {
                let ji = self.job_of_engine[job.0 as usize] as usize;
                let mut a = Assembly::default();
                for (i, id) in results.iter().enumerate() {
                    let (right_task, fate) = match self.attempts.get(&id.0) {
                        Some(r) => (r.job as usize == ji && r.task as usize == i, r.fate),
                        None => (false, Fate::NoResult),
                    };
                    a.misassembled += u32::from(!right_task);
                    if let Fate::Result(answer) = fate {
                        a.wrong += u32::from(answer.is_wrong());
                        let colluded = answer == Answer::Colluded;
                        a.colluded += u32::from(colluded);
                        let honest = self.live[ji].tasks.get(i).is_some_and(|t| t.honest);
                        a.colluded_over_honest += u32::from(colluded && honest);
                    }
                }
                let j = &mut self.jobs[ji];
                a.misassembled += j.tasks.abs_diff(results.len() as u32);
                (j.wrong_assembled, j.colluded_assembled, j.misassembled) = (a.wrong, a.colluded, a.misassembled);
                j.colluded_over_honest = a.colluded_over_honest;
                j.unverified = *unverified;
                self.end_job(ji, now, JobStatus::Completed);
            }
            Notice::JobFailed { job, reason } => {
                let ji = self.job_of_engine[job.0 as usize] as usize;
                self.jobs[ji].fail_reason = Some(reason.clone());
                self.end_job(ji, now, JobStatus::Failed);
            }
            Notice::Credited { device, amount, unverified } => {
                let d = self.by_engine[device.0 as usize];
                self.devs[d as usize].totals.earned += amount;
                self.credited += amount;
                if *unverified {
                    self.credited_unverified += amount;
                }
            }
        }
    }
}
