//! Replicas as asked (spec §11c, last bullet): a job whose replication its
//! grid cannot meet is refused with the shortfall named, runs with unverified
//! results only when its user accepted them, or waits for devices until its
//! deadline. The driver keeps its own model of who ran what and what each owner
//! earns (bounties from the price, by the rules of spec §13), and checks the
//! engine's events and ledger against it.

use std::collections::BTreeMap;

use byterank_core::application::{Chunk, Synthetic};
use byterank_core::device::Device;
use byterank_core::engine::{
    AdmissionError, AttemptId, Command, CommandKind, DeviceId, Engine, EngineConfig, EngineError, Event, JobStatus,
    ReplicaStatus, ReplicationAdmission, SubmitError,
};
use byterank_core::job::{JobSpec, ReplicationGoal};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;

/// Tasks of every job here, and its price: 700 ByteChips for the workers,
/// 140 per task, 70 to each of two agreeing copies.
const TASKS: u64 = 5;
const PRICE: u64 = 1_000;
const BOUNTY: u64 = PRICE * 7 / 10 / TASKS;

struct Driver {
    engine: Engine,
    now: i64,
    events: Vec<Event>,
    /// Which device ran each attempt, and of which task.
    attempts: BTreeMap<AttemptId, (DeviceId, u32)>,
}

impl Driver {
    fn new(cfg: EngineConfig, devices: usize) -> (Driver, Vec<DeviceId>) {
        let mut d = Driver {
            engine: Engine::new(cfg).unwrap(),
            now: 1_795_662_000_000,
            events: Vec::new(),
            attempts: BTreeMap::new(),
        };
        let ids = (0..devices).map(|i| d.register(i)).collect();
        d.ok(CommandKind::Tick);
        (d, ids)
    }

    fn register(&mut self, i: usize) -> DeviceId {
        let device = Device { processor_score: Some(500.0), ..Device::new(format!("d{i}")) };
        match self.ok(CommandKind::RegisterDevice { device, owner: format!("owner-{i}") })[..] {
            [Event::DeviceRegistered { device, .. }] => device,
            ref other => panic!("{other:?}"),
        }
    }

    fn apply(&mut self, kind: CommandKind) -> Result<Vec<Event>, EngineError> {
        let mut out = Vec::new();
        self.engine.apply(&Command { at: Timestamp(self.now), kind }, &mut out)?;
        assert!(self.engine.ledger().conserves());
        if let Err(e) = self.engine.audit() {
            panic!("{e}");
        }
        self.events.extend(out.iter().cloned());
        Ok(out)
    }

    fn ok(&mut self, kind: CommandKind) -> Vec<Event> {
        self.apply(kind).unwrap()
    }

    fn tick_after(&mut self, ms: i64) -> Vec<Event> {
        self.now += ms;
        self.ok(CommandKind::Tick)
    }

    /// Pulls once; on a copy, reports the right result at once.
    fn work(&mut self, device: DeviceId, job: &str) -> bool {
        let [Event::TaskAssigned { task, attempt, .. }] = self.ok(CommandKind::Pull { device })[..] else {
            return false;
        };
        self.attempts.insert(attempt, (device, task));
        let result = Synthetic::expected(job, &Chunk { index: task, offset: u64::from(task), len: 1 });
        self.ok(CommandKind::ReportResult { device, attempt, result });
        true
    }

    /// Every device pulls and works until none gets a copy.
    fn work_all(&mut self, devices: &[DeviceId], job: &str) {
        while devices.iter().fold(false, |any, &d| self.work(d, job) | any) {}
    }

    fn owner_of(&self, device: DeviceId) -> String {
        self.engine.owner(device).unwrap().to_string()
    }
}

fn job(id: &str) -> JobSpec {
    JobSpec { price_chips: ByteChips(PRICE), replication: Some(ReplicationGoal::R(2.0)), ..JobSpec::new(id, TASKS) }
}

fn submit(d: &mut Driver, spec: JobSpec) -> Result<Vec<Event>, EngineError> {
    d.apply(CommandKind::SubmitJob { job: spec, user: "alice".into() })
}

fn accepted_replicas(events: &[Event]) -> byterank_core::engine::Replicas {
    match events.last() {
        Some(Event::JobAccepted { replicas, .. }) => *replicas,
        other => panic!("not accepted: {other:?}"),
    }
}

/// What the events say each owner earned, verified and unverified apart.
fn earnings(d: &Driver) -> BTreeMap<(String, bool), u64> {
    let mut paid = BTreeMap::new();
    for e in &d.events {
        if let Event::RewardCredited { device, amount, unverified, .. } = e {
            *paid.entry((d.owner_of(*device), *unverified)).or_default() += amount.0;
        }
    }
    paid
}

