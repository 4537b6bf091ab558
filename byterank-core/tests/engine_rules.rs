//! The engine's rules, one scenario each, with exact expectations.

use byterank_core::application::{Chunk, Chunks, ResultMeta, Synthetic};
use byterank_core::capacity::{capacity_score, CapacityConfig};
use byterank_core::device::{Device, Region};
use byterank_core::engine::{
    AttemptError, AttemptId, AttemptState, CancelError, Command, CommandKind, DeviceGone, DeviceId, Engine,
    EngineConfig, EngineError, Event, Idle, JobId, JobStatus, OperatorError, PullError, RegisterError, ReleaseError,
    RescueNeed, SubmitError, TimeError, UnknownDevice, UnknownJob,
};
use byterank_core::fault::Outcome;
use byterank_core::job::{JobSpec, Regions, ReplicationGoal};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;

struct T {
    engine: Engine,
    now: i64,
}

impl T {
    /// Devices `d0..dn`, best first (processor scores fall), the operator trusting
    /// those asked. Verdicts follow the plain quorum rule (credibility off): the
    /// scenarios here are about quorum, arbitration and rescue; credibility has
    /// its own tests (`tests/credibility.rs`).
    fn new(trusted: &[bool]) -> (T, Vec<DeviceId>) {
        let mut cfg = EngineConfig::default();
        cfg.credibility.enabled = false;
        T::with(cfg, trusted)
    }

    fn with(cfg: EngineConfig, trusted: &[bool]) -> (T, Vec<DeviceId>) {
        let mut t = T { engine: Engine::new(cfg).unwrap(), now: 1_795_662_000_000 };
        let mut ids = Vec::new();
        for (i, &tr) in trusted.iter().enumerate() {
            let device = Device { processor_score: Some(500.0 - 50.0 * i as f64), ..Device::new(format!("d{i}")) };
            let d = t.register(device);
            if tr {
                t.ok(CommandKind::SetTrust { device: d, trusted: true });
            }
            ids.push(d);
        }
        t.ok(CommandKind::Tick);
        (t, ids)
    }

    fn register(&mut self, device: Device) -> DeviceId {
        let owner = format!("o{}", &device.id[1..]);
        match self.ok(CommandKind::RegisterDevice { device, owner })[..] {
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
        Ok(out)
    }

    fn ok(&mut self, kind: CommandKind) -> Vec<Event> {
        self.apply(kind).unwrap()
    }

    fn submit(&mut self, job: JobSpec) -> JobId {
        match self.ok(CommandKind::SubmitJob { job, user: "u".into() })[..] {
            [.., Event::JobAccepted { job, .. }] => job,
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
        self.ok(CommandKind::ReportResult { device, attempt, result: result(job, task, right, device.0.into()) })
    }

    fn at(&mut self, ms: i64) {
        self.now += ms;
    }
}

fn result(job: &str, task: u32, right: bool, salt: u64) -> ResultMeta {
    let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
    if right {
        Synthetic::expected(job, &chunk)
    } else {
        Synthetic::incorrect(job, &chunk, salt)
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

fn replicated(id: &str, chunks: u64, r: f64) -> JobSpec {
    let mut j = job(id, chunks);
    j.replication = Some(ReplicationGoal::R(r));
    j
}

fn has(events: &[Event], f: impl Fn(&Event) -> bool) -> bool {
    events.iter().any(f)
}

fn state_of(events: &[Event], attempt: AttemptId) -> Vec<AttemptState> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::AttemptChanged { attempt: a, state, .. } if *a == attempt => Some(*state),
            _ => None,
        })
        .collect()
}

fn credited(events: &[Event]) -> Vec<(DeviceId, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::RewardCredited { device, amount, .. } => Some((*device, amount.0)),
            _ => None,
        })
        .collect()
}

/// Pulls from each device in turn until `n` copies are out; the (device, attempt) pairs.
fn take_copies(t: &mut T, devices: &[DeviceId], n: usize) -> Vec<(DeviceId, AttemptId)> {
    let mut got = Vec::new();
    for &d in devices {
        if got.len() == n {
            break;
        }
        if let Some((_, a)) = t.pull(d) {
            got.push((d, a));
        }
    }
    assert_eq!(got.len(), n, "{n} copies out");
    got
}

#[test]
fn pulls_take_the_own_pool_then_lower_pools_never_higher() {
    let (mut t, d) = T::new(&[false; 6]);
    // Pools of two, best first: {d0,d1} {d2,d3} {d4,d5}. Six copies dealt
    // round-robin: pool 1 gets tasks 0 and 3, pool 2 gets 1 and 4, pool 3 gets 2 and 5.
    let j = t.submit(job("j", 6));
    assert_eq!(t.engine.job_chunks(j).map(Chunks::len), Some(6));
    assert_eq!(t.pull(d[4]).map(|x| x.0), Some(2));
    assert_eq!(t.pull(d[4]).map(|x| x.0), Some(5));
    assert_eq!(t.ok(CommandKind::Pull { device: d[4] }), [Event::NoTask { device: d[4], reason: Idle::HandsFull }]);
    assert_eq!(
        t.ok(CommandKind::Pull { device: d[5] }),
        [Event::NoTask { device: d[5], reason: Idle::NothingForIt }],
        "pool 3 is empty, and work is never taken from higher pools"
    );
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
    assert!(!has(&t.ok(CommandKind::Tick), |e| matches!(e, Event::AttemptChanged { state: AttemptState::Stale, .. })));
    t.at(1);
    let stale = t.ok(CommandKind::Tick);
    assert_eq!(state_of(&stale, a), [AttemptState::Stale]);
    assert!(stale.contains(&Event::TaskRescued { job: j, task, need: RescueNeed::Copy }));
    assert_eq!(
        t.apply(CommandKind::ReportResult { device: d[1], attempt: a, result: Default::default() }),
        Err(AttemptError::AttemptEnded { attempt: a }.into()),
        "a result after the attempt went stale is refused"
    );
    assert_eq!(t.pull(d[1]), None, "d1 never gets a second copy of the task");
    // Not yet recorded against d1: only once the task's verdict is final elsewhere.
    assert!(t.engine.device(d[1]).unwrap().faults.is_empty());
    // d0 is trusted and the best-ranked device: it serves the rescue queue.
    let (again, b) = t.pull(d[0]).unwrap();
    assert_eq!(again, task);
    let done = t.report(d[0], b, "j", task, true);
    assert!(has(&done, |e| matches!(e, Event::JobCompleted { unverified: 0, .. })), "{done:?}");
    let h = t.engine.device(d[1]).unwrap().faults;
    assert_eq!(h.len(), 1, "one outcome for the one attempt");
    assert_eq!(h.get(0), Some(Outcome { failed: true, delayed: true, incorrect: false }));
}

