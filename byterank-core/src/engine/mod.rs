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
//!    ranking ([`plan_job`](crate::plan::plan_job)), its copies dealt to one queue per capacity pool (never
//!    more copies of a task in a pool than it has devices), and its price charged
//!    into escrow.
//! 2. [`CommandKind::Pull`]: a device whose current state still qualifies gets a
//!    copy from the rescue queue, the head of its own pool's queue, or the nearest
//!    lower pool with work, never a higher one. A device holds at most two tasks and
//!    never two copies of one task.
//! 3. Heartbeats keep an attempt alive: none for T1 marks it delayed, none for T2
//!    (or the hard `max_attempt` deadline) makes it stale, at every command that
//!    concerns it and at every [`CommandKind::Tick`]. A host back from a stop
//!    sends [`CommandKind::Resume`] first: its absence counts as a heartbeat.
//! 4. Every planned copy runs. A result that passes the application's integrity
//!    check is provisional until the task's verdict is final: `quorum` agreeing
//!    results, or one from a trusted device (a single-copy task: its one result,
//!    unverified). A quorum counts only when it is credible: the devices that
//!    agree are unlikely enough to be all wrong, from the checks they passed
//!    (`credibility`); otherwise the task gets one more copy, trusted devices
//!    first. Disagreements go to a trusted arbiter, or, with none in the
//!    job's target subset, to more copies until a quorum agrees. Then the task's
//!    other copies are withdrawn or cancelled, outcomes are recorded, and its
//!    bounty is paid to the owners of the devices whose results agree.
//! 5. Copies that fail or go stale are replaced through the rescue queue. Stale
//!    and abandoned attempts point at their device, never at the task; a task
//!    whose error reports or failed integrity checks come from `max_failures`
//!    distinct devices, or that needs more than `max_failures` extra copies to
//!    reach a verdict, fails its job ([`FailureAttribution`]).
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
//! Two devices run a two-task job at r = 2; the operator trusts the laptop, so
//! its result decides each task (two untrusted devices that passed no check
//! would not be credible enough on their own) and the job completes verified.
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
//! apply(&mut engine, CommandKind::SetTrust { device: devices[0], trusted: true })?;
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
//! assert!(completed, "both tasks verified by the trusted laptop");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod admission;
mod applications;
mod attempt_view;
mod attempts;
mod audit;
mod command;
mod config;
mod credibility;
mod devices;
mod distribution;
mod error;
mod event;
mod helpers;
mod job_state;
mod jobs;
mod ledger;
mod liveness;
mod pool_map;
mod pool_queues;
mod prefetch;
mod provisional;
mod ranking;
mod recovery;
mod refresh;
mod rescue;
mod share;
mod tails;
mod targeting;
mod task;
mod tasks;
mod timers;
mod validation;

pub use admission::{AdmissionError, ReplicationAdmission};
pub use attempt_view::AttemptInfo;
pub use command::{AttemptId, Command, CommandKind, DeviceId, JobId};
pub use config::{EngineConfig, FailureAttribution, Speculation, MAX_IN_HAND, MAX_SHARE_WEIGHT};
pub use credibility::CredibilityConfig;
pub use error::{
    AttemptError, CancelError, ConfigError, DeviceGone, EngineError, Inconsistency, OperatorError, PullError, Refusal,
    RegisterError, ReleaseError, RemoveError, SubmitError, TimeError, UnknownDevice, UnknownJob, UpdateError,
};
pub use event::{AttemptState, Event, Idle};
pub use helpers::Pulled;
pub use jobs::{JobProgress, Quote, QuoteBasis, ReplicaStatus, Replicas, TaskCopies};
pub use ledger::Ledger;
pub use ranking::{RankedDevice, RankingInForce};
pub use rescue::RescueNeed;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::application::{Application, Chunk, Chunks};
use crate::device::Device;
use crate::flags::Flags;
use crate::grid::GridSnapshot;
use crate::indexes::RankedGrid;
use crate::time::Timestamp;

use applications::Applications;
use attempts::Attempts;
use devices::Devices;
use job_state::Jobs;
use pool_map::PoolTable;
use provisional::Provisional;
use rescue::Rescue;
use share::Share;
use targeting::Targeting;

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

