//! Credibility-weighted verdicts against colluders, checked by a driver that
//! knows which results are wrong.
//!
//! Colluding devices return the same wrong result for every task, so any two of
//! them agree. Under the plain quorum rule two colluders holding both copies of
//! a task decide it; with credibility on, an agreeing pair of devices that
//! passed no check is not enough: the task gets one more copy, trusted devices
//! first, and a trusted device's result catches the colluders.

use std::collections::BTreeMap;

use byterank_core::application::{Chunk, ResultMeta, Synthetic};
use byterank_core::device::Device;
use byterank_core::engine::{
    AttemptId, AttemptState, Command, CommandKind, DeviceId, Engine, EngineConfig, Event, JobId, JobStatus,
};
use byterank_core::job::{JobSpec, ReplicationGoal};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The salt of the colluders' shared wrong result.
const COLLUSION: u64 = 0x0C01_10DE;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Trusted,
    Honest,
    Colluder,
}

struct Driver {
    engine: Engine,
    now: i64,
    kinds: Vec<(DeviceId, Kind)>,
    events: Vec<Event>,
    /// Each attempt's device and whether the result it returned was wrong.
    returned: BTreeMap<AttemptId, (DeviceId, bool)>,
}

impl Driver {
    /// Devices `d0..`, best first (scores fall), of the kinds given.
    fn new(credibility: bool, kinds: &[Kind]) -> Driver {
        let mut cfg = EngineConfig::default();
        cfg.credibility.enabled = credibility;
        let mut d = Driver {
            engine: Engine::new(cfg).unwrap(),
            now: 1_795_662_000_000,
            kinds: Vec::new(),
            events: Vec::new(),
            returned: BTreeMap::new(),
        };
        for (i, &k) in kinds.iter().enumerate() {
            let device = Device { processor_score: Some(500.0 - 10.0 * i as f64), ..Device::new(format!("d{i}")) };
            let out = d.ok(CommandKind::RegisterDevice { device, owner: format!("o{i}") });
            let [Event::DeviceRegistered { device, .. }] = out[..] else { panic!("{out:?}") };
            if k == Kind::Trusted {
                d.ok(CommandKind::SetTrust { device, trusted: true });
            }
            d.kinds.push((device, k));
        }
        d.ok(CommandKind::Tick);
        d
    }

    fn ok(&mut self, kind: CommandKind) -> Vec<Event> {
        let mut out = Vec::new();
        self.engine.apply(&Command { at: Timestamp(self.now), kind }, &mut out).unwrap();
        assert!(self.engine.ledger().conserves());
        self.engine.audit().unwrap();
        self.events.extend(out.iter().cloned());
        out
    }

    fn kind(&self, d: DeviceId) -> Kind {
        self.kinds.iter().find(|(x, _)| *x == d).unwrap().1
    }

    fn submit(&mut self, id: &str, tasks: u64) -> JobId {
        let mut j = JobSpec::new(id, tasks);
        j.preferences.byte_level = byterank_core::job::ByteLevel::High;
        j.pools.c_min = Some(0.0);
        j.pools.s_min = Some(2);
        j.price_chips = ByteChips(10_000);
        j.replication = Some(ReplicationGoal::R(2.0));
        let out = self.ok(CommandKind::SubmitJob { job: j, user: "u".into() });
        let Some(&Event::JobAccepted { job, .. }) = out.last() else { panic!("{out:?}") };
        job
    }

    /// The device pulls and, if it got a copy, reports what its kind returns.
    fn work(&mut self, device: DeviceId, job: &str) -> Option<u32> {
        let out = self.ok(CommandKind::Pull { device });
        let Some(&Event::TaskAssigned { task, attempt, .. }) = out.first() else { return None };
        let wrong = self.kind(device) == Kind::Colluder;
        let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
        let result: ResultMeta =
            if wrong { Synthetic::incorrect(job, &chunk, COLLUSION) } else { Synthetic::expected(job, &chunk) };
        self.returned.insert(attempt, (device, wrong));
        self.ok(CommandKind::ReportResult { device, attempt, result });
        Some(task)
    }

    /// Checks the run against what the driver knows. Returns the wrong verdicts.
    fn wrong_verdicts(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::TaskValidated { attempt, .. } if self.returned[attempt].1))
            .count()
    }

    /// Honest and trusted devices are never judged incorrect; nothing wrong is
    /// ever paid.
    fn check_no_harm(&self) {
        for e in &self.events {
            match *e {
                Event::AttemptChanged { attempt, device, state: AttemptState::Incorrect, .. } => {
                    assert_eq!(self.kind(device), Kind::Colluder, "honest {device:?} judged incorrect ({attempt:?})");
                }
                Event::RewardCredited { device, .. } => {
                    assert_ne!(self.kind(device), Kind::Colluder, "a colluder paid");
                }
                _ => {}
            }
        }
    }
}