#[test]
fn a_quorum_of_agreeing_replicas_makes_the_verdict_final_and_shares_the_bounty() {
    let (mut t, d) = T::new(&[false; 4]);
    let j = t.submit(replicated("j", 1, 2.0));
    let copies = take_copies(&mut t, &d, 2);
    let first = t.report(copies[0].0, copies[0].1, "j", 0, true);
    assert!(!has(&first, |e| matches!(e, Event::TaskValidated { .. } | Event::RewardCredited { .. })), "{first:?}");
    assert!(t.engine.device(copies[0].0).unwrap().faults.is_empty(), "a provisional result records nothing");
    let second = t.report(copies[1].0, copies[1].1, "j", 0, true);
    assert!(second.contains(&Event::TaskValidated {
        job: j,
        task: 0,
        attempt: copies[0].1,
        valid: 2,
        unverified: false
    }));
    assert_eq!(credited(&second), [(copies[0].0, 350), (copies[1].0, 350)]);
    assert!(has(
        &second,
        |e| matches!(e, Event::JobCompleted { results, unverified: 0, .. } if results == &[copies[0].1])
    ));
    for (dev, _) in copies {
        assert_eq!(t.engine.device(dev).unwrap().faults.get(0), Some(Outcome::default()));
    }
}

#[test]
fn a_disagreement_goes_to_a_trusted_arbiter_never_to_an_untrusted_device() {
    let (mut t, d) = T::new(&[true, false, false, false, false, false]);
    let j = t.submit(replicated("j", 3, 2.0));
    // The only trusted device is busy with two copies of other tasks.
    let busy: Vec<_> = (0..2).map(|_| t.pull(d[0]).unwrap()).collect();
    let copies: Vec<(DeviceId, AttemptId, u32)> = d[1..]
        .iter()
        .filter_map(|&dev| t.pull(dev).map(|(task, a)| (dev, a, task)))
        .filter(|c| busy.iter().all(|b| b.0 != c.2))
        .collect();
    let task = copies[0].2;
    let pair: Vec<_> = copies.iter().filter(|c| c.2 == task).collect();
    assert_eq!(pair.len(), 2, "both copies of task {task} are out: {copies:?}");
    let (good, bad) = (pair[0], pair[1]);
    t.report(good.0, good.1, "j", task, true);
    let second = t.report(bad.0, bad.1, "j", task, false);
    assert!(second.contains(&Event::TaskRescued { job: j, task, need: RescueNeed::Arbitration }), "{second:?}");
    // Long past rescue_wait, untrusted devices still never take the arbitration.
    t.at(120_000);
    for &dev in &d[1..] {
        for _ in 0..2 {
            let out = t.ok(CommandKind::Pull { device: dev });
            assert!(!has(&out, |e| matches!(e, Event::TaskAssigned { task: x, .. } if *x == task)), "{out:?}");
        }
    }
    // The trusted device frees a hand and arbitrates.
    let (bt, ba) = busy[0];
    t.ok(CommandKind::Heartbeat { device: d[0], attempt: ba });
    t.ok(CommandKind::ReportError { device: d[0], attempt: ba });
    let _ = bt;
    let (arb_task, arb) = t.pull(d[0]).unwrap();
    assert_eq!(arb_task, task);
    let verdict = t.report(d[0], arb, "j", task, true);
    assert_eq!(state_of(&verdict, bad.1), [AttemptState::Incorrect]);
    assert_eq!(state_of(&verdict, good.1), [AttemptState::Completed]);
    assert!(verdict.contains(&Event::TaskValidated { job: j, task, attempt: good.1, valid: 2, unverified: false }));
    // 700 chips of bounties over 3 tasks: 234, 233, 233; the valid two share it.
    let bounty = [234, 233, 233][task as usize];
    assert_eq!(credited(&verdict), [(good.0, bounty / 2), (d[0], bounty / 2)]);
    assert!(t.engine.device(bad.0).unwrap().faults.get(0).unwrap().incorrect);
    assert!(!t.engine.device(good.0).unwrap().faults.get(0).unwrap().incorrect);
}

#[test]
fn after_a_disagreement_colluders_cannot_outvote_an_honest_result() {
    let (mut t, d) = T::new(&[true, false, false, false, false, false]);
    let j = t.submit(replicated("j", 3, 3.0));
    // The only trusted device is busy with two copies of other tasks.
    let busy: Vec<_> = (0..2).map(|_| t.pull(d[0]).unwrap()).collect();
    let copies: Vec<(DeviceId, AttemptId, u32)> = d[1..]
        .iter()
        .flat_map(|&dev| [t.pull(dev), t.pull(dev)].into_iter().flatten().map(move |(task, a)| (dev, a, task)))
        .collect();
    let task = (0..3).find(|k| busy.iter().all(|b| b.0 != *k)).unwrap();
    let three: Vec<_> = copies.iter().filter(|c| c.2 == task).collect();
    assert_eq!(three.len(), 3, "{copies:?}");
    let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
    t.report(three[0].0, three[0].1, "j", task, true);
    for c in &three[1..] {
        let collusion = Synthetic::incorrect("j", &chunk, 77);
        let out = t.ok(CommandKind::ReportResult { device: c.0, attempt: c.1, result: collusion });
        assert!(!has(&out, |e| matches!(e, Event::TaskValidated { .. })), "two colluders outvoted: {out:?}");
    }
    t.ok(CommandKind::ReportError { device: d[0], attempt: busy[0].1 });
    let (arb_task, arb) = t.pull(d[0]).unwrap();
    assert_eq!(arb_task, task);
    let verdict = t.report(d[0], arb, "j", task, true);
    assert!(verdict.contains(&Event::TaskValidated { job: j, task, attempt: three[0].1, valid: 2, unverified: false }));
    for c in &three[1..] {
        assert_eq!(state_of(&verdict, c.1), [AttemptState::Incorrect]);
    }
}

#[test]
fn without_a_trusted_device_more_copies_seek_a_majority() {
    let (mut t, d) = T::new(&[false; 6]);
    let j = t.submit(replicated("j", 1, 2.0));
    let copies = take_copies(&mut t, &d, 2);
    t.report(copies[0].0, copies[0].1, "j", 0, false);
    let split = t.report(copies[1].0, copies[1].1, "j", 0, true);
    assert!(split.contains(&Event::TaskRescued { job: j, task: 0, need: RescueNeed::Copy }), "{split:?}");
    // Rescue copies wait rescue_wait for a fast trusted device; there is none.
    let others: Vec<DeviceId> = d.iter().copied().filter(|x| copies.iter().all(|c| c.0 != *x)).collect();
    assert_eq!(t.pull(others[0]), None);
    t.at(60_000);
    let (_, third) = t.pull(others[0]).unwrap();
    let done = t.report(others[0], third, "j", 0, true);
    assert_eq!(state_of(&done, copies[0].1), [AttemptState::Incorrect]);
    assert!(done.contains(&Event::TaskValidated {
        job: j,
        task: 0,
        attempt: copies[1].1,
        valid: 2,
        unverified: false
    }));
    assert_eq!(credited(&done), [(copies[1].0, 350), (others[0], 350)]);
}

