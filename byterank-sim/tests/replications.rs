//! Replications and the optimal makespan, checked against things they do not
//! compute: a serial run, each run's own record of availability, and every
//! simulated job's makespan.

use byterank_sim::replications::{self, job_opts, Plan, Study};
use byterank_sim::{run_variant, Scenario, World};

/// A small grid with churn (joins, departures, sessions), crashes, slow attempts,
/// replication and a trusted-only variant.
const CHURNY: &str = r#"
name = "churny"
description = "small, with churn"
seed = 5
horizon_s = 7200
[grid]
devices = 150
trusted_share = 0.2
[churn]
model = "weibull"
on_mean_s = 1800
off_mean_s = 900
leave_share = 0.1
join_share = 0.1
[faults]
crash_per_hour = 0.5
slow_p = 0.1
[[jobs]]
name = "a"
count = 4
rate_per_hour = 8
tasks = 40
replication = { r = 2 }
[[jobs]]
name = "b"
at_s = [300]
tasks = 25
task_work_s = 200
input_mb = 20
[[variants]]
name = "default"
[[variants]]
name = "fcfs"
engine.plan.distribution = "fcfs"
[[variants]]
name = "trusted"
job.trusted = true
"#;

fn machine_free(mut s: Study) -> Study {
    (s.wall_s, s.peak_rss_mb, s.threads) = (0.0, 0.0, 0);
    s
}

#[test]
fn parallel_replications_equal_a_serial_run() {
    let sc = Scenario::from_toml_str(CHURNY).unwrap();
    let plan = |threads| Plan { replications: 3, seed: 5, baseline: None, threads: Some(threads) };
    let serial = replications::run(&sc, &plan(1), &|_, _| {}).unwrap();
    let parallel = replications::run(&sc, &plan(3), &|_, _| {}).unwrap();
    assert_eq!(serial.records, parallel.records);
    assert_eq!(machine_free(serial.study.clone()), machine_free(parallel.study));
    // Replication i is the single run of seed + i, whatever ran before it.
    let world = World::new(&sc, 7);
    let v = &sc.variants().unwrap()[1];
    let alone = replications::record(&world, v, &run_variant(&sc, &world, v, 7, &mut |_| {}), 2, 7);
    let in_study = serial.records.iter().find(|r| r.replication == 2 && r.variant == v.name).unwrap();
    assert_eq!(&alone, in_study);
    assert_eq!(serial.study.seeds, [5, 6, 7]);
    assert_eq!(serial.records.len(), 9);
}

/// Availability comes from the devices' own streams: every variant of a seed logs
/// the same online spells, so OPT is the same for the same job.
#[test]
fn every_variant_sees_the_same_availability() {
    let sc = Scenario::from_toml_str(CHURNY).unwrap();
    let world = World::new(&sc, 5);
    let variants = sc.variants().unwrap();
    let runs: Vec<_> = variants.iter().map(|v| run_variant(&sc, &world, v, 5, &mut |_| {})).collect();
    assert!(runs[0].availability.len() > world.len(), "sessions come and go: {}", runs[0].availability.len());
    // A run stops once its jobs are done, so the spells agree up to the earliest end.
    let end = runs.iter().map(|r| (r.end_s * 1000.0) as u64).min().unwrap();
    let clip = |r: &byterank_sim::RunOut| -> Vec<(u32, u64, u64)> {
        r.availability.iter().filter(|s| s.1 < end).map(|&(d, a, b)| (d, a, b.min(end))).collect()
    };
    for r in &runs[1..] {
        assert_eq!(clip(r), clip(&runs[0]), "{}", r.variant);
    }
    // So a job completed in both runs has the same OPT in both.
    let a = job_opts(&world, &variants[0], &runs[0]);
    let b = job_opts(&world, &variants[1], &runs[1]);
    let mut same = 0;
    for ((x, y), (ja, jb)) in a.iter().zip(&b).zip(runs[0].jobs.iter().zip(&runs[1].jobs)) {
        if ja.makespan_s().is_some() && jb.makespan_s().is_some() {
            assert_eq!(x, y, "{}", ja.id);
            same += 1;
        }
    }
    assert!(same >= 3, "{same}");
    // Trusted-only jobs have fewer devices: their OPT can only be longer.
    let t = job_opts(&world, &variants[2], &runs[2]);
    for (x, y) in a.iter().zip(&t) {
        if let (Some(x), Some(y)) = (x, y) {
            assert!(y >= x, "{x} {y}");
        }
    }
    // Each device's online time is the sum of its spells, cut at the run's end.
    for (d, dev) in runs[0].devices.iter().enumerate() {
        let end = (runs[0].end_s * 1000.0) as u64;
        let ms: u64 = runs[0]
            .availability
            .iter()
            .filter(|s| s.0 as usize == d)
            .map(|&(_, a, b)| b.min(end).saturating_sub(a))
            .sum();
        assert!((ms as f64 / 1000.0 - dev.online_s).abs() < 0.01, "device {d}: {ms} ms vs {} s", dev.online_s);
    }
}

fn assert_no_job_beats_opt(text: &str, replications: u32) -> usize {
    let sc = Scenario::from_toml_str(text).unwrap();
    let out = replications::run(&sc, &Plan { replications, seed: sc.seed, baseline: None, threads: None }, &|_, _| {})
        .unwrap();
    let mut checked = 0;
    for r in &out.records {
        for j in &r.jobs {
            if let Some(m) = j.makespan_s {
                let opt =
                    j.opt_s.unwrap_or_else(|| panic!("{}: {} completed, but OPT says it cannot", r.variant, j.id));
                assert!(m >= opt - 1e-9, "{} seed {}: {} took {m} s, OPT {opt} s", r.variant, r.seed, j.id);
                assert!(opt > 0.0);
                checked += 1;
            }
        }
    }
    for v in &out.study.variants {
        assert_eq!(v.jobs_below_opt, 0, "{}", v.name);
    }
    checked
}

#[test]
fn no_simulated_job_beats_its_optimal_makespan() {
    let n = assert_no_job_beats_opt(CHURNY, 3);
    assert!(n >= 30, "{n} jobs checked");
    let n = assert_no_job_beats_opt(include_str!("../../examples/scenarios/colluders.toml"), 1);
    assert!(n >= 10, "{n} jobs checked");
}

/// OPT is tight where it should be: one device always online, one job, tasks run
/// back to back at the device's best speed; the simulated makespan can exceed it
/// only by the engine's polling, heartbeats and jitter.
#[test]
fn opt_is_the_makespan_of_the_ideal_schedule_on_one_device() {
    let text = r#"
name = "one"
horizon_s = 100000
[grid]
devices = 1
[[jobs]]
name = "a"
tasks = 5
input_mb = 0
output_mb = 0
"#;
    let sc = Scenario::from_toml_str(text).unwrap();
    let out =
        replications::run(&sc, &Plan { replications: 1, seed: 3, baseline: None, threads: None }, &|_, _| {}).unwrap();
    let world = World::new(&sc, 3);
    let kind = &sc.variants().unwrap()[0].jobs[0];
    let j = &out.records[0].jobs[0];
    if out.records[0].summary.jobs_completed == 1 {
        let task = world.task_ms(0, kind) as f64 / 1000.0;
        let m = j.makespan_s.unwrap();
        let online = out.first[0].availability.iter().any(|s| s.1 == 0);
        if online {
            assert!((j.opt_s.unwrap() - 5.0 * task).abs() < 1e-9, "{j:?} task {task}");
            assert!(m >= 5.0 * task && m < 5.0 * task * 1.5 + 60.0, "{m} vs {task}");
        }
    }
}
