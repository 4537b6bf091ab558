//! A job's life in the engine: submission (split, plan, queues, escrow), completion,
//! and the end of a job (assembly order, refunds, compaction).

use super::admission::{admit, replication_rule, terms, AdmissionError, Admitted, Shortfall};
use super::rescue::{Entry, RescueNeed};
use alloc::string::String;
use alloc::vec::Vec;

use super::command::{AttemptId, DeviceId, JobId};
use super::config::EngineConfig;
use super::error::*;
use super::event::{AttemptState, Event};
use super::job_state::{JobEntry, NewJob};
use super::pool_map::PoolMap;
use super::pool_queues::PoolQueues;
use super::tasks::Tasks;
use super::{Engine, JobStatus};
use crate::application::{Application, Chunk, Chunks};
use crate::indexes::RankedGrid;
use crate::job::{ByteLevel, JobSpec};
use crate::plan::{plan_job, JobPlan};
use crate::reward::ByteChips;
use crate::time::Timestamp;

/// How far a job has come ([`Engine::job_progress`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct JobProgress {
    /// Where the job is.
    pub status: JobStatus,
    /// Its tasks.
    pub tasks: u32,
    /// Tasks without a final verdict (all of them, once a job failed or was
    /// cancelled, minus those decided before).
    pub open: u32,
    /// Tasks decided by one untrusted result.
    pub unverified: u32,
    /// Attempts running now.
    pub running: u32,
    /// Entries in its pool queues (copies withdrawn since may still be counted
    /// until a pull drops them).
    pub queued: u64,
    /// Pools it uses.
    pub pools: u32,
}

/// Where one task of a running job is ([`Engine::task_copies`]): what a host's
/// dashboard shows, and what tests check the engine's liveness rules against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TaskCopies {
    /// Copies in its plan.
    pub planned: u32,
    /// Copies waiting in pool queues.
    pub queued: u32,
    /// Copies waiting in the rescue queue (not counting an arbitration).
    pub rescue: u32,
    /// Attempts running now.
    pub running: u32,
    /// Devices given a copy so far (each at most once): the attempts it had.
    pub tried: u32,
    /// A trusted arbitration is asked for or running.
    pub arbitration: bool,
    /// Its verdict is final.
    pub decided: bool,
}

/// What submitting a job now would do ([`Engine::quote`]): its plan and price,
/// with nothing changed.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Quote {
    /// Unique tasks.
    pub tasks: u32,
    /// Copies planned, replicas included.
    pub copies: u32,
    /// Pools the job would use.
    pub pools: u32,
    /// Probability of joint failure of the copies as placed.
    pub pjf: f64,
    /// Whether the job's bound on the PJF is met.
    pub achievable: bool,
    /// What the user would be charged.
    pub price: ByteChips,
    /// The copies asked for and placed, and what becomes of the rest.
    pub replicas: Replicas,
}

/// What became of the copies a job's replication asked for: in a quote and in
/// the engine's acceptance of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Replicas {
    /// Copies the replication goal asked for, replicas included.
    pub asked: u32,
    /// Copies placed in pool queues.
    pub placed: u32,
    /// Copies no pool could hold: a task gets at most one copy per distinct
    /// device of the pools the job may use.
    pub unplaced: u32,
    /// The most copies asked for one task: it is cross-checked only by that
    /// many distinct devices (or one trusted device).
    pub per_task: u32,
    /// Distinct devices in the pools the job may use.
    pub devices: u32,
    /// Tasks placed with fewer copies than asked.
    pub short_tasks: u32,
    /// What the job does about them.
    pub status: ReplicaStatus,
}

/// What a job does about copies that could not be placed ([`Replicas`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ReplicaStatus {
    /// Every copy asked for was placed.
    Met,
    /// The job runs with what was placed: its short tasks complete unverified
    /// (the job set `accept_unverified`, or admission is lenient).
    Unverified,
    /// The unplaced copies wait for devices that have not run their tasks, until
    /// the job's deadline; its short tasks reach a verdict only cross-checked.
    Waiting,
    /// Fewer copies were placed than asked, but the job runs only on trusted
    /// devices, whose every result is verified.
    Trusted,
}

