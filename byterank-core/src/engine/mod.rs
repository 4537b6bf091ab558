//! The Feeder engine: one deterministic state machine for devices, jobs, tasks,
//! pool queues, faults and rewards (the paper's Core System, §3 and §3.3.5–§3.3.6).
//!
//! Commands go in ([`Command`], each stamped with its engine time), events come out
//! ([`Event`]). The engine does no I/O, reads no clock and draws no randomness but
//! from seeds it holds, so the same commands from the same start give the same
//! state: an adapter journals commands before acknowledging them and recovers by
//! replaying the journal. The simulator and the HTTP service drive this same code.
//!
//! The life of a job:
//!
//! 1. [`CommandKind::SubmitJob`]: the job is split into chunks by its
//!    [`Application`], planned over the current
//!    ranking ([`plan_job`]), its copies dealt to one queue per capacity pool (never
//!    more copies of a task in a pool than it has devices), and its price charged
//!    into escrow.
//! 2. [`CommandKind::Pull`]: a device whose current state still qualifies gets a
//!    copy from the rescue queue, the head of its own pool's queue, or the nearest
//!    lower pool with work, never a higher one. A device holds at most two tasks and
//!    never two copies of one task.
//! 3. Heartbeats keep an attempt alive: none for T1 marks it delayed, none for T2
//!    (or the hard `max_attempt` deadline) makes it stale, at every command that
//!    concerns it and at every [`CommandKind::Tick`].
//! 4. Every planned copy runs. A result that passes the application's integrity
//!    check is provisional until the task's verdict is final: `quorum` agreeing
//!    results, or one from a trusted device (a single-copy task: its one result,
//!    unverified). Disagreements go to a trusted arbiter, or, with none in the
//!    job's target subset, to more copies until a quorum agrees. Then the task's
//!    other copies are withdrawn or cancelled, outcomes are recorded, and its
//!    bounty is paid to the owners of the devices whose results agree.
//! 5. Copies that fail or go stale are replaced through the rescue queue; a task
//!    that fails `max_failures` times, or needs more than `max_failures` extra
//!    copies to reach a verdict, fails its job.
//! 6. When every task's verdict is final the job completes: one result per task,
//!    in assembly order; the rest of the price goes to the platform.
//!
//! Trust is the operator's ([`CommandKind::SetTrust`]), never a device's claim.
//! Every 30 s of engine time the ranking is refreshed from the devices' states; a
//! running job is re-planned only when its pools changed, its queued copies
//! keeping their pools; once a day the lottery is drawn.
//!
//! # Example
//!
//! Two devices run a two-task job at r = 2: every task's two copies agree, so
//! every verdict is final and the job completes.
//!
//! ```
//! use byterank_core::application::{Chunk, Synthetic};
//! use byterank_core::device::Device;
//! use byterank_core::engine::{Command, CommandKind, Engine, Event};
//! use byterank_core::job::{JobSpec, ReplicationGoal};
//! use byterank_core::time::Timestamp;
//!
//! let mut engine = Engine::default();
//! let at = Timestamp::parse_rfc3339("2026-11-26T03:00:00Z")?;
//! let mut out = Vec::new();
//! let mut apply = |engine: &mut Engine, kind| {
//!     out.clear();
//!     engine.apply(&Command { at, kind }, &mut out).map(|()| out.clone())
//! };
//! let mut devices = Vec::new();
//! for id in ["laptop", "phone"] {
//!     let events = apply(&mut engine, CommandKind::RegisterDevice { device: Device::new(id), owner: id.into() })?;
//!     let [Event::DeviceRegistered { device, .. }] = events[..] else { unreachable!() };
//!     devices.push(device);
//! }
//! let mut job = JobSpec::new("hello", 2);
//! job.replication = Some(ReplicationGoal::R(2.0));
//! apply(&mut engine, CommandKind::SubmitJob { job, user: "alice".into() })?;
//! let mut completed = false;
//! for _ in 0..2 {
//!     for &device in &devices {
//!         let events = apply(&mut engine, CommandKind::Pull { device })?;
//!         let Some(&Event::TaskAssigned { task, attempt, .. }) = events.first() else { continue };
//!         let result = Synthetic::expected("hello", &Chunk { index: task, offset: u64::from(task), len: 1 });
//!         let events = apply(&mut engine, CommandKind::ReportResult { device, attempt, result })?;
//!         completed |= events.iter().any(|e| matches!(e, Event::JobCompleted { unverified: 0, .. }));
//!     }
//! }
//! assert!(completed, "both tasks cross-checked by two agreeing copies");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod applications;
mod attempts;
mod command;
mod devices;
mod distribution;
mod error;
mod event;
mod faults;
mod jobs;
mod ledger;
mod pool_queues;
mod queue;
mod refresh;
mod rescue;
mod share;
mod task;
mod validation;

