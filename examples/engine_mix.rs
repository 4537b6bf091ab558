//! The `engine` benchmark's realistic mix, run for a fixed number of task cycles:
//! a driver for profiles and CPU-time counts, which the benchmark binary cannot
//! give (it builds every group's engine, a million devices included, even when
//! one group is asked for).
//!
//! `cargo run --release --example engine_mix -- [devices] [cycles]` (defaults
//! 100,000 and 1,500,000), after 500,000 warm-up cycles. Prints the task cycles per
//! second of wall time; under
//! `perf stat -e task-clock` the CPU time of two builds compares on a shared
//! machine where wall time does not. It also prints the process's CPU time
//! over the timed cycles alone (from `/proc/self/stat`, on Linux), which leaves
//! out the setup and warm-up that `perf stat` counts.

#[path = "../benches/mix/mod.rs"]
mod mix;

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().expect("a number"));
    let devices = args.next().unwrap_or(100_000) as u32;
    let cycles = args.next().unwrap_or(1_500_000);
    let mut mix = mix::Mix::new(devices);
    let mut done = 0;
    while done < 500_000 {
        done += u64::from(mix.cycle());
    }
    let cpu = cpu_time();
    let start = Instant::now();
    let mut done = 0;
    while done < cycles {
        done += u64::from(mix.cycle());
    }
    let spent = start.elapsed();
    println!(
        "{devices} devices: {cycles} task cycles in {spent:.2?}: {:.0} task cycles/s",
        cycles as f64 / spent.as_secs_f64()
    );
    if let (Some(before), Some(after)) = (cpu, cpu_time()) {
        let cpu = after - before;
        println!("CPU time of the cycles: {cpu:.2} s: {:.0} task cycles per CPU second", cycles as f64 / cpu);
    }
}

/// The process's user and system CPU time, in seconds (Linux; 100 ticks a second).
fn cpu_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) and its closing parenthesis.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