/// The engine.
///
/// With the `serde` feature the engine serializes without its applications (code,
/// not state): register yours again after restoring a snapshot.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Engine {
    cfg: EngineConfig,
    /// The applications jobs may name (code, not state: not in snapshots).
    #[cfg_attr(feature = "serde", serde(skip))]
    apps: Applications,
    now: Timestamp,
    devices: Devices,
    jobs: Jobs,
    /// Running jobs' pool numbers by device.
    pool_table: PoolTable,
    /// Running jobs by device they target.
    targeting: Targeting,
    job_names: BTreeMap<String, JobId>,
    /// Running jobs, oldest first.
    running: Vec<JobId>,
    /// Running jobs with queued copies, in the order pulls serve them.
    share: Share,
    attempts: Attempts,
    /// Results waiting for their tasks' verdicts, every job's.
    provisional: Provisional,
    rescue: Rescue,
    snapshot: Snapshot,
    /// Devices registered, removed, updated or re-trusted since the last refresh.
    stale_ranking: bool,
    next_refresh: Timestamp,
    lottery_day: Option<i64>,
    ledger: Ledger,
    /// Running jobs' deadlines, earliest first.
    #[cfg_attr(feature = "serde", serde(default))]
    job_deadlines: alloc::collections::BTreeSet<(Timestamp, JobId)>,
    /// What the engine saw of each device's results.
    #[cfg_attr(feature = "serde", serde(default))]
    credibility: credibility::Credibility,
}

impl Default for Engine {
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
    type Device<'a>
        = &'a Device
    where
        Self: 'a;
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

impl Engine {
    /// An empty engine at the start of the time it accepts (year 0, so that any
    /// first command in range is taken), once its configuration checks out.
    pub fn new(cfg: EngineConfig) -> Result<Engine, ConfigError> {
        cfg.validate()?;
        Ok(Engine {
            cfg,
            apps: Applications::default(),
            now: Timestamp::MIN,
            devices: Devices::default(),
            jobs: Jobs::default(),
            pool_table: PoolTable::default(),
            targeting: Targeting::default(),
            job_names: BTreeMap::new(),
            running: Vec::new(),
            share: Share::default(),
            attempts: Attempts::default(),
            provisional: Provisional::default(),
            rescue: Rescue::default(),
            snapshot: Snapshot::default(),
            stale_ranking: false,
            next_refresh: Timestamp::MIN,
            lottery_day: None,
            ledger: Ledger::default(),
            job_deadlines: alloc::collections::BTreeSet::new(),
            credibility: credibility::Credibility::default(),
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

    /// The application this engine runs jobs of under `name` (a built-in or
    /// one an embedder registered): what an adapter asks of a job's application.
    pub fn application(&self, name: &str) -> Option<&'static dyn Application> {
        self.apps.get(name)
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

    /// The live devices in id order, with their handles.
    pub fn live_devices(&self) -> impl Iterator<Item = (DeviceId, &Device)> + '_ {
        self.devices.live_in_id_order().into_iter().map(|d| (d, &self.devices.entry(d).state))
    }

    /// The live devices in handle order, with their handles: cheaper than
    /// [`live_devices`](Self::live_devices) for a reader that orders them itself
    /// or only counts or filters them.
    pub fn live_devices_by_handle(&self) -> impl Iterator<Item = (DeviceId, &Device)> + '_ {
        self.devices.live_by_handle().map(|d| (d, &self.devices.entry(d).state))
    }

    /// Who is paid for a device's work.
    pub fn owner(&self, device: DeviceId) -> Option<&str> {
        self.devices.get(device).map(|_| self.devices.owner(device))
    }

    /// Whether a device is registered and has not left (a removed device's
    /// handle stays known, with no rank and no work).
    pub fn is_live(&self, device: DeviceId) -> bool {
        self.devices.live(device).is_ok()
    }

    /// What the failure model has seen of a device (its attempts' ends and its
    /// sessions; [`crate::reliability`]), gone devices included.
    pub fn failure_track(&self, device: DeviceId) -> Option<crate::reliability::Track> {
        self.devices.get(device).map(|_| self.devices.track(device))
    }

    /// A device's ByteRank at the last refresh (0: flagged or not yet ranked).
    pub fn rank(&self, device: DeviceId) -> u32 {
        self.snapshot.rank.get(device.0 as usize).copied().unwrap_or(0)
    }

    /// A running attempt: its job, task, device and deadlines; none once it
    /// ended.
    pub fn attempt(&self, attempt: AttemptId) -> Option<AttemptInfo> {
        let a = self.attempts.get(attempt)?;
        let cfg = &self.cfg;
        Some(AttemptInfo {
            job: a.job,
            task: a.task,
            replica: a.replica,
            device: a.device,
            delayed: a.delayed,
            started: a.started,
            last_beat: a.last_beat,
            delayed_at: a.last_beat.add_millis(cfg.t1_ms),
            stale_at: a.last_beat.add_millis(cfg.t2_ms).min(a.started.add_millis(cfg.max_attempt_ms)),
        })
    }

    /// The attempts a device runs now, oldest first; none for an unknown device.
    pub fn held(&self, device: DeviceId) -> impl Iterator<Item = AttemptId> + '_ {
        self.devices.get(device).into_iter().flat_map(move |_| self.devices.held(device))
    }