pub use command::{AttemptId, Command, CommandKind, DeviceId, JobId};
pub use error::{ConfigError, EngineError};
pub use event::{AttemptState, Event, Idle};
pub use ledger::Ledger;
pub use queue::{MemQueue, QueuedCopy, TaskQueue};
pub use rescue::RescueNeed;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::application::{Application, Chunk, ResultMeta};
use crate::device::Device;
use crate::fault::Outcome;
use crate::flags::Flags;
use crate::grid::GridSnapshot;
use crate::indexes::{rank_grid, IndexConfig, Lottery, RankedGrid};
use crate::job::{ByteLevel, JobSpec, Work};
use crate::lottery::{draw, win_probability};
use crate::plan::{job_pools, plan_job, JobPlan, PlanConfig};
use crate::reward::{ByteChips, JobAccount};
use crate::time::{Timestamp, DAY_MS, HOUR_MS};

use applications::Applications;
use attempts::{Attempt, Attempts, CopyKind, Deadlines, Due, Touch};
use devices::Devices;
use pool_queues::PoolQueues;
use rescue::{Entry, Rescue};
use share::Share;
use task::{Decision, Few, Report, Task, Verdict};

/// Engine settings. `Default` gives the documented values; [`Engine::new`] checks them.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EngineConfig {
    /// Grid indexes and flags.
    pub index: IndexConfig,
    /// Job planning.
    pub plan: PlanConfig,
    /// No heartbeat for this long marks an attempt delayed (default 60 s).
    pub t1_ms: i64,
    /// No heartbeat or result for this long makes it stale (default 180 s).
    pub t2_ms: i64,
    /// However many heartbeats it sent, an attempt running this long is stale
    /// (default 30 minutes, like BOINC's report deadline).
    pub max_attempt_ms: i64,
    /// Ranking refresh period (default 30 s).
    pub refresh_ms: i64,
    /// Agreeing results that make a task's verdict final (default 2; a task
    /// planned with fewer copies needs as many as it has).
    pub quorum: u32,
    /// Failed attempts after which a task fails its job, and extra copies a task
    /// may get to reach a verdict (default 5).
    pub max_failures: u32,
    /// Tasks a device may hold at once (default 2: one running, one downloading).
    pub in_hand: usize,
    /// Share of the ranking, from the top, whose trusted devices serve the rescue
    /// queue at once (default 0.25).
    pub rescue_share: f64,
    /// How long a rescue copy waits for a fast trusted device before any eligible
    /// device may take it (default 60 s), and a job's queued copies wait, with
    /// nothing of the job running, before they move to the rescue queue.
    pub rescue_wait_ms: i64,
    /// A running job whose target subset stays empty this long fails (default 10
    /// minutes): its devices left, or none qualifies any more.
    pub starve_ms: i64,
    /// How far into a queue a pull looks past copies the device may not take.
    pub queue_window: usize,
    /// Fair-share weights of running jobs by ByteLevel: low, balanced, high
    /// (default 1, 2, 4): a job gets copies in proportion to its weight.
    pub share_weights: [u32; 3],
    /// Seed of the daily lottery draws.
    pub lottery_seed: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            index: IndexConfig::default(),
            plan: PlanConfig::default(),
            t1_ms: 60_000,
            t2_ms: 180_000,
            max_attempt_ms: 1_800_000,
            refresh_ms: 30_000,
            quorum: 2,
            max_failures: 5,
            in_hand: 2,
            rescue_share: 0.25,
            rescue_wait_ms: 60_000,
            starve_ms: 600_000,
            queue_window: 16,
            share_weights: [1, 2, 4],
            lottery_seed: 0,
        }
    }
}

