//! The engine under random grids, jobs and fault schedules: crashes, errors,
//! disconnects, late and wrong results, devices leaving for good. A small driver
//! plays the workers; the properties of issue #4 are checked on what comes out.

use std::collections::{BTreeMap, BTreeSet};

use byterank_core::application::{Chunk, Synthetic};
use byterank_core::device::{Device, Region};
use byterank_core::engine::{
    AttemptId, AttemptState, Command, CommandKind, DeviceId, Engine, EngineConfig, EngineError, Event, JobId, JobStatus,
};
use byterank_core::job::{JobSpec, Regions, ReplicationGoal};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STEP_MS: i64 = 5_000;

#[derive(Clone, Copy, Debug)]
struct Faults {
    error: f64,
    wrong: f64,
    silent: f64,
    late: f64,
    leave: f64,
}

#[derive(Clone, Debug)]
struct Scenario {
    devices: usize,
    trusted_share: f64,
    jobs: Vec<(u64, bool, Option<ReplicationGoal>)>,
    faults: Faults,
    seed: u64,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        8usize..30,
        0.2..0.8f64,
        prop::collection::vec(
            (
                1u64..25,
                prop::bool::weighted(0.3),
                prop_oneof![
                    Just(None),
                    Just(Some(ReplicationGoal::R(2.0))),
                    Just(Some(ReplicationGoal::R(1.5))),
                    Just(Some(ReplicationGoal::MaxPjf(0.05)))
                ],
            ),
            1..4,
        ),
        (0.0..0.2f64, 0.0..0.2f64, 0.0..0.1f64, 0.0..0.1f64, 0.0..0.01f64),
        any::<u64>(),
    )
        .prop_map(|(devices, trusted_share, jobs, (error, wrong, silent, late, leave), seed)| Scenario {
            devices,
            trusted_share,
            jobs,
            faults: Faults { error, wrong, silent, late, leave },
            seed,
        })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Plan {
    Good,
    Error,
    Wrong,
    Silent,
    Late,
}

struct Held {
    attempt: AttemptId,
    job: JobId,
    task: u32,
    plan: Plan,
    due: i64,
}

/// Drives an engine and keeps the log of everything it was told and said.
struct World {
    engine: Engine,
    log: Vec<Command>,
    events: Vec<Event>,
    now: i64,
    rng: ChaCha8Rng,
}