#[test]
fn results_that_never_agree_fail_the_job_after_max_failures_extra_copies() {
    let cfg = EngineConfig { max_failures: 2, rescue_wait_ms: 0, ..EngineConfig::default() };
    let (mut t, d) = T::with(cfg, &[false; 8]);
    let j = t.submit(replicated("j", 1, 2.0));
    let mut events = Vec::new();
    let mut salt = 0;
    for &dev in &d {
        if let Some((_, a)) = t.pull(dev) {
            salt += 1;
            let r = result("j", 0, false, salt);
            events.extend(t.ok(CommandKind::ReportResult { device: dev, attempt: a, result: r }));
        }
        if t.engine.job_status(j) != Some(JobStatus::Running) {
            break;
        }
    }
    assert_eq!(salt, 4, "two planned copies and two extra ones");
    assert!(has(&events, |e| matches!(e, Event::JobFailed { reason, .. } if reason.contains("extra copies"))));
    assert!(credited(&events).is_empty(), "no result of a task without a verdict is paid");
    assert!(d.iter().all(|&x| t.engine.device(x).unwrap().faults.is_empty()), "the system's fault");
}

#[test]
fn once_final_the_other_copies_are_cancelled_and_their_reports_refused() {
    let (mut t, d) = T::new(&[false; 6]);
    t.submit(replicated("j", 1, 3.0));
    let copies = take_copies(&mut t, &d, 3);
    t.report(copies[0].0, copies[0].1, "j", 0, true);
    let done = t.report(copies[1].0, copies[1].1, "j", 0, true);
    assert_eq!(state_of(&done, copies[2].1), [AttemptState::Cancelled]);
    assert_eq!(credited(&done).len(), 2, "the cancelled copy earns nothing");
    assert_eq!(
        t.apply(CommandKind::ReportResult {
            device: copies[2].0,
            attempt: copies[2].1,
            result: result("j", 0, true, 0)
        }),
        Err(AttemptError::AttemptEnded { attempt: copies[2].1 }.into())
    );
    assert!(t.engine.device(copies[2].0).unwrap().faults.is_empty(), "nothing recorded on a cancelled copy");
    assert_eq!(t.engine.running_attempts(), 0);
}

#[test]
fn a_worker_that_heartbeats_forever_goes_stale_at_the_hard_deadline() {
    let (mut t, d) = T::new(&[false; 2]);
    let j = t.submit(job("j", 1));
    let (task, a) = t.pull(d[0]).unwrap();
    let mut events = Vec::new();
    for _ in 0..(30 * 60 / 50) {
        t.at(50_000);
        events.extend(t.ok(CommandKind::Heartbeat { device: d[0], attempt: a }));
        events.extend(t.ok(CommandKind::Tick));
    }
    assert_eq!(state_of(&events, a), [AttemptState::Stale], "stale at 30 minutes despite heartbeats");
    assert!(events.contains(&Event::TaskRescued { job: j, task, need: RescueNeed::Copy }));
}

#[test]
fn a_result_after_t2_is_late_with_no_tick_between() {
    let (mut t, d) = T::new(&[false; 2]);
    t.submit(job("j", 1));
    let (task, a) = t.pull(d[0]).unwrap();
    t.at(200_000);
    let late = t.report(d[0], a, "j", task, true);
    assert!(late.contains(&Event::LateReport { attempt: a, device: d[0] }), "{late:?}");
    assert_eq!(state_of(&late, a), [AttemptState::Stale]);
    assert!(!has(&late, |e| matches!(e, Event::TaskValidated { .. })));
    // A result after T1 but before T2 is taken, and counts as delayed.
    let (mut t, d) = T::new(&[false; 2]);
    t.submit(job("j", 1));
    let (task, a) = t.pull(d[0]).unwrap();
    t.at(61_000);
    let events = t.report(d[0], a, "j", task, true);
    assert_eq!(state_of(&events, a), [AttemptState::Delayed, AttemptState::Completed]);
    assert_eq!(t.engine.device(d[0]).unwrap().faults.get(0), Some(Outcome { delayed: true, ..Outcome::default() }));
}

/// The host stops for longer than T2 with two attempts running, and comes back.
/// Without `Resume` its first tick makes both stale; with it, the workers' next
/// heartbeats and results are taken on time and nothing is held against them.
#[test]
fn a_host_that_resumes_does_not_hold_its_absence_against_devices() {
    for resume in [false, true] {
        let (mut t, d) = T::new(&[false; 2]);
        t.submit(job("j", 2));
        let (ta, a) = t.pull(d[0]).unwrap();
        let (tb, b) = t.pull(d[1]).unwrap();
        t.at(10 * 60_000);
        let mut events = Vec::new();
        if resume {
            events.extend(t.ok(CommandKind::Resume));
        }
        events.extend(t.ok(CommandKind::Tick));
        t.at(30_000);
        events.extend(t.apply(CommandKind::Heartbeat { device: d[0], attempt: a }).unwrap_or_default());
        t.at(29_000);
        events.extend(t.ok(CommandKind::Tick));
        events.extend(
            t.apply(CommandKind::ReportResult { device: d[0], attempt: a, result: result("j", ta, true, 0) })
                .unwrap_or_default(),
        );
        events.extend(
            t.apply(CommandKind::ReportResult { device: d[1], attempt: b, result: result("j", tb, true, 0) })
                .unwrap_or_default(),
        );
        let changed = [state_of(&events, a), state_of(&events, b)];
        if resume {
            // d1 sent no heartbeat since the restart, but reported within T1 of it.
            assert_eq!(changed, [[AttemptState::Completed], [AttemptState::Completed]], "{events:?}");
            assert!(has(&events, |e| matches!(e, Event::JobCompleted { .. })), "{events:?}");
            for &dev in &d {
                assert_eq!(t.engine.device(dev).unwrap().faults.get(0), Some(Outcome::default()), "a clean outcome");
            }
        } else {
            assert_eq!(changed, [[AttemptState::Stale], [AttemptState::Stale]], "the control: {events:?}");
        }
    }
}

/// `Resume` moves heartbeats, not the hard deadline: a copy past `max_attempt_ms`
/// is stale however often the host comes back.
#[test]
fn resuming_does_not_stretch_the_hard_deadline() {
    let (mut t, d) = T::new(&[false; 2]);
    t.submit(job("j", 1));
    let (_, a) = t.pull(d[0]).unwrap();
    // Every 150 s (past T1, within T2) the host stops and comes back.
    let rounds = 30 * 60 / 150;
    for round in 1..=rounds {
        t.at(150_000);
        let mut events = t.ok(CommandKind::Resume);
        events.extend(t.ok(CommandKind::Tick));
        let expected: &[AttemptState] = if round == rounds { &[AttemptState::Stale] } else { &[] };
        assert_eq!(state_of(&events, a), expected, "round {round}: {events:?}");
    }
    assert_eq!(t.engine.running_attempts(), 0);
}