impl EngineConfig {
    /// Checks every setting the engine relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rule = |ok: bool, field: &'static str, value: &dyn core::fmt::Display, rule: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError { field, value: value.to_string(), rule })
            }
        };
        rule(self.t1_ms > 0, "t1_ms", &self.t1_ms, "positive")?;
        rule(self.t2_ms > self.t1_ms, "t2_ms", &self.t2_ms, "greater than t1_ms")?;
        rule(self.max_attempt_ms > self.t2_ms, "max_attempt_ms", &self.max_attempt_ms, "greater than t2_ms")?;
        rule(self.refresh_ms > 0, "refresh_ms", &self.refresh_ms, "positive")?;
        rule(self.quorum >= 1, "quorum", &self.quorum, "at least 1")?;
        rule(self.max_failures >= 1, "max_failures", &self.max_failures, "at least 1")?;
        rule(self.in_hand >= 1, "in_hand", &self.in_hand, "at least 1")?;
        let share = self.rescue_share;
        rule((0.0..=1.0).contains(&share), "rescue_share", &share, "a number in [0, 1]")?;
        rule(self.rescue_wait_ms >= 0, "rescue_wait_ms", &self.rescue_wait_ms, "0 or more")?;
        rule(self.starve_ms >= 0, "starve_ms", &self.starve_ms, "0 or more")?;
        rule(self.queue_window >= 1, "queue_window", &self.queue_window, "at least 1")?;
        let weights = self.share_weights;
        rule(weights.iter().all(|&w| w >= 1), "share_weights", &format!("{weights:?}"), "at least 1 each")?;
        let p = &self.plan;
        rule(p.max_r.is_finite() && p.max_r >= 1.0, "plan.max_r", &p.max_r, "a finite number >= 1")?;
        let floor = p.min_failure_probability;
        rule((0.0..=1.0).contains(&floor), "plan.min_failure_probability", &floor, "a number in [0, 1]")?;
        Ok(())
    }

    fn deadlines(&self) -> Deadlines {
        Deadlines { t1_ms: self.t1_ms, t2_ms: self.t2_ms, max_ms: self.max_attempt_ms }
    }
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum JobStatus {
    /// Tasks are being processed.
    Running,
    /// Every task reached a final verdict; results assembled.
    Completed,
    /// A task could not reach a verdict, or no device could run the job.
    Failed,
    /// The user cancelled it.
    Cancelled,
}

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

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(serialize = "Q: serde::Serialize", deserialize = "Q: serde::Deserialize<'de>"))
)]
struct JobEntry<Q> {
    id: String,
    user: String,
    spec: JobSpec,
    status: JobStatus,
    chunks: Vec<Chunk>,
    /// What eligibility needs of the work (the sizes live in `chunks`).
    chunk_bytes: Option<u64>,
    /// The used pools of the last plan, pool 1 first.
    pools: Vec<Vec<DeviceId>>,
    /// Pool number (1-based) of each device for this job; 0: not targeted.
    pool_of: Vec<u32>,
    /// Each used pool's assumed failure probability.
    pool_failure: Vec<f64>,
    /// Trusted devices in the used pools, as of the last plan, less those removed.
    trusted: u32,
    /// Devices in the used pools, as of the last plan, less those removed.
    members: u32,
    /// The queues stalled and are open to every device of the pools.
    open: bool,
    queues: PoolQueues<Q>,
    tasks: Vec<Task>,
    account: JobAccount,
    task_count: u32,
    open_tasks: u32,
    unverified: u32,
    /// Attempts of the job running now.
    running: u32,
    /// When a copy of the job was last assigned.
    last_assigned: Timestamp,
    /// Since when no live device qualifies for the job.
    starving_since: Option<Timestamp>,
}

/// The jobs the engine remembers: running ones, and ended ones until they are
/// released.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(serialize = "Q: serde::Serialize", deserialize = "Q: serde::Deserialize<'de>"))
)]
struct Jobs<Q> {
    entries: BTreeMap<JobId, JobEntry<Q>>,
    next: u32,
}

impl<Q> Default for Jobs<Q> {
    fn default() -> Self {
        Jobs { entries: BTreeMap::new(), next: 0 }
    }
}