#[test]
fn one_device_refuses_r2_naming_the_shortfall_and_changes_nothing() {
    let (mut d, _) = Driver::new(EngineConfig::default(), 1);
    let before = d.engine.clone();
    let at = Timestamp(d.now);
    let err = submit(&mut d, job("j")).unwrap_err();
    let EngineError::Submit(SubmitError::Admission(AdmissionError::ReplicationShortfall {
        per_task,
        devices,
        asked,
        unplaced,
        ..
    })) = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*per_task, *devices, *asked, *unplaced), (2, 1, 2 * TASKS, TASKS));
    let message = err.to_string();
    for words in ["replication r = 2", "2 distinct devices per task", "have 1", "accept_unverified", "deadline_s"] {
        assert!(message.contains(words), "`{message}` says `{words}`");
    }
    assert_eq!(d.engine, before, "a refused job changes nothing");
    assert_eq!(d.engine.ledger().charged.get("alice"), None, "nothing charged");
    // A quote is refused the same way.
    assert_eq!(d.engine.quote(&job("j"), at).unwrap_err().to_string(), message);
}

#[test]
fn accepting_unverified_runs_and_reports_every_task_unverified() {
    let (mut d, devices) = Driver::new(EngineConfig::default(), 1);
    let quote = d.engine.quote(&JobSpec { accept_unverified: true, ..job("j") }, Timestamp(d.now)).unwrap();
    let events = submit(&mut d, JobSpec { accept_unverified: true, ..job("j") }).unwrap();
    let r = accepted_replicas(&events);
    assert_eq!(quote.replicas, r, "the quote said what acceptance does");
    assert_eq!(
        (r.asked, r.placed, r.unplaced, r.devices, r.per_task, r.short_tasks, r.status),
        (2 * TASKS as u32, TASKS as u32, TASKS as u32, 1, 2, TASKS as u32, ReplicaStatus::Unverified)
    );
    d.work_all(&devices, "j");
    let handle = d.engine.job_id("j").unwrap();
    assert_eq!(d.engine.job_status(handle), Some(JobStatus::Completed));
    let validated: Vec<bool> = d
        .events
        .iter()
        .filter_map(|e| match e {
            Event::TaskValidated { unverified, .. } => Some(*unverified),
            _ => None,
        })
        .collect();
    assert_eq!(validated, vec![true; TASKS as usize], "every task decided by one untrusted result");
    assert!(d
        .events
        .iter()
        .any(|e| matches!(e, Event::JobCompleted { unverified, .. } if *unverified == TASKS as u32)));
    // The model: the one owner ran every task, each once; an unverified
    // result earns its task's bounty, paid as unverified.
    assert_eq!(d.attempts.len(), TASKS as usize);
    let owner = d.owner_of(devices[0]);
    let want = BTreeMap::from([((owner.clone(), true), TASKS * BOUNTY)]);
    assert_eq!(earnings(&d), want);
    let ledger = d.engine.ledger();
    assert_eq!(ledger.wallets[&owner].0, TASKS * BOUNTY);
    assert_eq!(ledger.unverified[&owner].0, TASKS * BOUNTY, "the ledger keeps unverified earnings apart");
}

#[test]
fn a_deadline_waits_for_a_second_device_and_completes_verified() {
    let (mut d, mut devices) = Driver::new(EngineConfig::default(), 1);
    let events = submit(&mut d, JobSpec { deadline_s: Some(3_600), ..job("j") }).unwrap();
    assert_eq!(accepted_replicas(&events).status, ReplicaStatus::Waiting);
    d.work_all(&devices, "j");
    assert_eq!(d.attempts.len(), TASKS as usize, "the one device ran each task once");
    // Ten minutes of ticks: no verdict with one device, nothing paid, and the
    // job still waits (its copies no device may take do not fail it).
    for _ in 0..20 {
        d.tick_after(30_000);
        d.work_all(&devices, "j");
    }
    assert!(!d.events.iter().any(|e| matches!(e, Event::TaskValidated { .. } | Event::RewardCredited { .. })));
    let handle = d.engine.job_id("j").unwrap();
    assert_eq!(d.engine.job_status(handle), Some(JobStatus::Running));

    devices.push(d.register(1));
    for _ in 0..4 {
        d.tick_after(30_000);
        d.work_all(&devices, "j");
    }
    assert_eq!(d.engine.job_status(handle), Some(JobStatus::Completed), "{:#?}", d.events.last());
    // The model: every task ran on both devices, once each.
    let mut ran: BTreeMap<u32, Vec<DeviceId>> = BTreeMap::new();
    for (device, task) in d.attempts.values() {
        ran.entry(*task).or_default().push(*device);
    }
    assert_eq!(ran.len(), TASKS as usize);
    for (task, on) in &ran {
        let mut on = on.clone();
        on.sort();
        assert_eq!(on, devices, "task {task} ran once on each device");
    }
    assert!(d.events.iter().all(|e| !matches!(e, Event::TaskValidated { unverified: true, .. })));
    let want: BTreeMap<(String, bool), u64> =
        devices.iter().map(|&dev| ((d.owner_of(dev), false), TASKS * (BOUNTY / 2))).collect();
    assert_eq!(earnings(&d), want, "each agreeing copy earns half its task's bounty, as verified");
    assert!(d.engine.ledger().unverified.is_empty());
}