/// Two colluders hold both copies of a task and agree: the pair passed no
/// check, so the task gets one more copy; the trusted device takes it, its
/// right result decides, both colluders are caught and nothing is paid to
/// them. Their other pending results stop counting: a later pair of them on
/// another task is not credible either, and the trusted device decides it too.
#[test]
fn colluders_holding_every_copy_are_caught_and_nothing_wrong_is_assembled() {
    use Kind::*;
    let mut d = Driver::new(true, &[Trusted, Colluder, Colluder, Honest, Honest]);
    let [t0, c1, c2] = [0, 1, 2].map(|i| d.kinds[i].0);
    let j = d.submit("j", 1);
    assert_eq!((d.work(c1, "j"), d.work(c2, "j")), (Some(0), Some(0)), "colluders hold both copies");
    assert!(!d.events.iter().any(|e| matches!(e, Event::TaskValidated { .. })), "no verdict from an unchecked pair");
    assert!(d.events.iter().any(|e| matches!(e, Event::TaskRescued { job, .. } if *job == j)), "one more copy");
    // Before the rescue wait, only a trusted device may take it.
    d.now += 1_000;
    assert_eq!(d.work(c1, "j"), None, "never twice to one device");
    assert_eq!(d.work(d.kinds[3].0, "j"), None, "an untrusted device waits");
    assert_eq!(d.work(t0, "j"), Some(0));
    let verdict = d.events.iter().find_map(|e| match e {
        Event::TaskValidated { attempt, .. } => Some(*attempt),
        _ => None,
    });
    assert_eq!(d.returned[&verdict.expect("decided")], (t0, false), "the trusted device's right result");
    assert_eq!(d.engine.job_status(j), Some(JobStatus::Completed));
    d.check_no_harm();

    // Caught: the same pair on a new task is not credible, even long after.
    let k = d.submit("k", 1);
    d.now += 600_000;
    let before = d.events.len();
    assert_eq!((d.work(c2, "k"), d.work(c1, "k")), (Some(0), Some(0)));
    assert!(!d.events[before..].iter().any(|e| matches!(e, Event::TaskValidated { .. })), "caught never decide");
    // Past the rescue wait an honest device may take the extra copy: it
    // disagrees, and the dispute goes to the trusted device.
    d.now += 120_000;
    d.ok(CommandKind::Tick);
    assert_eq!(d.work(d.kinds[3].0, "k"), Some(0));
    assert_eq!(d.engine.job_status(k), Some(JobStatus::Running), "a dispute waits for the arbiter");
    assert_eq!(d.work(t0, "k"), Some(0));
    assert_eq!(d.engine.job_status(k), Some(JobStatus::Completed));
    assert_eq!(d.wrong_verdicts(), 0);
    d.check_no_harm();

    // Without credibility the same pair decides, wrongly.
    let mut d = Driver::new(false, &[Trusted, Colluder, Colluder, Honest, Honest]);
    let j = d.submit("j", 1);
    assert_eq!((d.work(d.kinds[1].0, "j"), d.work(d.kinds[2].0, "j")), (Some(0), Some(0)));
    assert_eq!(d.engine.job_status(j), Some(JobStatus::Completed));
    assert_eq!(d.wrong_verdicts(), 1, "the plain quorum assembles the colluders' result");
}

/// Random pull orders on a grid with one trusted device, two colluders and
/// honest devices: with credibility no wrong result is ever assembled (two
/// unchecked devices are not credible enough, and there are never three
/// colluders), honest devices are never judged incorrect and colluders are
/// never paid. The same orders under the plain quorum rule do assemble
/// colluders' results (so the scenario can fail).
#[test]
fn random_orders_never_assemble_a_colluded_result() {
    use Kind::*;
    let kinds = [Trusted, Colluder, Colluder, Honest, Honest, Honest, Honest, Honest];
    let mut plain_wrong = 0;
    for seed in 0..12u64 {
        for credibility in [true, false] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut d = Driver::new(credibility, &kinds);
            let job = d.submit("j", 24);
            // Colluders pull more often: they want both copies.
            let weights: Vec<u32> = kinds.iter().map(|k| if *k == Colluder { 4 } else { 1 }).collect();
            let total: u32 = weights.iter().sum();
            let mut steps = 0;
            while d.engine.job_status(job) == Some(JobStatus::Running) && steps < 5_000 {
                let mut x = rng.random_range(0..total);
                let mut i = 0;
                while x >= weights[i] {
                    x -= weights[i];
                    i += 1;
                }
                let dev = d.kinds[i].0;
                d.work(dev, "j");
                d.now += rng.random_range(0..4_000);
                if steps % 10 == 0 {
                    d.ok(CommandKind::Tick);
                }
                steps += 1;
            }
            assert_eq!(d.engine.job_status(job), Some(JobStatus::Completed), "seed {seed}");
            if credibility {
                assert_eq!(d.wrong_verdicts(), 0, "seed {seed}: a colluded result assembled");
                d.check_no_harm();
            } else {
                plain_wrong += d.wrong_verdicts();
            }
        }
    }
    assert!(plain_wrong > 0, "the plain quorum rule lets colluders holding both copies win");
}
