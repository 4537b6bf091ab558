//! The engine against adversaries, checked by a model the driver keeps.
//!
//! A driver plays the workers of random grids: honest ones, and ones that crash
//! (go silent), hang (heartbeat forever and never report), report late, report
//! errors, lie (each wrong result its own), collude (the same wrong result),
//! promote themselves (claim `trusted`), and leave and register again. The
//! operator trusts some honest devices; the driver also reports state changes
//! mid-task and cancels jobs.
//!
//! The driver knows, from its own side, which results were honest. After the run
//! it checks the engine against that knowledge, not against the engine's own
//! accounting:
//! - a wrong result is assembled or paid only where nothing could stop it: a
//!   quorum of colluders agreeing on it, or a single-copy task's lone result
//!   (reported as unverified); never when a trusted device reported on the task;
//! - a task is decided (and paid) as unverified only when its job asked one copy
//!   of it, or accepted unverified results for copies its grid could not hold;
//!   a job whose replicas cannot all be placed is otherwise refused, or waits
//!   for devices until its deadline;
//! - each device's fault history holds exactly one outcome per attempt of a task
//!   that reached a verdict (none for cancelled copies or tasks whose job did not
//!   complete them), failed and incorrect ones as the driver caused them;
//! - per job, bounties computed here by largest remainder are paid equally to the
//!   devices that returned the assembled value, refunds are the bounties of tasks
//!   without a verdict, and the platform's total is the rest of every price;
//! - every job ends (completed, failed with a reason, or cancelled) by the engine's
//!   own deadlines: the driver never makes a worker succeed;
//! - replaying the commands gives the same events and state.
//!
//! And after every command, the rules of [`watch`]: no quorum decides a
//! disputed task while a trusted device of its pools could arbitrate, and an
//! undecided task always has something coming.

use std::collections::{BTreeMap, BTreeSet};

use byterank_core::application::{Chunk, ResultMeta, Synthetic};
use byterank_core::device::{Device, Region};
use byterank_core::engine::{
    AttemptId, AttemptState, Command, CommandKind, DeviceId, Engine, EngineConfig, EngineError, Event, JobId,
    JobStatus, ReplicaStatus, Replicas,
};
use byterank_core::job::{JobSpec, Regions, ReplicationGoal};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;
use proptest::prelude::*;

mod watch;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STEP_MS: i64 = 5_000;
/// The driver stops after this much engine time; every job must have ended.
const HORIZON_MS: i64 = 8 * 3_600_000;
/// The salt every colluder uses: their wrong results agree.
const COLLUSION: u64 = 0x0C01_10DE;

fn config() -> EngineConfig {
    EngineConfig { max_attempt_ms: 15 * 60_000, ..EngineConfig::default() }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Honest,
    /// Verified by the operator; always honest.
    Trusted,
    /// Goes silent on some attempts.
    Crasher,
    /// Heartbeats forever on some attempts, never reports them.
    Hanger,
    /// Reports some results long after T2, without heartbeats.
    Late,
    /// Reports errors on some attempts.
    Erring,
    /// Returns wrong results of its own, or malformed ones.
    Liar,
    /// Returns the colluders' common wrong result.
    Colluder,
    /// Claims `trusted: true` in every report, and lies.
    SelfPromoter,
    /// Leaves now and then and registers again under its id.
    Rejoiner,
}

const BEHAVIOURS: [Behaviour; 10] = [
    Behaviour::Honest,
    Behaviour::Trusted,
    Behaviour::Crasher,
    Behaviour::Hanger,
    Behaviour::Late,
    Behaviour::Erring,
    Behaviour::Liar,
    Behaviour::Colluder,
    Behaviour::SelfPromoter,
    Behaviour::Rejoiner,
];

#[derive(Clone, Debug)]
struct Scenario {
    /// Behaviour index of each device.
    devices: Vec<usize>,
    jobs: Vec<(u64, bool, Option<ReplicationGoal>)>,
    /// Per-attempt chance that a faulty device misbehaves.
    mischief: f64,
    cancel: bool,
    seed: u64,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(prop_oneof![4 => Just(0usize), 2 => Just(1usize), 6 => 2usize..10], 6..24),
        prop::collection::vec(
            (
                1u64..16,
                prop::bool::weighted(0.2),
                prop_oneof![
                    Just(None),
                    Just(Some(ReplicationGoal::R(2.0))),
                    Just(Some(ReplicationGoal::R(3.0))),
                    Just(Some(ReplicationGoal::R(1.5))),
                    Just(Some(ReplicationGoal::MaxPjf(0.05)))
                ],
            ),
            1..4,
        ),
        0.1..0.6f64,
        prop::bool::weighted(0.3),
        any::<u64>(),
    )
        .prop_map(|(devices, jobs, mischief, cancel, seed)| Scenario { devices, jobs, mischief, cancel, seed })
}

