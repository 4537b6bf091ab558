//! Short tails: speculative copies of a job's last tasks and its last copies kept
//! off slow devices, checked against a driver that keeps its own model of the grid
//! (each device's speed, what runs where, what was paid) and runs the engine in
//! steps of simulated time.

use std::collections::{BTreeMap, BTreeSet};

use byterank_core::application::{Chunk, ResultMeta, Synthetic};
use byterank_core::device::Device;
use byterank_core::engine::{
    AttemptId, AttemptState, Command, CommandKind, DeviceId, Engine, EngineConfig, Event, JobId, JobStatus,
};
use byterank_core::job::{JobSpec, ReplicationGoal};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;

/// Work of one task, in ms at rate 1: a device of rate `r` (score × CPU share)
/// runs a copy in `WORK / r` ms.
const WORK: f64 = 400_000.0;
const STEP_MS: i64 = 100;
const START: i64 = 1_795_662_000_000;

/// A copy the driver's model has running.
#[derive(Clone, Copy, Debug)]
struct Run {
    device: DeviceId,
    job: JobId,
    task: u32,
    ends: i64,
}

/// The driver: the engine, and its own model of the grid.
struct Driver {
    engine: Engine,
    now: i64,
    devices: Vec<(DeviceId, f64)>,
    running: BTreeMap<AttemptId, Run>,
    /// Every (job, task, device) that got a copy: never twice.
    given: BTreeSet<(JobId, u32, DeviceId)>,
    /// Speculative copies by (job, task).
    speculative: BTreeMap<(JobId, u32), u32>,
    /// Tasks validated, and the valid results each verdict counted.
    validated: BTreeMap<(JobId, u32), u32>,
    /// Credits by (job, task): devices paid.
    paid: BTreeMap<(JobId, u32), Vec<DeviceId>>,
    /// Attempts cancelled, with their device and task.
    cancelled: Vec<Run>,
    ended: BTreeMap<JobId, (JobStatus, i64)>,
    /// A device that reports a wrong result on each of its copies.
    liar: Option<DeviceId>,
}

impl Driver {
    /// Devices with these processor scores (all their CPU available).
    fn new(cfg: EngineConfig, scores: &[f64]) -> Driver {
        let mut d = Driver {
            engine: Engine::new(cfg).unwrap(),
            now: START,
            devices: Vec::new(),
            running: BTreeMap::new(),
            given: BTreeSet::new(),
            speculative: BTreeMap::new(),
            validated: BTreeMap::new(),
            paid: BTreeMap::new(),
            cancelled: Vec::new(),
            ended: BTreeMap::new(),
            liar: None,
        };
        for (i, &score) in scores.iter().enumerate() {
            let device =
                Device { processor_score: Some(score), cpu_available_pct: Some(100.0), ..Device::new(format!("d{i}")) };
            let out = d.apply(CommandKind::RegisterDevice { device, owner: format!("o{i}") });
            let Some(&Event::DeviceRegistered { device, .. }) = out.first() else { panic!("{out:?}") };
            d.devices.push((device, score));
        }
        d.apply(CommandKind::Tick);
        d
    }

    fn apply(&mut self, kind: CommandKind) -> Vec<Event> {
        let mut out = Vec::new();
        self.engine.apply(&Command { at: Timestamp(self.now), kind }, &mut out).unwrap();
        assert!(self.engine.ledger().conserves());
        if let Err(e) = self.engine.audit() {
            panic!("{e}");
        }
        self.observe(&out);
        out
    }

    /// Folds the engine's events into the model, checking each against it.
    fn observe(&mut self, out: &[Event]) {
        for e in out {
            match *e {
                Event::TaskAssigned { job, task, device, attempt, speculative, .. } => {
                    assert!(self.given.insert((job, task, device)), "{device} got a second copy of task {task}");
                    let rate = self.devices.iter().find(|d| d.0 == device).unwrap().1;
                    let ends = self.now + (WORK / rate).ceil() as i64;
                    self.running.insert(attempt, Run { device, job, task, ends });
                    if speculative {
                        *self.speculative.entry((job, task)).or_default() += 1;
                    }
                }
                Event::AttemptChanged { attempt, state: AttemptState::Cancelled, .. } => {
                    let c = self.running.remove(&attempt).expect("a cancelled attempt was running");
                    self.cancelled.push(c);
                }
                Event::AttemptChanged { attempt, state, .. } if state != AttemptState::Delayed => {
                    self.running.remove(&attempt);
                }
                Event::TaskValidated { job, task, valid, .. } => {
                    assert!(self.validated.insert((job, task), valid).is_none(), "task {task} validated twice");
                }
                Event::RewardCredited { device, job, task, .. } => {
                    let paid = self.paid.entry((job, task)).or_default();
                    assert!(!paid.contains(&device), "{device} paid twice for task {task}");
                    paid.push(device);
                }
                Event::JobCompleted { job, .. } => {
                    self.ended.insert(job, (JobStatus::Completed, self.now));
                }
                Event::JobFailed { job, .. } => {
                    self.ended.insert(job, (JobStatus::Failed, self.now));
                }
                _ => {}
            }
        }
    }

