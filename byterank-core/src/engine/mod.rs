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
//!    [`Application`](crate::application::Application), planned over the last
//!    ranking snapshot ([`plan_job`]), its copies dealt to one queue per capacity
//!    pool, and its price charged into escrow.
//! 2. [`CommandKind::Pull`]: a device gets the head of its own pool's queue, or
//!    inherits from the nearest lower pool with work, never a higher one; trusted
//!    devices of the best-ranked quarter serve the rescue queue first. A device holds
//!    at most two tasks and never two copies of one task.
//! 3. Heartbeats keep an attempt alive. No heartbeat for T1 marks it delayed; none
//!    for T2 makes it stale and frees the task ([`CommandKind::Tick`] fires both).
//! 4. A result is checked for integrity by the application, then compared with the
//!    task's other results. The first valid result is the task's; a disagreement
//!    sends the task to a trusted device, whose result decides which are incorrect.
//! 5. A task that loses every copy is rescheduled on a fast trusted device. A task
//!    that fails `max_failures` times fails its job.
//! 6. Once a task's verdicts are final (it has its result, no dispute is open, no
//!    copy runs), its bounty is paid to the owners of the devices whose results
//!    validated. When every task has a validated result, no dispute is open and no
//!    copy is running, the job completes: results in assembly order, the rest of
//!    the price to the platform.
//!
//! Faults feed the devices' histories: a validated result records an on-time or
//! delayed success; a lost comparison records an incorrect result; a failure is
//! recorded against the worker only once the same task validates elsewhere (if
//! the trusted rescue fails too, the fault is the system's and nothing is recorded).
//! Every 30 s of engine time the ranking is refreshed from the devices' states, and
//! running jobs' queued copies are re-dealt over the new pools; once a day the
//! lottery is drawn.

mod command;
mod event;
mod ledger;
mod queue;

pub use command::{AttemptId, Command, CommandKind, DeviceId, JobId};
pub use event::{AttemptState, Event};
pub use ledger::Ledger;
pub use queue::{MemQueue, QueuedCopy, TaskQueue};

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::application::{application, ApplicationError, Chunk, ResultMeta};
use crate::device::{Device, DeviceError};
use crate::eligibility::target_subset;
use crate::fault::Outcome;
use crate::flags::Flags;
use crate::grid::GridSnapshot;
use crate::indexes::{rank_grid, IndexConfig, Lottery, RankedGrid};
use crate::job::JobSpec;
use crate::lottery::{draw, win_probability};
use crate::plan::{plan_job, PlanConfig, PlanError};
use crate::pools::{capacity_pools, pools_for_level};
use crate::reward::{ByteChips, JobAccount, RewardError};
use crate::time::{Timestamp, DAY_MS, HOUR_MS};

/// Engine settings. `Default` gives the documented values.
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
    /// Ranking refresh period (default 30 s).
    pub refresh_ms: i64,
    /// Failed attempts after which a task fails its job (default 5).
    pub max_failures: u32,
    /// Tasks a device may hold at once (default 2: one running, one downloading).
    pub in_hand: usize,
    /// Share of the ranking, from the top, whose trusted devices serve the rescue
    /// queue (default 0.25).
    pub rescue_share: f64,
    /// How long a rescue waits for a fast trusted device before any eligible
    /// device may take it (default 60 s), so no job waits forever on a grid
    /// without one.
    pub rescue_wait_ms: i64,
    /// A running job whose target subset stays empty this long fails (default 10
    /// minutes): its devices left, or none qualifies any more.
    pub starve_ms: i64,
    /// How far into a queue a pull looks past copies the device may not take.
    pub queue_window: usize,
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
            refresh_ms: 30_000,
            max_failures: 5,
            in_hand: 2,
            rescue_share: 0.25,
            rescue_wait_ms: 60_000,
            starve_ms: 600_000,
            queue_window: 16,
            lottery_seed: 0,
        }
    }
}