impl<Q> Jobs<Q> {
    fn get(&self, id: JobId) -> Option<&JobEntry<Q>> {
        self.entries.get(&id)
    }

    fn next_id(&self) -> JobId {
        JobId(self.next)
    }

    fn insert(&mut self, e: JobEntry<Q>) -> JobId {
        let id = self.next_id();
        self.next += 1;
        self.entries.insert(id, e);
        id
    }

    fn remove(&mut self, id: JobId) -> Option<JobEntry<Q>> {
        self.entries.remove(&id)
    }

    fn iter(&self) -> impl Iterator<Item = (JobId, &JobEntry<Q>)> {
        self.entries.iter().map(|(id, j)| (*id, j))
    }
}

impl<Q> core::ops::Index<JobId> for Jobs<Q> {
    type Output = JobEntry<Q>;
    fn index(&self, id: JobId) -> &JobEntry<Q> {
        &self.entries[&id]
    }
}

impl<Q> core::ops::IndexMut<JobId> for Jobs<Q> {
    fn index_mut(&mut self, id: JobId) -> &mut JobEntry<Q> {
        self.entries.get_mut(&id).expect("a job the engine remembers")
    }
}

/// The last ranking refresh.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Snapshot {
    /// Snapshot index (id order) to device.
    order: Vec<DeviceId>,
    /// Indexes, ranking and eligibility traits of the devices as they were at the
    /// refresh.
    ranked: RankedGrid,
    /// ByteRank by device handle (0: flagged, removed or registered since).
    rank: Vec<u32>,
    /// Flags by device handle.
    flags: Vec<Flags>,
    /// Ranks up to this are "best" (the rescue queue's trusted servers).
    best: u32,
}

/// The engine. `Q` is the pool-queue implementation.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(serialize = "Q: serde::Serialize", deserialize = "Q: serde::Deserialize<'de>"))
)]
pub struct Engine<Q: TaskQueue = MemQueue> {
    cfg: EngineConfig,
    /// The applications jobs may name (code, not state: not in snapshots).
    #[cfg_attr(feature = "serde", serde(skip))]
    apps: Applications,
    now: Timestamp,
    devices: Devices,
    jobs: Jobs<Q>,
    job_names: BTreeMap<String, JobId>,
    /// Running jobs, oldest first.
    running: Vec<JobId>,
    /// Running jobs with queued copies, in the order pulls serve them.
    share: Share,
    attempts: Attempts,
    rescue: Rescue,
    snapshot: Snapshot,
    /// Devices registered, removed, updated or re-trusted since the last refresh.
    stale_ranking: bool,
    next_refresh: Timestamp,
    lottery_day: Option<i64>,
    ledger: Ledger,
}

impl Default for Engine<MemQueue> {
    fn default() -> Self {
        Engine::new(EngineConfig::default()).expect("the default configuration is valid")
    }
}

/// A read-only view of the live devices in id order, for ranking.
struct View<'a> {
    devices: &'a Devices,
    order: &'a [DeviceId],
    now: Timestamp,
}

impl GridSnapshot for View<'_> {
    fn now(&self) -> Timestamp {
        self.now
    }
    fn len(&self) -> usize {
        self.order.len()
    }
    fn device(&self, index: usize) -> &Device {
        &self.devices.entry(self.order[index]).state
    }
}

impl<Q: TaskQueue> Engine<Q> {
    /// An empty engine at the epoch, once its configuration checks out.
    pub fn new(cfg: EngineConfig) -> Result<Engine<Q>, ConfigError> {
        cfg.validate()?;
        Ok(Engine {
            cfg,
            apps: Applications::default(),
            now: Timestamp::EPOCH,
            devices: Devices::default(),
            jobs: Jobs::default(),
            job_names: BTreeMap::new(),
            running: Vec::new(),
            share: Share::default(),
            attempts: Attempts::default(),
            rescue: Rescue::default(),
            snapshot: Snapshot::default(),
            stale_ranking: false,
            next_refresh: Timestamp::EPOCH,
            lottery_day: None,
            ledger: Ledger::default(),
        })
    }

