//! Sustained task cycles against a 100,000-device engine.
//!
//! `cargo bench --bench engine`. One cycle is what a worker does for one copy of a
//! task: pull it, send a heartbeat, report its result (three commands, each applied
//! and answered with events). The engine holds 100,000 registered, ranked devices
//! and a job of 500,000 tasks at r = 2: both copies of every task run, and a task's
//! verdict is final when the second agrees with the first (then it is paid). Devices
//! take turns, and each keeps a copy in flight between its turns (it reports the
//! copy it pulled on its previous turn, then pulls the next), so 100,000 attempts
//! are running at any moment, as in a busy grid. Criterion reports the time per
//! cycle; cycles per second is its inverse.

use std::hint::black_box;
use std::time::{Duration, Instant};

use byterank::core::application::{Chunk, ResultMeta, Synthetic};
use byterank::core::device::Device;
use byterank::core::engine::{
    AttemptId, Command, CommandKind, DeviceId, Engine, EngineConfig, Event, JobId, JobStatus,
};
use byterank::core::job::{ByteLevel, JobSpec, ReplicationGoal};
use byterank::core::time::Timestamp;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const DEVICES: u32 = 100_000;
const TASKS: u64 = 500_000;

struct Bench {
    engine: Engine,
    out: Vec<Event>,
    /// The results of the current job's tasks, made before timing: building a
    /// result is the worker's and the adapter's work, not the engine's. One for
    /// each of a task's two copies.
    results: Vec<[ResultMeta; 2]>,
    now: i64,
    next_device: u32,
    jobs: u32,
    /// The attempt each device holds between its turns, with its task.
    in_flight: Vec<Option<(AttemptId, u32)>>,
}

impl Bench {
    fn new() -> Bench {
        let mut b = Bench {
            engine: Engine::new(EngineConfig::default()).expect("the default configuration is valid"),
            out: Vec::new(),
            results: Vec::new(),
            now: 1_795_662_000_000,
            next_device: 0,
            jobs: 0,
            in_flight: vec![None; DEVICES as usize],
        };
        for i in 0..DEVICES {
            let device =
                Device { processor_score: Some(100.0 + f64::from(i % 400)), ..Device::new(format!("dev-{i:06}")) };
            b.apply(CommandKind::RegisterDevice { device, owner: format!("owner-{}", i % 1000) });
        }
        b.apply(CommandKind::Tick);
        b.submit();
        b
    }

    fn apply(&mut self, kind: CommandKind) {
        self.out.clear();
        self.engine
            .apply(&Command { at: Timestamp(self.now), kind }, &mut self.out)
            .expect("the bench sends valid commands");
    }

    fn submit(&mut self) {
        let name = format!("job-{}", self.jobs);
        self.results = (0..TASKS)
            .map(|t| [0; 2].map(|_| Synthetic::expected(&name, &Chunk { index: t as u32, offset: t, len: 1 })))
            .collect();
        let mut job = JobSpec::new(name, TASKS);
        job.preferences.byte_level = ByteLevel::High;
        job.replication = Some(ReplicationGoal::R(2.0));
        self.jobs += 1;
        self.apply(CommandKind::SubmitJob { job, user: "bench".into() });
    }

    fn result(&mut self, task: u32) -> ResultMeta {
        let [first, second] = &mut self.results[task as usize];
        if first.digest.is_empty() {
            std::mem::take(second)
        } else {
            std::mem::take(first)
        }
    }

    /// One heartbeat and result for the task a device holds, and one pull; false
    /// when the job has no task left to pull.
    fn cycle(&mut self) -> bool {
        let device = DeviceId(self.next_device);
        self.next_device = (self.next_device + 1) % DEVICES;
        if let Some((attempt, task)) = self.in_flight[device.0 as usize].take() {
            self.apply(CommandKind::Heartbeat { device, attempt });
            let result = self.result(task);
            self.apply(CommandKind::ReportResult { device, attempt, result: black_box(result) });
        }
        self.apply(CommandKind::Pull { device });
        let Some(&Event::TaskAssigned { task, attempt, .. }) = self.out.first() else {
            // This device may not take what is left (it ran the other copy); the
            // job's pull work is done when nothing is queued.
            let job = JobId(self.jobs - 1);
            return self.engine.job_progress(job).is_some_and(|p| p.queued > 0);
        };
        self.in_flight[device.0 as usize] = Some((attempt, task));
        true
    }

    /// Reports every task in flight, so the job can end.
    fn drain(&mut self) {
        for d in 0..DEVICES {
            let device = DeviceId(d);
            if let Some((attempt, task)) = self.in_flight[d as usize].take() {
                let result = self.result(task);
                self.apply(CommandKind::ReportResult { device, attempt, result });
            }
        }
    }
}

fn engine_cycles(c: &mut Criterion) {
    let mut bench = Bench::new();
    let mut g = c.benchmark_group("engine_100k_devices");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.bench_function("task_cycle", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let start = Instant::now();
                while done < iters && bench.cycle() {
                    done += 1;
                }
                spent += start.elapsed();
                if done < iters {
                    // The job's last tasks and its completion are cycles too.
                    let start = Instant::now();
                    bench.drain();
                    spent += start.elapsed();
                    let job = JobId(bench.jobs - 1);
                    assert_eq!(bench.engine.job_status(job), Some(JobStatus::Completed), "every copy ran");
                    bench.now += 1_000;
                    bench.apply(CommandKind::Tick);
                    bench.submit();
                }
            }
            spent
        })
    });
    g.finish();
}

criterion_group!(benches, engine_cycles);
criterion_main!(benches);
