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
mod distribution;
mod event;
mod faults;
mod jobs;
mod ledger;
mod queue;
mod refresh;
mod validation;

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
use crate::fault::Outcome;
use crate::flags::Flags;
use crate::grid::GridSnapshot;
use crate::indexes::{rank_grid, IndexConfig, Lottery, RankedGrid};
use crate::job::JobSpec;
use crate::lottery::{draw, win_probability};
use crate::plan::{job_pools, plan_job, PlanConfig, PlanError};
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