    /// Adds an application jobs may name (or replaces the one of its name): the
    /// built-ins are `synthetic` and `gzip`. Register yours again after restoring
    /// a snapshot: the registry is code, not state.
    pub fn register_application(&mut self, app: &'static dyn Application) {
        self.apps.register(app);
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The engine's time: that of the last command applied.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Where every ByteChip is.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The handle of the device with this id.
    pub fn device_id(&self, id: &str) -> Option<DeviceId> {
        self.devices.handle(id)
    }

    /// The state of a device, as the engine knows it (fault history and the
    /// operator's trust included).
    pub fn device(&self, device: DeviceId) -> Option<&Device> {
        self.devices.get(device).map(|d| &d.state)
    }

    /// Who is paid for a device's work.
    pub fn owner(&self, device: DeviceId) -> Option<&str> {
        self.devices.get(device).map(|d| d.owner.as_str())
    }

    /// A device's ByteRank at the last refresh (0: flagged or not yet ranked).
    pub fn rank(&self, device: DeviceId) -> u32 {
        self.snapshot.rank.get(device.0 as usize).copied().unwrap_or(0)
    }

    /// The handle of the job with this id.
    pub fn job_id(&self, id: &str) -> Option<JobId> {
        self.job_names.get(id).copied()
    }

    /// A job's status.
    pub fn job_status(&self, job: JobId) -> Option<JobStatus> {
        self.jobs.get(job).map(|j| j.status)
    }

    /// Every job's handle and status.
    pub fn jobs(&self) -> impl Iterator<Item = (JobId, JobStatus)> + '_ {
        self.jobs.iter().map(|(id, j)| (id, j.status))
    }

    /// Attempts running now.
    pub fn running_attempts(&self) -> usize {
        self.attempts.len()
    }

    /// A running job's chunks, in index order (what each task works on).
    pub fn job_chunks(&self, job: JobId) -> Option<&[Chunk]> {
        self.jobs.get(job).map(|j| &j.chunks[..])
    }

    /// Copies waiting in the rescue queue.
    pub fn rescue_waiting(&self) -> usize {
        self.rescue.len()
    }

    /// How far a job has come.
    pub fn job_progress(&self, job: JobId) -> Option<JobProgress> {
        let j = self.jobs.get(job)?;
        Some(JobProgress {
            status: j.status,
            tasks: j.task_count,
            open: j.open_tasks,
            unverified: j.unverified,
            running: j.running,
            queued: j.queues.waiting(),
            pools: j.pools.len() as u32,
        })
    }

    /// Applies one command, appending what it decided to `out`. On error nothing
    /// changes, the clock included, and nothing is appended.
    pub fn apply(&mut self, cmd: &Command, out: &mut Vec<Event>) -> Result<(), EngineError> {
        if !(Timestamp::MIN..=Timestamp::MAX).contains(&cmd.at) {
            return Err(EngineError::TimeOutOfRange(cmd.at.millis()));
        }
        if cmd.at < self.now {
            return Err(EngineError::TimeWentBack { now: self.now, at: cmd.at });
        }
        self.check(&cmd.kind)?;
        if let CommandKind::SubmitJob { job, user } = &cmd.kind {
            // Planning may refuse the job: it runs before anything changes.
            let ready = self.prepare(job, cmd.at)?;
            self.now = cmd.at;
            self.submit(ready, user, out);
            return Ok(());
        }
        self.now = cmd.at;
        match &cmd.kind {
            CommandKind::RegisterDevice { device, owner } => {
                let id = self.devices.register(device, owner, self.now, &self.cfg.index.flags);
                self.stale_ranking = true;
                out.push(Event::DeviceRegistered { device: id, id: device.id.clone() });
            }
            CommandKind::UpdateDevice { device, state } => {
                self.devices.update(*device, state, &self.cfg.index.flags);
                self.stale_ranking = true;
            }
            CommandKind::SetTrust { device, trusted } => {
                self.devices.set_trust(*device, *trusted, &self.cfg.index.flags);
                self.stale_ranking = true;
            }
            CommandKind::ResetHistory { device } => {
                self.devices.reset_history(*device, &self.cfg.index.flags);
                self.stale_ranking = true;
            }
            CommandKind::RemoveDevice { device } => self.remove(*device, out),
            CommandKind::SubmitJob { .. } => unreachable!("handled above"),
            CommandKind::CancelJob { job } => self.end_job(*job, JobStatus::Cancelled, String::new(), out),
            CommandKind::ReleaseJob { job } => {
                let j = self.jobs.remove(*job).expect("checked");
                self.job_names.remove(&j.id);
                out.push(Event::JobReleased { job: *job });
            }
            CommandKind::Pull { device } => self.pull(*device, out),
            CommandKind::Heartbeat { attempt, .. } => self.heartbeat(*attempt, out),
            CommandKind::ReportResult { attempt, result, .. } => self.report_result(*attempt, result, out),
            CommandKind::ReportError { attempt, .. } => self.report_error(*attempt, out),
            CommandKind::Tick => self.tick(out),
        }
        Ok(())
    }