/// What a device does with one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    Honest,
    Wrong(u64),
    Malformed,
    Error,
    Silent,
    Hang,
    Late,
}

struct Held {
    attempt: AttemptId,
    job: JobId,
    task: u32,
    plan: Plan,
    due: i64,
}

/// How an attempt ended, as the driver saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// A result the engine took: its value (None: honest; Some(salt): wrong).
    Reported(Option<u64>),
    Malformed,
    /// An error report, a stale attempt, or the device leaving.
    Failed,
    /// Cancelled, or abandoned because its job ended: no outcome.
    NoOutcome,
}

#[derive(Default)]
struct Model {
    /// Each attempt's job, task and device, from `TaskAssigned`.
    attempts: BTreeMap<AttemptId, (JobId, u32, DeviceId)>,
    fates: BTreeMap<AttemptId, Fate>,
    /// The value each taken result carried, by attempt.
    values: BTreeMap<AttemptId, Option<u64>>,
}

struct World {
    engine: Engine,
    log: Vec<Command>,
    events: Vec<Event>,
    now: i64,
    rng: ChaCha8Rng,
    model: Model,
    watch: watch::Watch,
}

impl World {
    fn apply(&mut self, kind: CommandKind) -> Result<Vec<Event>, EngineError> {
        let cmd = Command { at: Timestamp(self.now), kind };
        let mut out = Vec::new();
        self.engine.apply(&cmd, &mut out)?;
        assert!(self.engine.ledger().conserves(), "the ledger conserves after {cmd:?}");
        if let Err(e) = self.engine.audit() {
            panic!("{e} after {cmd:?}");
        }
        if let Err(e) = self.watch.observe(&self.engine, &cmd, &out) {
            panic!("{e} after {cmd:?}: {out:?}");
        }
        for e in &out {
            match *e {
                Event::TaskAssigned { job, task, device, attempt, .. } => {
                    self.model.attempts.insert(attempt, (job, task, device));
                }
                Event::AttemptChanged { attempt, state, .. } => {
                    let fate = match state {
                        AttemptState::Failed | AttemptState::Stale => Some(Fate::Failed),
                        AttemptState::Cancelled => Some(Fate::NoOutcome),
                        // Which abandonment it is, the command says (below).
                        AttemptState::Abandoned => Some(match cmd.kind {
                            CommandKind::RemoveDevice { device } if self.model.attempts[&attempt].2 == device => {
                                Fate::Failed
                            }
                            _ => Fate::NoOutcome,
                        }),
                        _ => None,
                    };
                    if let Some(f) = fate {
                        self.model.fates.insert(attempt, f);
                    }
                }
                _ => {}
            }
        }
        self.log.push(cmd);
        self.events.extend(out.iter().cloned());
        Ok(out)
    }

    /// A command the engine must refuse without changing anything.
    fn refused(&mut self, kind: CommandKind, at: i64) {
        let before = self.engine.clone();
        let mut out = Vec::new();
        assert!(self.engine.apply(&Command { at: Timestamp(at), kind }, &mut out).is_err());
        assert!(out.is_empty());
        assert!(self.engine == before, "a refused command changed nothing");
    }
}

fn job_name(j: usize) -> String {
    format!("job-{j}")
}

fn chunk(task: u32) -> Chunk {
    Chunk { index: task, offset: u64::from(task), len: 1 }
}

fn value_meta(job: JobId, task: u32, value: Option<u64>) -> ResultMeta {
    let name = job_name(job.0 as usize);
    match value {
        None => Synthetic::expected(&name, &chunk(task)),
        Some(salt) => Synthetic::incorrect(&name, &chunk(task), salt),
    }
}

fn device_state(i: usize, b: Behaviour, europe: bool) -> Device {
    Device {
        processor_score: Some(50.0 + (i as f64 * 37.0) % 450.0),
        trusted: b == Behaviour::SelfPromoter,
        region: Some(if europe { Region::Europe } else { Region::Americas }),
        ..Device::new(format!("dev-{i:03}"))
    }
}

