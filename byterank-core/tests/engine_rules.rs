//! The engine's rules, one scenario each, with exact expectations.

use byterank_core::application::{Chunk, Synthetic};
use byterank_core::device::Device;
use byterank_core::engine::{
    AttemptId, AttemptState, Command, CommandKind, DeviceId, Engine, EngineConfig, EngineError, Event, JobId, JobStatus,
};
use byterank_core::job::{JobSpec, ReplicationGoal};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;

struct T {
    engine: Engine,
    now: i64,
}

impl T {
    /// Devices `d0..dn`, best first (processor scores fall), trusted where asked.
    fn new(trusted: &[bool]) -> (T, Vec<DeviceId>) {
        let mut t = T { engine: Engine::new(EngineConfig::default()), now: 1_795_662_000_000 };
        let mut ids = Vec::new();
        for (i, &tr) in trusted.iter().enumerate() {
            let device =
                Device { processor_score: Some(500.0 - 50.0 * i as f64), trusted: tr, ..Device::new(format!("d{i}")) };
            match t.ok(CommandKind::RegisterDevice { device, owner: format!("o{i}") })[..] {
                [Event::DeviceRegistered { device, .. }] => ids.push(device),
                ref other => panic!("{other:?}"),
            }
        }
        t.ok(CommandKind::Tick);
        (t, ids)
    }

    fn apply(&mut self, kind: CommandKind) -> Result<Vec<Event>, EngineError> {
        let mut out = Vec::new();
        self.engine.apply(&Command { at: Timestamp(self.now), kind }, &mut out)?;
        assert!(self.engine.ledger().conserves());
        Ok(out)
    }

    fn ok(&mut self, kind: CommandKind) -> Vec<Event> {
        self.apply(kind).unwrap()
    }

    fn submit(&mut self, job: JobSpec) -> JobId {
        match self.ok(CommandKind::SubmitJob { job, user: "u".into() })[..] {
            [Event::JobAccepted { job, .. }] => job,
            ref other => panic!("{other:?}"),
        }
    }

    /// Pulls; the task and attempt, or None.
    fn pull(&mut self, device: DeviceId) -> Option<(u32, AttemptId)> {
        match self.ok(CommandKind::Pull { device })[..] {
            [Event::TaskAssigned { task, attempt, .. }] => Some((task, attempt)),
            [Event::NoTask { .. }] => None,
            ref other => panic!("{other:?}"),
        }
    }

    fn report(&mut self, device: DeviceId, attempt: AttemptId, job: &str, task: u32, right: bool) -> Vec<Event> {
        let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
        let result = if right {
            Synthetic::expected(job, &chunk)
        } else {
            Synthetic::incorrect(job, &chunk, u64::from(device.0))
        };
        self.ok(CommandKind::ReportResult { device, attempt, result })
    }

    fn at(&mut self, ms: i64) {
        self.now += ms;
    }
}

fn job(id: &str, chunks: u64) -> JobSpec {
    let mut j = JobSpec::new(id, chunks);
    j.preferences.byte_level = byterank_core::job::ByteLevel::High;
    j.pools.c_min = Some(0.0);
    j.pools.s_min = Some(2);
    j.price_chips = ByteChips(1000);
    j
}

#[test]
fn pulls_take_the_own_pool_then_lower_pools_never_higher() {
    let (mut t, d) = T::new(&[false; 6]);
    // Pools of two, best first: {d0,d1} {d2,d3} {d4,d5}. Six copies dealt
    // round-robin: pool 1 gets tasks 0 and 3, pool 2 gets 1 and 4, pool 3 gets 2 and 5.
    t.submit(job("j", 6));
    assert_eq!(t.pull(d[4]).map(|x| x.0), Some(2));
    assert_eq!(t.pull(d[4]).map(|x| x.0), Some(5));
    assert_eq!(t.pull(d[4]), None, "two tasks in hand at most");
    assert_eq!(t.pull(d[5]), None, "pool 3 is empty, and work is never taken from higher pools");
    assert_eq!(t.pull(d[0]).map(|x| x.0), Some(0));
    assert_eq!(t.pull(d[1]).map(|x| x.0), Some(3));
    assert_eq!(t.pull(d[1]).map(|x| x.0), Some(1), "pool 1 is empty: inherit from pool 2");
    assert_eq!(t.pull(d[3]).map(|x| x.0), Some(4));
}