    /// Every check a command needs before anything changes (submission's planning
    /// aside: it runs in `prepare`).
    fn check(&self, kind: &CommandKind) -> Result<(), EngineError> {
        let held = |d: DeviceId, a: AttemptId| {
            self.devices.live(d)?;
            match self.attempts.get(a) {
                Some(att) if att.device == d => Ok(()),
                Some(_) => Err(EngineError::NotHolder { attempt: a, device: d }),
                None if self.attempts.issued(a) => Err(EngineError::AttemptEnded(a)),
                None => Err(EngineError::UnknownAttempt(a)),
            }
        };
        match kind {
            CommandKind::RegisterDevice { device, .. } => self.devices.check_register(device),
            CommandKind::UpdateDevice { device, state } => self.devices.check_update(*device, state),
            CommandKind::SetTrust { device, .. } | CommandKind::ResetHistory { device } => {
                self.devices.get(*device).map(|_| ()).ok_or(EngineError::UnknownDevice(*device))
            }
            CommandKind::RemoveDevice { device } | CommandKind::Pull { device } => self.devices.live(*device),
            CommandKind::SubmitJob { job, .. } => {
                if self.job_names.contains_key(&job.id) {
                    return Err(EngineError::DuplicateJob(job.id.clone()));
                }
                Ok(())
            }
            CommandKind::ReleaseJob { job } => match self.jobs.get(*job) {
                None => Err(EngineError::UnknownJob(*job)),
                Some(j) if j.status == JobStatus::Running => Err(EngineError::JobRunning(*job)),
                Some(_) => Ok(()),
            },
            CommandKind::CancelJob { job } => match self.jobs.get(*job) {
                None => Err(EngineError::UnknownJob(*job)),
                Some(j) if j.status != JobStatus::Running => Err(EngineError::JobEnded(*job)),
                Some(_) => Ok(()),
            },
            CommandKind::Heartbeat { device, attempt }
            | CommandKind::ReportResult { device, attempt, .. }
            | CommandKind::ReportError { device, attempt } => held(*device, *attempt),
            CommandKind::Tick => Ok(()),
        }
    }

    fn remove(&mut self, device: DeviceId, out: &mut Vec<Event>) {
        self.stale_ranking = true;
        for attempt in self.devices.remove(device) {
            // An earlier abandonment may have ended the job, and this attempt with it.
            if let Some(a) = self.finish_attempt(attempt) {
                self.failed(a, attempt, AttemptState::Abandoned, out);
            }
        }
        for &job in &self.running {
            let j = &mut self.jobs[job];
            if j.pool_of.get(device.0 as usize).is_some_and(|&k| k > 0) {
                j.members = j.members.saturating_sub(1);
                if self.devices.entry(device).state.trusted {
                    j.trusted = j.trusted.saturating_sub(1);
                }
            }
        }
        out.push(Event::DeviceRemoved { device });
    }

    fn app(&self, job: JobId) -> &'static dyn Application {
        self.apps.get(&self.jobs[job].spec.application).expect("checked at submission")
    }
}

/// Applies commands in order, collecting every event; stops at the first refused
/// command and returns its index and error.
pub fn replay<Q: TaskQueue>(engine: &mut Engine<Q>, commands: &[Command]) -> Result<Vec<Event>, (usize, EngineError)> {
    let mut out = Vec::new();
    for (i, c) in commands.iter().enumerate() {
        engine.apply(c, &mut out).map_err(|e| (i, e))?;
    }
    Ok(out)
}