fn run(s: &Scenario) -> World {
    let mut w = World {
        engine: Engine::new(config()).unwrap(),
        log: Vec::new(),
        events: Vec::new(),
        now: 1_795_662_000_000,
        rng: ChaCha8Rng::seed_from_u64(s.seed),
        model: Model::default(),
        watch: watch::Watch::new(config().quorum, config().credibility),
    };
    let behaviour: Vec<Behaviour> = s.devices.iter().map(|&b| BEHAVIOURS[b]).collect();
    let mut ids = Vec::new();
    for (i, &b) in behaviour.iter().enumerate() {
        let device = device_state(i, b, i % 3 == 0);
        let out = w.apply(CommandKind::RegisterDevice { device, owner: format!("owner-{}", i % 4) }).unwrap();
        let Event::DeviceRegistered { device, .. } = out[0] else { panic!("{out:?}") };
        if b == Behaviour::Trusted {
            w.apply(CommandKind::SetTrust { device, trusted: true }).unwrap();
        }
        ids.push(device);
    }
    w.apply(CommandKind::Tick).unwrap();
    for (j, &(chunks, trusted, replication)) in s.jobs.iter().enumerate() {
        let mut spec = JobSpec::new(job_name(j), chunks);
        spec.preferences.trusted = trusted;
        spec.replication = replication;
        if j % 2 == 0 {
            // Every pool: the devices of the lowest ones get work too.
            spec.preferences.byte_level = byterank_core::job::ByteLevel::High;
        }
        spec.price_chips = ByteChips(1000 * chunks + 7);
        // Replicas the grid cannot hold: the first job refuses them, the
        // second waits for devices until its deadline, the third accepts
        // unverified results.
        match j % 3 {
            1 => spec.deadline_s = Some(2 * 3_600),
            2 => spec.accept_unverified = true,
            _ => {}
        }
        if j == 2 {
            spec.preferences.regions = Regions::Only(vec![Region::Europe]);
        }
        // A job nobody may run is refused, and the refusal changes nothing.
        let before = w.engine.clone();
        if w.apply(CommandKind::SubmitJob { job: spec, user: format!("user-{j}") }).is_err() {
            assert!(w.engine == before);
        }
    }
    let mut held: BTreeMap<DeviceId, Vec<Held>> = BTreeMap::new();
    let mut away: BTreeMap<DeviceId, i64> = BTreeMap::new();
    let mut offline: BTreeMap<DeviceId, i64> = BTreeMap::new();
    let mut reported: Vec<(DeviceId, AttemptId)> = Vec::new();
    let mut round = 0u64;
    while w.now < 1_795_662_000_000 + HORIZON_MS && w.engine.jobs().any(|(_, st)| st == JobStatus::Running) {
        round += 1;
        w.now += STEP_MS;
        for (i, &d) in ids.iter().enumerate() {
            let b = behaviour[i];
            // Rejoiners leave now and then, and come back later under their id.
            if let Some(&back) = away.get(&d) {
                if w.now >= back {
                    away.remove(&d);
                    let device = device_state(i, b, i % 3 == 0);
                    let before = w.engine.device(d).unwrap().faults;
                    let out = w.apply(CommandKind::RegisterDevice { device, owner: format!("owner-{}", i % 4) });
                    assert_eq!(out.unwrap()[0], Event::DeviceRegistered { device: d, id: format!("dev-{i:03}") });
                    assert_eq!(w.engine.device(d).unwrap().faults, before, "its history came back");
                }
                continue;
            }
            if b == Behaviour::Rejoiner && w.rng.random_bool(0.01) {
                w.apply(CommandKind::RemoveDevice { device: d }).unwrap();
                held.remove(&d);
                away.insert(d, w.now + 120_000);
                continue;
            }
            // Any device may drop offline for a while, mid-task, and say so.
            if let Some(&back) = offline.get(&d) {
                if w.now < back {
                    continue;
                }
                offline.remove(&d);
                w.apply(CommandKind::UpdateDevice { device: d, state: device_state(i, b, i % 3 == 0) }).unwrap();
            } else if w.rng.random_bool(0.004) {
                let state = Device { online: Some(false), ..device_state(i, b, i % 3 == 0) };
                w.apply(CommandKind::UpdateDevice { device: d, state }).unwrap();
                offline.insert(d, w.now + 90_000);
                continue;
            }
            if b == Behaviour::SelfPromoter && w.rng.random_bool(0.05) {
                w.apply(CommandKind::UpdateDevice { device: d, state: device_state(i, b, i % 3 == 0) }).unwrap();
            }
            let mine = held.entry(d).or_default();
            let mut keep = Vec::new();
            for h in mine.drain(..) {
                if w.model.fates.contains_key(&h.attempt) {
                    continue; // The engine ended it (stale, cancelled, abandoned).
                }
                if !matches!(h.plan, Plan::Silent | Plan::Late) {
                    w.apply(CommandKind::Heartbeat { device: d, attempt: h.attempt }).unwrap();
                    if w.model.fates.contains_key(&h.attempt) {
                        continue; // That heartbeat came past the hard deadline.
                    }
                }
                if w.now < h.due || matches!(h.plan, Plan::Silent | Plan::Hang) {
                    keep.push(h);
                    continue;
                }
                let (kind, value) = match h.plan {
                    Plan::Error => (CommandKind::ReportError { device: d, attempt: h.attempt }, None),
                    Plan::Malformed => (
                        CommandKind::ReportResult { device: d, attempt: h.attempt, result: ResultMeta::default() },
                        None,
                    ),
                    Plan::Wrong(salt) => (
                        CommandKind::ReportResult {
                            device: d,
                            attempt: h.attempt,
                            result: value_meta(h.job, h.task, Some(salt)),
                        },
                        Some(Some(salt)),
                    ),
                    _ => (
                        CommandKind::ReportResult {
                            device: d,
                            attempt: h.attempt,
                            result: value_meta(h.job, h.task, None),
                        },
                        Some(None),
                    ),
                };
                let out = w.apply(kind).unwrap();
                reported.push((d, h.attempt));
                let late = out.iter().any(|e| matches!(e, Event::LateReport { .. }));
                if !late && !w.model.fates.contains_key(&h.attempt) {
                    let fate = match (h.plan, value) {
                        (Plan::Malformed, _) => Fate::Malformed,
                        (_, Some(v)) => Fate::Reported(v),
                        _ => unreachable!("errors are failed by the engine's event"),
                    };
                    w.model.fates.insert(h.attempt, fate);
                    if let Some(v) = value {
                        w.model.values.insert(h.attempt, v);
                    }
                }
            }
            *held.get_mut(&d).unwrap() = keep;
            // Pull while hands are free.
            while held[&d].len() < 2 {
                let out = w.apply(CommandKind::Pull { device: d }).unwrap();
                let Some(&Event::TaskAssigned { job, task, attempt, .. }) = out.first() else { break };
                let bad = w.rng.random_bool(s.mischief);
                let plan = match b {
                    Behaviour::Honest | Behaviour::Trusted | Behaviour::Rejoiner => Plan::Honest,
                    _ if !bad => Plan::Honest,
                    Behaviour::Crasher => Plan::Silent,
                    Behaviour::Hanger => Plan::Hang,
                    Behaviour::Late => Plan::Late,
                    Behaviour::Erring => Plan::Error,
                    Behaviour::Liar if w.rng.random_bool(0.2) => Plan::Malformed,
                    Behaviour::Liar | Behaviour::SelfPromoter => Plan::Wrong(attempt.0 + 1),
                    Behaviour::Colluder => Plan::Wrong(COLLUSION),
                };
                let due = w.now
                    + if plan == Plan::Late {
                        w.rng.random_range(181_000..195_000)
                    } else {
                        w.rng.random_range(1..4) * STEP_MS
                    };
                held.get_mut(&d).unwrap().push(Held { attempt, job, task, plan, due });
            }
        }
        // Ticks come every 15 s: deadlines must also hold between them.
        if round.is_multiple_of(3) {
            w.apply(CommandKind::Tick).unwrap();
        }
        if s.cancel && round == 40 {
            let first = w.engine.jobs().filter(|(_, st)| *st == JobStatus::Running).last();
            if let Some((job, _)) = first {
                w.apply(CommandKind::CancelJob { job }).unwrap();
            }
        }
        if round.is_multiple_of(97) {
            // Bad input changes nothing: unknown device, command from the past,
            // a second report for an attempt already reported.
            w.refused(CommandKind::Pull { device: DeviceId(9_999) }, w.now);
            w.refused(CommandKind::Tick, w.now - 1);
            if let Some(&(d, a)) = reported.last() {
                if w.engine.device(d).is_some() && !away.contains_key(&d) {
                    w.refused(CommandKind::ReportError { device: d, attempt: a }, w.now);
                }
            }
        }
    }
    w
}

