//! A job's life in the engine: submission (split, plan, queues, escrow), completion,
//! and settlement, per task and at the end.

use super::*;

impl<Q: TaskQueue> Engine<Q> {
    pub(super) fn submit(&mut self, spec: &JobSpec, user: &str, out: &mut Vec<Event>) -> Result<(), EngineError> {
        let app = application(&spec.application)
            .ok_or_else(|| EngineError::UnknownApplication(spec.id.clone(), spec.application.clone()))?;
        let chunks = app.split(spec).map_err(|e| EngineError::Application(spec.id.clone(), e))?;
        let plan = plan_job(&self.snapshot.ranked, spec, &self.cfg.plan)?;
        let sizes: Vec<u64> = chunks.iter().map(|c| c.len).collect();
        let account = JobAccount::new(spec.price_chips, &sizes, &self.cfg.plan.rewards)
            .map_err(|e| EngineError::Reward(spec.id.clone(), e))?;
        // Nothing fails past this point.
        let job = JobId(self.jobs.len() as u32);
        let pool_of = self.pool_of(&plan.pools[..plan.pools_used]);
        let mut tasks = alloc::vec![TaskEntry::default(); chunks.len()];
        let queues = plan
            .queues
            .iter()
            .map(|copies| {
                let mut q = Q::default();
                for c in copies {
                    q.push_back(QueuedCopy { task: c.task, replica: c.replica });
                    let t = &mut tasks[c.task as usize];
                    t.next_replica = t.next_replica.max(c.replica + 1);
                }
                q
            })
            .collect();
        self.ledger.charge(user, spec.price_chips);
        out.push(Event::JobAccepted {
            job,
            id: spec.id.clone(),
            tasks: chunks.len() as u32,
            copies: plan.replication.copies as u32,
            pjf: plan.replication.pjf,
            price: spec.price_chips,
        });
        self.job_names.insert(spec.id.clone(), job);
        self.jobs.push(JobEntry {
            id: spec.id.clone(),
            user: user.into(),
            spec: spec.clone(),
            status: JobStatus::Running,
            open_tasks: chunks.len() as u32,
            chunks,
            pool_of,
            queues,
            tasks,
            account,
            running: 0,
            disputes: 0,
            starving_since: None,
        });
        self.running.push(job);
        let level = |j: &JobId| core::cmp::Reverse(self.jobs[j.0 as usize].spec.preferences.byte_level);
        let mut running = core::mem::take(&mut self.running);
        running.sort_by_key(|j| (level(j), *j));
        self.running = running;
        Ok(())
    }

    pub(super) fn maybe_complete(&mut self, job: JobId, out: &mut Vec<Event>) {
        let j = &self.jobs[job.0 as usize];
        if j.status == JobStatus::Running && j.open_tasks == 0 && j.disputes == 0 && j.running == 0 {
            self.end_job(job, JobStatus::Completed, String::new(), out);
        }
    }

    /// Pays a task's bounty to the owners of the devices whose results validated,
    /// once the verdicts are final: it has its result, no dispute is open and no
    /// copy runs (or the job is ending: `ending`). A task is paid once.
    pub(super) fn settle_task(&mut self, job: JobId, task: u32, ending: bool, out: &mut Vec<Event>) {
        let j = &mut self.jobs[job.0 as usize];
        let t = &j.tasks[task as usize];
        if t.accepted.is_none() || (!ending && (t.disputed || t.running > 0)) {
            return;
        }
        let valid: Vec<DeviceId> = t.results.iter().filter(|r| r.verdict == Verdict::Valid).map(|r| r.device).collect();
        let each = j.account.settle(task as usize, valid.len());
        if each == ByteChips::ZERO {
            return;
        }
        for device in valid {
            self.ledger.release(each);
            self.ledger.pay(&self.devices[device.0 as usize].owner, each);
            out.push(Event::RewardCredited { device, job, task, amount: each });
        }
    }

    /// Ends a job: abandons its running attempts, pays validated results, returns
    /// unearned bounties to the user of a failed or cancelled job.
    pub(super) fn end_job(&mut self, job: JobId, status: JobStatus, reason: String, out: &mut Vec<Event>) {
        self.jobs[job.0 as usize].status = status;
        self.running.retain(|&j| j != job);
        let running: Vec<AttemptId> = self.attempts.iter().filter(|(_, a)| a.job == job).map(|(id, _)| *id).collect();
        for attempt in running {
            let a = self.finish_attempt(attempt);
            out.push(Event::AttemptChanged {
                job,
                task: a.task,
                attempt,
                device: a.device,
                state: AttemptState::Abandoned,
            });
        }
        // Queues may live outside the engine (`TaskQueue`): empty them explicitly.
        for q in &mut self.jobs[job.0 as usize].queues {
            q.drain_all();
        }
        for task in 0..self.jobs[job.0 as usize].tasks.len() as u32 {
            self.settle_task(job, task, true, out);
        }
        let j = &self.jobs[job.0 as usize];
        let refund = match status {
            JobStatus::Completed => ByteChips::ZERO,
            _ => j.tasks.iter().zip(j.account.bounties()).filter(|(t, _)| t.accepted.is_none()).map(|(_, b)| *b).sum(),
        };
        let rest = j.account.platform();
        let platform = rest.checked_sub(refund).expect("unearned bounties were not paid");
        let user = j.user.clone();
        let results: Vec<AttemptId> = match status {
            JobStatus::Completed => {
                let app = application(&j.spec.application).expect("checked at submission");
                app.assembly_order(&j.chunks)
                    .into_iter()
                    .map(|c| j.tasks[c as usize].accepted.expect("every task validated"))
                    .collect()
            }
            _ => Vec::new(),
        };
        self.ledger.release(rest);
        self.ledger.platform += platform;
        if refund > ByteChips::ZERO {
            self.ledger.refund(&user, refund);
            out.push(Event::Refunded { user, job, amount: refund });
        }
        out.push(match status {
            JobStatus::Completed => Event::JobCompleted { job, results },
            JobStatus::Cancelled => Event::JobCancelled { job },
            _ => Event::JobFailed { job, reason },
        });
        // An ended job keeps its id, status and account; its per-task state goes.
        let j = &mut self.jobs[job.0 as usize];
        (j.tasks, j.chunks, j.queues, j.pool_of) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    }
}
