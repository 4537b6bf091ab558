//! Jobs: their submission, the simulator's side of a running job, and its end.

use byterank_core::engine::{AttemptId, JobId};

use super::joint::{joint_failure, TaskRec};
use super::output::JobStatus;
use super::run::Sim;
use crate::queue::SimTime;

/// What the simulator keeps of a job beside its [`super::JobOut`].
#[derive(Clone, Debug)]
pub(super) struct JobLive {
    /// Its kind's index in the variant.
    pub(super) kind: usize,
    /// The engine's id, once accepted.
    pub(super) engine: Option<JobId>,
    /// Per task, while the job runs.
    pub(super) tasks: Vec<TaskRec>,
    /// The engine's handles of the job's attempts, while the job runs.
    pub(super) attempts: Vec<AttemptId>,
}

impl JobLive {
    pub(super) fn new(kind: usize) -> JobLive {
        JobLive { kind, engine: None, tasks: Vec::new(), attempts: Vec::new() }
    }
}

impl Sim<'_> {
    /// The `i`-th job is submitted.
    pub(super) fn arrive(&mut self, i: u32, now: SimTime) {
        self.next_arrival += 1;
        let j = &self.jobs[i as usize];
        let kind = &self.variant.jobs[self.live[i as usize].kind];
        let spec = kind.spec(j.id.clone());
        // The job is known as accepted before the engine's notices about it are handled.
        self.drive_then(
            now,
            |drv, n| drv.submit(now, spec, n).is_ok(),
            |sim, &accepted, _| {
                let j = &mut sim.jobs[i as usize];
                if !accepted {
                    j.status = JobStatus::Rejected;
                    return;
                }
                j.status = JobStatus::Unfinished;
                sim.live[i as usize].tasks = vec![TaskRec::default(); j.tasks as usize];
                sim.job_of_engine.push(i);
                sim.running_jobs += 1;
            },
        );
    }

    /// The engine ended the job: its joint-failure figures, and its release from
    /// the engine once the current notices are handled.
    pub(super) fn end_job(&mut self, ji: usize, now: SimTime, status: JobStatus) {
        let j = &mut self.jobs[ji];
        j.status = status;
        j.end_s = Some(now as f64 / 1000.0);
        let live = &mut self.live[ji];
        (j.pjf_model, j.joint_failure) = joint_failure(&live.tasks, j.copies, j.tasks);
        live.tasks = Vec::new();
        if let Some(e) = live.engine {
            self.to_release.push(e);
        }
        self.running_jobs -= 1;
    }
}
