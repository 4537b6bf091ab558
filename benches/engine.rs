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
//!
//! The groups `engine_mix_100k_devices` and `engine_mix_1m_devices` time the
//! realistic case ([`Mix`]): ten jobs at once, r = 2 on half of them, devices in a
//! random order, a tick every simulated second and a ranking refresh every 30 s,
//! completed jobs released and replaced, all inside the timing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use byterank::core::application::{Chunk, ResultMeta, Synthetic};
use byterank::core::device::Device;
use byterank::core::device::Region;
use byterank::core::engine::{
    AttemptId, Command, CommandKind, DeviceId, Engine, EngineConfig, Event, JobId, JobStatus,
};
use byterank::core::job::{ByteLevel, JobSpec, Regions, ReplicationGoal};
use byterank::core::time::Timestamp;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

mod mix;
use mix::Mix;

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

fn engine_mix(c: &mut Criterion, devices: u32, name: &str) {
    let mut mix = Mix::new(devices);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.bench_function("mix_cycle", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let mut done = 0;
            while done < iters {
                done += u64::from(mix.cycle());
            }
            start.elapsed()
        })
    });
    g.finish();
}

fn engine_mix_100k(c: &mut Criterion) {
    engine_mix(c, 100_000, "engine_mix_100k_devices");
}

fn engine_mix_1m(c: &mut Criterion) {
    engine_mix(c, 1_000_000, "engine_mix_1m_devices");
}

/// An engine of `devices` devices with `jobs` running jobs of `tasks` tasks each,
/// at ByteLevel high, ranked; the device handles.
fn loaded(devices: u32, jobs: u32, tasks: u64) -> Engine {
    let mut engine = Engine::new(EngineConfig::default()).expect("the default configuration is valid");
    let mut out = Vec::new();
    let at = Timestamp(1_795_662_000_000);
    for i in 0..devices {
        let device = Device { processor_score: Some(100.0 + f64::from(i % 400)), ..Device::new(format!("dev-{i:07}")) };
        engine
            .apply(
                &Command { at, kind: CommandKind::RegisterDevice { device, owner: format!("o{}", i % 100) } },
                &mut out,
            )
            .unwrap();
    }
    for j in 0..jobs {
        let mut job = JobSpec::new(format!("load-{j}"), tasks);
        job.preferences.byte_level = ByteLevel::High;
        engine.apply(&Command { at, kind: CommandKind::SubmitJob { job, user: "bench".into() } }, &mut out).unwrap();
    }
    engine
}

/// A pull's cost against the number of running jobs: pull, then report the copy
/// (making the result included), with 1, 10 and 100 jobs running on 100,000
/// devices; 1 job is the baseline. A job that completes is replaced, untimed.
fn engine_pull_vs_jobs(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_pull_vs_running_jobs");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    for jobs in [1u32, 10, 100] {
        let per_job = 1_000_000 / u64::from(jobs);
        let mut engine = loaded(100_000, jobs, per_job);
        let mut out = Vec::new();
        let at = Timestamp(1_795_662_000_000);
        let mut next = 0u32;
        let mut submitted = jobs;
        g.bench_function(format!("{jobs}_jobs"), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                let mut done = 0;
                while done < iters {
                    let device = DeviceId(next);
                    next = (next + 1) % 100_000;
                    let start = Instant::now();
                    out.clear();
                    engine.apply(&Command { at, kind: CommandKind::Pull { device } }, &mut out).unwrap();
                    let Some(&Event::TaskAssigned { job, task, attempt, .. }) = out.first() else {
                        // Every copy is out: replace the jobs that completed.
                        let ended: Vec<JobId> =
                            engine.jobs().filter(|(_, st)| *st != JobStatus::Running).map(|(j, _)| j).collect();
                        for job in ended {
                            engine.apply(&Command { at, kind: CommandKind::ReleaseJob { job } }, &mut out).unwrap();
                            let mut spec = JobSpec::new(format!("load-{submitted}"), per_job);
                            submitted += 1;
                            spec.preferences.byte_level = ByteLevel::High;
                            let kind = CommandKind::SubmitJob { job: spec, user: "bench".into() };
                            engine.apply(&Command { at, kind }, &mut out).unwrap();
                        }
                        continue;
                    };
                    let name = format!("load-{}", job.0);
                    let result = Synthetic::expected(&name, &Chunk { index: task, offset: u64::from(task), len: 1 });
                    out.clear();
                    engine
                        .apply(&Command { at, kind: CommandKind::ReportResult { device, attempt, result } }, &mut out)
                        .unwrap();
                    spent += start.elapsed();
                    done += 1;
                }
                spent
            })
        });
    }
    g.finish();
}

