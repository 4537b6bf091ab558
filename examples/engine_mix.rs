//! The `engine` benchmark's realistic mix, run for a fixed number of task cycles:
//! a driver for profiles and CPU-time counts, which the benchmark binary cannot
//! give (it builds every group's engine, a million devices included, even when
//! one group is asked for).
//!
//! `cargo run --release --example engine_mix -- [devices] [cycles]` (defaults
//! 100,000 and 1,500,000), after 500,000 warm-up cycles. Prints the task cycles per
//! second of wall time, the time spent making new jobs' results taken out; under
//! `perf stat -e task-clock` the CPU time of two builds compares on a shared
//! machine where wall time does not.

#[path = "../benches/mix/mod.rs"]
mod mix;

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().expect("a number"));
    let devices = args.next().unwrap_or(100_000) as u32;
    let cycles = args.next().unwrap_or(1_500_000);
    let mut mix = mix::Mix::new(devices);
    let mut done = 0;
    while done < 500_000 {
        done += u64::from(mix.cycle());
    }
    mix.making = Duration::ZERO;
    let start = Instant::now();
    let mut done = 0;
    while done < cycles {
        done += u64::from(mix.cycle());
    }
    let spent = start.elapsed().saturating_sub(mix.making);
    println!(
        "{devices} devices: {cycles} task cycles in {spent:.2?}: {:.0} task cycles/s",
        cycles as f64 / spent.as_secs_f64()
    );
}