#[test]
fn trust_is_the_operators_never_the_devices_claim() {
    let (mut t, _) = T::new(&[]);
    let mut faults = byterank_core::fault::FaultHistory::default();
    faults.push(Outcome::default());
    let liar = Device { trusted: true, faults, lottery_winner: true, ..Device::new("d9") };
    let d = t.register(liar.clone());
    let known = t.engine.device(d).unwrap();
    assert!(!known.trusted && known.faults.is_empty() && !known.lottery_winner, "claims at registration ignored");
    t.ok(CommandKind::UpdateDevice { device: d, state: liar });
    assert!(!t.engine.device(d).unwrap().trusted, "claims in a report ignored");
    t.ok(CommandKind::SetTrust { device: d, trusted: true });
    assert!(t.engine.device(d).unwrap().trusted);
    t.ok(CommandKind::UpdateDevice { device: d, state: Device::new("d9") });
    assert!(t.engine.device(d).unwrap().trusted, "a report cannot withdraw it either");
    t.ok(CommandKind::SetTrust { device: d, trusted: false });
    assert!(!t.engine.device(d).unwrap().trusted);
}

#[test]
fn a_device_that_registers_again_gets_its_history_back() {
    let (mut t, d) = T::new(&[false; 2]);
    t.submit(job("j", 1));
    let (task, a) = t.pull(d[0]).unwrap();
    t.report(d[0], a, "j", task, false); // a single copy: final, unverified
    let history = t.engine.device(d[0]).unwrap().faults;
    assert_eq!(history.len(), 1);
    t.ok(CommandKind::RemoveDevice { device: d[0] });
    assert_eq!(
        t.apply(CommandKind::Pull { device: d[0] }),
        Err(PullError::Device(DeviceGone::Removed { device: d[0], id: "d0".into() }).into())
    );
    let again = t.register(Device::new("d0"));
    assert_eq!(again, d[0], "the same handle");
    assert_eq!(t.engine.device(again).unwrap().faults, history);
}

#[test]
fn an_unchanged_grid_keeps_the_placement_at_refresh() {
    // Two pools, {d0, d1} and {d2, d3}; one copy of each task in each.
    let (t, d) = T::new(&[false; 4]);
    let mut with = T { engine: t.engine.clone(), now: t.now };
    let mut without = t;
    let accepted = with.ok(CommandKind::SubmitJob { job: replicated("j", 8, 2.0), user: "u".into() });
    without.ok(CommandKind::SubmitJob { job: replicated("j", 8, 2.0), user: "u".into() });
    with.at(31_000);
    without.at(31_000);
    let refreshed = with.ok(CommandKind::Tick);
    assert!(has(&refreshed, |e| matches!(e, Event::RankingRefreshed { .. })));
    assert!(!has(&refreshed, |e| matches!(e, Event::PlanChanged { .. })), "{refreshed:?}");
    for round in 0..4 {
        for &dev in &d {
            assert_eq!(with.pull(dev).map(|x| x.0), without.pull(dev).map(|x| x.0), "round {round}, {dev:?}");
        }
        for (e, f) in [(&mut with, 0), (&mut without, 1)] {
            let _ = f;
            e.at(1_000);
            e.ok(CommandKind::Tick);
        }
    }
    assert!(has(&accepted, |e| matches!(e, Event::JobAccepted { achievable: true, .. })));
}

#[test]
fn a_changed_pool_re_plans_and_announces_the_pjf_in_force() {
    let (mut t, d) = T::new(&[false; 6]);
    let j = t.submit(replicated("j", 6, 2.0));
    t.ok(CommandKind::RemoveDevice { device: d[4] });
    t.ok(CommandKind::RemoveDevice { device: d[5] });
    t.at(31_000);
    let refreshed = t.ok(CommandKind::Tick);
    let pjf = refreshed.iter().find_map(|e| match e {
        Event::PlanChanged { job, pools, pjf } if *job == j => Some((*pools, *pjf)),
        _ => None,
    });
    let (pools, pjf) = pjf.expect("pool 3 is gone");
    assert_eq!(pools, 2);
    // Every task still has its two copies, in pools of assumed failure 0.001 each.
    let expected = 1.0 - (1.0 - 0.001f64 * 0.001).powi(6);
    assert!((pjf - expected).abs() < 1e-15, "{pjf} vs {expected}");
    // And every copy can still run: each task's two copies on two devices.
    let mut seen = std::collections::BTreeMap::<u32, usize>::new();
    for _ in 0..3 {
        for &dev in &d[..4] {
            while let Some((task, a)) = t.pull(dev) {
                *seen.entry(task).or_default() += 1;
                t.report(dev, a, "j", task, true);
            }
        }
    }
    assert_eq!(seen.values().copied().collect::<Vec<_>>(), [2; 6]);
}

#[test]
fn a_pool_never_gets_more_copies_of_a_task_than_it_has_devices() {
    // Pool 1 = {d0} alone, pool 2 = {d1, d2}: three copies of one task dealt
    // round-robin would put two in pool 1, where the second could never run.
    let (mut t, d) = T::new(&[false; 3]);
    let cap = |i: usize| {
        let dev = Device { processor_score: Some(500.0 - 50.0 * i as f64), ..Device::new(format!("d{i}")) };
        capacity_score(&dev, &CapacityConfig::default())
    };
    let mut spec = replicated("j", 1, 3.0);
    (spec.pools.c_min, spec.pools.s_min) = (Some(cap(2) + 1.0), Some(1));
    assert!(cap(0) >= cap(2) + 1.0);
    let accepted = t.ok(CommandKind::SubmitJob { job: spec, user: "u".into() });
    assert!(has(&accepted, |e| matches!(e, Event::JobAccepted { copies: 3, .. })), "{accepted:?}");
    // Each of the three devices gets a copy: none is stranded in pool 1.
    let copies = take_copies(&mut t, &d, 3);
    t.report(copies[0].0, copies[0].1, "j", 0, true);
    let done = t.report(copies[1].0, copies[1].1, "j", 0, true);
    assert_eq!(state_of(&done, copies[2].1), [AttemptState::Cancelled]);
    assert!(has(&done, |e| matches!(e, Event::JobCompleted { .. })), "{done:?}");
}

#[test]
fn a_device_leaving_with_two_tasks_abandons_both_without_failing_the_job() {
    // With one failure allowed, abandonment used to fail the job while the second
    // attempt was still being abandoned; a device leaving is no failure at all.
    let cfg = EngineConfig { max_failures: 1, ..EngineConfig::default() };
    let (mut t, d) = T::with(cfg, &[false; 2]);
    let j = t.submit(job("j", 2));
    let a = t.pull(d[0]).unwrap().1;
    let b = t.pull(d[0]).unwrap().1;
    let gone = t.ok(CommandKind::RemoveDevice { device: d[0] });
    assert_eq!(state_of(&gone, a), [AttemptState::Abandoned]);
    assert_eq!(state_of(&gone, b), [AttemptState::Abandoned]);
    assert_eq!(t.engine.job_status(j), Some(JobStatus::Running));
    // The survivor runs both, and the leaver's two attempts are then recorded.
    t.at(60_000);
    let mut done = Vec::new();
    while let Some((task, x)) = t.pull(d[1]) {
        done.extend(t.report(d[1], x, "j", task, true));
    }
    assert!(has(&done, |e| matches!(e, Event::JobCompleted { unverified: 2, .. })), "{done:?}");
    assert_eq!(t.engine.device(d[0]).unwrap().faults.len(), 2);
}