    fn submit(&mut self, spec: JobSpec) -> JobId {
        let out = self.apply(CommandKind::SubmitJob { job: spec, user: "u".into() });
        let Some(&Event::JobAccepted { job, .. }) = out.last() else { panic!("{out:?}") };
        job
    }

    /// One step: copies that end report (in attempt order), then idle devices pull
    /// (in `order`), then time moves on.
    fn step(&mut self, order: &[usize]) {
        let due: Vec<(AttemptId, Run)> =
            self.running.iter().filter(|(_, c)| c.ends <= self.now).map(|(a, c)| (*a, *c)).collect();
        for (attempt, c) in due {
            if !self.running.contains_key(&attempt) {
                continue;
            }
            let id = format!("j{}", c.job.0);
            let chunk = Chunk { index: c.task, offset: u64::from(c.task), len: 1 };
            let result: ResultMeta = if self.liar == Some(c.device) {
                Synthetic::incorrect(&id, &chunk, u64::from(c.device.0))
            } else {
                Synthetic::expected(&id, &chunk)
            };
            self.running.remove(&attempt);
            self.apply(CommandKind::ReportResult { device: c.device, attempt, result });
        }
        if self.now % 10_000 == 0 {
            self.apply(CommandKind::Tick);
        }
        for &i in order {
            let device = self.devices[i].0;
            if self.running.values().all(|c| c.device != device) {
                self.apply(CommandKind::Pull { device });
            }
        }
        self.now += STEP_MS;
    }

    /// Runs until every job ended or `limit_ms` passed; the job's end, ms from start.
    fn run(&mut self, job: JobId, order: &[usize], limit_ms: i64) -> Option<i64> {
        while self.now < START + limit_ms {
            if let Some(&(status, at)) = self.ended.get(&job) {
                assert_eq!(status, JobStatus::Completed);
                return Some(at - START);
            }
            self.step(order);
        }
        None
    }

    /// Checks what must hold whatever happened: a task validated once, each of
    /// its valid results paid once, no cancelled copy paid, at most one
    /// speculative copy per task.
    fn check_books(&self) {
        for (&(job, task), devices) in &self.paid {
            let valid = self.validated.get(&(job, task)).copied().expect("paid for a validated task");
            assert_eq!(devices.len() as u32, valid, "task {task}: one payment per valid result");
        }
        for c in &self.cancelled {
            let paid = self.paid.get(&(c.job, c.task)).cloned().unwrap_or_default();
            assert!(!paid.contains(&c.device), "{} paid for a cancelled copy of task {}", c.device, c.task);
        }
        assert!(self.speculative.values().all(|&n| n <= 1), "{:?}", self.speculative);
    }
}

fn spec(id: &str, chunks: u64) -> JobSpec {
    let mut j = JobSpec::new(id, chunks);
    j.preferences.byte_level = byterank_core::job::ByteLevel::High;
    j.pools.c_min = Some(0.0);
    j.pools.s_min = Some(1);
    j.price_chips = ByteChips(100 * chunks);
    j
}

fn off() -> EngineConfig {
    let mut cfg = EngineConfig::default();
    cfg.speculation.enabled = false;
    cfg
}

/// Four fast devices (1 s a copy) and one 40 times slower that takes the first
/// copy: without speculation the job waits the slow device's 40 s; with it, a
/// fast device that finds nothing left gets a speculative copy of that task,
/// whose result decides it, and the slow copy is cancelled unpaid.
#[test]
fn a_slow_device_holding_the_last_task_gets_a_speculative_copy_on_a_fast_one() {
    let scores = [10.0, 400.0, 400.0, 400.0, 400.0];
    let order = [0, 1, 2, 3, 4];
    let mut today = Driver::new(off(), &scores);
    let job = today.submit(spec("j0", 20));
    let slow_end = today.run(job, &order, 120_000).expect("completes");
    assert!(today.speculative.is_empty());
    assert!(slow_end >= 40_000, "the slow copy sets the makespan: {slow_end} ms");

    let mut d = Driver::new(EngineConfig::default(), &scores);
    let job = d.submit(spec("j0", 20));
    let end = d.run(job, &order, 120_000).expect("completes");
    d.check_books();
    assert_eq!(d.speculative.len(), 1, "one speculative copy: {:?}", d.speculative);
    let (&(_, task), _) = d.speculative.iter().next().unwrap();
    let slow = d.devices[0].0;
    assert!(
        d.cancelled.iter().any(|c| c.device == slow && c.task == task),
        "the slow copy of task {task} is cancelled: {:?}",
        d.cancelled
    );
    assert!(!d.paid[&(job, task)].contains(&slow));
    assert!(end < 10_000, "the tail is cut: {end} ms against {slow_end} ms");
}

