//! Rules checked after every command, from a model the test keeps of what the
//! commands and events said (spec §11):
//! - no quorum decides a disputed task (its results disagree) while a trusted
//!   device of its job's pools could arbitrate: one the operator trusts, live,
//!   that has not run the task, or one running a copy of it now;
//! - an undecided task of a running job always has something coming: a trusted
//!   arbitration asked for or running, a trusted device's copy running, or enough
//!   live copies (queued, rescued, running) that a quorum can still agree; and
//!   without an arbiter, results that hold a quorum have decided it (with
//!   credibility on: a quorum not yet credible has a copy coming);
//! - with credibility on, a verdict by agreement is credible in a model of
//!   credibility the watch keeps from the verdicts it saw (the rule of
//!   `CredibilityConfig`, recomputed here): the product of the agreeing devices'
//!   error estimates is within the bound.
//!
//! The model knows trust, liveness, who ran what and every result from the
//! commands and events alone; it asks the engine only for a job's pools (its
//! plan), a task's planned copies and waiting copies, and whether an arbitration
//! is asked for.

use std::collections::{BTreeMap, BTreeSet};

use byterank_core::application::ResultMeta;
use byterank_core::engine::{
    AttemptId, AttemptState, Command, CommandKind, CredibilityConfig, DeviceId, Engine, Event, JobId, JobStatus,
};

type Task = (JobId, u32);

#[derive(Default)]
pub struct Watch {
    quorum: u32,
    trusted: BTreeSet<DeviceId>,
    live: BTreeSet<DeviceId>,
    running: BTreeMap<AttemptId, (Task, DeviceId)>,
    tried: BTreeSet<(Task, DeviceId)>,
    /// Results of undecided tasks that passed integrity, by device.
    pending: BTreeMap<Task, Vec<(DeviceId, ResultMeta)>>,
    /// Checks made, for the test to show they ran.
    pub verdicts_checked: u64,
    pub tasks_checked: u64,
    /// Verdicts by agreement whose credibility was checked.
    pub credible_checked: u64,
    credibility: CredibilityConfig,
    /// Each attempt's device, from `TaskAssigned`.
    device_of: BTreeMap<AttemptId, DeviceId>,
    /// Checks passed since last caught, and whether caught, by device.
    checks: BTreeMap<DeviceId, (u32, bool)>,
}

impl Watch {
    pub fn new(quorum: u32, credibility: CredibilityConfig) -> Watch {
        Watch { quorum, credibility, ..Watch::default() }
    }

    /// The model's probability that a result of `d` is wrong.
    fn error(&self, d: DeviceId) -> f64 {
        if self.trusted.contains(&d) {
            return 0.0;
        }
        match self.checks.get(&d).copied().unwrap_or_default() {
            (_, true) => 1.0,
            (k, false) => self.credibility.assumed_bad / (f64::from(k) + 1.0),
        }
    }

    /// Whether the results agreeing with `truth` are credible enough for the
    /// default bound (the test jobs set none of their own). With no trusted
    /// device that could check the task (`checkable`), any quorum is.
    fn credible(&self, results: &[(DeviceId, ResultMeta)], truth: &ResultMeta, quorum: usize, checkable: bool) -> bool {
        if !self.credibility.enabled || quorum < 2 || !checkable {
            return true;
        }
        let e = results.iter().filter(|(_, r)| r == truth).fold(1.0, |p, (d, _)| p * self.error(*d));
        e <= self.credibility.max_error * (1.0 + 1e-9)
    }