/// A command the engine refuses. The engine is unchanged.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// Commands must come in time order.
    #[error("command at {at} is before the engine's time {now}: commands must not go back in time")]
    TimeWentBack {
        /// The engine's time.
        now: Timestamp,
        /// The command's.
        at: Timestamp,
    },
    /// No device has this handle.
    #[error("unknown device {0:?}: register it first")]
    UnknownDevice(DeviceId),
    /// The device left the grid.
    #[error("device {0:?} was removed and cannot act")]
    DeviceRemoved(DeviceId),
    /// A device with this id is registered.
    #[error("device `{0}` is already registered: update it instead")]
    DuplicateDevice(String),
    /// An update must keep the device's id.
    #[error("device {0:?}: an update must keep the id `{1}`")]
    IdChanged(DeviceId, String),
    /// The device's state is invalid.
    #[error(transparent)]
    BadDevice(#[from] DeviceError),
    /// No job has this handle.
    #[error("unknown job {0:?}")]
    UnknownJob(JobId),
    /// The job already ended.
    #[error("job {0:?} is no longer running")]
    JobEnded(JobId),
    /// A job with this id was submitted before.
    #[error("job `{0}` was already submitted: job ids are unique")]
    DuplicateJob(String),
    /// The job names an application the engine does not have.
    #[error("job `{0}`: unknown application `{1}` (known: synthetic, gzip)")]
    UnknownApplication(String, String),
    /// The application cannot split the job's input.
    #[error("job `{0}`: {1}")]
    Application(String, ApplicationError),
    /// The job cannot be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The job's money cannot be set up.
    #[error("job `{0}`: {1}")]
    Reward(String, RewardError),
    /// No attempt has this handle.
    #[error("unknown attempt {0:?}")]
    UnknownAttempt(AttemptId),
    /// The attempt already ended (a second result, or one after a timeout).
    #[error("attempt {0:?} already ended; its result or error was already taken")]
    AttemptEnded(AttemptId),
    /// The attempt belongs to another device.
    #[error("attempt {attempt:?} is not held by device {device:?}")]
    NotHolder {
        /// The attempt.
        attempt: AttemptId,
        /// The device that claimed it.
        device: DeviceId,
    },
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum JobStatus {
    /// Tasks are being processed.
    Running,
    /// Every task validated; results assembled.
    Completed,
    /// A task exhausted its attempts.
    Failed,
    /// The user cancelled it.
    Cancelled,
}

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
struct DeviceEntry {
    state: Device,
    owner: String,
    live: bool,
    held: Vec<AttemptId>,
    registered: Timestamp,
    last_task: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
enum Verdict {
    Pending,
    Valid,
    Incorrect,
}

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
struct ResultRecord {
    attempt: AttemptId,
    device: DeviceId,
    meta: ResultMeta,
    delayed: bool,
    verdict: Verdict,
}

/// A list that holds its first element inline: most tasks see one device and one
/// result, and a heap allocation per task is most of a task cycle's cost.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
struct Few<T> {
    first: Option<T>,
    rest: Vec<T>,
}

impl<T> Default for Few<T> {
    fn default() -> Self {
        Few { first: None, rest: Vec::new() }
    }
}

impl<T> Few<T> {
    fn push(&mut self, x: T) {
        match self.first {
            None => self.first = Some(x),
            Some(_) => self.rest.push(x),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.first.iter().chain(self.rest.iter())
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.first.iter_mut().chain(self.rest.iter_mut())
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
struct TaskEntry {
    accepted: Option<AttemptId>,
    results: Few<ResultRecord>,
    tried: Few<DeviceId>,
    blame: Vec<(DeviceId, Outcome)>,
    failures: u32,
    running: u32,
    queued: u32,
    next_replica: u32,
    disputed: bool,
}

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(bound(serialize = "Q: serde::Serialize")))]
struct JobEntry<Q> {
    id: String,
    user: String,
    spec: JobSpec,
    status: JobStatus,
    chunks: Vec<Chunk>,
    /// Pool number (1-based) of each device for this job; 0: not targeted.
    pool_of: Vec<u16>,
    queues: Vec<Q>,
    tasks: Vec<TaskEntry>,
    account: JobAccount,
    running: u32,
    open_tasks: u32,
    disputes: u32,
    /// Since when no live device qualifies for the job.
    starving_since: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
struct Attempt {
    job: JobId,
    task: u32,
    replica: u32,
    device: DeviceId,
    last_beat: Timestamp,
    delayed: bool,
    rescue: bool,
    /// The deadline under which the attempt sits in `timers`.
    timer: Timestamp,
}

/// The last ranking refresh.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
struct Snapshot {
    /// Snapshot index (id order) to device.
    order: Vec<DeviceId>,
    /// Indexes, ranking and eligibility traits of the devices as they were at the
    /// refresh (not serialized: they follow from the refresh's inputs).
    #[cfg_attr(feature = "serde", serde(skip))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(bound(serialize = "Q: serde::Serialize")))]
pub struct Engine<Q: TaskQueue = MemQueue> {
    cfg: EngineConfig,
    now: Timestamp,
    devices: Vec<DeviceEntry>,
    names: BTreeMap<String, DeviceId>,
    jobs: Vec<JobEntry<Q>>,
    job_names: BTreeMap<String, JobId>,
    /// Running jobs, in the order pulls serve them: ByteLevel high first, then age.
    running: Vec<JobId>,
    attempts: BTreeMap<AttemptId, Attempt>,
    next_attempt: u64,
    /// One deadline per running attempt. Heartbeats do not move it (that would
    /// cost a tree update per heartbeat); when it fires, it is checked against the
    /// attempt's last heartbeat and set again if that moved.
    timers: BTreeSet<(Timestamp, AttemptId)>,
    /// Tasks waiting for a rescue copy, with the time they started waiting.
    rescue: VecDeque<(JobId, u32, Timestamp)>,
    snapshot: Snapshot,
    next_refresh: Timestamp,
    lottery_day: Option<i64>,
    ledger: Ledger,
}

impl Default for Engine<MemQueue> {
    fn default() -> Self {
        Engine::new(EngineConfig::default())
    }
}

/// A read-only view of the live devices in id order, for ranking.
struct View<'a> {
    devices: &'a [DeviceEntry],
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
        &self.devices[self.order[index].0 as usize].state
    }
}

impl<Q: TaskQueue> Engine<Q> {
    /// An empty engine at the epoch.
    pub fn new(cfg: EngineConfig) -> Engine<Q> {
        Engine {
            cfg,
            now: Timestamp::EPOCH,
            devices: Vec::new(),
            names: BTreeMap::new(),
            jobs: Vec::new(),
            job_names: BTreeMap::new(),
            running: Vec::new(),
            attempts: BTreeMap::new(),
            next_attempt: 0,
            timers: BTreeSet::new(),
            rescue: VecDeque::new(),
            snapshot: Snapshot::default(),
            next_refresh: Timestamp::EPOCH,
            lottery_day: None,
            ledger: Ledger::default(),
        }
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
        self.names.get(id).copied()
    }

    /// The state of a device, as the engine knows it (fault history included).
    pub fn device(&self, device: DeviceId) -> Option<&Device> {
        self.devices.get(device.0 as usize).map(|d| &d.state)
    }

    /// Who is paid for a device's work.
    pub fn owner(&self, device: DeviceId) -> Option<&str> {
        self.devices.get(device.0 as usize).map(|d| d.owner.as_str())
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
        self.jobs.get(job.0 as usize).map(|j| j.status)
    }

    /// Every job's handle and status.
    pub fn jobs(&self) -> impl Iterator<Item = (JobId, JobStatus)> + '_ {
        self.jobs.iter().enumerate().map(|(i, j)| (JobId(i as u32), j.status))
    }

    /// Attempts running now.
    pub fn running_attempts(&self) -> usize {
        self.attempts.len()
    }

    /// Applies one command, appending what it decided to `out`. On error nothing
    /// changes and nothing is appended.
    pub fn apply(&mut self, cmd: &Command, out: &mut Vec<Event>) -> Result<(), EngineError> {
        if cmd.at < self.now {
            return Err(EngineError::TimeWentBack { now: self.now, at: cmd.at });
        }
        self.check(&cmd.kind)?;
        self.now = cmd.at;
        match &cmd.kind {
            CommandKind::RegisterDevice { device, owner } => self.register(device, owner, out),
            CommandKind::UpdateDevice { device, state } => self.update(*device, state),
            CommandKind::RemoveDevice { device } => self.remove(*device, out),
            CommandKind::SubmitJob { job, user } => return self.submit(job, user, out),
            CommandKind::CancelJob { job } => self.end_job(*job, JobStatus::Cancelled, String::new(), out),
            CommandKind::Pull { device } => self.pull(*device, out),
            CommandKind::Heartbeat { attempt, .. } => {
                if let Some(a) = self.attempts.get_mut(attempt) {
                    a.last_beat = self.now;
                }
            }
            CommandKind::ReportResult { attempt, result, .. } => self.result(*attempt, result, out),
            CommandKind::ReportError { attempt, .. } => {
                let a = self.finish_attempt(*attempt);
                self.failure(a, *attempt, AttemptState::Failed, out);
            }
            CommandKind::Tick => self.tick(out),
        }
        Ok(())
    }

    /// Every check a command needs before anything changes (submission excepted: it
    /// plans before it mutates).
    fn check(&self, kind: &CommandKind) -> Result<(), EngineError> {
        let live = |d: DeviceId| match self.devices.get(d.0 as usize) {
            None => Err(EngineError::UnknownDevice(d)),
            Some(e) if !e.live => Err(EngineError::DeviceRemoved(d)),
            Some(_) => Ok(()),
        };
        let held = |d: DeviceId, a: AttemptId| {
            live(d)?;
            match self.attempts.get(&a) {
                Some(att) if att.device == d => Ok(()),
                Some(_) => Err(EngineError::NotHolder { attempt: a, device: d }),
                None if a.0 < self.next_attempt => Err(EngineError::AttemptEnded(a)),
                None => Err(EngineError::UnknownAttempt(a)),
            }
        };
        match kind {
            CommandKind::RegisterDevice { device, .. } => {
                device.validate()?;
                if self.names.contains_key(&device.id) {
                    return Err(EngineError::DuplicateDevice(device.id.clone()));
                }
                Ok(())
            }
            CommandKind::UpdateDevice { device, state } => {
                live(*device)?;
                let known = &self.devices[device.0 as usize].state.id;
                if &state.id != known {
                    return Err(EngineError::IdChanged(*device, known.clone()));
                }
                state.validate().map_err(EngineError::from)
            }
            CommandKind::RemoveDevice { device } | CommandKind::Pull { device } => live(*device),
            CommandKind::SubmitJob { job, .. } => {
                if self.job_names.contains_key(&job.id) {
                    return Err(EngineError::DuplicateJob(job.id.clone()));
                }
                Ok(())
            }
            CommandKind::CancelJob { job } => match self.jobs.get(job.0 as usize) {
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

    fn register(&mut self, device: &Device, owner: &str, out: &mut Vec<Event>) {
        let id = DeviceId(self.devices.len() as u32);
        let mut state = device.clone();
        state.lottery_winner = false;
        self.names.insert(state.id.clone(), id);
        out.push(Event::DeviceRegistered { device: id, id: state.id.clone() });
        self.devices.push(DeviceEntry {
            state,
            owner: owner.into(),
            live: true,
            held: Vec::new(),
            registered: self.now,
            last_task: None,
        });
    }

    fn update(&mut self, device: DeviceId, state: &Device) {
        let entry = &mut self.devices[device.0 as usize];
        let mut next = state.clone();
        next.faults = entry.state.faults;
        next.lottery_winner = entry.state.lottery_winner;
        next.hours_since_last_task = entry.state.hours_since_last_task;
        entry.state = next;
    }

    fn remove(&mut self, device: DeviceId, out: &mut Vec<Event>) {
        let held = core::mem::take(&mut self.devices[device.0 as usize].held);
        self.devices[device.0 as usize].live = false;
        for attempt in held {
            let a = self.finish_attempt(attempt);
            self.failure(a, attempt, AttemptState::Abandoned, out);
        }
        out.push(Event::DeviceRemoved { device });
    }

    fn submit(&mut self, spec: &JobSpec, user: &str, out: &mut Vec<Event>) -> Result<(), EngineError> {
        let app = application(&spec.application)
            .ok_or_else(|| EngineError::UnknownApplication(spec.id.clone(), spec.application.clone()))?;
        let chunks = app.split(spec).map_err(|e| EngineError::Application(spec.id.clone(), e))?;
        let plan = plan_job(&self.snapshot.ranked, spec, &self.cfg.plan)?;
        let sizes: Vec<u64> = chunks.iter().map(|c| c.len).collect();
        let account = JobAccount::new(spec.price_chips, &sizes, &self.cfg.plan.rewards)
            .map_err(|e| EngineError::Reward(spec.id.clone(), e))?;
        // Nothing fails past this point.
        let job = JobId(self.jobs.len() as u32);
        let mut pool_of = alloc::vec![0u16; self.devices.len()];
        for (k, pool) in plan.pools.iter().take(plan.pools_used).enumerate() {
            for &i in pool {
                pool_of[self.snapshot.order[i as usize].0 as usize] = k as u16 + 1;
            }
        }
        let mut tasks = alloc::vec![TaskEntry::default(); chunks.len()];
        let queues = plan
            .queues
            .iter()
            .map(|copies| {
                let mut q = Q::default();
                for c in copies {
                    q.push_back(QueuedCopy { task: c.task, replica: c.replica });
                    let t = &mut tasks[c.task as usize];
                    t.queued += 1;
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

    fn pull(&mut self, device: DeviceId, out: &mut Vec<Event>) {
        let d = device.0 as usize;
        let rank = self.rank(device);
        if rank == 0 || self.devices[d].held.len() >= self.cfg.in_hand {
            out.push(Event::NoTask { device });
            return;
        }
        let fast_trusted = self.devices[d].state.trusted && rank <= self.snapshot.best;
        let patience = self.now.add_millis(-self.cfg.rescue_wait_ms);
        let pos = self
            .rescue
            .iter()
            .position(|&(j, t, since)| (fast_trusted || since <= patience) && self.rescuable(j, t, device));
        if let Some(pos) = pos {
            let (job, task, _) = self.rescue.remove(pos).expect("position is in range");
            let t = &mut self.jobs[job.0 as usize].tasks[task as usize];
            let replica = t.next_replica;
            t.next_replica += 1;
            self.assign(job, task, replica, device, true, out);
            return;
        }
        for r in 0..self.running.len() {
            let job = self.running[r];
            if let Some(copy) = self.take_from_pools(job, device) {
                self.assign(job, copy.task, copy.replica, device, false, out);
                return;
            }
        }
        out.push(Event::NoTask { device });
    }

    /// Whether `device` may run the rescue copy of a task: the job still runs, the
    /// task still needs it, the device may take the job and never tried the task.
    fn rescuable(&self, job: JobId, task: u32, device: DeviceId) -> bool {
        let j = &self.jobs[job.0 as usize];
        if j.status != JobStatus::Running {
            return false;
        }
        let t = &j.tasks[task as usize];
        let dev = &self.devices[device.0 as usize];
        (t.accepted.is_none() || t.disputed)
            && j.pool_of.get(device.0 as usize).is_some_and(|&k| k > 0)
            && (!j.spec.preferences.trusted || dev.state.trusted)
            && !t.tried.iter().any(|&d| d == device)
    }

    /// The first copy `device` may take from its pool of `job` or a lower one.
    fn take_from_pools(&mut self, job: JobId, device: DeviceId) -> Option<QueuedCopy> {
        let window = self.cfg.queue_window;
        let trusted = self.devices[device.0 as usize].state.trusted;
        let j = &mut self.jobs[job.0 as usize];
        let own = usize::from(*j.pool_of.get(device.0 as usize)?);
        if own == 0 || (j.spec.preferences.trusted && !trusted) {
            return None;
        }
        for k in own - 1..j.queues.len() {
            loop {
                let tasks = &j.tasks;
                let Some(taken) = j.queues[k].take_first(window, &mut |c| {
                    let t = &tasks[c.task as usize];
                    t.accepted.is_some() || !t.tried.iter().any(|&d| d == device)
                }) else {
                    break; // Nothing here for this device: inherit from the next pool.
                };
                let t = &mut j.tasks[taken.task as usize];
                t.queued -= 1;
                if t.accepted.is_none() {
                    return Some(taken);
                }
                // A copy of a task that already has its result: drop it.
            }
        }
        None
    }

    fn assign(&mut self, job: JobId, task: u32, replica: u32, device: DeviceId, rescue: bool, out: &mut Vec<Event>) {
        let attempt = AttemptId(self.next_attempt);
        self.next_attempt += 1;
        let j = &mut self.jobs[job.0 as usize];
        let t = &mut j.tasks[task as usize];
        t.tried.push(device);
        t.running += 1;
        j.running += 1;
        let dev = &mut self.devices[device.0 as usize];
        dev.held.push(attempt);
        dev.last_task = Some(self.now);
        let timer = self.now.add_millis(self.cfg.t1_ms);
        let a = Attempt { job, task, replica, device, last_beat: self.now, delayed: false, rescue, timer };
        self.attempts.insert(attempt, a);
        self.timers.insert((timer, attempt));
        out.push(Event::TaskAssigned { job, task, replica, device, attempt, rescue });
    }

    /// Removes a running attempt from the books and returns it.
    fn finish_attempt(&mut self, attempt: AttemptId) -> Attempt {
        let a = self.attempts.remove(&attempt).expect("checked before");
        self.timers.remove(&(a.timer, attempt));
        self.devices[a.device.0 as usize].held.retain(|&h| h != attempt);
        let j = &mut self.jobs[a.job.0 as usize];
        j.running -= 1;
        j.tasks[a.task as usize].running -= 1;
        a
    }

    fn result(&mut self, attempt: AttemptId, meta: &ResultMeta, out: &mut Vec<Event>) {
        let a = self.finish_attempt(attempt);
        let j = &self.jobs[a.job.0 as usize];
        let app = application(&j.spec.application).expect("checked at submission");
        if app.check(&j.chunks[a.task as usize], meta).is_err() {
            // A malformed result is the worker's fault, known at once.
            self.record(a.device, Outcome { failed: false, delayed: a.delayed, incorrect: true });
            self.failure(a, attempt, AttemptState::Failed, out);
            return;
        }
        let record = ResultRecord {
            attempt,
            device: a.device,
            meta: meta.clone(),
            delayed: a.delayed,
            verdict: Verdict::Pending,
        };
        let t = &mut self.jobs[a.job.0 as usize].tasks[a.task as usize];
        t.results.push(record);
        let arbiter = a.rescue && t.disputed;
        if arbiter {
            self.arbitrate(a.job, a.task, attempt, out);
        } else if t.disputed {
            // Waits for the trusted verdict.
        } else if let Some(acc) = t.accepted {
            let first = t.results.iter().find(|r| r.attempt == acc).expect("accepted is a result");
            if app.agree(&first.meta, meta) {
                self.set_verdict(a.job, a.task, attempt, Verdict::Valid, out);
            } else {
                t.disputed = true;
                self.jobs[a.job.0 as usize].disputes += 1;
                self.rescue.push_back((a.job, a.task, self.now));
                out.push(Event::TaskRescued { job: a.job, task: a.task });
            }
        } else {
            t.accepted = Some(attempt);
            self.jobs[a.job.0 as usize].open_tasks -= 1;
            out.push(Event::TaskValidated { job: a.job, task: a.task, attempt });
            self.set_verdict(a.job, a.task, attempt, Verdict::Valid, out);
            self.blame(a.job, a.task);
        }
        self.settle_task(a.job, a.task, false, out);
        self.maybe_complete(a.job, out);
    }

    /// A trusted result settles a dispute: results that agree with it are valid,
    /// the others incorrect; the task's result becomes the first valid one.
    fn arbitrate(&mut self, job: JobId, task: u32, arbiter: AttemptId, out: &mut Vec<Event>) {
        let j = &self.jobs[job.0 as usize];
        let app = application(&j.spec.application).expect("checked at submission");
        let t = &j.tasks[task as usize];
        let truth = &t.results.iter().find(|r| r.attempt == arbiter).expect("just pushed").meta;
        let verdicts: Vec<(AttemptId, Verdict)> = t
            .results
            .iter()
            .filter(|r| r.verdict != Verdict::Incorrect)
            .map(|r| (r.attempt, if app.agree(&r.meta, truth) { Verdict::Valid } else { Verdict::Incorrect }))
            .collect();
        let first_valid = verdicts.iter().find(|(_, v)| *v == Verdict::Valid).map(|(a, _)| *a).unwrap_or(arbiter);
        for (a, v) in verdicts {
            self.set_verdict(job, task, a, v, out);
        }
        let j = &mut self.jobs[job.0 as usize];
        let t = &mut j.tasks[task as usize];
        t.disputed = false;
        j.disputes -= 1;
        if t.accepted != Some(first_valid) {
            t.accepted = Some(first_valid);
            out.push(Event::TaskValidated { job, task, attempt: first_valid });
        }
    }

    /// Records a result's verdict once, and its outcome on the device's history.
    fn set_verdict(&mut self, job: JobId, task: u32, attempt: AttemptId, v: Verdict, out: &mut Vec<Event>) {
        let t = &mut self.jobs[job.0 as usize].tasks[task as usize];
        let r = t.results.iter_mut().find(|r| r.attempt == attempt).expect("a result of the task");
        if r.verdict == v {
            return;
        }
        let was = core::mem::replace(&mut r.verdict, v);
        let (device, delayed) = (r.device, r.delayed);
        if was == Verdict::Pending {
            let outcome = Outcome { failed: false, delayed, incorrect: v == Verdict::Incorrect };
            self.record(device, outcome);
        } else if v == Verdict::Incorrect {
            // A result accepted earlier lost the trusted comparison.
            self.record(device, Outcome { failed: false, delayed, incorrect: true });
        }
        let state = if v == Verdict::Valid { AttemptState::Completed } else { AttemptState::Incorrect };
        out.push(Event::AttemptChanged { job, task, attempt, device, state });
    }

    fn record(&mut self, device: DeviceId, outcome: Outcome) {
        self.devices[device.0 as usize].state.faults.push(outcome);
    }

    /// The task validated: the failures it saw were the workers'.
    fn blame(&mut self, job: JobId, task: u32) {
        let blame = core::mem::take(&mut self.jobs[job.0 as usize].tasks[task as usize].blame);
        for (device, outcome) in blame {
            self.record(device, outcome);
        }
    }

    fn failure(&mut self, a: Attempt, attempt: AttemptId, state: AttemptState, out: &mut Vec<Event>) {
        out.push(Event::AttemptChanged { job: a.job, task: a.task, attempt, device: a.device, state });
        let max_failures = self.cfg.max_failures;
        let j = &mut self.jobs[a.job.0 as usize];
        if j.status != JobStatus::Running {
            return;
        }
        let t = &mut j.tasks[a.task as usize];
        t.failures += 1;
        if a.rescue {
            // The trusted double-check failed too: the fault is the system's.
            t.blame.clear();
        } else if matches!(state, AttemptState::Failed | AttemptState::Stale) {
            let outcome =
                Outcome { failed: true, delayed: a.delayed || state == AttemptState::Stale, incorrect: false };
            match t.accepted {
                Some(_) => self.devices[a.device.0 as usize].state.faults.push(outcome),
                None => t.blame.push((a.device, outcome)),
            }
        }
        let t = &self.jobs[a.job.0 as usize].tasks[a.task as usize];
        // A dispute needs its arbiter again if the arbiter failed; an unvalidated
        // task with no copy running goes to the rescue queue even when copies wait
        // in pool queues: those may be for devices that already tried it.
        let needs_copy = if t.disputed { a.rescue } else { t.accepted.is_none() && t.running == 0 };
        if t.accepted.is_none() && t.failures >= max_failures {
            let reason = format!("task {} failed {} times", a.task, t.failures);
            self.end_job(a.job, JobStatus::Failed, reason, out);
            return;
        }
        if needs_copy && !self.rescue.iter().any(|&(j, t, _)| (j, t) == (a.job, a.task)) {
            self.rescue.push_back((a.job, a.task, self.now));
            out.push(Event::TaskRescued { job: a.job, task: a.task });
        }
        self.settle_task(a.job, a.task, false, out);
        self.maybe_complete(a.job, out);
    }

    fn maybe_complete(&mut self, job: JobId, out: &mut Vec<Event>) {
        let j = &self.jobs[job.0 as usize];
        if j.status == JobStatus::Running && j.open_tasks == 0 && j.disputes == 0 && j.running == 0 {
            self.end_job(job, JobStatus::Completed, String::new(), out);
        }
    }

    /// Pays a task's bounty to the owners of the devices whose results validated,
    /// once the verdicts are final: it has its result, no dispute is open and no
    /// copy runs (or the job is ending: `ending`). A task is paid once.
    fn settle_task(&mut self, job: JobId, task: u32, ending: bool, out: &mut Vec<Event>) {
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
    fn end_job(&mut self, job: JobId, status: JobStatus, reason: String, out: &mut Vec<Event>) {
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
        let j = &mut self.jobs[job.0 as usize];
        for q in &mut j.queues {
            q.drain_all();
        }
        for t in &mut j.tasks {
            t.queued = 0;
        }
        for task in 0..j.tasks.len() as u32 {
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

    fn tick(&mut self, out: &mut Vec<Event>) {
        self.fire_timers(out);
        let day = self.now.millis().div_euclid(DAY_MS);
        let mut refresh = self.now >= self.next_refresh;
        if self.lottery_day != Some(day) {
            self.draw_lottery(day, out);
            refresh = true;
        }
        if refresh {
            self.refresh(out);
        }
        self.check_rescues(out);
    }

    /// Drops rescue entries that no longer need a copy, and fails a job whose task
    /// waits for a copy that no live device may ever run (every one tried it).
    fn check_rescues(&mut self, out: &mut Vec<Event>) {
        let mut entries = core::mem::take(&mut self.rescue);
        entries.retain(|&(j, t, _)| {
            let job = &self.jobs[j.0 as usize];
            job.status == JobStatus::Running && {
                let task = &job.tasks[t as usize];
                task.accepted.is_none() || task.disputed
            }
        });
        let hopeless = entries.iter().copied().find(|&(j, t, _)| {
            !(0..self.devices.len()).any(|d| self.devices[d].live && self.rescuable(j, t, DeviceId(d as u32)))
        });
        self.rescue = entries;
        if let Some((job, task, _)) = hopeless {
            let reason = format!("task {task} needs another copy and every device that may run it has tried it");
            self.end_job(job, JobStatus::Failed, reason, out);
        }
    }

    fn fire_timers(&mut self, out: &mut Vec<Event>) {
        while let Some(&(deadline, attempt)) = self.timers.first() {
            if deadline > self.now {
                break;
            }
            self.timers.pop_first();
            let a = self.attempts.get_mut(&attempt).expect("finished attempts leave the timers");
            let (t1, t2) = (a.last_beat.add_millis(self.cfg.t1_ms), a.last_beat.add_millis(self.cfg.t2_ms));
            if self.now >= t2 {
                let a = self.finish_attempt(attempt);
                self.failure(a, attempt, AttemptState::Stale, out);
            } else if !a.delayed && self.now >= t1 {
                a.delayed = true;
                a.timer = t2;
                let (job, task, device) = (a.job, a.task, a.device);
                out.push(Event::AttemptChanged { job, task, attempt, device, state: AttemptState::Delayed });
                self.timers.insert((t2, attempt));
            } else {
                // A heartbeat moved the deadline.
                a.timer = if a.delayed { t2 } else { t1 };
                self.timers.insert((a.timer, attempt));
            }
        }
    }

    fn draw_lottery(&mut self, day: i64, out: &mut Vec<Event>) {
        self.lottery_day = Some(day);
        let order: Vec<DeviceId> = self.names.values().copied().filter(|d| self.devices[d.0 as usize].live).collect();
        let now = self.now;
        let chances: Vec<f64> = order
            .iter()
            .map(|d| {
                let e = &self.devices[d.0 as usize];
                let since = e.last_task.unwrap_or(e.registered);
                win_probability(Some((now.millis() - since.millis()) as f64 / HOUR_MS as f64), &self.cfg.index.lottery)
            })
            .collect();
        let seed = self.cfg.lottery_seed ^ (day as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut winners = 0;
        for (d, won) in order.iter().zip(draw(chances, seed)) {
            self.devices[d.0 as usize].state.lottery_winner = won;
            winners += u32::from(won);
        }
        out.push(Event::LotteryDrawn { day, winners });
    }

    fn refresh(&mut self, out: &mut Vec<Event>) {
        self.next_refresh = self.now.add_millis(self.cfg.refresh_ms);
        let now = self.now;
        for e in &mut self.devices {
            let since = e.last_task.unwrap_or(e.registered);
            e.state.hours_since_last_task = Some((now.millis() - since.millis()) as f64 / HOUR_MS as f64);
        }
        let order: Vec<DeviceId> = self.names.values().copied().filter(|d| self.devices[d.0 as usize].live).collect();
        let view = View { devices: &self.devices, order: &order, now };
        let ranked = rank_grid(&view, &self.cfg.index, Lottery::Recorded);
        let n = self.devices.len();
        let mut rank = alloc::vec![0u32; n];
        let mut flags = alloc::vec![Flags::NONE; n];
        for (i, d) in order.iter().enumerate() {
            rank[d.0 as usize] = ranked.ranking.rank(i);
            flags[d.0 as usize] = ranked.indexes[i].flags;
        }
        for (d, f) in flags.iter().enumerate() {
            let before = self.snapshot.flags.get(d).copied().unwrap_or(Flags::NONE);
            if *f != before {
                out.push(Event::DeviceFlagged { device: DeviceId(d as u32), flags: *f });
            }
        }
        let active = ranked.ranking.active() as u32;
        let best = libm::ceil(self.cfg.rescue_share * f64::from(active)) as u32;
        self.snapshot = Snapshot { order, ranked, rank, flags, best };
        out.push(Event::RankingRefreshed { active });
        for job in self.running.clone() {
            if !self.replan(job) {
                let since = *self.jobs[job.0 as usize].starving_since.get_or_insert(now);
                if now.millis() - since.millis() >= self.cfg.starve_ms {
                    let reason = format!("no device has qualified for the job since {since}");
                    self.end_job(job, JobStatus::Failed, reason, out);
                }
            }
        }
    }

    /// Rebuilds a running job's pools on the new ranking and deals its queued
    /// copies over them again, round-robin from pool 1. Returns false, keeping the
    /// old pools, when no device qualifies.
    fn replan(&mut self, job: JobId) -> bool {
        let ranked = &self.snapshot.ranked;
        let j = &mut self.jobs[job.0 as usize];
        let Ok(work) = j.spec.work() else { return true };
        let subset = target_subset(&ranked.eligibility, &ranked.ranking, &j.spec, &work);
        if subset.is_empty() {
            return false;
        }
        j.starving_since = None;
        let capacities: Vec<f64> = subset.iter().map(|&i| ranked.indexes[i as usize].capacity).collect();
        let defaults = crate::pools::default_params(&capacities, &self.cfg.plan.pools);
        let params = crate::pools::PoolParams {
            c_min: j.spec.pools.c_min.unwrap_or(defaults.c_min),
            s_min: j.spec.pools.s_min.unwrap_or(defaults.s_min),
        };
        let ranges = capacity_pools(&capacities, params);
        let used = pools_for_level(&ranges, j.spec.preferences.byte_level, &self.cfg.plan.pools);
        let mut pool_of = alloc::vec![0u16; self.devices.len()];
        for (k, r) in ranges.iter().take(used).enumerate() {
            for &i in &subset[r.clone()] {
                pool_of[self.snapshot.order[i as usize].0 as usize] = k as u16 + 1;
            }
        }
        let mut waiting: Vec<QueuedCopy> = Vec::new();
        for q in &mut j.queues {
            waiting.extend(q.drain_all());
        }
        waiting.sort_unstable_by_key(|c| (c.replica, c.task));
        let mut queues: Vec<Q> = (0..used).map(|_| Q::default()).collect();
        for (n, c) in waiting.into_iter().enumerate() {
            queues[n % used].push_back(c);
        }
        j.queues = queues;
        j.pool_of = pool_of;
        true
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