#[test]
fn an_embedder_registers_its_own_application() {
    struct Echo;
    impl byterank_core::application::Application for Echo {
        fn name(&self) -> &'static str {
            "echo"
        }
        fn split(&self, job: &JobSpec) -> Result<Vec<Chunk>, byterank_core::application::ApplicationError> {
            let n = job.work()?.sizes.len() as u32;
            Ok((0..n).map(|i| Chunk { index: i, offset: u64::from(i), len: 1 }).collect())
        }
        fn check(&self, _: &Chunk, _: &ResultMeta) -> Result<(), byterank_core::application::IntegrityError> {
            Ok(())
        }
    }
    static ECHO: Echo = Echo;
    let (mut t, d) = T::new(&[false; 2]);
    let mut spec = job("e", 1);
    spec.application = "echo".into();
    let err = t.apply(CommandKind::SubmitJob { job: spec.clone(), user: "u".into() }).unwrap_err();
    assert_eq!(err.to_string(), "job `e`: unknown application `echo`: name one this engine runs (synthetic, gzip)");
    t.engine.register_application(&ECHO);
    t.submit(spec);
    let (task, a) = t.pull(d[0]).unwrap();
    let done = t.ok(CommandKind::ReportResult { device: d[0], attempt: a, result: ResultMeta::default() });
    assert!(has(&done, |e| matches!(e, Event::JobCompleted { .. })), "task {task}: {done:?}");
}

#[test]
fn errors_name_the_job_once() {
    let (mut t, _) = T::new(&[false; 2]);
    let mut gz = job("bad", 1);
    gz.application = "gzip".into();
    let err = t.apply(CommandKind::SubmitJob { job: gz, user: "u".into() }).unwrap_err().to_string();
    assert_eq!(err.matches("job `bad`").count(), 1, "{err}");
    let mut huge = job("big", 20_000_000);
    huge.price_chips = ByteChips(1);
    let err = t.apply(CommandKind::SubmitJob { job: huge, user: "u".into() }).unwrap_err().to_string();
    assert_eq!(err.matches("job `big`").count(), 1, "{err}");
    assert!(err.contains("10000000"), "names the limit: {err}");
}

#[test]
fn a_refused_submission_leaves_the_clock_alone() {
    let (mut t, d) = T::new(&[false; 2]);
    let start = t.now;
    t.at(10_000);
    let mut odd = job("k", 1);
    odd.application = "render".into();
    assert!(t.apply(CommandKind::SubmitJob { job: odd, user: "u".into() }).is_err());
    assert_eq!(t.engine.now(), Timestamp(start));
    t.now = start + 5_000;
    t.ok(CommandKind::Pull { device: d[0] });
}

#[test]
fn a_pull_checks_the_device_as_it_is_now() {
    let (mut t, d) = T::new(&[false; 2]);
    let mut spec = job("j", 4);
    spec.preferences.regions = Regions::Only(vec![Region::Europe]);
    let europe = Device { region: Some(Region::Europe), ..Device::new("d0") };
    t.ok(CommandKind::UpdateDevice { device: d[0], state: europe.clone() });
    t.ok(CommandKind::UpdateDevice {
        device: d[1],
        state: Device { region: Some(Region::Europe), ..Device::new("d1") },
    });
    t.submit(spec);
    let hot = Device { temperature_f: Some(200.0), ..europe.clone() };
    t.ok(CommandKind::UpdateDevice { device: d[0], state: hot });
    let hot_flags = byterank_core::flags::flags(
        &Device { temperature_f: Some(200.0), ..Device::new("x") },
        Timestamp::EPOCH,
        &Default::default(),
    );
    assert_eq!(
        t.ok(CommandKind::Pull { device: d[0] }),
        [Event::NoTask { device: d[0], reason: Idle::Flagged { flags: hot_flags } }],
        "overheating now"
    );
    let moved = Device { region: Some(Region::Americas), ..europe.clone() };
    t.ok(CommandKind::UpdateDevice { device: d[0], state: moved });
    assert_eq!(t.pull(d[0]), None, "outside the job's regions now");
    let offline = Device { online: Some(false), ..europe.clone() };
    t.ok(CommandKind::UpdateDevice { device: d[0], state: offline });
    assert_eq!(t.pull(d[0]), None, "offline now");
    t.ok(CommandKind::UpdateDevice { device: d[0], state: europe });
    assert!(t.pull(d[0]).is_some());
}

#[test]
fn a_job_only_a_removed_device_could_run_is_refused() {
    let (mut t, d) = T::new(&[true, false]);
    t.ok(CommandKind::RemoveDevice { device: d[0] });
    let mut spec = job("j", 1);
    spec.preferences.trusted = true;
    let before = t.engine.clone();
    assert!(matches!(
        t.apply(CommandKind::SubmitJob { job: spec, user: "u".into() }),
        Err(EngineError::Submit(SubmitError::Plan(_)))
    ));
    assert!(t.engine == before);
    // Devices registered since the last tick are plannable at once.
    let (mut t, _) = T::new(&[]);
    t.register(Device::new("d7"));
    t.submit(job("k", 1));
}

#[test]
fn a_malformed_result_records_one_incorrect_outcome() {
    let (mut t, d) = T::new(&[false; 2]);
    t.submit(job("j", 1));
    let (task, a) = t.pull(d[0]).unwrap();
    let bad = t.ok(CommandKind::ReportResult { device: d[0], attempt: a, result: ResultMeta::default() });
    assert_eq!(state_of(&bad, a), [AttemptState::Incorrect]);
    t.at(60_000);
    let (again, b) = t.pull(d[1]).unwrap();
    assert_eq!(again, task);
    t.report(d[1], b, "j", task, true);
    assert_eq!(t.engine.device(d[0]).unwrap().faults.len(), 1);
    assert_eq!(t.engine.device(d[0]).unwrap().faults.get(0), Some(Outcome { incorrect: true, ..Outcome::default() }));
}