/// Many slow devices hold tasks at the end, fast ones sit idle: the job's
/// speculative copies stop at its cap (a tenth of its tasks), a task gets at most
/// one, and no device gets two copies of a task.
#[test]
fn the_cap_holds() {
    let mut scores = vec![10.0; 6];
    scores.extend([400.0; 4]);
    let order: Vec<usize> = (0..scores.len()).collect();
    let mut d = Driver::new(EngineConfig::default(), &scores);
    let job = d.submit(spec("j0", 20));
    d.run(job, &order, 200_000).expect("completes");
    d.check_books();
    let total: u32 = d.speculative.values().sum();
    assert_eq!(total, 2, "a tenth of 20 tasks: {:?}", d.speculative);

    let mut cfg = EngineConfig::default();
    cfg.speculation.max_share = 0.0;
    let mut none = Driver::new(cfg, &scores);
    let job = none.submit(spec("j0", 20));
    none.run(job, &order, 200_000).expect("completes");
    assert!(none.speculative.is_empty(), "a share of 0: no speculative copy");
}

/// Replicated tasks (r = 2, quorum 2): a speculative copy's result completes the
/// quorum with the other copy's, the slow copy is cancelled, and the bounty goes
/// to the two valid results only. With a device that lies among the fast ones,
/// every verdict is still the expected result's and nobody is paid twice.
#[test]
fn a_speculative_copy_counts_towards_the_quorum_and_nothing_is_paid_twice() {
    let scores = [10.0, 12.0, 400.0, 400.0, 400.0, 400.0, 400.0];
    let order: Vec<usize> = (0..scores.len()).collect();
    for liar in [None, Some(3)] {
        let mut d = Driver::new(EngineConfig::default(), &scores);
        d.liar = liar.map(|i| d.devices[i].0);
        let mut s = spec("j0", 10);
        s.replication = Some(ReplicationGoal::R(2.0));
        let job = d.submit(s);
        d.run(job, &order, 400_000).expect("completes");
        d.check_books();
        assert!(!d.speculative.is_empty(), "the slow devices' tasks get speculative copies");
        for &(j, task) in d.speculative.keys() {
            let valid = d.validated[&(j, task)];
            assert!(valid >= 2, "task {task} decided by a quorum: {valid}");
            if let Some(l) = d.liar {
                assert!(!d.paid[&(j, task)].contains(&l), "the liar is not paid");
            }
        }
        assert_eq!(d.validated.len(), 10, "every task validated");
    }
}

/// A device far slower than the job's median gets no regular copy once the job
/// is in its tail (fewer copies queued than its devices over the slow factor),
/// and does with speculation off. One queue for every device (`fcfs`), so that
/// the slow device may take any copy left.
#[test]
fn a_slow_device_gets_no_regular_copy_in_the_tail() {
    // One slow device and eight fast; the slow one pulls only once one copy is
    // left: it gets none, and the job ends without waiting for it.
    let mut scores = vec![400.0; 8];
    scores.push(10.0);
    let fast: Vec<usize> = (0..8).collect();
    let fcfs = |mut cfg: EngineConfig| {
        cfg.plan.distribution = byterank_core::policy::Distribution::Fcfs;
        cfg
    };
    for (cfg, gets) in [(fcfs(EngineConfig::default()), false), (fcfs(off()), true)] {
        let mut d = Driver::new(cfg, &scores);
        let job = d.submit(spec("j0", 25));
        let slow = d.devices[8].0;
        // The fast devices run until 1 copy is queued; then the slow one pulls.
        while d.engine.job_progress(job).unwrap().queued > 1 {
            d.step(&fast);
        }
        assert_eq!(d.engine.job_progress(job).unwrap().queued, 1);
        d.apply(CommandKind::Pull { device: slow });
        let got = d.running.values().any(|c| c.device == slow);
        assert_eq!(got, gets, "speculation {}", d.engine.config().speculation.enabled);
        d.run(job, &(0..9).collect::<Vec<_>>(), 200_000).expect("completes");
        d.check_books();
    }
}

/// Many seeds of a random grid (speeds over two orders of magnitude, random pull
/// order, a liar): every task is validated once, paid once per valid result,
/// never run twice on a device, speculated at most once, and the job's
/// speculative copies stay within the cap.
#[test]
fn random_grids_keep_the_books() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..12 {
        let n = 4 + (next() % 8) as usize;
        let scores: Vec<f64> = (0..n).map(|_| 10.0 + (next() % 400) as f64).collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.rotate_left((next() % n as u64) as usize);
        let mut d = Driver::new(EngineConfig::default(), &scores);
        d.liar = (next() % 2 == 0).then(|| d.devices[(next() % n as u64) as usize].0);
        let tasks = 5 + next() % 40;
        let mut s = spec("j0", tasks);
        if next() % 2 == 0 {
            s.replication = Some(ReplicationGoal::R(2.0));
        }
        let job = d.submit(s);
        let _ = d.run(job, &order, 600_000);
        d.check_books();
        let total: u32 = d.speculative.values().sum();
        assert!(f64::from(total) <= (0.1 * tasks as f64).ceil(), "{total} speculative copies of {tasks} tasks");
    }
}