    /// What a verdict teaches: decided by trust, agreeing devices pass and the
    /// others are caught; by agreement, an agreeing device passes when another
    /// the others agreeing weigh at least one device that passed a check.
    fn learn(&mut self, results: &[(DeviceId, ResultMeta)], truth: &ResultMeta, by_trust: bool) {
        let untrusted = results.iter().filter(|(d, _)| !self.trusted.contains(d));
        if by_trust {
            for (d, r) in untrusted {
                let c = self.checks.entry(*d).or_default();
                *c = if r == truth { (c.0 + 1, false) } else { (0, true) };
            }
            return;
        }
        let agreeing: Vec<DeviceId> = results.iter().filter(|(_, r)| r == truth).map(|(d, _)| *d).collect();
        let others = |d: &DeviceId| agreeing.iter().filter(|o| *o != d).fold(1.0, |p, o| p * self.error(*o));
        let voucher = self.credibility.assumed_bad / 2.0 * (1.0 + 1e-9);
        let vouched: Vec<DeviceId> = agreeing
            .iter()
            .copied()
            .filter(|d| !self.trusted.contains(d) && agreeing.len() > 1 && others(d) <= voucher)
            .collect();
        for d in vouched {
            let c = self.checks.entry(d).or_default();
            if !c.1 {
                c.0 += 1;
            }
        }
    }

    /// Takes in a command the engine accepted, with its events, and checks the
    /// rules on the engine as it is after it.
    pub fn observe(&mut self, engine: &Engine, cmd: &Command, events: &[Event]) -> Result<(), String> {
        let mut touched: BTreeSet<Task> = BTreeSet::new();
        let mut replanned: BTreeSet<JobId> = BTreeSet::new();
        match cmd.kind {
            CommandKind::SetTrust { device, trusted } => {
                if trusted {
                    self.trusted.insert(device);
                } else {
                    self.trusted.remove(&device);
                }
            }
            CommandKind::RemoveDevice { device } => {
                self.live.remove(&device);
            }
            _ => {}
        }
        // The command's own result, taken unless it came late.
        let late = events.iter().any(|e| matches!(e, Event::LateReport { .. }));
        let mut reported: Option<(Task, DeviceId, &ResultMeta)> = None;
        if let CommandKind::ReportResult { device, attempt, ref result } = cmd.kind {
            if !late {
                if let Some((task, _)) = self.running.remove(&attempt) {
                    reported = Some((task, device, result));
                    touched.insert(task);
                }
            }
        }
        if let CommandKind::ReportError { attempt, .. } = cmd.kind {
            if let Some((task, _)) = self.running.get(&attempt) {
                touched.insert(*task);
            }
        }
        // Failed integrity: judged incorrect before any verdict of the command
        // (a verdict judges its results after announcing itself).
        let malformed = |attempt: AttemptId| {
            let verdict = events.iter().position(|e| matches!(e, Event::TaskValidated { .. }));
            events.iter().take(verdict.unwrap_or(events.len())).any(|e| {
                matches!(e, Event::AttemptChanged { attempt: a, state: AttemptState::Incorrect, .. } if *a == attempt)
            })
        };
        let mut decided_now: Vec<(Task, AttemptId)> = Vec::new();
        for e in events {
            match *e {
                Event::DeviceRegistered { device, .. } => {
                    self.live.insert(device);
                }
                Event::TaskAssigned { job, task, device, attempt, .. } => {
                    self.device_of.insert(attempt, device);
                    self.running.insert(attempt, ((job, task), device));
                    self.tried.insert(((job, task), device));
                    touched.insert((job, task));
                }
                Event::AttemptChanged { job, task, attempt, state, .. } if state != AttemptState::Delayed => {
                    self.running.remove(&attempt);
                    touched.insert((job, task));
                }
                Event::TaskRescued { job, task, .. } => {
                    touched.insert((job, task));
                }
                Event::TaskValidated { job, task, attempt, .. } => decided_now.push(((job, task), attempt)),
                Event::PlanChanged { job, .. } => {
                    replanned.insert(job);
                }
                _ => {}
            }
        }
        if let Some((task, device, result)) = reported {
            let CommandKind::ReportResult { attempt, .. } = cmd.kind else { unreachable!() };
            if !malformed(attempt) {
                self.pending.entry(task).or_default().push((device, result.clone()));
            }
        }
        for (task, attempt) in decided_now {
            let results = self.pending.remove(&task).unwrap_or_default();
            self.verdicts_checked += 1;
            let by_trust = results.iter().any(|(d, _)| self.trusted.contains(d));
            let disputed = results.iter().any(|(_, r)| *r != results[0].1);
            let decider = self.device_of.get(&attempt).copied();
            let truth = results.iter().find(|(d, _)| Some(*d) == decider).map(|(_, r)| r.clone());
            if let Some(truth) = truth {
                let quorum = engine.task_copies(task.0, task.1).map_or(1, |c| self.quorum.min(c.planned).max(1));
                // Whether a trusted device could have checked it, as the verdict
                // was reached (the deciding device counts as having tried it).
                let checkable = self.arbiter_for(engine, task).is_some();
                if !by_trust {
                    self.credible_checked += 1;
                    if !self.credible(&results, &truth, quorum as usize, checkable) {
                        return Err(format!("task {task:?} was decided by a group not credible enough: {results:?}"));
                    }
                }
                self.learn(&results, &truth, by_trust);
            }
            if by_trust || !disputed {
                continue;
            }
            if let Some(arbiter) = self.arbiter_for(engine, task) {
                return Err(format!(
                    "a quorum decided disputed task {task:?} ({results:?}) while trusted {arbiter:?} could arbitrate"
                ));
            }
        }
        for job in replanned {
            let n = (0..).take_while(|&t| engine.task_copies(job, t).is_some()).count() as u32;
            touched.extend((0..n).map(|t| (job, t)));
        }
        for task in touched {
            self.check_coming(engine, task)?;
        }
        // Ended jobs: forget their tasks.
        self.pending.retain(|(job, _), _| engine.job_status(*job) == Some(JobStatus::Running));
        Ok(())
    }