#[test]
fn bad_configurations_are_refused_when_the_engine_is_made() {
    let bad = [
        EngineConfig { t1_ms: 10, t2_ms: 10, ..EngineConfig::default() },
        EngineConfig { max_attempt_ms: 1, ..EngineConfig::default() },
        EngineConfig { in_hand: 0, ..EngineConfig::default() },
        EngineConfig { quorum: 0, ..EngineConfig::default() },
        EngineConfig { rescue_share: f64::NAN, ..EngineConfig::default() },
        // Once a panic at the first lottery tick, a crash loop on replay.
        EngineConfig {
            index: byterank_core::indexes::IndexConfig {
                lottery: byterank_core::lottery::LotteryConfig { c: f64::NAN, ..Default::default() },
                ..Default::default()
            },
            ..EngineConfig::default()
        },
        // Once a stride of 0: the oldest job took every copy.
        EngineConfig { share_weights: [1 << 21; 3], ..EngineConfig::default() },
        // Once accepted, then every submission refused.
        EngineConfig {
            plan: byterank_core::plan::PlanConfig {
                rewards: byterank_core::reward::RewardConfig { workers_numerator: 7, workers_denominator: 0 },
                ..Default::default()
            },
            ..EngineConfig::default()
        },
        EngineConfig {
            plan: byterank_core::plan::PlanConfig {
                rewards: byterank_core::reward::RewardConfig { workers_numerator: 11, workers_denominator: 10 },
                ..Default::default()
            },
            ..EngineConfig::default()
        },
    ];
    let fields = [
        "t2_ms",
        "max_attempt_ms",
        "in_hand",
        "quorum",
        "rescue_share",
        "index.lottery.c",
        "share_weights",
        "plan.rewards.workers_denominator",
        "plan.rewards.workers_numerator",
    ];
    assert_eq!(bad.len(), fields.len());
    for (cfg, field) in bad.into_iter().zip(fields) {
        let err = Engine::new(cfg).unwrap_err();
        assert_eq!(err.field, field);
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn running_jobs_share_the_grid_by_weight_and_none_starves() {
    let (mut t, d) = T::new(&[false; 4]);
    let mut low = job("low", 100);
    low.preferences.byte_level = byterank_core::job::ByteLevel::Low;
    let (high, low) = (t.submit(job("high", 100)), t.submit(low));
    let mut served = std::collections::BTreeMap::<JobId, u32>::new();
    for _ in 0..25 {
        for &dev in &d {
            for e in t.ok(CommandKind::Pull { device: dev }) {
                if let Event::TaskAssigned { job, task, attempt, .. } = e {
                    *served.entry(job).or_default() += 1;
                    let name = if job == high { "high" } else { "low" };
                    t.report(dev, attempt, name, task, true);
                }
            }
        }
    }
    // Weights 4 (high) to 1 (low): 80 and 20 of the first 100 copies, though
    // strict ByteLevel order would give the high job all of them.
    assert_eq!((served[&high], served[&low]), (80, 20), "{served:?}");
}

#[test]
fn an_ended_job_is_forgotten_once_released() {
    let (mut t, d) = T::new(&[false; 2]);
    let j = t.submit(job("j", 1));
    assert_eq!(
        t.apply(CommandKind::ReleaseJob { job: j }),
        Err(ReleaseError::JobRunning { job: j, id: "j".into() }.into())
    );
    let (task, a) = t.pull(d[0]).unwrap();
    t.report(d[0], a, "j", task, true);
    assert_eq!(t.engine.job_status(j), Some(JobStatus::Completed));
    assert_eq!(t.ok(CommandKind::ReleaseJob { job: j }), [Event::JobReleased { job: j }]);
    assert_eq!(t.engine.job_status(j), None);
    assert_eq!(
        t.apply(CommandKind::ReleaseJob { job: j }),
        Err(ReleaseError::UnknownJob(UnknownJob { job: j }).into())
    );
    let again = t.submit(job("j", 1));
    assert_ne!(again, j, "handles are never reused; the id may be");
}

#[test]
fn a_price_the_ledger_cannot_hold_is_refused() {
    let (mut t, _) = T::new(&[false; 2]);
    let mut absurd = job("absurd", 1);
    absurd.price_chips = ByteChips(u64::MAX);
    let err = t.apply(CommandKind::SubmitJob { job: absurd, user: "u".into() }).unwrap_err();
    assert!(err.to_string().contains("price"), "{err}");
    // At the largest price a job may have (2^53), the 2048th would overflow the
    // ledger's u64 sums: it is refused, and the refusal changes nothing.
    for n in 0..2047 {
        let mut rich = job(&format!("rich-{n}"), 1);
        rich.price_chips = ByteChips(1 << 53);
        t.submit(rich);
    }
    let before = t.engine.clone();
    let mut last = job("last", 1);
    last.price_chips = ByteChips(1 << 53);
    assert_eq!(
        t.apply(CommandKind::SubmitJob { job: last, user: "u".into() }),
        Err(SubmitError::LedgerFull { job: "last".into() }.into())
    );
    assert!(t.engine == before);
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
            AttemptError::AttemptEnded { attempt: a }.into(),
        ),
        (
            CommandKind::ReportError { device: d[1], attempt: b },
            AttemptError::NotHolder { attempt: b, device: d[1], id: "d1".into() }.into(),
        ),
        (
            CommandKind::Heartbeat { device: d[0], attempt: AttemptId(99) },
            AttemptError::UnknownAttempt { attempt: AttemptId(99) }.into(),
        ),
        (
            CommandKind::Pull { device: DeviceId(42) },
            PullError::Device(UnknownDevice { device: DeviceId(42) }.into()).into(),
        ),
        (
            CommandKind::SetTrust { device: DeviceId(42), trusted: true },
            OperatorError::UnknownDevice(UnknownDevice { device: DeviceId(42) }).into(),
        ),
        (CommandKind::CancelJob { job: JobId(7) }, CancelError::UnknownJob(UnknownJob { job: JobId(7) }).into()),
        (
            CommandKind::RegisterDevice { device: Device::new("d1"), owner: "x".into() },
            RegisterError::DuplicateDevice { id: "d1".into() }.into(),
        ),
        (
            CommandKind::SubmitJob { job: job("j", 1), user: "u".into() },
            SubmitError::DuplicateJob { job: "j".into() }.into(),
        ),
    ];
    for (kind, error) in cases {
        assert_eq!(t.apply(kind), Err(error));
        assert!(t.engine == before);
    }
    let mut nobody = job("n", 1);
    nobody.preferences.trusted = true;
    assert!(matches!(
        t.apply(CommandKind::SubmitJob { job: nobody, user: "u".into() }),
        Err(EngineError::Submit(SubmitError::Plan(_)))
    ));
    assert!(t.engine == before, "a job nobody may run is refused and changes nothing");
    let mut odd = job("k", 1);
    odd.application = "render".into();
    assert!(matches!(
        t.apply(CommandKind::SubmitJob { job: odd, user: "u".into() }),
        Err(EngineError::Submit(SubmitError::UnknownApplication { .. }))
    ));
    let mut past = Vec::new();
    assert!(matches!(
        t.engine.apply(&Command { at: Timestamp(t.now - 1), kind: CommandKind::Tick }, &mut past),
        Err(EngineError::Time(TimeError::WentBack { .. }))
    ));
    let far = Timestamp(Timestamp::MAX.millis() + 1);
    assert_eq!(
        t.engine.apply(&Command { at: far, kind: CommandKind::Tick }, &mut past),
        Err(EngineError::Time(TimeError::OutOfRange { ms: far.millis() })),
        "a time no journal could read back"
    );
    assert!(t.engine == before);
}

#[test]
fn cancelling_pays_decided_work_and_refunds_the_rest() {
    let (mut t, d) = T::new(&[false, false]);
    let j = t.submit(job("j", 4)); // 700 chips of bounties, 175 a task
    let (task, a) = t.pull(d[0]).unwrap();
    let one = t.report(d[0], a, "j", task, true);
    assert!(one.contains(&Event::TaskValidated { job: j, task, attempt: a, valid: 1, unverified: true }));
    let events = t.ok(CommandKind::CancelJob { job: j });
    assert!(events.contains(&Event::JobCancelled { job: j }));
    assert!(events.contains(&Event::Refunded { user: "u".into(), job: j, amount: ByteChips(525) }));
    let ledger = t.engine.ledger();
    assert_eq!(ledger.wallets["o0"], ByteChips(175));
    assert_eq!(ledger.platform, ByteChips(300));
    assert_eq!(ledger.escrow, ByteChips::ZERO);
    assert_eq!(t.engine.job_status(j), Some(JobStatus::Cancelled));
    assert_eq!(
        t.apply(CommandKind::CancelJob { job: j }),
        Err(CancelError::JobEnded { job: j, id: "j".into() }.into())
    );
}

