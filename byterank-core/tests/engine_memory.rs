//! The engine's memory over a long run (spec §16): 10,000 small jobs run to
//! completion and are released while devices come and go; the heap the engine
//! holds stays flat once the first hundred jobs have run.
//!
//! Live heap bytes are counted by a global allocator that wraps the system's, so
//! the figure is the engine's real footprint, not an estimate. This file holds one
//! test, so nothing else allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use byterank_core::application::{Chunk, Synthetic};
use byterank_core::device::Device;
use byterank_core::engine::{Command, CommandKind, DeviceId, Engine, Event, JobStatus};
use byterank_core::job::{ByteLevel, JobSpec, ReplicationGoal};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const DEVICES: u32 = 200;
const JOBS: usize = 10_000;

#[test]
fn ten_thousand_jobs_leave_the_engine_no_bigger() {
    let mut engine = Engine::default();
    let mut now = 1_795_662_000_000i64;
    let mut out = Vec::with_capacity(1024);
    let apply = |engine: &mut Engine, now: i64, kind: CommandKind, out: &mut Vec<Event>| {
        out.clear();
        engine.apply(&Command { at: Timestamp(now), kind }, out).unwrap();
    };
    let device = |i: u32| Device { processor_score: Some(100.0 + f64::from(i)), ..Device::new(format!("d{i:04}")) };
    for i in 0..DEVICES {
        apply(
            &mut engine,
            now,
            CommandKind::RegisterDevice { device: device(i), owner: format!("o{}", i % 10) },
            &mut out,
        );
    }
    apply(&mut engine, now, CommandKind::Tick, &mut out);
    let mut sizes = Vec::with_capacity(JOBS);
    let mut in_flight = Vec::with_capacity(64);
    for n in 0..JOBS {
        let name = format!("job-{n}");
        let mut job = JobSpec::new(name.clone(), 4);
        job.replication = Some(ReplicationGoal::R(2.0));
        job.preferences.byte_level = ByteLevel::High;
        job.price_chips = ByteChips(1_000);
        apply(&mut engine, now, CommandKind::SubmitJob { job, user: format!("u{}", n % 7) }, &mut out);
        let Some(&Event::JobAccepted { job, .. }) = out.last() else { panic!("{out:?}") };
        // One device leaves and comes back each job; another reports its state.
        let churn = DeviceId((n as u32 * 7) % DEVICES);
        apply(&mut engine, now, CommandKind::RemoveDevice { device: churn }, &mut out);
        let id = (n as u32 * 7) % DEVICES;
        apply(&mut engine, now, CommandKind::RegisterDevice { device: device(id), owner: "o".into() }, &mut out);
        let other = DeviceId((n as u32 * 13 + 1) % DEVICES);
        let state = Device { cpu_available_pct: Some((n % 100) as f64), ..device(other.0) };
        apply(&mut engine, now, CommandKind::UpdateDevice { device: other, state }, &mut out);
        while engine.job_status(job) == Some(JobStatus::Running) {
            now += 1_000;
            for d in 0..DEVICES {
                apply(&mut engine, now, CommandKind::Pull { device: DeviceId(d) }, &mut out);
                if let Some(&Event::TaskAssigned { task, attempt, .. }) = out.first() {
                    in_flight.push((DeviceId(d), attempt, task));
                }
                if in_flight.len() == 8 {
                    break;
                }
            }
            for (device, attempt, task) in in_flight.drain(..) {
                let result = Synthetic::expected(&name, &Chunk { index: task, offset: u64::from(task), len: 1 });
                apply(&mut engine, now, CommandKind::ReportResult { device, attempt, result }, &mut out);
            }
            apply(&mut engine, now, CommandKind::Tick, &mut out);
        }
        assert_eq!(engine.job_status(job), Some(JobStatus::Completed));
        apply(&mut engine, now, CommandKind::ReleaseJob { job }, &mut out);
        assert_eq!(engine.job_status(job), None);
        sizes.push(LIVE.load(Ordering::Relaxed));
    }
    let (early, late) = (sizes[99], sizes[JOBS - 1]);
    let peak = *sizes[99..].iter().max().unwrap();
    eprintln!("live heap after 100 jobs: {early} B; after {JOBS}: {late} B; peak since: {peak} B");
    assert!(late as f64 <= early as f64 * 1.10, "grew from {early} to {late} bytes");
    assert!(peak as f64 <= early as f64 * 1.10, "peaked at {peak} bytes, from {early}");
    assert!(engine.ledger().conserves());
}
