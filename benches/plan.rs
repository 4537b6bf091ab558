//! Planning a job over a 1,000,000-device snapshot, and the minimum-r search for a
//! million tasks.
//!
//! `cargo bench --bench plan`. Group `plan_1m`: `sort_baseline` sorts the 1M
//! capacity scores; `plan` is eligibility, capacity pools and a 100,000-task plan at
//! r = 2 (balanced assignment, the default). Group `replication_1m_tasks`: the
//! least M meeting PJF <= 1% for m = 1,000,000 tasks over 3,000,000 candidate
//! devices with Example 2's mix, under each assignment.

mod common;

use std::hint::black_box;

use byterank::core::indexes::{rank_grid, IndexConfig, Lottery};
use byterank::core::job::{ByteLevel, JobSpec, ReplicationGoal};
use byterank::core::plan::{plan_job, PlanConfig};
use byterank::core::replication::{solve, Assignment, DEFAULT_MAX_R};
use byterank::sim::synth::{synth_grid, SynthConfig};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn plan_1m(c: &mut Criterion) {
    let grid = synth_grid(&SynthConfig { devices: 1_000_000, seed: 7, ..SynthConfig::default() });
    let ranked = rank_grid(&grid, &IndexConfig::default(), Lottery::Recorded);
    let scores: Vec<f64> = ranked.indexes.iter().map(|ix| ix.capacity).collect();
    let mut job = JobSpec::new("bench", 100_000);
    job.preferences.byte_level = ByteLevel::High;
    job.replication = Some(ReplicationGoal::R(2.0));
    let cfg = PlanConfig::default();
    let mut g = c.benchmark_group("plan_1m");
    g.sample_size(20);
    common::sort_baseline(&mut g, &scores);
    g.bench_function("plan", |b| b.iter(|| plan_job(black_box(&ranked), &job, &cfg).unwrap()));
    g.finish();
}

fn replication_1m_tasks(c: &mut Criterion) {
    let m = 1_000_000;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let probs: Vec<f64> = (0..3 * m)
        .map(|_| match rng.random_range(0..100) {
            0..7 => 0.04,
            7..75 => 0.001,
            75..91 => 0.00005,
            _ => 0.3,
        })
        .collect();
    let mut g = c.benchmark_group("replication_1m_tasks");
    g.sample_size(10);
    for (name, a) in [("paper", Assignment::Paper), ("balanced", Assignment::Balanced)] {
        g.bench_function(name, |b| b.iter(|| solve(black_box(&probs), m, 0.01, DEFAULT_MAX_R, a).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, plan_1m, replication_1m_tasks);
criterion_main!(benches);