    /// A trusted device that could settle a dispute on `task`: trusted, live, in
    /// the job's pools and new to the task, or running a copy of it now.
    fn arbiter_for(&self, engine: &Engine, (job, task): Task) -> Option<DeviceId> {
        let running = self.running.values().find(|(t, d)| *t == (job, task) && self.trusted.contains(d));
        if let Some(&(_, d)) = running {
            return Some(d);
        }
        let pools = engine.job_pools(job)?;
        pools
            .iter()
            .flatten()
            .copied()
            .find(|d| self.trusted.contains(d) && self.live.contains(d) && !self.tried.contains(&((job, task), *d)))
    }

    fn check_coming(&mut self, engine: &Engine, (job, task): Task) -> Result<(), String> {
        if engine.job_status(job) != Some(JobStatus::Running) {
            return Ok(());
        }
        let Some(c) = engine.task_copies(job, task) else { return Ok(()) };
        if c.decided {
            return Ok(());
        }
        self.tasks_checked += 1;
        let running: Vec<DeviceId> =
            self.running.values().filter(|(t, _)| *t == (job, task)).map(|&(_, d)| d).collect();
        if running.len() as u32 != c.running {
            return Err(format!("task {job:?}/{task}: the engine runs {} copies, the model {running:?}", c.running));
        }
        if c.arbitration || running.iter().any(|d| self.trusted.contains(d)) {
            return Ok(());
        }
        let results = self.pending.get(&(job, task)).map_or(&[][..], Vec::as_slice);
        let best = results.iter().map(|(_, r)| results.iter().filter(|(_, o)| o == r).count()).max().unwrap_or(0);
        let quorum = self.quorum.min(c.planned).max(1) as usize;
        let live = (c.queued + c.rescue + c.running) as usize;
        let checkable = self.arbiter_for(engine, (job, task)).is_some();
        let credible = results.iter().any(|(_, r)| {
            results.iter().filter(|(_, o)| o == r).count() >= quorum && self.credible(results, r, quorum, checkable)
        });
        // With credibility on, a group is weighed when a result arrives or a
        // copy ends: one that became credible since (its devices passed checks
        // elsewhere) is decided by the copy coming.
        if best >= quorum && credible && !self.credibility.enabled {
            return Err(format!("task {job:?}/{task} holds a quorum of {results:?} and no arbiter, but is undecided"));
        }
        if best >= quorum && live == 0 {
            return Err(format!(
                "task {job:?}/{task} holds a quorum of {results:?} not credible enough, with no arbiter and nothing coming"
            ));
        }
        if best + live < quorum {
            return Err(format!(
                "task {job:?}/{task} is undecided with nothing coming: {live} live copies, {best} agreeing of \
                 {results:?}, quorum {quorum}, no arbitration"
            ));
        }
        Ok(())
    }
}
