//! Failure attribution (spec §11c): attempts that end because of their device
//! (stale by silence or the hard deadline, the device leaving) never fail a job;
//! error reports and failed integrity checks fail a task once they come from
//! `max_failures` distinct devices. A driver keeps its own model of which
//! devices erred on which task and checks the engine's verdict at every command.

use std::collections::{BTreeMap, BTreeSet};

use byterank_core::application::{Chunk, ResultMeta, Synthetic};
use byterank_core::device::Device;
use byterank_core::engine::{
    AttemptError, AttemptId, Command, CommandKind, DeviceId, Engine, EngineConfig, EngineError, Event,
    FailureAttribution, JobId, JobStatus,
};
use byterank_core::job::{ByteLevel, JobSpec};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;
use proptest::prelude::*;

/// Short deadlines so a test walks through many attempts: T1 1 s, T2 3 s, hard
/// deadline 10 s.
fn config(max_failures: u32, attribution: FailureAttribution) -> EngineConfig {
    EngineConfig {
        t1_ms: 1_000,
        t2_ms: 3_000,
        max_attempt_ms: 10_000,
        rescue_wait_ms: 0,
        max_failures,
        failure_attribution: attribution,
        ..EngineConfig::default()
    }
}

struct T {
    engine: Engine,
    now: i64,
    events: Vec<Event>,
}

impl T {
    /// `n` devices, best first.
    fn new(cfg: EngineConfig, n: usize) -> (T, Vec<DeviceId>) {
        let mut t = T { engine: Engine::new(cfg).unwrap(), now: 1_795_662_000_000, events: Vec::new() };
        let d = (0..n).map(|i| t.register(i)).collect();
        t.ok(CommandKind::Tick);
        (t, d)
    }

    fn register(&mut self, i: usize) -> DeviceId {
        let device = Device { processor_score: Some(500.0 - 10.0 * i as f64), ..Device::new(format!("d{i}")) };
        match self.ok(CommandKind::RegisterDevice { device, owner: format!("o{i}") })[..] {
            [Event::DeviceRegistered { device, .. }] => device,
            ref other => panic!("{other:?}"),
        }
    }

    fn apply(&mut self, kind: CommandKind) -> Result<Vec<Event>, EngineError> {
        let mut out = Vec::new();
        self.engine.apply(&Command { at: Timestamp(self.now), kind }, &mut out)?;
        if let Err(e) = self.engine.audit() {
            panic!("{e}");
        }
        self.events.extend(out.iter().cloned());
        Ok(out)
    }

    fn ok(&mut self, kind: CommandKind) -> Vec<Event> {
        self.apply(kind).unwrap()
    }

    /// A single-copy job of `chunks` tasks.
    fn submit(&mut self, chunks: u64) -> JobId {
        let mut j = JobSpec::new("j", chunks);
        j.preferences.byte_level = ByteLevel::High;
        j.pools.c_min = Some(0.0);
        j.pools.s_min = Some(2);
        j.price_chips = ByteChips(1000);
        match self.ok(CommandKind::SubmitJob { job: j, user: "u".into() })[..] {
            [.., Event::JobAccepted { job, .. }] => job,
            ref other => panic!("{other:?}"),
        }
    }

    fn pull(&mut self, device: DeviceId) -> Option<(u32, AttemptId)> {
        self.ok(CommandKind::Pull { device }).iter().find_map(|e| match e {
            Event::TaskAssigned { task, attempt, .. } => Some((*task, *attempt)),
            _ => None,
        })
    }

    fn right(&mut self, device: DeviceId, attempt: AttemptId, task: u32) {
        let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
        let result: ResultMeta = Synthetic::expected("j", &chunk);
        self.ok(CommandKind::ReportResult { device, attempt, result });
    }

    fn malformed(&mut self, device: DeviceId, attempt: AttemptId) {
        self.ok(CommandKind::ReportResult { device, attempt, result: ResultMeta::default() });
    }

    fn error(&mut self, device: DeviceId, attempt: AttemptId) {
        self.ok(CommandKind::ReportError { device, attempt });
    }

