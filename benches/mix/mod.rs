//! The realistic mix of the `engine` benchmark, shared with the profiling driver
//! `examples/engine_mix.rs` (which runs it for a fixed number of cycles, so that a
//! profile or a CPU-time count sees only the mix, not every group's setup).

use byterank::core::application::{Chunk, ResultMeta, Synthetic};
use byterank::core::device::Device;
use byterank::core::engine::{
    AttemptId, AttemptState, Command, CommandKind, DeviceId, Engine, EngineConfig, Event, JobId,
};
use byterank::core::job::{ByteLevel, JobSpec, ReplicationGoal};
use byterank::core::time::Timestamp;

/// The realistic mix: `JOBS_RUNNING` jobs at once (half at r = 2, ByteLevels
/// mixed), devices taking turns in a random order, engine time moving so that a
/// tick fires every simulated second and the ranking refreshes every 30 s, all
/// inside the timing. A job that completes is replaced by a new one. Each
/// worker makes its result when it reports (as a worker computes it and the
/// host receives it: fresh, not fetched from a table made beforehand); that is
/// inside the timing too.
pub struct Mix {
    engine: Engine,
    out: Vec<Event>,
    now: i64,
    devices: u32,
    rng: rand_chacha::ChaCha8Rng,
    /// The devices in this round's order, each with what its worker holds (kept
    /// together, as a worker keeps its own task).
    order: Vec<(u32, Option<Held>)>,
    turn: usize,
    cycles: u64,
    submitted: u32,
    /// Each running job's name, by job handle.
    names: std::collections::BTreeMap<JobId, String>,
    /// Attempts the engine cancelled (a speculative or agreeing copy decided
    /// their task) that a worker still holds: the host tells the worker, which
    /// drops the attempt at its next turn.
    cancelled: std::collections::HashSet<AttemptId>,
}

/// A worker's task: its attempt, job and task index.
type Held = (AttemptId, JobId, u32);

const JOBS_RUNNING: u32 = 10;
const MIX_TASKS: u64 = 50_000;

impl Mix {
    pub fn new(devices: u32) -> Mix {
        use rand::SeedableRng;
        let mut m = Mix {
            engine: Engine::new(EngineConfig::default()).expect("the default configuration is valid"),
            out: Vec::new(),
            now: 1_795_662_000_000,
            devices,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(7),
            order: (0..devices).map(|d| (d, None)).collect(),
            turn: 0,
            cycles: 0,
            submitted: 0,
            names: Default::default(),
            cancelled: Default::default(),
        };
        for i in 0..devices {
            let device =
                Device { processor_score: Some(100.0 + f64::from(i % 400)), ..Device::new(format!("dev-{i:07}")) };
            m.apply(CommandKind::RegisterDevice { device, owner: format!("owner-{}", i % 1000) });
        }
        m.apply(CommandKind::Tick);
        for _ in 0..JOBS_RUNNING {
            m.submit();
        }
        m
    }

    fn apply(&mut self, kind: CommandKind) {
        self.out.clear();
        self.engine.apply(&Command { at: Timestamp(self.now), kind }, &mut self.out).expect("valid commands");
        for e in &self.out {
            if let Event::AttemptChanged { attempt, state: AttemptState::Cancelled, .. } = e {
                self.cancelled.insert(*attempt);
            }
        }
    }

    fn submit(&mut self) {
        let n = self.submitted;
        self.submitted += 1;
        let name = format!("mix-{n}");
        let mut job = JobSpec::new(name.clone(), MIX_TASKS);
        job.preferences.byte_level = [ByteLevel::Low, ByteLevel::Balanced, ByteLevel::High][n as usize % 3];
        if n.is_multiple_of(2) {
            job.replication = Some(ReplicationGoal::R(2.0));
        }
        self.apply(CommandKind::SubmitJob { job, user: "bench".into() });
        let Some(&Event::JobAccepted { job, .. }) = self.out.last() else { panic!("{:?}", self.out) };
        self.names.insert(job, name);
    }

    /// One device's turn: report the copy it holds, then pull the next. Whether it
    /// reported one (a task cycle).
    pub fn cycle(&mut self) -> bool {
        use rand::seq::SliceRandom;
        if self.turn == self.order.len() {
            self.order.shuffle(&mut self.rng);
            self.turn = 0;
        }
        let (device, ref mut holds) = self.order[self.turn];
        let (device, held) = (DeviceId(device), holds.take());
        let at = self.turn;
        self.turn += 1;
        self.cycles += 1;
        if self.cycles.is_multiple_of(100) {
            // 100,000 cycles a simulated second at 100k devices.
            self.now += 1_000 * 100 / i64::from(self.devices).max(100);
        }
        if self.cycles.is_multiple_of(u64::from(self.devices)) {
            self.apply(CommandKind::Tick);
        }
        let held = held.filter(|(attempt, ..)| !self.cancelled.remove(attempt));
        if let Some((attempt, job, task)) = held {
            self.apply(CommandKind::Heartbeat { device, attempt });
            let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
            let result: ResultMeta = Synthetic::expected(&self.names[&job], &chunk);
            self.apply(CommandKind::ReportResult { device, attempt, result });
            let done: Vec<JobId> = self
                .out
                .iter()
                .filter_map(|e| if let Event::JobCompleted { job, .. } = e { Some(*job) } else { None })
                .collect();
            for job in done {
                self.names.remove(&job);
                self.apply(CommandKind::ReleaseJob { job });
                self.submit();
            }
        }
        self.apply(CommandKind::Pull { device });
        if let Some(&Event::TaskAssigned { job, task, attempt, .. }) = self.out.first() {
            self.order[at].1 = Some((attempt, job, task));
        }
        held.is_some()
    }
}
