//! A node that starts to lead journals `resume` before anything else: the time
//! no node could hear the workers (a restart, a failover) is not held against
//! their attempts. The outage here is longer than T2, on a real SQLite journal,
//! timed by a manual clock that the test advances (no sleep); the control is
//! the same journal recovered and used without the sequencer, where the same
//! heartbeat at the same time finds its attempt stale.

use std::path::{Path, PathBuf};

use byterank_core::engine::AttemptState;
use byterank_core::{AttemptId, ByteChips, Device, EngineConfig, JobSpec, Timestamp};
use byterank_http::api::{CreateOwner, CreateUser, RegisterDevice, TopUp};
use byterank_http::auth::{OperatorKey, Secret};
use byterank_http::clock::Clock;
use byterank_http::journal::sqlite::SqliteJournal;
use byterank_http::journal::Journal;
use byterank_http::sequencer::{Options, Sequencer};
use byterank_http::server::recover;
use byterank_http::service::{Op, Principal};

const KEY: &str = "operator-key-for-tests-0123456789";

fn cfg() -> EngineConfig {
    EngineConfig { t1_ms: 1_000, t2_ms: 3_000, ..EngineConfig::default() }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("byterank-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start(dir: &Path, clock: &Clock) -> Sequencer {
    let mut journal = SqliteJournal::open(dir).unwrap();
    let (svc, seq) = recover(&mut journal, Some(&cfg())).unwrap();
    let opts =
        Options { snapshot_every: 1_000, operator: OperatorKey::new(KEY).unwrap(), leader: true, clock: clock.clone() };
    Sequencer::start(svc, Box::new(journal), seq, opts)
}

#[test]
fn a_restart_longer_than_t2_leaves_running_attempts_alive() {
    let dir = temp_dir("resume");
    let clock = Clock::manual(Timestamp(1_700_000_000_000));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let device = Principal::Device("d0".into());
    let attempt = rt.block_on(async {
        let seq = start(&dir, &clock);
        let op = Principal::Operator;
        seq.call(move |s, at| s.create_user(at, &op, CreateUser { user: "ana".into() }, Secret::generate()))
            .await
            .unwrap();
        seq.call(|s, at| s.top_up(at, &Principal::Operator, TopUp { user: "ana".into(), amount: 10_000 }, None))
            .await
            .unwrap();
        seq.call(|s, at| s.create_owner(at, None, CreateOwner { owner: "bob".into() }, Secret::generate()))
            .await
            .unwrap();
        let req = RegisterDevice { device: Device::new("d0"), owner: String::new() };
        let bob = Principal::Owner("bob".into());
        seq.call(move |s, at| s.register_device(at, Some(&bob), req, Secret::generate())).await.unwrap();
        let mut spec = JobSpec::new("j", 1);
        spec.price_chips = ByteChips(1_000);
        seq.call(move |s, at| s.create_job(at, &Principal::User("ana".into()), spec, None)).await.unwrap();
        let d = device.clone();
        let pulled = seq.call(move |s, at| s.pull(at, &d, None)).await.unwrap();
        AttemptId(pulled.task.expect("the job's one task").attempt)
    });
    // The node stops (its thread ends once no caller is left) and stays down
    // for longer than T2.
    let after = clock.advance(3_500).unwrap();

    // The control: the journal as it is, used with no resume.
    let mut journal = SqliteJournal::open(&dir).unwrap();
    let (mut svc, _) = recover(&mut journal, Some(&cfg())).unwrap();
    let beat = svc.heartbeat(after, &device, attempt).unwrap();
    assert_eq!((beat.keep_going, beat.state), (false, Some(AttemptState::Stale)), "without resume");
    drop((svc, journal));

    let beat = rt.block_on(async {
        let seq = start(&dir, &clock);
        let d = device.clone();
        seq.call(move |s, at| s.heartbeat(at, &d, attempt)).await.unwrap()
    });
    assert_eq!((beat.keep_going, beat.state), (true, None), "after the node resumed");

    let ops: Vec<Op> = SqliteJournal::open(&dir).unwrap().recover().unwrap().tail.into_iter().map(|t| t.2).collect();
    let resumes: Vec<usize> = ops.iter().enumerate().filter(|(_, op)| **op == Op::Resume).map(|(i, _)| i).collect();
    assert_eq!(resumes.len(), 2, "one resume per start: {ops:?}");
    assert_eq!(resumes[0], 0, "the first start's, before anything else");
    assert!(matches!(ops[resumes[1] + 1], Op::Heartbeat { .. }), "the second start's, before the heartbeat");
    let _ = std::fs::remove_dir_all(&dir);
}