#[test]
fn no_heartbeat_for_t1_is_delayed_for_t2_is_stale_and_the_task_is_rescued() {
    let (mut t, d) = T::new(&[true, false, false, false]);
    let j = t.submit(job("j", 1));
    // The only copy sits in pool 1 ({d0, d1}); d1 takes it and goes quiet.
    let (task, a) = t.pull(d[1]).unwrap();
    t.at(59_999);
    assert!(t.ok(CommandKind::Tick).iter().all(|e| !matches!(e, Event::AttemptChanged { .. })));
    t.at(1);
    let delayed = t.ok(CommandKind::Tick);
    assert!(delayed.contains(&Event::AttemptChanged {
        job: j,
        task,
        attempt: a,
        device: d[1],
        state: AttemptState::Delayed
    }));
    // A heartbeat now keeps it alive for T2 from now, but it stays delayed.
    t.ok(CommandKind::Heartbeat { device: d[1], attempt: a });
    t.at(179_999);
    assert!(t
        .ok(CommandKind::Tick)
        .iter()
        .all(|e| !matches!(e, Event::AttemptChanged { state: AttemptState::Stale, .. })));
    t.at(1);
    let stale = t.ok(CommandKind::Tick);
    assert!(stale.contains(&Event::AttemptChanged {
        job: j,
        task,
        attempt: a,
        device: d[1],
        state: AttemptState::Stale
    }));
    assert!(stale.contains(&Event::TaskRescued { job: j, task }));
    assert_eq!(
        t.apply(CommandKind::ReportResult { device: d[1], attempt: a, result: Default::default() }),
        Err(EngineError::AttemptEnded(a)),
        "a result after T2 is refused"
    );
    assert_eq!(t.pull(d[1]), None, "d1 never gets a second copy of the task");
    // Not yet recorded against d1: only once the task validates elsewhere.
    assert!(t.engine.device(d[1]).unwrap().faults.is_empty());
    // d0 is trusted and the best-ranked device: it serves the rescue queue.
    let (again, b) = t.pull(d[0]).unwrap();
    assert_eq!(again, task);
    let done = t.report(d[0], b, "j", task, true);
    assert!(done.iter().any(|e| matches!(e, Event::JobCompleted { .. })));
    let h = t.engine.device(d[1]).unwrap().faults;
    assert_eq!(h.get(0).map(|o| (o.failed, o.delayed)), Some((true, true)));
}

#[test]
fn a_disagreement_goes_to_a_trusted_arbiter_and_the_loser_is_incorrect() {
    let (mut t, d) = T::new(&[true, false, false, false, false, false]);
    let mut spec = job("j", 1);
    spec.replication = Some(ReplicationGoal::R(2.0));
    let j = t.submit(spec);
    // The two copies sit in pools 1 and 2; d1 and d2 take them.
    let mut copies = Vec::new();
    for &dev in &d[1..] {
        if let Some((_, a)) = t.pull(dev) {
            copies.push((dev, a));
        }
    }
    assert_eq!(copies.len(), 2);
    let (good, bad) = (copies[0], copies[1]);
    let first = t.report(good.0, good.1, "j", 0, true);
    assert!(first.contains(&Event::TaskValidated { job: j, task: 0, attempt: good.1 }));
    let second = t.report(bad.0, bad.1, "j", 0, false);
    assert!(second.contains(&Event::TaskRescued { job: j, task: 0 }), "{second:?}");
    // d0 is trusted and the best: it serves the rescue queue first.
    let (task, arb) = t.pull(d[0]).unwrap();
    assert_eq!(task, 0);
    let verdict = t.report(d[0], arb, "j", 0, true);
    assert!(verdict.contains(&Event::AttemptChanged {
        job: j,
        task: 0,
        attempt: bad.1,
        device: bad.0,
        state: AttemptState::Incorrect
    }));
    assert!(verdict.iter().any(|e| matches!(e, Event::JobCompleted { results, .. } if results == &[good.1])));
    assert!(t.engine.device(bad.0).unwrap().faults.get(0).unwrap().incorrect);
    assert!(!t.engine.device(good.0).unwrap().faults.get(0).unwrap().incorrect);
    // 700 of the 1000 chips go to the task; its two valid results share it.
    let paid: Vec<(DeviceId, u64)> = verdict
        .iter()
        .filter_map(|e| match e {
            Event::RewardCredited { device, amount, .. } => Some((*device, amount.0)),
            _ => None,
        })
        .collect();
    assert_eq!(paid, [(good.0, 350), (d[0], 350)]);
    assert_eq!(t.engine.ledger().platform, ByteChips(300));
}