impl Replicas {
    /// What admission makes of `plan`, the plan of `spec`, under `cfg`: the
    /// replicas as the engine would report them, or the refusal naming the
    /// shortfall. For an adapter that plans without an engine (`byterank plan`).
    pub fn admit(spec: &JobSpec, plan: &JobPlan, cfg: &EngineConfig) -> Result<Replicas, AdmissionError> {
        let shortfall = replication_rule(spec, plan, cfg)?;
        Ok(Replicas::of(spec, plan, shortfall))
    }

    fn of(spec: &JobSpec, plan: &JobPlan, shortfall: Shortfall) -> Replicas {
        let r = &plan.replication;
        let status = match (r.unplaced, shortfall) {
            (0, _) => ReplicaStatus::Met,
            (_, Shortfall::Wait) => ReplicaStatus::Waiting,
            (_, Shortfall::Drop) if spec.preferences.trusted => ReplicaStatus::Trusted,
            (_, Shortfall::Drop) => ReplicaStatus::Unverified,
        };
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Replicas {
            asked: n(r.copies + r.unplaced),
            placed: n(r.copies),
            unplaced: n(r.unplaced),
            per_task: r.per_task,
            devices: n(r.devices),
            short_tasks: n(r.short.len()),
            status,
        }
    }
}

/// A job that passed every check and has its plan: submitting it cannot fail.
pub(super) struct Ready {
    spec: JobSpec,
    admitted: Admitted,
    plan: JobPlan,
    shortfall: Shortfall,
    /// A ranking of the devices as they are now, when they changed since the last
    /// refresh: the job is planned on it, and it is installed with the job.
    ranking: Option<(Vec<DeviceId>, RankedGrid)>,
}

/// The engine's side of a quote, detached from it ([`Engine::quote_basis`]).
#[derive(Clone)]
pub struct QuoteBasis {
    app: &'static dyn Application,
    ranked: RankedGrid,
    cfg: EngineConfig,
}

impl core::fmt::Debug for QuoteBasis {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QuoteBasis")
            .field("app", &self.app.name())
            .field("devices", &self.ranked.indexes.len())
            .finish()
    }
}

impl QuoteBasis {
    /// The quote of `spec`, the job the basis was taken for: the same answer
    /// [`Engine::quote`] gives with the engine as it was then.
    pub fn quote(&self, spec: &JobSpec) -> Result<Quote, EngineError> {
        let (admitted, plan, shortfall) = plan_submission(self.app, &self.ranked, &self.cfg, spec, None)?;
        Ok(quote_of(spec, &admitted.chunks, &plan, shortfall))
    }
}

fn quote_of(spec: &JobSpec, chunks: &[Chunk], plan: &JobPlan, shortfall: Shortfall) -> Quote {
    Quote {
        replicas: Replicas::of(spec, plan, shortfall),
        tasks: chunks.len() as u32,
        copies: plan.replication.copies as u32,
        pools: plan.pools_used as u32,
        pjf: plan.replication.pjf,
        achievable: plan.replication.achievable,
        price: spec.price_chips,
    }
}

/// The part of submission that grows with the job: admission (split, account,
/// assembly order), then the plan. A quote has no user to check.
fn plan_submission(
    app: &'static dyn Application,
    ranked: &RankedGrid,
    cfg: &EngineConfig,
    spec: &JobSpec,
    user: Option<&str>,
) -> Result<(Admitted, JobPlan, Shortfall), SubmitError> {
    let admitted = admit(app, spec, user, cfg)?;
    let plan = plan_job(ranked, spec, &cfg.plan)?;
    let shortfall = replication_rule(spec, &plan, cfg)?;
    Ok((admitted, plan, shortfall))
}

impl Engine {
    /// Everything submission decides, without changing anything: the job's
    /// checks and its plan.
    pub(super) fn prepare(&self, spec: &JobSpec, user: Option<&str>, at: Timestamp) -> Result<Ready, SubmitError> {
        let app = self.check_submission(spec)?;
        // Admission before the ranking: a job refused costs no re-ranking.
        let admitted = admit(app, spec, user, &self.cfg)?;
        let ranking = self.stale_ranking.then(|| self.rank_at(at));
        let ranked = ranking.as_ref().map_or(&self.snapshot.ranked, |(_, r)| r);
        let plan = plan_job(ranked, spec, &self.cfg.plan)?;
        let shortfall = replication_rule(spec, &plan, &self.cfg)?;
        Ok(Ready { spec: spec.clone(), admitted, plan, shortfall, ranking })
    }