    /// Lets `ms` pass in steps of one second, ticking, while `beating` send
    /// heartbeats (those still running).
    fn wait(&mut self, ms: i64, beating: &[(DeviceId, AttemptId)]) {
        for _ in 0..ms / 1_000 {
            self.now += 1_000;
            for &(device, attempt) in beating {
                if self.engine.attempt(attempt).is_some() {
                    self.ok(CommandKind::Heartbeat { device, attempt });
                }
            }
            self.ok(CommandKind::Tick);
        }
    }

    fn status(&self, job: JobId) -> JobStatus {
        self.engine.job_status(job).unwrap()
    }

    fn fail_reason(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match e {
            Event::JobFailed { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
    }
}

/// How a device treats the copy it pulled.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    /// Returns the right result.
    Right,
    /// Reports an error: points at the task.
    Error,
    /// Returns a result that fails integrity: points at the task.
    Malformed,
    /// Goes silent: stale at T2, points at the device.
    Crash,
    /// Heartbeats until the hard deadline makes it stale.
    Slow,
    /// Leaves the grid (and registers again later).
    Leave,
}

/// Each device in turn takes the job's one task and treats it as `acts` says;
/// the job's status after each.
fn walk(t: &mut T, d: &[DeviceId], job: JobId, acts: &[Act]) -> Vec<JobStatus> {
    let mut after = Vec::new();
    for (&dev, &act) in d.iter().zip(acts) {
        let (task, a) = t.pull(dev).expect("an untried device gets the task");
        match act {
            Act::Right => t.right(dev, a, task),
            Act::Error => t.error(dev, a),
            Act::Malformed => t.malformed(dev, a),
            Act::Crash => t.wait(4_000, &[]),
            Act::Slow => t.wait(11_000, &[(dev, a)]),
            Act::Leave => {
                t.ok(CommandKind::RemoveDevice { device: dev });
            }
        }
        after.push(t.status(job));
    }
    after
}

#[test]
fn crashing_slow_and_leaving_devices_never_fail_the_job() {
    use Act::*;
    let acts = [Crash, Slow, Leave, Crash, Slow, Leave, Crash, Right];
    let (mut t, d) = T::new(config(2, FailureAttribution::Task), acts.len());
    let job = t.submit(1);
    let after = walk(&mut t, &d, job, &acts);
    assert!(after[..acts.len() - 1].iter().all(|s| *s == JobStatus::Running), "{after:?}");
    assert_eq!(t.status(job), JobStatus::Completed, "{:?}", t.fail_reason());
    // The verdict is final: each device's own outcome is on its history.
    for (i, act) in acts.iter().enumerate() {
        if matches!(act, Crash | Slow) {
            let faults = &t.engine.device(d[i]).unwrap().faults;
            assert_eq!(faults.len(), 1, "device {i} ({act:?}) has its stale attempt on its history");
        }
    }

    // Today's rule, on the same walk: the second stale attempt fails the job.
    let (mut t, d) = T::new(config(2, FailureAttribution::Any), acts.len());
    let job = t.submit(1);
    let after = walk(&mut t, &d, job, &acts[..2]);
    assert_eq!(after, [JobStatus::Running, JobStatus::Failed]);
    assert_eq!(t.fail_reason(), Some("task 0 failed 2 times"));
}

#[test]
fn a_task_erring_on_max_failures_distinct_devices_fails_its_job() {
    use Act::*;
    let acts = [Error, Crash, Malformed, Leave, Slow, Error, Right];
    let (mut t, d) = T::new(config(3, FailureAttribution::Task), acts.len());
    let job = t.submit(1);
    let after = walk(&mut t, &d, job, &acts[..6]);
    assert!(after[..5].iter().all(|s| *s == JobStatus::Running), "{after:?}");
    assert_eq!(after[5], JobStatus::Failed);
    assert_eq!(t.fail_reason(), Some("task 0 failed on 3 distinct devices"));
    // The task failed its job: its failures are the system's, on nobody's history.
    assert!(d.iter().all(|&x| t.engine.device(x).is_none_or(|dev| dev.faults.is_empty())));
}

#[test]
fn the_same_device_erring_twice_counts_once() {
    let (mut t, d) = T::new(config(2, FailureAttribution::Task), 2);
    let job = t.submit(1);
    let (task, a) = t.pull(d[0]).unwrap();
    t.error(d[0], a);
    // Its second word on the attempt is refused, and changes nothing.
    assert_eq!(
        t.apply(CommandKind::ReportError { device: d[0], attempt: a }),
        Err(AttemptError::AttemptEnded { attempt: a }.into())
    );
    // Leaving and coming back does not wash the task's record of it: it never
    // gets the task again, so it cannot err on it twice.
    t.ok(CommandKind::RemoveDevice { device: d[0] });
    assert_eq!(t.register(0), d[0]);
    t.wait(31_000, &[]);
    assert_eq!(t.pull(d[0]), None);
    assert_eq!(t.status(job), JobStatus::Running);
    let (again, b) = t.pull(d[1]).unwrap();
    assert_eq!(again, task);
    t.error(d[1], b);
    assert_eq!(t.status(job), JobStatus::Failed, "two distinct devices");
}

#[test]
fn a_task_every_device_tried_starves_only_after_starve_ms() {
    let cfg = EngineConfig { starve_ms: 60_000, ..config(5, FailureAttribution::Task) };
    let (mut t, d) = T::new(cfg, 2);
    let job = t.submit(1);
    walk(&mut t, &d, job, &[Act::Crash, Act::Crash]);
    t.wait(50_000, &[]);
    assert_eq!(t.status(job), JobStatus::Running, "a device joining may still take it");
    t.wait(20_000, &[]);
    assert_eq!(t.status(job), JobStatus::Failed);
    assert!(t.fail_reason().unwrap().contains("every device that may run it has tried it"));
}

/// What the driver knows of one run: per task, the devices that erred on it
/// and whether its verdict is final.
#[derive(Default)]
struct Model {
    erred: BTreeMap<u32, BTreeSet<DeviceId>>,
    decided: BTreeSet<u32>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Devices of random habits (right results, errors, malformed results,
    /// silence, stalls, departures) work a job of a few tasks, round after round
    /// (departed devices come back the next round). At every command the job
    /// has failed exactly when the model says a task erred on `max_failures`
    /// distinct devices; no crash, stall or departure ever fails it.
    #[test]
    fn only_tasks_that_err_on_max_failures_devices_fail_the_job(
        habits in proptest::collection::vec(proptest::collection::vec(0u8..10, 3), 10),
        max_failures in 1u32..4,
    ) {
        let (mut t, d) = T::new(config(max_failures, FailureAttribution::Task), habits.len());
        let job = t.submit(3);
        let mut m = Model::default();
        let mut gone: Vec<usize> = Vec::new();
        let mut expect_failed = false;
        for _round in 0..12 {
            for i in gone.drain(..) {
                prop_assert_eq!(t.register(i), d[i]);
            }
            let mut slow = Vec::new();
            for (i, &dev) in d.iter().enumerate() {
                if t.status(job) != JobStatus::Running {
                    break;
                }
                let Some((task, a)) = t.pull(dev) else { continue };
                match habits[i][task as usize] {
                    0..=3 => {
                        t.right(dev, a, task);
                        m.decided.insert(task);
                    }
                    4 | 5 => {
                        if habits[i][task as usize] == 4 {
                            t.error(dev, a);
                        } else {
                            t.malformed(dev, a);
                        }
                        let erred = m.erred.entry(task).or_default();
                        erred.insert(dev);
                        expect_failed |= erred.len() as u32 >= max_failures;
                    }
                    6 | 7 => {}
                    8 => slow.push((dev, a)),
                    _ => {
                        t.ok(CommandKind::RemoveDevice { device: dev });
                        gone.push(i);
                    }
                }
                let failed = t.status(job) == JobStatus::Failed;
                prop_assert_eq!(failed, expect_failed, "{:?}", t.fail_reason());
            }
            // Crashed copies go stale at T2, slow ones at the hard deadline.
            t.wait(11_000, &slow);
            prop_assert_eq!(t.status(job) == JobStatus::Failed, expect_failed, "{:?}", t.fail_reason());
        }
        match t.status(job) {
            JobStatus::Failed => {
                prop_assert!(t.fail_reason().unwrap().contains("distinct devices"), "{:?}", t.fail_reason());
            }
            JobStatus::Completed => prop_assert_eq!(m.decided.len(), 3),
            _ => {}
        }
    }
}