    /// Whether a tick at `at` would rank again devices that changed since the
    /// ranking in force (registered, updated, removed, re-trusted): a host that
    /// ticks only while work runs ticks then too, so the ranking it shows (and
    /// [`rank`](Self::rank)) catches up with an idle grid.
    pub fn refresh_due(&self, at: Timestamp) -> bool {
        self.stale_ranking && at >= self.next_refresh
    }

    /// The ranking in force: that of the last refresh, which pulls and plans
    /// use and [`rank`](Self::rank) reads, with each device's indexes.
    pub fn ranking(&self) -> RankingInForce<'_> {
        RankingInForce { order: &self.snapshot.order, ranked: &self.snapshot.ranked, devices: &self.devices }
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

    /// A job's chunks, in index order (what each task works on); none once it
    /// ended.
    pub fn job_chunks(&self, job: JobId) -> Option<&Chunks> {
        self.jobs.get(job).map(|j| &j.chunks)
    }

    /// The chunk task `task` of a running job works on.
    pub fn job_chunk(&self, job: JobId, task: u32) -> Option<Chunk> {
        self.jobs.get(job)?.chunks.get(task)
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
            open: j.open_tasks(),
            unverified: j.unverified(),
            running: j.running(),
            queued: j.queues.waiting(),
            pools: j.pools.len() as u32,
        })
    }

    /// Where a task of a running job is; none once the job ended.
    pub fn task_copies(&self, job: JobId, task: u32) -> Option<TaskCopies> {
        let j = self.jobs.get(job)?;
        if task as usize >= j.tasks.len() {
            return None;
        }
        let t = &j.tasks[task];
        Some(TaskCopies {
            planned: t.planned(),
            queued: t.queued(),
            rescue: t.rescue(),
            running: j.tasks.running(task).count() as u32,
            tried: j.tasks.tried(task).count() as u32,
            arbitration: t.arbiter(),
            decided: t.decided(),
        })
    }

    /// The devices of a running job's pools, pool 1 first, as its last plan
    /// placed them; none once the job ended.
    pub fn job_pools(&self, job: JobId) -> Option<&[Vec<DeviceId>]> {
        self.jobs.get(job).filter(|j| j.status == JobStatus::Running).map(|j| &j.pools[..])
    }

    /// Asks the cache for what a pull reads first: the device's hot record, its
    /// rank and its row of pool numbers.
    fn prefetch_pull(&self, device: DeviceId) {
        self.devices.prefetch(device, false);
        prefetch::prefetch(self.snapshot.rank.get(device.0 as usize));
        self.pool_table.prefetch(device);
    }

    /// Asks the cache for what a command on a held attempt reads first: the
    /// device's hot record and the attempt's slot, and for a result the device's
    /// entry (its outcome is recorded there).
    fn prefetch_held(&self, device: DeviceId, attempt: AttemptId, result: bool) {
        self.devices.prefetch(device, result);
        self.attempts.prefetch(attempt);
    }

    /// Applies one command, appending what it decided to `out`. On error nothing
    /// changes, the clock included, and nothing is appended.
    pub fn apply(&mut self, cmd: &Command, out: &mut Vec<Event>) -> Result<(), EngineError> {
        match cmd.kind {
            CommandKind::Pull { device } => self.prefetch_pull(device),
            CommandKind::Heartbeat { device, attempt } | CommandKind::ReportError { device, attempt } => {
                self.prefetch_held(device, attempt, false)
            }
            CommandKind::ReportResult { device, attempt, .. } => self.prefetch_held(device, attempt, true),
            _ => {}
        }
        self.check_time(cmd.at).map_err(|e| timed(&cmd.kind, e))?;
        // Every command's checks, before anything changes; each typed helper
        // (helpers.rs) runs its command's same check.
        match &cmd.kind {
            CommandKind::SubmitJob { job, user } => {
                // Planning may refuse the job: it runs before anything changes.
                let ready = self.prepare(job, Some(user), cmd.at)?;
                self.now = cmd.at;
                self.submit(ready, user, out);
                return Ok(());
            }
            CommandKind::RegisterDevice { device, .. } => self.devices.check_register(device)?,
            CommandKind::UpdateDevice { device, state } => self.devices.check_update(*device, state)?,
            CommandKind::SetTrust { device, .. } | CommandKind::ResetHistory { device } => self.check_known(*device)?,
            CommandKind::RemoveDevice { device } => self.devices.live(*device).map_err(RemoveError::from)?,
            CommandKind::Pull { device } => self.devices.live(*device).map_err(PullError::from)?,
            CommandKind::CancelJob { job } => self.check_cancel(*job)?,
            CommandKind::ReleaseJob { job } => self.check_release(*job)?,
            CommandKind::Heartbeat { device, attempt } => self.check_held(*device, *attempt)?,
            CommandKind::ReportResult { device, attempt, .. } | CommandKind::ReportError { device, attempt } => {
                self.check_held(*device, *attempt)?;
                self.prefetch_task(*attempt);
            }
            CommandKind::Tick | CommandKind::Resume => {}
        }
        self.run(cmd.at, &cmd.kind, out);
        Ok(())
    }

    /// Runs a checked command (any but a submission, which runs from its
    /// prepared plan).
    fn run(&mut self, at: Timestamp, kind: &CommandKind, out: &mut Vec<Event>) {
        self.now = at;
        match kind {
            CommandKind::RegisterDevice { device, owner } => {
                let back = self.devices.handle(&device.id);
                let id = self.devices.register(device, owner, self.now, &self.cfg.index.flags);
                if back.is_some() {
                    // Back in the pools it left: its jobs count it again.
                    for &job in &self.running {
                        let j = &mut self.jobs[job];
                        if self.pool_table.targets(&j.pool_of, id) {
                            j.member_back();
                        }
                    }
                }
                self.stale_ranking = true;
                out.push(Event::DeviceRegistered { device: id, id: device.id.clone() });
            }
            CommandKind::UpdateDevice { device, state } => {
                self.devices.update(*device, state, self.now, &self.cfg.index.flags);
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
            CommandKind::SubmitJob { .. } => unreachable!("a submission runs from its plan (prepare, submit)"),
            CommandKind::CancelJob { job } => self.end_job(*job, JobStatus::Cancelled, String::new(), out),
            CommandKind::ReleaseJob { job } => {
                let j = self.jobs.remove(*job).expect("checked");
                self.job_names.remove(&j.id);
                out.push(Event::JobReleased { job: *job });
            }
            CommandKind::Pull { device } => self.serve_pull(*device, out),
            CommandKind::Heartbeat { attempt, .. } => self.take_heartbeat(*attempt, out),
            CommandKind::ReportResult { attempt, result, .. } => self.report_result(*attempt, result, out),
            CommandKind::ReportError { attempt, .. } => self.report_error(*attempt, out),
            CommandKind::Tick => self.pass_time(out),
            CommandKind::Resume => self.beat_all(),
        }
    }

    /// The clock's checks, every command's first.
    fn check_time(&self, at: Timestamp) -> Result<(), TimeError> {
        if !(Timestamp::MIN..=Timestamp::MAX).contains(&at) {
            return Err(TimeError::OutOfRange { ms: at.millis() });
        }
        if at < self.now {
            return Err(TimeError::WentBack { now: self.now, at });
        }
        Ok(())
    }

    /// An operator's command needs a device that registered once (it may have
    /// left since).
    fn check_known(&self, device: DeviceId) -> Result<(), OperatorError> {
        self.devices.get(device).map(|_| ()).ok_or(OperatorError::UnknownDevice(UnknownDevice { device }))
    }

    fn check_cancel(&self, job: JobId) -> Result<(), CancelError> {
        match self.jobs.get(job) {
            None => Err(UnknownJob { job }.into()),
            Some(j) if j.status != JobStatus::Running => Err(CancelError::JobEnded { job, id: j.id.clone() }),
            Some(_) => Ok(()),
        }
    }

    fn check_release(&self, job: JobId) -> Result<(), ReleaseError> {
        match self.jobs.get(job) {
            None => Err(UnknownJob { job }.into()),
            Some(j) if j.status == JobStatus::Running => Err(ReleaseError::JobRunning { job, id: j.id.clone() }),
            Some(_) => Ok(()),
        }
    }

    /// Asks the cache for the record of the attempt's task, which a report reads
    /// once its attempt is finished.
    fn prefetch_task(&self, attempt: AttemptId) {
        if let Some(a) = self.attempts.get(attempt) {
            self.jobs[a.job].tasks.prefetch(a.task);
        }
    }

    /// A device's word on an attempt needs the device live and holding it.
    fn check_held(&self, device: DeviceId, attempt: AttemptId) -> Result<(), AttemptError> {
        self.devices.live(device)?;
        match self.attempts.get(attempt) {
            Some(a) if a.device == device => Ok(()),
            Some(_) => {
                let id = self.devices.entry(device).state.id.clone();
                Err(AttemptError::NotHolder { attempt, device, id })
            }
            None if self.attempts.issued(attempt) => Err(AttemptError::AttemptEnded { attempt }),
            None => Err(AttemptError::UnknownAttempt { attempt }),
        }
    }

    fn remove(&mut self, device: DeviceId, out: &mut Vec<Event>) {
        self.stale_ranking = true;
        for attempt in self.devices.remove(device, self.now) {
            // An earlier abandonment may have ended the job, and this attempt with it.
            if let Some(a) = self.finish_attempt(attempt) {
                self.failed(a, attempt, AttemptState::Abandoned, out);
            }
        }
        for &job in &self.running {
            let j = &mut self.jobs[job];
            if self.pool_table.targets(&j.pool_of, device) {
                j.member_left();
            }
        }
        out.push(Event::DeviceRemoved { device });
    }

    fn app(&self, job: JobId) -> &'static dyn Application {
        self.apps.get(&self.jobs[job].spec.application).expect("checked at submission")
    }
}