#[test]
fn when_the_trusted_rescue_fails_too_the_fault_is_the_systems() {
    let (mut t, d) = T::new(&[true, false, false, false]);
    t.submit(job("j", 1));
    let (dev, a) = d[1..].iter().find_map(|&dev| t.pull(dev).map(|(_, a)| (dev, a))).unwrap();
    let failed = t.ok(CommandKind::ReportError { device: dev, attempt: a });
    assert!(failed.iter().any(|e| matches!(e, Event::TaskRescued { .. })));
    let (_, rescue) = t.pull(d[0]).unwrap();
    t.ok(CommandKind::ReportError { device: d[0], attempt: rescue });
    assert!(t.engine.device(dev).unwrap().faults.is_empty(), "not recorded against the worker");
}

#[test]
fn refused_commands_change_nothing() {
    let (mut t, d) = T::new(&[false, false, false]);
    t.submit(job("j", 2));
    let (task, a) = t.pull(d[0]).unwrap();
    t.report(d[0], a, "j", task, true);
    let (_, b) = t.pull(d[0]).unwrap();
    let before = t.engine.clone();
    let cases = [
        (
            CommandKind::ReportResult { device: d[0], attempt: a, result: Default::default() },
            EngineError::AttemptEnded(a),
        ),
        (CommandKind::ReportError { device: d[1], attempt: b }, EngineError::NotHolder { attempt: b, device: d[1] }),
        (CommandKind::Heartbeat { device: d[0], attempt: AttemptId(99) }, EngineError::UnknownAttempt(AttemptId(99))),
        (CommandKind::Pull { device: DeviceId(42) }, EngineError::UnknownDevice(DeviceId(42))),
        (CommandKind::CancelJob { job: JobId(7) }, EngineError::UnknownJob(JobId(7))),
        (
            CommandKind::RegisterDevice { device: Device::new("d1"), owner: "x".into() },
            EngineError::DuplicateDevice("d1".into()),
        ),
        (CommandKind::SubmitJob { job: job("j", 1), user: "u".into() }, EngineError::DuplicateJob("j".into())),
    ];
    for (kind, error) in cases {
        assert_eq!(t.apply(kind), Err(error));
        assert!(t.engine == before);
    }
    let mut nobody = job("n", 1);
    nobody.preferences.trusted = true;
    assert!(matches!(t.apply(CommandKind::SubmitJob { job: nobody, user: "u".into() }), Err(EngineError::Plan(_))));
    assert!(t.engine == before, "a job nobody may run is refused and changes nothing");
    let mut odd = job("k", 1);
    odd.application = "render".into();
    assert!(matches!(
        t.apply(CommandKind::SubmitJob { job: odd, user: "u".into() }),
        Err(EngineError::UnknownApplication(..))
    ));
    let mut past = Vec::new();
    assert!(matches!(
        t.engine.apply(&Command { at: Timestamp(t.now - 1), kind: CommandKind::Tick }, &mut past),
        Err(EngineError::TimeWentBack { .. })
    ));
    assert!(t.engine == before);
}

#[test]
fn cancelling_pays_validated_work_and_refunds_the_rest() {
    let (mut t, d) = T::new(&[false, false]);
    let j = t.submit(job("j", 4)); // 700 chips of bounties, 175 a task
    let (task, a) = t.pull(d[0]).unwrap();
    t.report(d[0], a, "j", task, true);
    let events = t.ok(CommandKind::CancelJob { job: j });
    assert!(events.contains(&Event::JobCancelled { job: j }));
    assert!(events.contains(&Event::Refunded { user: "u".into(), job: j, amount: ByteChips(525) }));
    let ledger = t.engine.ledger();
    assert_eq!(ledger.wallets["o0"], ByteChips(175));
    assert_eq!(ledger.platform, ByteChips(300));
    assert_eq!(ledger.escrow, ByteChips::ZERO);
    assert_eq!(t.engine.job_status(j), Some(JobStatus::Cancelled));
    assert_eq!(t.apply(CommandKind::CancelJob { job: j }), Err(EngineError::JobEnded(j)));
}