/// A job of all seven devices in one pool (d0 trusted), `tasks` tasks at `r`.
fn one_pool(tasks: u64, r: f64, trusted: &[bool]) -> (T, Vec<DeviceId>, JobId) {
    let (mut t, d) = T::new(trusted);
    let mut spec = replicated("j", tasks, r);
    spec.pools.s_min = Some(d.len());
    let j = t.submit(spec);
    assert_eq!(t.engine.job_progress(j).unwrap().pools, 1);
    (t, d, j)
}

/// Pulls once from each device; the copies (device, attempt) of each task.
fn copies_by_task(t: &mut T, devices: &[DeviceId], tasks: u32) -> Vec<Vec<(DeviceId, AttemptId)>> {
    let mut by_task = vec![Vec::new(); tasks as usize];
    for &dev in devices {
        if let Some((task, a)) = t.pull(dev) {
            by_task[task as usize].push((dev, a));
        }
    }
    by_task
}

fn lie(t: &mut T, (device, attempt): (DeviceId, AttemptId), task: u32, salt: u64) -> Vec<Event> {
    let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
    t.ok(CommandKind::ReportResult { device, attempt, result: Synthetic::incorrect("j", &chunk, salt) })
}

/// One task's arbitration finding no taker says nothing about another task's:
/// the trusted device that ran task 0 may still arbitrate task 1.
#[test]
fn an_arbitration_without_a_taker_leaves_other_tasks_their_arbiter() {
    let (mut t, d, j) = one_pool(2, 3.0, &[true, false, false, false, false, false, false]);
    let copies = copies_by_task(&mut t, &d[..6], 2);
    let (held, zero) = (copies[0][0], &copies[0][1..]);
    assert_eq!(held.0, d[0], "the trusted device keeps a copy of task 0: {copies:?}");
    t.report(zero[0].0, zero[0].1, "j", 0, true);
    lie(&mut t, zero[1], 0, 7);
    let one = &copies[1];
    t.report(one[0].0, one[0].1, "j", 1, true);
    let split = lie(&mut t, one[1], 1, 9);
    assert!(split.contains(&Event::TaskRescued { job: j, task: 1, need: RescueNeed::Arbitration }), "{split:?}");
    t.at(1_000);
    t.ok(CommandKind::Heartbeat { device: held.0, attempt: held.1 });
    t.ok(CommandKind::Tick);
    let outvote = lie(&mut t, one[2], 1, 9);
    assert!(!has(&outvote, |e| matches!(e, Event::TaskValidated { task: 1, .. })), "liars outvoted: {outvote:?}");
    // d0 settles task 0 with its own copy, then arbitrates task 1.
    t.report(held.0, held.1, "j", 0, true);
    let (task, arb) = t.pull(d[0]).unwrap();
    assert_eq!(task, 1);
    let verdict = t.report(d[0], arb, "j", 1, true);
    assert_eq!(state_of(&verdict, one[0].1), [AttemptState::Completed]);
    assert_eq!(state_of(&verdict, one[1].1), [AttemptState::Incorrect]);
    assert_eq!(state_of(&verdict, one[2].1), [AttemptState::Incorrect]);
    assert!(has(&verdict, |e| matches!(e, Event::JobCompleted { .. })), "{verdict:?}");
}

/// A device trusted after the job was planned and removed since never counted
/// among the job's arbiters: its removal takes nothing from the one that did.
#[test]
fn removing_a_device_trusted_since_the_plan_keeps_the_jobs_arbiter() {
    let (mut t, d, j) = one_pool(1, 2.0, &[true, false, false, false, false, false, false]);
    t.ok(CommandKind::SetTrust { device: d[5], trusted: true });
    t.ok(CommandKind::RemoveDevice { device: d[5] });
    let (_, honest) = t.pull(d[1]).unwrap();
    let (_, liar) = t.pull(d[2]).unwrap();
    t.report(d[1], honest, "j", 0, true);
    let split = lie(&mut t, (d[2], liar), 0, 3);
    assert!(split.contains(&Event::TaskRescued { job: j, task: 0, need: RescueNeed::Arbitration }), "{split:?}");
    t.at(60_000);
    assert_eq!(t.pull(d[3]), None, "an untrusted device never arbitrates");
    let (_, arb) = t.pull(d[0]).unwrap();
    let verdict = t.report(d[0], arb, "j", 0, true);
    assert_eq!(state_of(&verdict, honest), [AttemptState::Completed]);
    assert_eq!(state_of(&verdict, liar), [AttemptState::Incorrect]);
}

/// An arbiter that goes stale leaves its task asking again: another trusted
/// device arbitrates, and the job ends.
#[test]
fn a_stale_arbiter_is_replaced_and_the_job_ends() {
    let (mut t, d, j) = one_pool(1, 3.0, &[true, false, false, false, false, false, true]);
    let (_, honest) = t.pull(d[1]).unwrap();
    let (_, liar) = t.pull(d[2]).unwrap();
    let (_, second) = t.pull(d[3]).unwrap();
    t.report(d[1], honest, "j", 0, true);
    lie(&mut t, (d[2], liar), 0, 3);
    let (_, arb) = t.pull(d[0]).unwrap();
    lie(&mut t, (d[3], second), 0, 3);
    // Devices trusted and removed on the way change nothing.
    for &x in &d[4..6] {
        t.ok(CommandKind::SetTrust { device: x, trusted: true });
        t.ok(CommandKind::RemoveDevice { device: x });
    }
    t.at(200_000);
    let stale = t.ok(CommandKind::Tick);
    assert_eq!(state_of(&stale, arb), [AttemptState::Stale]);
    assert!(stale.contains(&Event::TaskRescued { job: j, task: 0, need: RescueNeed::Arbitration }), "{stale:?}");
    // d6 is no fast trusted device: it takes an arbitration once it waited.
    t.at(60_000);
    let (_, again) = t.pull(d[6]).unwrap();
    let verdict = t.report(d[6], again, "j", 0, true);
    assert_eq!(state_of(&verdict, honest), [AttemptState::Completed]);
    assert!(has(&verdict, |e| matches!(e, Event::JobCompleted { .. })), "{verdict:?}");
}