/// A time the engine cannot take, as the error of `kind`'s operation (the one
/// its typed helper gives).
#[cold]
fn timed(kind: &CommandKind, e: TimeError) -> EngineError {
    match kind {
        CommandKind::RegisterDevice { .. } => RegisterError::Time(e).into(),
        CommandKind::UpdateDevice { .. } => UpdateError::Time(e).into(),
        CommandKind::SetTrust { .. } | CommandKind::ResetHistory { .. } => OperatorError::Time(e).into(),
        CommandKind::RemoveDevice { .. } => RemoveError::Time(e).into(),
        CommandKind::SubmitJob { .. } => SubmitError::Time(e).into(),
        CommandKind::CancelJob { .. } => CancelError::Time(e).into(),
        CommandKind::ReleaseJob { .. } => ReleaseError::Time(e).into(),
        CommandKind::Pull { .. } => PullError::Time(e).into(),
        CommandKind::Heartbeat { .. } | CommandKind::ReportResult { .. } | CommandKind::ReportError { .. } => {
            AttemptError::Time(e).into()
        }
        CommandKind::Tick | CommandKind::Resume => e.into(),
    }
}

/// Applies commands in order, collecting every event; stops at the first refused
/// command and returns its index and error.
pub fn replay(engine: &mut Engine, commands: &[Command]) -> Result<Vec<Event>, (usize, EngineError)> {
    let mut out = Vec::new();
    for (i, c) in commands.iter().enumerate() {
        engine.apply(c, &mut out).map_err(|e| (i, e))?;
    }
    Ok(out)
}