/// The model's bounties: the workers' 70% of the price, split over equal chunks
/// by largest remainder (ties to the lower index).
fn bounties(price: u64, tasks: usize) -> Vec<u64> {
    let share = price * 7 / 10;
    let (base, extra) = (share / tasks as u64, (share % tasks as u64) as usize);
    (0..tasks).map(|t| base + u64::from(t < extra)).collect()
}

fn check(s: &Scenario, w: &World) -> Result<(), TestCaseError> {
    let behaviour: Vec<Behaviour> = s.devices.iter().map(|&b| BEHAVIOURS[b]).collect();
    let trusted_device = |d: DeviceId| behaviour[d.0 as usize] == Behaviour::Trusted;
    let m = &w.model;

    // Every job ends, exactly once, without the driver forcing anything.
    let mut ends: BTreeMap<JobId, usize> = BTreeMap::new();
    let mut accepted: BTreeMap<JobId, (usize, u32, u64)> = BTreeMap::new();
    let mut replicas: BTreeMap<JobId, Replicas> = BTreeMap::new();
    for e in &w.events {
        match e {
            Event::JobAccepted { job, id, tasks, copies, price, replicas: r, .. } => {
                let index: usize = id.trim_start_matches("job-").parse().unwrap();
                prop_assert_eq!(*tasks as u64, s.jobs[index].0);
                accepted.insert(*job, (*tasks as usize, *copies, price.0));
                prop_assert_eq!(r.placed, *copies);
                prop_assert_eq!(r.asked, r.placed + r.unplaced);
                // Copies the grid could not hold run only as the job asked.
                let short = r.unplaced > 0;
                let how = if !short {
                    ReplicaStatus::Met
                } else if s.jobs[index].1 {
                    ReplicaStatus::Trusted
                } else if index % 3 == 2 {
                    ReplicaStatus::Unverified
                } else {
                    ReplicaStatus::Waiting
                };
                prop_assert_eq!(r.status, how, "{}", id);
                prop_assert!(!short || !index.is_multiple_of(3) || s.jobs[index].1, "{} should have been refused", id);
                replicas.insert(*job, *r);
            }
            Event::JobCompleted { job, .. } | Event::JobCancelled { job } => *ends.entry(*job).or_default() += 1,
            Event::JobFailed { job, reason } => {
                prop_assert!(!reason.is_empty());
                *ends.entry(*job).or_default() += 1;
            }
            _ => {}
        }
    }
    for (job, status) in w.engine.jobs() {
        prop_assert_ne!(status, JobStatus::Running, "{:?} still running after {} ms", job, HORIZON_MS);
        prop_assert_eq!(ends.get(&job), Some(&1), "{:?} ended once", job);
    }

    // Copies: never two of a task on one device; trusted-only jobs on devices the
    // operator trusts; self-promoters are never trusted.
    let trusted_jobs: BTreeSet<JobId> =
        s.jobs.iter().enumerate().filter(|(_, j)| j.1).filter_map(|(i, _)| w.engine.job_id(&job_name(i))).collect();
    let mut copies: BTreeSet<(DeviceId, JobId, u32)> = BTreeSet::new();
    for (&attempt, &(job, task, device)) in &m.attempts {
        prop_assert!(copies.insert((device, job, task)), "{:?} got task {} of {:?} twice", device, task, job);
        prop_assert!(!trusted_jobs.contains(&job) || trusted_device(device), "{:?} on an untrusted device", attempt);
    }
    for (i, b) in behaviour.iter().enumerate() {
        let d = w.engine.device(DeviceId(i as u32)).unwrap();
        prop_assert_eq!(d.trusted, *b == Behaviour::Trusted, "device {} trusted as the operator said", i);
    }

    // Verdicts: which value each task was decided on, and what excuses a wrong one.
    let mut verdict: BTreeMap<(JobId, u32), (AttemptId, bool)> = BTreeMap::new();
    for e in &w.events {
        if let Event::TaskValidated { job, task, attempt, unverified, .. } = e {
            prop_assert!(verdict.insert((*job, *task), (*attempt, *unverified)).is_none(), "one verdict per task");
        }
    }
    let reports_of = |job: JobId, task: u32| -> Vec<(DeviceId, Option<u64>)> {
        m.values
            .iter()
            .filter(|(a, _)| m.attempts[a].0 == job && m.attempts[a].1 == task)
            .map(|(a, v)| (m.attempts[a].2, *v))
            .collect()
    };
    for (&(job, task), &(attempt, unverified)) in &verdict {
        let value = m.values.get(&attempt).copied();
        prop_assert!(value.is_some(), "{:?} task {}: decided on a result the engine was not given", job, task);
        let value = value.unwrap();
        let reports = reports_of(job, task);
        let (tasks, planned, _) = accepted[&job];
        if unverified {
            // Unverified only where the job asked one copy of a task, or
            // accepted unverified results for copies its grid could not hold.
            let r = replicas[&job];
            prop_assert!(
                r.asked < 2 * tasks as u32 || r.status == ReplicaStatus::Unverified,
                "{:?}: tasks asked with two copies are cross-checked ({:?}, {} planned)",
                job,
                r,
                planned
            );
            prop_assert!(!trusted_device(m.attempts[&attempt].2));
        }
        if reports.iter().any(|(d, _)| trusted_device(*d)) {
            prop_assert_eq!(value, None, "{:?} task {}: a trusted device reported, yet a wrong result won", job, task);
        }
        if let Some(salt) = value {
            let agreeing = reports.iter().filter(|(_, v)| *v == Some(salt)).count();
            prop_assert!(
                (salt == COLLUSION && agreeing >= 2) || (unverified && agreeing == 1),
                "{:?} task {}: a wrong result won with {} agreeing and nothing to excuse it",
                job,
                task,
                agreeing
            );
        }
    }

    // Assembly: every task once, from its verdict.
    for e in &w.events {
        if let Event::JobCompleted { job, results, unverified } = e {
            let (tasks, _, _) = accepted[job];
            prop_assert_eq!(results.len(), tasks, "one result per task");
            prop_assert_eq!(results.iter().collect::<BTreeSet<_>>().len(), tasks, "no result assembled twice");
            for (task, a) in results.iter().enumerate() {
                prop_assert_eq!(verdict.get(&(*job, task as u32)).map(|v| v.0), Some(*a), "assembled its verdict");
            }
            let counted = (0..tasks).filter(|&t| verdict[&(*job, t as u32)].1).count();
            prop_assert_eq!(*unverified as usize, counted);
        }
    }

    // Money, from the model's bounties and the events.
    let mut paid: BTreeMap<(JobId, u32), Vec<(DeviceId, u64)>> = BTreeMap::new();
    let mut refunds: BTreeMap<JobId, u64> = BTreeMap::new();
    let mut unverified_wallets: BTreeMap<String, u64> = BTreeMap::new();
    for e in &w.events {
        match e {
            Event::RewardCredited { device, job, task, amount, unverified } => {
                // Paid as unverified exactly when its task was decided so.
                let decided_unverified = verdict.get(&(*job, *task)).map(|v| v.1);
                prop_assert_eq!(Some(*unverified), decided_unverified, "{:?} task {}", job, task);
                if *unverified {
                    *unverified_wallets.entry(format!("owner-{}", device.0 % 4)).or_default() += amount.0;
                }
                paid.entry((*job, *task)).or_default().push((*device, amount.0));
            }
            Event::Refunded { job, amount, .. } => *refunds.entry(*job).or_default() += amount.0,
            _ => {}
        }
    }
    let mut platform = 0u64;
    let mut wallets: BTreeMap<String, u64> = BTreeMap::new();
    for (&job, &(tasks, _, price)) in &accepted {
        let bounty = bounties(price, tasks);
        let mut paid_job = 0;
        let mut refund = 0;
        for task in 0..tasks as u32 {
            let got = paid.get(&(job, task)).cloned().unwrap_or_default();
            match verdict.get(&(job, task)) {
                None => {
                    prop_assert!(got.is_empty(), "{:?} task {}: paid without a verdict", job, task);
                    refund += bounty[task as usize];
                }
                Some(&(attempt, _)) => {
                    let value = m.values[&attempt];
                    let agreeing: BTreeSet<DeviceId> =
                        reports_of(job, task).into_iter().filter(|(_, v)| *v == value).map(|(d, _)| d).collect();
                    let each = bounty[task as usize] / agreeing.len() as u64;
                    let expected: BTreeSet<(DeviceId, u64)> =
                        if each == 0 { BTreeSet::new() } else { agreeing.iter().map(|&d| (d, each)).collect() };
                    prop_assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), expected, "{:?} task {}", job, task);
                    prop_assert_eq!(got.len(), if each == 0 { 0 } else { agreeing.len() });
                    for (d, amount) in got {
                        paid_job += amount;
                        *wallets.entry(format!("owner-{}", d.0 % 4)).or_default() += amount;
                    }
                }
            }
        }
        let completed = w.engine.job_status(job) == Some(JobStatus::Completed);
        prop_assert_eq!(refunds.get(&job).copied().unwrap_or(0), if completed { 0 } else { refund });
        platform += price - paid_job - if completed { 0 } else { refund };
    }
    let ledger = w.engine.ledger();
    prop_assert_eq!(ledger.platform.0, platform, "the platform holds the rest of every price");
    prop_assert_eq!(ledger.escrow, ByteChips::ZERO);
    let engine_wallets: BTreeMap<String, u64> = ledger.wallets.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    prop_assert_eq!(engine_wallets, wallets);
    let engine_unverified: BTreeMap<String, u64> = ledger.unverified.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    prop_assert_eq!(engine_unverified, unverified_wallets, "unverified earnings kept apart");

    // Fault histories: one outcome per attempt of a decided task, as caused.
    let mut expected: BTreeMap<DeviceId, (usize, usize, usize)> = BTreeMap::new(); // (all, failed, incorrect)
    for (&attempt, &(job, task, device)) in &m.attempts {
        let Some(&(decided, _)) = verdict.get(&(job, task)) else { continue };
        let truth = m.values[&decided];
        let e = expected.entry(device).or_default();
        match m.fates.get(&attempt) {
            Some(Fate::Reported(v)) => {
                e.0 += 1;
                e.2 += usize::from(*v != truth);
            }
            Some(Fate::Malformed) => {
                e.0 += 1;
                e.2 += 1;
            }
            Some(Fate::Failed) => {
                e.0 += 1;
                e.1 += 1;
            }
            Some(Fate::NoOutcome) => {}
            None => prop_assert!(false, "{:?} of a decided task never ended", attempt),
        }
    }
    for (i, _) in behaviour.iter().enumerate() {
        let d = DeviceId(i as u32);
        let h = w.engine.device(d).unwrap().faults;
        let (all, failed, incorrect) = expected.get(&d).copied().unwrap_or_default();
        prop_assert_eq!(h.len(), all.min(20), "device {}: one outcome per attempt", i);
        if all <= 20 {
            let bits = |f: &dyn Fn(byterank_core::fault::Outcome) -> bool| {
                (0..h.len()).filter(|&k| f(h.get(k).unwrap())).count()
            };
            prop_assert_eq!(bits(&|o| o.failed), failed, "device {}: failures", i);
            prop_assert_eq!(bits(&|o| o.incorrect), incorrect, "device {}: incorrect results", i);
        }
    }

    // Replaying the command log from the same start reproduces the state exactly.
    let mut again = Engine::new(config()).unwrap();
    let events =
        byterank_core::engine::replay(&mut again, &w.log).map_err(|(i, e)| TestCaseError::fail(format!("{i}: {e}")))?;
    prop_assert!(events == w.events, "replay gives the same events");
    prop_assert!(again == w.engine, "replay gives the same state");
    #[cfg(feature = "serde")]
    {
        let state = serde_json::to_string(&w.engine).unwrap();
        prop_assert_eq!(serde_json::to_string(&again).unwrap(), state.clone());
        // A snapshot taken midway, restored, plus the rest of the journal, is the
        // same engine as the whole journal replayed (spec §16).
        let half = w.log.len() / 2;
        let mut first = Engine::new(config()).unwrap();
        byterank_core::engine::replay(&mut first, &w.log[..half]).unwrap();
        let snapshot = serde_json::to_string(&first).unwrap();
        let mut restored: Engine = serde_json::from_str(&snapshot).unwrap();
        prop_assert!(restored == first, "a snapshot restores the state it was taken of");
        let rest = byterank_core::engine::replay(&mut restored, &w.log[half..]).unwrap();
        prop_assert!(rest[..] == w.events[w.events.len() - rest.len()..], "the tail gives the same events");
        prop_assert!(restored == w.engine, "snapshot + tail == full replay");
        prop_assert_eq!(serde_json::to_string(&restored).unwrap(), state);
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("ENGINE_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn adversaries_never_win_what_they_could_not_and_every_job_ends(s in scenario()) {
        let w = run(&s);
        check(&s, &w)?;
    }
}

