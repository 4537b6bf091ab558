//! The engine's self-check: every count the engine keeps to avoid a scan is
//! recounted from the records it summarizes. For tests, fuzzing and a host's
//! health check; never on the path of a command.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

use super::attempts::CopyKind;
use super::command::{DeviceId, JobId};
use super::error::Inconsistency;
use super::rescue::RescueNeed;
use super::{Engine, JobStatus};

/// What the records say of one task of a running job, counted.
#[derive(Clone, Copy, Default)]
struct Recount {
    running: u32,
    queued: u32,
    rescue: u32,
    arbitration: bool,
}

impl Engine {
    /// Checks that the engine's internal copies and counts agree with what they
    /// summarize: each device's hot record with its entry (liveness, fault
    /// history, attempts held); every attempt a device holds with the attempt's
    /// own record; and every job's counters (attempts running, tasks open and
    /// decided unverified, live devices in its pools, each task's queued,
    /// rescue and running copies and its arbitration, the copies waiting in its
    /// queues, its place in the fair share) against a recount. It takes time in
    /// devices times jobs, plus attempts and queued copies: for tests and a
    /// host's health check, not for every command.
    pub fn audit(&self) -> Result<(), Inconsistency> {
        self.audit_devices().map_err(Inconsistency)?;
        self.audit_jobs().map_err(Inconsistency)
    }

    fn audit_devices(&self) -> Result<(), String> {
        self.devices.audit()?;
        self.attempts.audit()?;
        let mut held = 0;
        for d in (0..self.devices.count() as u32).map(DeviceId) {
            for a in self.devices.held(d) {
                held += 1;
                if self.attempts.get(a).is_none_or(|att| att.device != d) {
                    return Err(format!("{d} holds {a}, which is not running on it"));
                }
            }
        }
        if held != self.attempts.len() {
            let running = self.attempts.len();
            return Err(format!("devices hold {held} attempts, but {running} are running"));
        }
        Ok(())
    }

    fn audit_jobs(&self) -> Result<(), String> {
        let mut tasks: BTreeMap<(JobId, u32), Recount> = BTreeMap::new();
        let mut running: BTreeMap<JobId, u32> = BTreeMap::new();
        for (id, a) in self.attempts.iter() {
            *running.entry(a.job).or_default() += 1;
            let r = tasks.entry((a.job, a.task)).or_default();
            r.running += 1;
            r.arbitration |= a.kind == CopyKind::Arbiter;
            if self.jobs.get(a.job).is_none_or(|j| j.status != JobStatus::Running) {
                return Err(format!("{id} runs for {}, which is not running", a.job));
            }
        }
        for e in self.rescue.iter() {
            let r = tasks.entry((e.job, e.task)).or_default();
            match e.need {
                RescueNeed::Copy => r.rescue += 1,
                RescueNeed::Arbitration => r.arbitration = true,
            }
        }
        for (job, j) in self.jobs.iter() {
            let listed = self.running.contains(&job);
            let shared = self.share.key(job).is_some();
            let counted = running.get(&job).copied().unwrap_or(0);
            if j.running() != counted {
                return Err(format!("{job} counts {} running attempts, but {counted} run", j.running()));
            }
            if j.status != JobStatus::Running {
                if listed || shared || j.queues.waiting() > 0 || j.tasks.len() > 0 {
                    return Err(format!("{job} ended, but keeps running state"));
                }
                continue;
            }
            if !listed {
                return Err(format!("running {job} is not in the list of running jobs"));
            }
            j.queues.audit().map_err(|e| format!("{job}: {e}"))?;
            if shared != (j.queues.waiting() > 0) {
                let waiting = j.queues.waiting();
                return Err(format!("{job} has {waiting} queued copies, but its fair-share place is {shared}"));
            }
            for (_, c) in j.queues.iter() {
                tasks.entry((job, c.task)).or_default().queued += u32::from(!j.tasks[c.task].decided());
            }
            let members = (0..self.devices.count() as u32)
                .map(DeviceId)
                .filter(|&d| self.devices.entry(d).live && self.pool_table.targets(&j.pool_of, d))
                .count() as u32;
            if j.members() != members {
                return Err(format!("{job} counts {} live devices in its pools, but {members} are", j.members()));
            }
            let (mut open, mut unverified) = (0, 0);
            for (i, t) in j.tasks.iter().enumerate() {
                let task = i as u32;
                let r = tasks.get(&(job, task)).copied().unwrap_or_default();
                let listed = j.tasks.running(task).count() as u32;
                if listed != r.running || j.tasks.running(task).any(|a| self.attempts.get(a).is_none()) {
                    return Err(format!("{job} task {task} lists {listed} running attempts, {} run", r.running));
                }
                match t.verdict() {
                    Some(v) => {
                        unverified += u32::from(v.unverified);
                        if (t.queued(), t.rescue(), r.running, t.arbiter()) != (0, 0, 0, false) {
                            return Err(format!("{job} task {task} is decided, but still has copies counted"));
                        }
                    }
                    None => {
                        open += 1;
                        if (t.queued(), t.rescue(), t.arbiter()) != (r.queued, r.rescue, r.arbitration) {
                            return Err(format!(
                                "{job} task {task} counts queued {}, rescue {}, arbitration {}, but the \
                                 queues hold {}, the rescue queue {} and arbitration is {}",
                                t.queued(),
                                t.rescue(),
                                t.arbiter(),
                                r.queued,
                                r.rescue,
                                r.arbitration
                            ));
                        }
                    }
                }
            }
            if (j.open_tasks(), j.unverified()) != (open, unverified) {
                return Err(format!(
                    "{job} counts {} open and {} unverified tasks, but {open} and {unverified} are",
                    j.open_tasks(),
                    j.unverified()
                ));
            }
        }
        for &job in &self.running {
            if self.jobs.get(job).is_none_or(|j| j.status != JobStatus::Running) {
                return Err(format!("{job} is listed as running, but is not"));
            }
        }
        Ok(())
    }
}