    /// The checks of a submission that need the engine's state (the name, the
    /// ledger, the application), without planning.
    fn check_submission(&self, spec: &JobSpec) -> Result<&'static dyn Application, SubmitError> {
        let job = || crate::device::display_id(&spec.id);
        if self.job_names.contains_key(&spec.id) {
            return Err(SubmitError::DuplicateJob { job: job() });
        }
        if !self.ledger.can_charge(spec.price_chips) {
            return Err(SubmitError::LedgerFull { job: job() });
        }
        self.apps.get(&spec.application).ok_or_else(|| SubmitError::UnknownApplication {
            job: job(),
            application: crate::device::display_id(&spec.application),
            known: self.apps.names(),
        })
    }

    /// Whether a submission of `spec` charged to `user` would be admitted: every
    /// rule a job meets before anything changes (the engine's state, the job's
    /// ids, its price, its application's split and assembly order), but not its
    /// plan, which depends on the grid. Nothing changes. `None` checks no user.
    pub fn admit(&self, spec: &JobSpec, user: Option<&str>) -> Result<(), SubmitError> {
        let app = self.check_submission(spec)?;
        admit(app, spec, user, &self.cfg).map(|_| ())
    }

    /// The admission rules that need no split: the engine's state, the ids, and
    /// the price against the tasks the job's fields ask for. In O(1), so an
    /// adapter runs them before its own limits, and every adapter refuses an
    /// unpaid job with the same error; submission runs them again.
    pub fn check_terms(&self, spec: &JobSpec, user: Option<&str>) -> Result<(), SubmitError> {
        self.check_submission(spec)?;
        terms(spec, user, &self.cfg)
    }

    /// What submitting `spec` at `at` would do, refused for the same reasons a
    /// submission would be (but for its time: one before the engine's counts as
    /// the engine's); nothing changes.
    pub fn quote(&self, spec: &JobSpec, at: Timestamp) -> Result<Quote, EngineError> {
        let at = at.max(self.now);
        let ready = self.prepare(spec, None, at)?;
        Ok(quote_of(spec, &ready.admitted.chunks, &ready.plan, ready.shortfall))
    }

    /// What [`quote`](Self::quote) needs of the engine, taken now and owned: the
    /// checks that read the engine's state are made here, and the planning,
    /// which grows with the job, is left to [`QuoteBasis::quote`], which may run
    /// on another thread while the engine goes on.
    pub fn quote_basis(&self, spec: &JobSpec, at: Timestamp) -> Result<QuoteBasis, EngineError> {
        let app = self.check_submission(spec)?;
        let ranked = if self.stale_ranking { self.rank_at(at.max(self.now)).1 } else { self.snapshot.ranked.clone() };
        Ok(QuoteBasis { app, ranked, cfg: self.cfg.clone() })
    }

    pub(super) fn submit(&mut self, ready: Ready, user: &str, out: &mut Vec<Event>) {
        let Ready { spec, admitted, plan, shortfall, ranking } = ready;
        let Admitted { chunks, account, chunk_bytes, assembly } = admitted;
        if let Some((order, ranked)) = ranking {
            self.install(order, ranked, out);
        }
        let job = self.jobs.next_id();
        let pools: Vec<Vec<DeviceId>> = plan.pools[..plan.pools_used]
            .iter()
            .map(|p| p.iter().map(|&i| self.snapshot.order[i as usize]).collect())
            .collect();
        self.ledger.charge(user, spec.price_chips);
        out.push(Event::JobAccepted {
            job,
            id: spec.id.clone(),
            tasks: chunks.len() as u32,
            copies: plan.replication.copies as u32,
            pjf: plan.replication.pjf,
            achievable: plan.replication.achievable,
            price: spec.price_chips,
            replicas: Replicas::of(&spec, &plan, shortfall),
        });
        self.job_names.insert(spec.id.clone(), job);
        self.targeting.set(job, &[], &pools);
        let mut pool_of = PoolMap::None;
        self.pool_table.set(&mut pool_of, self.devices.count(), &pools);
        let entry = NewJob {
            id: spec.id.clone(),
            user: user.into(),
            chunks: chunks.into(),
            chunk_bytes,
            pools,
            pool_of,
            pool_failure: plan.replication.pool_failure,
            account,
            assembly,
            spec,
        };
        self.jobs.insert(JobEntry::new(entry, &plan.queues, self.now));
        self.set_median_rate(job);
        self.running.push(job);
        let level = self.jobs[job].spec.preferences.byte_level;
        let weight = self.cfg.share_weights[match level {
            ByteLevel::Low => 0,
            ByteLevel::Balanced => 1,
            ByteLevel::High => 2,
        }];
        self.share.join(job, weight);
        if shortfall == Shortfall::Wait {
            // Copies no pool could hold wait in the rescue queue, for any device
            // of the job's pools that has not run their task, at once.
            let since = self.now.add_millis(-self.cfg.rescue_wait_ms);
            for &(task, missing) in &plan.replication.short {
                for _ in 0..missing {
                    self.jobs[job].tasks[task].plan_rescue();
                    self.rescue.push(Entry { job, task, since, need: RescueNeed::Copy });
                }
            }
        }
        if let Some(s) = self.jobs[job].spec.deadline_s {
            let ms = i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
            self.job_deadlines.insert((self.now.add_millis(ms), job));
        }
    }

    pub(super) fn maybe_complete(&mut self, job: JobId, out: &mut Vec<Event>) {
        let j = &self.jobs[job];
        if j.status == JobStatus::Running && j.open_tasks() == 0 {
            self.end_job(job, JobStatus::Completed, String::new(), out);
        }
    }

    /// Ends a job: abandons its running attempts, withdraws its queued copies,
    /// returns the bounties of tasks without a verdict to the user of a failed or
    /// cancelled job, and keeps only the job's summary.
    pub(super) fn end_job(&mut self, job: JobId, status: JobStatus, reason: String, out: &mut Vec<Event>) {
        self.jobs[job].status = status;
        self.running.retain(|&j| j != job);
        self.share.leave(job);
        self.rescue.leave(job);
        self.targeting.set(job, &self.jobs[job].pools, &[]);
        let tasks = &self.jobs[job].tasks;
        let running: Vec<AttemptId> = (0..tasks.len() as u32).flat_map(|t| tasks.running(t)).collect();
        for attempt in running {
            if let Some(a) = self.finish_attempt(attempt) {
                out.push(Event::AttemptChanged {
                    job,
                    task: a.task,
                    attempt,
                    device: a.device,
                    state: AttemptState::Abandoned,
                });
            }
        }
        let j = &mut self.jobs[job];
        // Results still waiting free their slots in the engine's store.
        for task in 0..j.tasks.len() as u32 {
            if j.tasks[task].has_results() {
                self.provisional.take(j.tasks.results_mut(task));
            }
        }
        let refund: ByteChips = match status {
            JobStatus::Completed => ByteChips::ZERO,
            _ => j.tasks.iter().zip(j.account.bounties()).filter(|(t, _)| !t.decided()).map(|(_, b)| b).sum(),
        };
        let rest = j.account.platform();
        let platform = rest.checked_sub(refund).expect("bounties of undecided tasks were not paid");
        let user = j.user.clone();
        let results: Vec<AttemptId> = match status {
            JobStatus::Completed => {
                let verdict = |c: u32| j.tasks[c].verdict().expect("every task has its verdict").attempt;
                match &j.assembly {
                    Some(order) => order.iter().map(|&c| verdict(c)).collect(),
                    None => (0..j.task_count).map(verdict).collect(),
                }
            }
            _ => Vec::new(),
        };
        let unverified = j.unverified();
        self.ledger.release(rest);
        self.ledger.platform += platform;
        if refund > ByteChips::ZERO {
            self.ledger.refund(&user, refund);
            out.push(Event::Refunded { user, job, amount: refund });
        }
        out.push(match status {
            JobStatus::Completed => Event::JobCompleted { job, results, unverified },
            JobStatus::Cancelled => Event::JobCancelled { job },
            _ => Event::JobFailed { job, reason },
        });
        // An ended job keeps its id, spec, status and totals until it is released;
        // its per-task state goes.
        let j = &mut self.jobs[job];
        self.pool_table.release(&mut j.pool_of);
        (j.tasks, j.chunks, j.pools) = (Tasks::default(), Chunks::default(), Vec::new());
        j.queues = PoolQueues::default();
        j.pool_failure = Vec::new();
        j.account.close();
        j.assembly = None;
    }
}