/// A ranking refresh with 8 running jobs, at 100,000 and 1,000,000 devices: the
/// whole tick, ranking and re-planning every job whose pools changed.
fn engine_refresh(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_refresh_8_jobs");
    g.sample_size(10);
    for devices in [100_000u32, 1_000_000] {
        let mut engine = loaded(devices, 8, 100_000);
        let mut out = Vec::new();
        let mut now = 1_795_662_000_000i64;
        let mut flip = 0u32;
        g.bench_function(format!("{devices}_devices"), |b| {
            b.iter(|| {
                // One device's report changes, and the refresh period has passed.
                flip += 1;
                let device = DeviceId(flip % devices);
                let state = Device {
                    processor_score: Some(100.0 + f64::from(flip % 400)),
                    ..Device::new(format!("dev-{:07}", device.0))
                };
                now += 30_000;
                out.clear();
                engine
                    .apply(&Command { at: Timestamp(now), kind: CommandKind::UpdateDevice { device, state } }, &mut out)
                    .unwrap();
                engine.apply(&Command { at: Timestamp(now), kind: CommandKind::Tick }, &mut out).unwrap();
                assert!(out.iter().any(|e| matches!(e, Event::RankingRefreshed { .. })));
            })
        });
    }
    g.finish();
}

/// A pull that finds nothing, on 10,000 devices (spec §10: its cost does not
/// grow with rescue entries or running jobs):
/// - `rescue_N`: one job whose N tasks each failed once, so N rescue copies wait
///   and none has waited `rescue_wait` yet; its pool queues are empty, and no
///   device is trusted, so no pulling device may take any of them yet;
/// - `jobs_N`: N running jobs with queued copies, all for Europe only, pulled by
///   devices in the Americas, which none of them targets.
fn engine_empty_pull(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_empty_pull_10k_devices");
    g.sample_size(20);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    const N: u32 = 10_000;
    let at = Timestamp(1_795_662_000_000);
    let mut out = Vec::new();
    fn pulls(g: &mut BenchmarkGroup<'_, WallTime>, name: String, engine: &mut Engine, devices: &[DeviceId]) {
        let at = Timestamp(1_795_662_000_000);
        let mut out = Vec::new();
        let mut next = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                let device = devices[next % devices.len()];
                next += 1;
                out.clear();
                engine.apply(&Command { at, kind: CommandKind::Pull { device } }, &mut out).unwrap();
                assert!(matches!(out[..], [Event::NoTask { .. }]), "{out:?}");
            })
        });
    }
    for entries in [10u32, 10_000] {
        let mut engine = loaded(N, 0, 0);
        let mut spec = JobSpec::new("failing", u64::from(entries));
        spec.preferences.byte_level = ByteLevel::High;
        engine
            .apply(&Command { at, kind: CommandKind::SubmitJob { job: spec, user: "bench".into() } }, &mut out)
            .unwrap();
        let mut failed = 0;
        for d in (0..N).cycle() {
            if failed == entries {
                break;
            }
            let device = DeviceId(d);
            out.clear();
            engine.apply(&Command { at, kind: CommandKind::Pull { device } }, &mut out).unwrap();
            let Some(&Event::TaskAssigned { attempt, .. }) = out.first() else { continue };
            engine.apply(&Command { at, kind: CommandKind::ReportError { device, attempt } }, &mut out).unwrap();
            failed += 1;
        }
        assert_eq!(engine.rescue_waiting(), entries as usize);
        let devices: Vec<DeviceId> = (0..N).map(DeviceId).collect();
        pulls(&mut g, format!("rescue_{entries}"), &mut engine, &devices);
    }
    for jobs in [1u32, 1_000] {
        let mut engine = Engine::new(EngineConfig::default()).expect("the default configuration is valid");
        for i in 0..N {
            let region = if i % 2 == 0 { Region::Europe } else { Region::Americas };
            let device = Device {
                processor_score: Some(100.0 + f64::from(i % 400)),
                region: Some(region),
                ..Device::new(format!("dev-{i:07}"))
            };
            let kind = CommandKind::RegisterDevice { device, owner: format!("o{}", i % 100) };
            engine.apply(&Command { at, kind }, &mut out).unwrap();
        }
        for j in 0..jobs {
            let mut spec = JobSpec::new(format!("europe-{j}"), 10);
            spec.preferences.byte_level = ByteLevel::High;
            spec.preferences.regions = Regions::Only(vec![Region::Europe]);
            let kind = CommandKind::SubmitJob { job: spec, user: "bench".into() };
            engine.apply(&Command { at, kind }, &mut out).unwrap();
        }
        let americas: Vec<DeviceId> = (0..N).filter(|i| i % 2 == 1).map(DeviceId).collect();
        pulls(&mut g, format!("jobs_{jobs}"), &mut engine, &americas);
    }
    g.finish();
}

criterion_group!(
    benches,
    engine_cycles,
    engine_mix_100k,
    engine_mix_1m,
    engine_pull_vs_jobs,
    engine_refresh,
    engine_empty_pull
);
criterion_main!(benches);
