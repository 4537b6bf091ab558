//! The simulator's event queue against a bare `BinaryHeap` on the same stream.
//!
//! A hold model, as event-list studies use: 100,000 pending events; each step pops
//! the earliest and pushes one new event. Seven of ten new events are heartbeats a
//! fixed 20 s after now (the FIFO lane's case), three are at an exponentially drawn
//! delay (mean 60 s). The baseline is a `BinaryHeap` of `Reverse((time, seq,
//! payload))`, which has the same insertion-order tie rule.
//!
//! `cargo bench -p byterank-sim --bench queue`

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use byterank_sim::queue::EventQueue;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

const PENDING: usize = 100_000;
const STEPS: usize = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Payload {
    Beat(u32, u32),
    Finish(u32, u32),
}

/// (delay ms, fixed-delay?) per step, and the initial events' times.
fn stream() -> (Vec<(u64, bool)>, Vec<u64>) {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let steps = (0..STEPS)
        .map(|_| {
            if r.random::<f64>() < 0.7 {
                (20_000, true)
            } else {
                ((-(1.0 - r.random::<f64>()).ln() * 60_000.0) as u64, false)
            }
        })
        .collect();
    let initial = (0..PENDING).map(|_| r.random_range(0..60_000)).collect();
    (steps, initial)
}

fn bench(c: &mut Criterion) {
    let (steps, initial) = stream();
    let mut g = c.benchmark_group("event_queue");
    g.throughput(Throughput::Elements(STEPS as u64));
    g.sample_size(10);
    g.bench_function("simulator_queue", |b| {
        b.iter_batched(
            || {
                let mut q = EventQueue::new();
                for (i, &t) in initial.iter().enumerate() {
                    q.push(t, Payload::Finish(i as u32, 0));
                }
                q
            },
            |mut q| {
                for (i, &(delay, fixed)) in steps.iter().enumerate() {
                    let (now, p) = q.pop().expect("the hold model keeps events pending");
                    black_box(p);
                    let e = Payload::Beat(i as u32, 1);
                    if fixed {
                        q.push_fifo(now + delay, e);
                    } else {
                        q.push(now + delay, e);
                    }
                }
                q
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("bare_binary_heap", |b| {
        b.iter_batched(
            || {
                let mut h = BinaryHeap::new();
                for (i, &t) in initial.iter().enumerate() {
                    h.push(Reverse((t, i as u64, Payload::Finish(i as u32, 0))));
                }
                (h, PENDING as u64)
            },
            |(mut h, mut seq)| {
                for (i, &(delay, _)) in steps.iter().enumerate() {
                    let Reverse((now, _, p)) = h.pop().expect("the hold model keeps events pending");
                    black_box(p);
                    h.push(Reverse((now + delay, seq, Payload::Beat(i as u32, 1))));
                    seq += 1;
                }
                h
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
