//! ByteRank on a 1,000,000-device snapshot against a plain sort of the same scores.
//!
//! `cargo bench --bench rank`. The group `rank_1m` holds:
//! - `sort_baseline`: `sort_unstable_by` of the 1M capacity scores, descending;
//! - `byterank`: ByteRank of the same 1M devices (fault rates up to 0.5, 5% winners);
//! - `indexes`: capacity, fault rate and flags of 1M synthetic devices.
//!
//! The ratio `byterank / sort_baseline` is the figure `docs/benchmarks.md` quotes.

mod common;

use std::hint::black_box;

use byterank::core::grid::Grid;
use byterank::core::indexes::{compute_indexes, IndexConfig, Lottery};
use byterank::core::rank::{byte_rank, RankEntry};
use byterank::sim::synth::{synth_grid, SynthConfig};
use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DEVICES: usize = 1_000_000;

/// Random capacities over the whole range, fault rates up to 0.5 on the grid of
/// values a 20-outcome window produces (k/60), and 5% lottery winners.
fn snapshot(n: usize, seed: u64) -> Vec<RankEntry> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| RankEntry {
            capacity: rng.random_range(1.0..2700.0),
            fault_rate: f64::from(rng.random_range(0..=30u32)) / 60.0,
            flagged: false,
            lottery_winner: rng.random_bool(0.05),
        })
        .collect()
}

fn rank_1m(c: &mut Criterion) {
    let entries = snapshot(DEVICES, 7);
    let scores: Vec<f64> = entries.iter().map(|e| e.capacity).collect();
    let grid: Grid = synth_grid(&SynthConfig { devices: DEVICES, seed: 7, ..SynthConfig::default() });
    let cfg = IndexConfig::default();
    let mut g = c.benchmark_group("rank_1m");
    g.sample_size(20);
    common::sort_baseline(&mut g, &scores);
    g.bench_function("byterank", |b| b.iter(|| byte_rank(black_box(&entries), 100)));
    g.bench_function("indexes", |b| b.iter(|| compute_indexes(black_box(&grid), &cfg, Lottery::Recorded)));
    g.finish();
}

criterion_group!(benches, rank_1m);
criterion_main!(benches);