/// A copy left in a pool queue whose every device already ran its task is moved
/// to the rescue queue when a pull meets it, not left for the stalled-job
/// rescue (here an hour away): a device that joins later takes it at once.
#[test]
fn copies_no_device_of_their_pool_may_take_are_rescued_at_once() {
    let cfg = EngineConfig { rescue_wait_ms: 3_600_000, ..EngineConfig::default() };
    let (mut d, mut devices) = Driver::new(cfg, 1);
    submit(&mut d, JobSpec { deadline_s: Some(7_200), ..job("j") }).unwrap();
    d.work_all(&devices, "j");
    let rescued = d.events.iter().filter(|e| matches!(e, Event::TaskRescued { .. })).count();
    assert_eq!(rescued, TASKS as usize, "each task's copy the device could not take");
    devices.push(d.register(1));
    d.tick_after(30_000);
    d.work_all(&devices, "j");
    let handle = d.engine.job_id("j").unwrap();
    assert_eq!(d.engine.job_status(handle), Some(JobStatus::Completed), "{:#?}", d.events.last());
    assert!(d.events.iter().all(|e| !matches!(e, Event::TaskValidated { unverified: true, .. })));
}

#[test]
fn a_deadline_with_no_second_device_fails_the_job_and_pays_nothing() {
    let (mut d, devices) = Driver::new(EngineConfig::default(), 1);
    submit(&mut d, JobSpec { deadline_s: Some(600), ..job("j") }).unwrap();
    let handle = d.engine.job_id("j").unwrap();
    d.work_all(&devices, "j");
    // Up to its deadline (600 s after submission) the job runs.
    for _ in 0..19 {
        d.tick_after(30_000);
        assert_eq!(d.engine.job_status(handle), Some(JobStatus::Running));
    }
    let events = d.tick_after(30_000);
    let reason = events
        .iter()
        .find_map(|e| match e {
            Event::JobFailed { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .expect("failed at its deadline");
    assert!(reason.contains("deadline") && reason.contains("600"), "{reason}");
    assert_eq!(d.engine.job_status(handle), Some(JobStatus::Failed));
    assert!(earnings(&d).is_empty(), "no result was cross-checked, none was paid");
    let ledger = d.engine.ledger();
    assert_eq!(ledger.refunded["alice"].0, TASKS * BOUNTY, "every bounty went back");
    assert_eq!(ledger.platform.0, PRICE - TASKS * BOUNTY);
}

#[test]
fn a_deadline_fails_a_running_job_even_when_replicas_are_met() {
    let (mut d, devices) = Driver::new(EngineConfig::default(), 2);
    let events = submit(&mut d, JobSpec { deadline_s: Some(60), ..job("j") }).unwrap();
    assert_eq!(accepted_replicas(&events).status, ReplicaStatus::Met);
    let handle = d.engine.job_id("j").unwrap();
    d.tick_after(59_999);
    assert_eq!(d.engine.job_status(handle), Some(JobStatus::Running));
    d.tick_after(1);
    assert_eq!(d.engine.job_status(handle), Some(JobStatus::Failed));
    assert!(!d.work(devices[0], "j"), "an ended job gives no copies");
}

#[test]
fn lenient_admission_runs_today_s_way() {
    let cfg = EngineConfig { replication_admission: ReplicationAdmission::Lenient, ..EngineConfig::default() };
    let (mut d, devices) = Driver::new(cfg, 1);
    let r = accepted_replicas(&submit(&mut d, job("j")).unwrap());
    assert_eq!((r.placed, r.unplaced, r.status), (TASKS as u32, TASKS as u32, ReplicaStatus::Unverified));
    d.work_all(&devices, "j");
    assert_eq!(d.engine.job_status(d.engine.job_id("j").unwrap()), Some(JobStatus::Completed));
    let owner = d.owner_of(devices[0]);
    assert_eq!(earnings(&d), BTreeMap::from([((owner, true), TASKS * BOUNTY)]), "paid as unverified");
}

#[test]
fn met_replication_is_reported_and_never_unverified() {
    let (mut d, devices) = Driver::new(EngineConfig::default(), 3);
    let r = accepted_replicas(&submit(&mut d, job("j")).unwrap());
    assert_eq!(
        (r.asked, r.placed, r.unplaced, r.devices, r.short_tasks, r.status),
        (2 * TASKS as u32, 2 * TASKS as u32, 0, 3, 0, ReplicaStatus::Met)
    );
    d.work_all(&devices, "j");
    assert_eq!(d.engine.job_status(d.engine.job_id("j").unwrap()), Some(JobStatus::Completed));
    assert!(earnings(&d).keys().all(|(_, unverified)| !unverified));
}