/// With no other trusted device, a stale arbiter leaves the quorum the results
/// already hold to decide (spec §11: more copies, or a majority, without an
/// arbiter): the job ends rather than waiting for nothing.
#[test]
fn a_stale_last_arbiter_lets_the_quorum_decide() {
    let (mut t, d, j) = one_pool(1, 3.0, &[true, false, false, false, false, false, false]);
    let (_, honest) = t.pull(d[1]).unwrap();
    let (_, liar) = t.pull(d[2]).unwrap();
    let (_, second) = t.pull(d[3]).unwrap();
    t.report(d[1], honest, "j", 0, true);
    lie(&mut t, (d[2], liar), 0, 3);
    let (_, arb) = t.pull(d[0]).unwrap();
    let held = lie(&mut t, (d[3], second), 0, 3);
    assert!(!has(&held, |e| matches!(e, Event::TaskValidated { .. })), "the arbiter decides: {held:?}");
    t.at(200_000);
    let stale = t.ok(CommandKind::Tick);
    assert_eq!(state_of(&stale, arb), [AttemptState::Stale]);
    assert!(has(&stale, |e| matches!(e, Event::JobCompleted { .. })), "{stale:?}");
    assert_eq!(t.engine.job_status(j), Some(JobStatus::Completed));
}

/// A device that leaves and registers again is still one of its job's devices.
#[test]
fn a_device_that_comes_back_is_still_counted_by_its_job() {
    let (mut t, d) = T::new(&[false; 3]);
    let mut spec = job("j", 1);
    (spec.pools.c_min, spec.pools.s_min) = (Some(0.0), Some(1));
    let j = t.submit(spec);
    assert_eq!(t.engine.job_progress(j).unwrap().pools, 3, "pools {{d0}} {{d1}} {{d2}}");
    let (_, a) = t.pull(d[0]).unwrap();
    t.ok(CommandKind::ReportError { device: d[0], attempt: a });
    t.at(60_000);
    let (_, b) = t.pull(d[1]).unwrap();
    t.ok(CommandKind::ReportError { device: d[1], attempt: b });
    // A refresh now, so that the next tick does not re-plan.
    t.ok(CommandKind::Tick);
    t.ok(CommandKind::RemoveDevice { device: d[2] });
    let back = t.register(Device { processor_score: Some(400.0), ..Device::new("d2") });
    assert_eq!(back, d[2]);
    t.at(1_000);
    t.ok(CommandKind::Tick);
    assert_eq!(t.engine.job_status(j), Some(JobStatus::Running));
    t.at(60_000);
    let (_, c) = t.pull(d[2]).unwrap();
    let done = t.report(d[2], c, "j", 0, true);
    assert!(has(&done, |e| matches!(e, Event::JobCompleted { .. })), "{done:?}");
}

/// Copies stuck in a pool whose devices cannot take them (here: their hands are
/// full) move to the rescue queue after `rescue_wait` with nothing of the job
/// running, and a device of a lower pool takes them from there; the pools
/// themselves stay closed to it (spec §10: never from a higher pool).
#[test]
fn a_stalled_jobs_copies_move_to_the_rescue_queue() {
    let (mut t, d) = T::new(&[false; 2]);
    let two_pools = |id: &str| {
        let mut spec = job(id, 2);
        (spec.pools.c_min, spec.pools.s_min) = (Some(0.0), Some(1));
        spec
    };
    t.submit(two_pools("k"));
    let busy = [t.pull(d[0]).unwrap().1, t.pull(d[0]).unwrap().1];
    let j = t.submit(two_pools("j"));
    assert_eq!(t.engine.job_progress(j).unwrap().pools, 2, "pools {{d0}} {{d1}}");
    let (own, a) = t.pull(d[1]).unwrap();
    t.report(d[1], a, "j", own, true);
    // Pool 1's copy is not d1's to take, however long it waits in its pool.
    assert_eq!(t.pull(d[1]), None);
    for _ in 0..2 {
        t.at(30_000);
        for attempt in busy {
            t.ok(CommandKind::Heartbeat { device: d[0], attempt });
        }
        if t.engine.rescue_waiting() == 0 {
            assert_eq!(t.pull(d[1]), None);
        }
        let tick = t.ok(CommandKind::Tick);
        assert!(!has(&tick, |e| matches!(e, Event::PlanChanged { .. })), "{tick:?}");
    }
    let other = 1 - own;
    assert_eq!((t.engine.rescue_waiting(), t.engine.job_progress(j).unwrap().queued), (1, 0));
    let (task, b) = t.pull(d[1]).unwrap();
    assert_eq!(task, other, "it waited already: taken at once");
    let done = t.report(d[1], b, "j", task, true);
    assert!(has(&done, |e| matches!(e, Event::JobCompleted { .. })), "{done:?}");
}

/// A pool that shrinks at a re-plan keeps no more copies of a task than it has
/// devices: the extra goes to the next pool down, or, with none that can hold
/// it, to the rescue queue, and the task is still cross-checked (spec §11c) once
/// a device of its pools may take it.
#[test]
fn a_shrunken_pool_keeps_no_more_copies_of_a_task_than_devices() {
    let (mut t, d) = T::new(&[false; 2]);
    let mut spec = replicated("j", 1, 2.0);
    spec.pools.s_min = Some(2);
    let j = t.submit(spec);
    assert_eq!(t.engine.job_progress(j).unwrap().pools, 1, "one pool {{d0, d1}}");
    t.ok(CommandKind::RemoveDevice { device: d[1] });
    t.at(31_000);
    let replanned = t.ok(CommandKind::Tick);
    assert!(has(&replanned, |e| matches!(e, Event::PlanChanged { job, pools: 1, .. } if *job == j)), "{replanned:?}");
    assert!(replanned.contains(&Event::TaskRescued { job: j, task: 0, need: RescueNeed::Copy }), "{replanned:?}");
    let copies = t.engine.task_copies(j, 0).unwrap();
    assert_eq!((copies.planned, copies.queued, copies.rescue), (2, 1, 1), "the pool of one device holds one copy");
    let (_, a) = t.pull(d[0]).unwrap();
    let first = t.report(d[0], a, "j", 0, true);
    assert!(!has(&first, |e| matches!(e, Event::TaskValidated { .. })), "two copies planned: {first:?}");
    t.register(Device { processor_score: Some(450.0), ..Device::new("d1") });
    // d1 comes back, the next refresh puts it in the pool, and once the copy
    // waited `rescue_wait` it takes it.
    t.at(60_000);
    t.ok(CommandKind::Tick);
    let (_, b) = t.pull(d[1]).unwrap();
    let done = t.report(d[1], b, "j", 0, true);
    assert!(has(&done, |e| matches!(e, Event::JobCompleted { unverified: 0, .. })), "{done:?}");
}

/// The whole documented range of time is accepted by a new engine, years
/// before 1970 included.
#[test]
fn a_new_engine_takes_any_time_in_range() {
    for at in [Timestamp::MIN, Timestamp::parse_rfc3339("1900-01-01T00:00:00Z").unwrap(), Timestamp(-1)] {
        let mut engine = Engine::default();
        let mut out = Vec::new();
        engine.apply(&Command { at, kind: CommandKind::Tick }, &mut out).unwrap();
        assert_eq!(engine.now(), at);
        assert!(has(&out, |e| matches!(e, Event::RankingRefreshed { .. })), "{out:?}");
        let past = Command { at: at.add_millis(-1), kind: CommandKind::Tick };
        assert!(engine.apply(&past, &mut Vec::new()).is_err(), "time never goes back");
    }
}