impl World {
    fn apply(&mut self, kind: CommandKind) -> Result<Vec<Event>, EngineError> {
        let cmd = Command { at: Timestamp(self.now), kind };
        let mut out = Vec::new();
        self.engine.apply(&cmd, &mut out)?;
        assert!(self.engine.ledger().conserves(), "the ledger conserves after {cmd:?}");
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

fn run(s: &Scenario) -> World {
    let mut w = World {
        engine: Engine::new(EngineConfig::default()),
        log: Vec::new(),
        events: Vec::new(),
        now: 1_795_662_000_000,
        rng: ChaCha8Rng::seed_from_u64(s.seed),
    };
    let mut ids = Vec::new();
    for i in 0..s.devices {
        let device = Device {
            processor_score: Some(w.rng.random_range(50.0..500.0)),
            trusted: w.rng.random_bool(s.trusted_share),
            region: Some(if i % 3 == 0 { Region::Europe } else { Region::Americas }),
            ..Device::new(format!("dev-{i:03}"))
        };
        let out = w.apply(CommandKind::RegisterDevice { device, owner: format!("owner-{}", i % 4) }).unwrap();
        let Event::DeviceRegistered { device, .. } = out[0] else { panic!("{out:?}") };
        ids.push(device);
    }
    w.apply(CommandKind::Tick).unwrap();
    for (j, &(chunks, trusted, replication)) in s.jobs.iter().enumerate() {
        let mut spec = JobSpec::new(job_name(j), chunks);
        spec.preferences.trusted = trusted;
        spec.replication = replication;
        spec.price_chips = ByteChips(1000 * chunks + 7);
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
    let mut live: Vec<DeviceId> = ids.clone();
    let mut reported: Vec<(DeviceId, AttemptId)> = Vec::new();
    for round in 0..600 {
        w.now += STEP_MS;
        let calm = round >= 200;
        // Devices leave for good.
        if !calm && live.len() > 4 && w.rng.random_bool(s.faults.leave) {
            let d = live.remove(w.rng.random_range(0..live.len()));
            w.apply(CommandKind::RemoveDevice { device: d }).unwrap();
            held.remove(&d);
        }
        for &d in &live {
            let mine = held.entry(d).or_default();
            // Work on what is in hand.
            let mut keep = Vec::new();
            for h in mine.drain(..) {
                if h.plan != Plan::Silent && (h.plan != Plan::Late || w.now >= h.due) {
                    let _ = w.apply(CommandKind::Heartbeat { device: d, attempt: h.attempt });
                }
                if w.now < h.due || h.plan == Plan::Silent {
                    keep.push(h);
                    continue;
                }
                let chunk = Chunk { index: h.task, offset: u64::from(h.task), len: 1 };
                let name = job_name(h.job.0 as usize);
                let kind = match h.plan {
                    Plan::Error => CommandKind::ReportError { device: d, attempt: h.attempt },
                    Plan::Wrong => CommandKind::ReportResult {
                        device: d,
                        attempt: h.attempt,
                        result: Synthetic::incorrect(&name, &chunk, u64::from(d.0)),
                    },
                    _ => CommandKind::ReportResult {
                        device: d,
                        attempt: h.attempt,
                        result: Synthetic::expected(&name, &chunk),
                    },
                };
                // The attempt may have gone stale or been abandoned meanwhile: then refused.
                if w.apply(kind).is_ok() {
                    reported.push((d, h.attempt));
                }
            }
            *mine = keep;
            // Pull while hands are free.
            while held[&d].len() < 2 {
                let out = w.apply(CommandKind::Pull { device: d }).unwrap();
                let Some(&Event::TaskAssigned { job, task, attempt, .. }) = out.first() else { break };
                let f = s.faults;
                let roll: f64 = w.rng.random();
                let plan = if calm {
                    Plan::Good
                } else if roll < f.error {
                    Plan::Error
                } else if roll < f.error + f.wrong {
                    Plan::Wrong
                } else if roll < f.error + f.wrong + f.silent {
                    Plan::Silent
                } else if roll < f.error + f.wrong + f.silent + f.late {
                    Plan::Late
                } else {
                    Plan::Good
                };
                let due = w.now + if plan == Plan::Late { 90_000 } else { w.rng.random_range(1..4) * STEP_MS };
                held.get_mut(&d).unwrap().push(Held { attempt, job, task, plan, due });
            }
        }
        w.apply(CommandKind::Tick).unwrap();
        // Forget attempts the engine ended (stale, abandoned).
        let ended: BTreeSet<AttemptId> = w
            .events
            .iter()
            .filter_map(|e| match e {
                Event::AttemptChanged { attempt, state: AttemptState::Stale | AttemptState::Abandoned, .. } => {
                    Some(*attempt)
                }
                _ => None,
            })
            .collect();
        for hs in held.values_mut() {
            hs.retain(|h| !ended.contains(&h.attempt));
        }
        if round % 97 == 0 {
            // Bad input changes nothing: unknown device, command from the past,
            // a second result for an attempt already reported.
            w.refused(CommandKind::Pull { device: DeviceId(9_999) }, w.now);
            w.refused(CommandKind::Tick, w.now - 1);
            if let Some(&(d, a)) = reported.last() {
                w.refused(CommandKind::ReportError { device: d, attempt: a }, w.now);
            }
        }
        if calm && w.engine.jobs().all(|(_, s)| s != JobStatus::Running) {
            break;
        }
    }
    w
}

fn check(s: &Scenario, w: &World) -> Result<(), TestCaseError> {
    // Every job ends, completed or failed with a reason, exactly once.
    let mut ends: BTreeMap<JobId, usize> = BTreeMap::new();
    for e in &w.events {
        match e {
            Event::JobCompleted { job, .. } | Event::JobCancelled { job } => *ends.entry(*job).or_default() += 1,
            Event::JobFailed { job, reason } => {
                prop_assert!(!reason.is_empty());
                *ends.entry(*job).or_default() += 1;
            }
            _ => {}
        }
    }
    for (job, status) in w.engine.jobs() {
        prop_assert_ne!(status, JobStatus::Running, "{:?} still running", job);
        prop_assert_eq!(ends.get(&job), Some(&1), "{:?} ended once", job);
    }
    prop_assert_eq!(w.engine.ledger().escrow, ByteChips::ZERO);
    // Every chip in a wallet was credited by an event, for a task that validated.
    let credited: u64 = w
        .events
        .iter()
        .filter_map(|e| match e {
            Event::RewardCredited { amount, .. } => Some(amount.0),
            _ => None,
        })
        .sum();
    prop_assert_eq!(credited, w.engine.ledger().wallets.values().map(|c| c.0).sum::<u64>());
    prop_assert!(w.engine.ledger().conserves());
    // Which device each attempt ran on; no device gets two copies of a task.
    let mut device_of: BTreeMap<AttemptId, DeviceId> = BTreeMap::new();
    let mut copies: BTreeSet<(DeviceId, JobId, u32)> = BTreeSet::new();
    let trusted_jobs: BTreeSet<JobId> =
        s.jobs.iter().enumerate().filter(|(_, j)| j.1).filter_map(|(i, _)| w.engine.job_id(&job_name(i))).collect();
    for e in &w.events {
        if let Event::TaskAssigned { job, task, device, attempt, .. } = e {
            prop_assert!(copies.insert((*device, *job, *task)), "{:?} got task {} of {:?} twice", device, task, job);
            device_of.insert(*attempt, *device);
            if trusted_jobs.contains(job) {
                prop_assert!(w.engine.device(*device).unwrap().trusted, "trusted-only job on an untrusted device");
            }
        }
    }
    // Completed jobs assemble every task once, from results that stood validated.
    let mut validated: BTreeMap<(JobId, u32), AttemptId> = BTreeMap::new();
    let mut incorrect: BTreeSet<AttemptId> = BTreeSet::new();
    for e in &w.events {
        match e {
            Event::TaskValidated { job, task, attempt } => {
                validated.insert((*job, *task), *attempt);
            }
            Event::AttemptChanged { attempt, state: AttemptState::Incorrect, .. } => {
                incorrect.insert(*attempt);
            }
            Event::JobCompleted { job, results } => {
                let scenario_index = (0..s.jobs.len()).find(|&i| w.engine.job_id(&job_name(i)) == Some(*job)).unwrap();
                let tasks = s.jobs[scenario_index].0 as usize;
                prop_assert_eq!(results.len(), tasks, "one result per task");
                let distinct: BTreeSet<_> = results.iter().collect();
                prop_assert_eq!(distinct.len(), tasks, "no result assembled twice");
                for (task, a) in results.iter().enumerate() {
                    prop_assert_eq!(
                        validated.get(&(*job, task as u32)),
                        Some(a),
                        "assembled from the validated result"
                    );
                    prop_assert!(!incorrect.contains(a), "assembled from an incorrect result");
                }
            }
            _ => {}
        }
    }
    // Replaying the command log from the same start reproduces the state exactly.
    let mut again = Engine::new(EngineConfig::default());
    let events =
        byterank_core::engine::replay(&mut again, &w.log).map_err(|(i, e)| TestCaseError::fail(format!("{i}: {e}")))?;
    prop_assert!(events == w.events, "replay gives the same events");
    prop_assert!(again == w.engine, "replay gives the same state");
    #[cfg(feature = "serde")]
    prop_assert_eq!(serde_json::to_string(&again).unwrap(), serde_json::to_string(&w.engine).unwrap());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn jobs_end_tasks_are_kept_money_is_conserved_and_replay_is_exact(s in scenario()) {
        let w = run(&s);
        check(&s, &w)?;
    }
}

#[test]
fn a_quiet_grid_completes_a_job_and_pays_its_workers() {
    let s = Scenario {
        devices: 10,
        trusted_share: 0.5,
        jobs: vec![(12, false, Some(ReplicationGoal::R(2.0)))],
        faults: Faults { error: 0.0, wrong: 0.0, silent: 0.0, late: 0.0, leave: 0.0 },
        seed: 1,
    };
    let w = run(&s);
    check(&s, &w).unwrap();
    assert_eq!(w.engine.job_status(JobId(0)), Some(JobStatus::Completed));
    let paid: u64 = w.engine.ledger().wallets.values().map(|c| c.0).sum();
    // 70% of 12,007, all tasks validated twice: bounties split in two, odd chips to the platform.
    assert!(paid > 8_300 && paid <= 8_404, "{paid}");
    assert_eq!(paid + w.engine.ledger().platform.0, 12_007);
}

#[test]
fn faults_are_exercised() {
    // A sanity check on the driver itself: with faults on, the engine sees every
    // kind of trouble, and still ends every job.
    let s = Scenario {
        devices: 24,
        trusted_share: 0.5,
        jobs: vec![
            (20, false, Some(ReplicationGoal::R(2.0))),
            (15, true, None),
            (10, false, Some(ReplicationGoal::MaxPjf(0.05))),
        ],
        faults: Faults { error: 0.1, wrong: 0.1, silent: 0.05, late: 0.05, leave: 0.005 },
        seed: 7,
    };
    let w = run(&s);
    check(&s, &w).unwrap();
    let count = |f: &dyn Fn(&Event) -> bool| w.events.iter().filter(|e| f(e)).count();
    let state = |st: AttemptState| count(&|e| matches!(e, Event::AttemptChanged { state, .. } if *state == st));
    for st in [
        AttemptState::Failed,
        AttemptState::Stale,
        AttemptState::Delayed,
        AttemptState::Incorrect,
        AttemptState::Completed,
    ] {
        assert!(state(st) > 0, "no {st:?} in {} events", w.events.len());
    }
    assert!(count(&|e| matches!(e, Event::TaskRescued { .. })) > 0);
    assert!(count(&|e| matches!(e, Event::DeviceRemoved { .. })) > 0);
    assert!(count(&|e| matches!(e, Event::JobCompleted { .. })) >= 1);
}