#[test]
fn a_quiet_grid_completes_a_replicated_job_and_pays_every_copy() {
    let s = Scenario {
        devices: vec![0; 10],
        jobs: vec![(12, false, Some(ReplicationGoal::R(2.0)))],
        mischief: 0.0,
        cancel: false,
        seed: 1,
    };
    let w = run(&s);
    check(&s, &w).unwrap();
    assert_eq!(w.engine.job_status(JobId(0)), Some(JobStatus::Completed));
    // 70% of 12,007 is 8,404: 12 bounties of 700 (four of 701), each split over two
    // agreeing copies; the odd chips of the four stay with the platform. No
    // device is trusted, so nothing could check a pair: the plain quorum decides.
    let paid: u64 = w.engine.ledger().wallets.values().map(|c| c.0).sum();
    assert_eq!(paid, 8_400);
    assert_eq!(w.engine.ledger().platform.0, 12_007 - 8_400);
}

#[test]
fn a_short_grid_refuses_waits_or_runs_unverified_as_each_job_asked() {
    // Two honest devices, one in Europe; three jobs asking three copies a task:
    // the first is refused, the second waits for devices until its deadline,
    // the third (Europe only: one device) accepts unverified results.
    let r3 = Some(ReplicationGoal::R(3.0));
    let s = Scenario {
        devices: vec![0, 0],
        jobs: vec![(4, false, r3), (4, false, r3), (4, false, r3)],
        mischief: 0.0,
        cancel: false,
        seed: 5,
    };
    let w = run(&s);
    check(&s, &w).unwrap();
    let statuses: Vec<(String, ReplicaStatus)> = w
        .events
        .iter()
        .filter_map(|e| match e {
            Event::JobAccepted { id, replicas, .. } => Some((id.clone(), replicas.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [(job_name(1), ReplicaStatus::Waiting), (job_name(2), ReplicaStatus::Unverified)],
        "the first job was refused"
    );
    assert!(w.engine.job_id(&job_name(0)).is_none());
    let unverified = w.events.iter().filter(|e| matches!(e, Event::RewardCredited { unverified: true, .. })).count();
    assert_eq!(unverified, 4, "the Europe-only job's four tasks, each paid once as unverified");
}

#[test]
fn colluders_lose_to_a_trusted_device_and_to_honest_quorums() {
    // Half the grid colludes on every attempt; trusted devices are there to decide.
    let s = Scenario {
        devices: vec![7, 7, 7, 7, 7, 0, 0, 0, 1, 1],
        jobs: vec![(10, false, Some(ReplicationGoal::R(2.0))), (6, false, Some(ReplicationGoal::R(3.0)))],
        mischief: 1.0,
        cancel: false,
        seed: 3,
    };
    let w = run(&s);
    check(&s, &w).unwrap();
    let wrong_won = w
        .events
        .iter()
        .filter(|e| matches!(e, Event::TaskValidated { attempt, .. } if w.model.values.get(attempt) == Some(&Some(COLLUSION))))
        .count();
    let disputes = w
        .events
        .iter()
        .filter(|e| matches!(e, Event::TaskRescued { need: byterank_core::engine::RescueNeed::Arbitration, .. }))
        .count();
    assert!(disputes > 0, "colluders met honest copies");
    // Colluders win only where two of them held both copies before anyone else.
    assert!(wrong_won < 16, "{wrong_won}");
}

#[test]
fn faults_are_exercised() {
    // A check on the driver itself: with every kind of adversary, the engine sees
    // every kind of trouble (over a few seeds: which trouble a run meets depends
    // on what the engine decided), and still ends every job.
    let mut events = Vec::new();
    let mut checked = (0, 0);
    for seed in [7, 8, 9] {
        let s = Scenario {
            devices: (0..10).chain(0..10).chain([0, 0, 1, 1]).collect(),
            jobs: vec![
                (120, false, Some(ReplicationGoal::R(2.0))),
                (80, false, Some(ReplicationGoal::MaxPjf(0.05))),
                (40, true, None),
            ],
            mischief: 0.4,
            cancel: true,
            seed,
        };
        let w = run(&s);
        check(&s, &w).unwrap();
        assert!(w.events.iter().any(|e| matches!(e, Event::JobCompleted { .. })), "seed {seed}: a job completed");
        checked.0 += w.watch.verdicts_checked;
        checked.1 += w.watch.tasks_checked;
        events.extend(w.events);
    }
    let count = |f: &dyn Fn(&Event) -> bool| events.iter().filter(|e| f(e)).count();
    let state = |st: AttemptState| count(&|e| matches!(e, Event::AttemptChanged { state, .. } if *state == st));
    for st in [
        AttemptState::Failed,
        AttemptState::Stale,
        AttemptState::Delayed,
        AttemptState::Incorrect,
        AttemptState::Completed,
        AttemptState::Abandoned,
    ] {
        assert!(state(st) > 0, "no {st:?} in {} events", events.len());
    }
    assert!(count(&|e| matches!(e, Event::TaskRescued { .. })) > 0);
    assert!(count(&|e| matches!(e, Event::LateReport { .. })) > 0);
    assert!(count(&|e| matches!(e, Event::DeviceRemoved { .. })) > 0);
    assert!(checked.0 > 0 && checked.1 > 0, "the per-command rules ran");
}
