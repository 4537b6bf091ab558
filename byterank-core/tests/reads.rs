//! The reads adapters use instead of keeping copies: an attempt's job, task,
//! device and deadlines, checked against the events that assigned it and the
//! configuration's timing rules.

use byterank_core::application::Synthetic;
use byterank_core::device::Device;
use byterank_core::engine::{AttemptInfo, Engine, EngineConfig, Pulled};
use byterank_core::job::{JobSpec, ReplicationGoal};
use byterank_core::time::Timestamp;

const T: i64 = 1_795_662_000_000;

#[test]
fn an_attempt_reads_as_its_assignment_said_with_its_deadlines() {
    let cfg = EngineConfig { t1_ms: 10_000, t2_ms: 30_000, max_attempt_ms: 50_000, ..EngineConfig::default() };
    let mut e = Engine::new(cfg).unwrap();
    let d0 = e.register_device(Timestamp(T), Device::new("d0"), "o").unwrap();
    let d1 = e.register_device(Timestamp(T), Device::new("d1"), "o").unwrap();
    let spec = JobSpec { replication: Some(ReplicationGoal::R(2.0)), ..JobSpec::new("j", 2) };
    let mut out = Vec::new();
    let job = e.submit_job(Timestamp(T), spec, "u", &mut out).unwrap();
    let mut assigned = Vec::new();
    for d in [d0, d1, d0] {
        let Pulled::Task { job: j, task, replica, attempt, .. } = e.pull(Timestamp(T), d).unwrap() else {
            panic!("a copy for every pull")
        };
        assert_eq!(j, job);
        assigned.push((attempt, task, replica, d));
    }
    for &(attempt, task, replica, device) in &assigned {
        let expected = AttemptInfo {
            job,
            task,
            replica,
            device,
            delayed: false,
            started: Timestamp(T),
            last_beat: Timestamp(T),
            delayed_at: Timestamp(T + 10_000),
            stale_at: Timestamp(T + 30_000),
        };
        assert_eq!(e.attempt(attempt), Some(expected));
    }
    let held: Vec<_> = e.held(d0).collect();
    assert_eq!(held, [assigned[0].0, assigned[2].0], "d0's, oldest first");
    // A heartbeat moves both deadlines but the hard one.
    let (a, task, _, _) = assigned[0];
    e.heartbeat(Timestamp(T + 25_000), d0, a, &mut out).unwrap();
    let info = e.attempt(a).unwrap();
    assert!(info.delayed, "25 s without a heartbeat is past T1");
    assert_eq!((info.last_beat, info.delayed_at), (Timestamp(T + 25_000), Timestamp(T + 35_000)));
    assert_eq!(info.stale_at, Timestamp(T + 50_000), "the hard deadline comes before T2 after the beat");
    // Once it ends, there is nothing to read.
    let chunk = e.job_chunk(job, task).unwrap();
    out.clear();
    e.report(Timestamp(T + 26_000), d0, a, Synthetic::expected("j", &chunk), &mut out).unwrap();
    assert_eq!(e.attempt(a), None);
    assert_eq!(e.held(d0).collect::<Vec<_>>(), [assigned[2].0]);
    assert_eq!(e.held(byterank_core::engine::DeviceId(99)).count(), 0, "an unknown device holds nothing");
}
