//! The service's state machine under a random mix of calls from honest, lying,
//! crashing and meddling callers, checked against what the driver itself knows:
//!
//! - a refused call changes nothing (the serialized state is the same before and
//!   after) and journals nothing;
//! - the journal replayed into a fresh service, or onto a snapshot taken midway,
//!   gives the same state, byte for byte;
//! - the storage the effects describe (applied to a map the driver keeps) ends
//!   with every completed gzip job's output equal to the gzip of its input, and no
//!   input or result left of an ended job;
//! - every acknowledged top-up is in the user's balance.

use std::collections::BTreeMap;
use std::io::Read;

use byterank_core::application::Gzip;
use byterank_core::{AttemptId, Device, EngineConfig, JobSpec, Timestamp};
use byterank_http::api::{CreateOwner, CreateUser, RegisterDevice, TopUp};
use byterank_http::auth::Secret;
use byterank_http::service::{Effect, Op, Principal, Service};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn state(svc: &Service) -> String {
    serde_json::to_string(svc).unwrap()
}

struct Driver {
    svc: Service,
    now: i64,
    journal: Vec<(Timestamp, Op)>,
    blobs: BTreeMap<String, Vec<u8>>,
    inputs: BTreeMap<String, Vec<u8>>,
    topped_up: u64,
    refused: u32,
}

impl Driver {
    fn new() -> Driver {
        let cfg = EngineConfig { t1_ms: 1_000, t2_ms: 3_000, refresh_ms: 500, ..EngineConfig::default() };
        let mut svc = Service::new(cfg).unwrap();
        svc.set_live(true);
        Driver {
            svc,
            now: 1_000_000,
            journal: Vec::new(),
            blobs: BTreeMap::new(),
            inputs: BTreeMap::new(),
            topped_up: 0,
            refused: 0,
        }
    }

    /// Runs a call; a refusal must leave the state as it was.
    fn run<T>(
        &mut self,
        f: impl FnOnce(&mut Service, Timestamp) -> Result<T, byterank_http::error::ApiError>,
    ) -> Option<T> {
        self.now += 37;
        let at = Timestamp(self.now);
        let before = state(&self.svc);
        let r = f(&mut self.svc, at);
        let (ops, effects) = self.svc.take_pending();
        match r {
            Ok(v) => {
                self.journal.extend(ops);
                for e in effects {
                    match e {
                        Effect::Put { key, bytes } => {
                            self.blobs.insert(key, bytes);
                        }
                        Effect::Concat { into, parts } => {
                            let joined = parts.iter().flat_map(|p| self.blobs[p].clone()).collect();
                            self.blobs.insert(into, joined);
                        }
                        Effect::Delete(keys) => {
                            for k in keys {
                                self.blobs.remove(&k);
                            }
                        }
                        Effect::Adopt { key, path } => {
                            self.blobs.insert(key, std::fs::read(&path).expect("a staged file"));
                            let _ = std::fs::remove_file(path);
                        }
                        Effect::Entry(_) => {}
                    }
                }
                Some(v)
            }
            Err(_) => {
                assert!(ops.is_empty() && effects.is_empty(), "a refused call journalled something");
                assert_eq!(state(&self.svc), before, "a refused call changed the state");
                self.refused += 1;
                None
            }
        }
    }
}

/// What device reports for a chunk: the right result, or the liar's wrong one.
fn result_body(inputs: &BTreeMap<String, Vec<u8>>, job: &str, chunk: &byterank_core::Chunk, lie: bool) -> Vec<u8> {
    match inputs.get(job) {
        Some(input) => {
            let part = &input[chunk.offset as usize..(chunk.offset + chunk.len) as usize];
            Gzip::compress_chunk(if lie { b"not the input" } else { part })
        }
        None => {
            let mut meta = byterank_core::application::Synthetic::expected(job, chunk);
            if lie {
                meta.digest = "f00d".into();
            }
            serde_json::to_vec(&meta).unwrap()
        }
    }
}

/// Returns how many gzip outputs it checked.
fn one_run(seed: u64) -> u32 {
    let mut checked = 0;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut keys = ChaCha8Rng::seed_from_u64(!seed);
    let mut d = Driver::new();
    let op = Principal::Operator;
    d.run(|s, at| s.create_user(at, &op, CreateUser { user: "ana".into() }, Secret::generate())).unwrap();
    let ana = Principal::User("ana".into());
    let eve = Principal::User("eve".into());
    let n_dev = rng.random_range(2..7);
    for i in 0..3 {
        let req = CreateOwner { owner: format!("o{i}") };
        d.run(|s, at| s.create_owner(at, None, req, Secret::generate())).unwrap();
    }
    let devices: Vec<Principal> = (0..n_dev)
        .map(|i| {
            let mut dev = Device::new(format!("d{i}"));
            dev.ram_available_mb = Some(rng.random_range(500.0..8000.0));
            let req = RegisterDevice { device: dev, owner: String::new() };
            let owner = Principal::Owner(format!("o{}", i % 3));
            d.run(|s, at| s.register_device(at, Some(&owner), req, Secret::generate())).unwrap();
            Principal::Device(format!("d{i}"))
        })
        .collect();
    let liar = rng.random_range(0..n_dev);
    let mut held: Vec<(usize, AttemptId, String, byterank_core::Chunk)> = Vec::new();
    let mut jobs = 0;
    for _ in 0..600 {
        match rng.random_range(0..100) {
            0..=4 => {
                let amount = rng.random_range(0..50_000u64);
                let key = rng.random_bool(0.5).then(|| format!("t{}", rng.random::<u32>()));
                let req = || TopUp { user: "ana".into(), amount };
                if let Some(first) = d.run(|s, at| s.top_up(at, &op, req(), key.as_deref())) {
                    d.topped_up += amount;
                    // A retry under the key gets the first answer and credits nothing.
                    if let Some(k) = &key {
                        let before = state(&d.svc);
                        let again = d.run(|s, at| s.top_up(at, &op, req(), Some(k))).expect("a retry is answered");
                        assert_eq!(serde_json::to_value(again).unwrap(), serde_json::to_value(first).unwrap());
                        assert_eq!(state(&d.svc), before, "a retried top-up changed the state");
                    }
                }
            }
            5..=9 => {
                jobs += 1;
                let id = format!("j{jobs}");
                let gzip = rng.random_bool(0.5);
                let mut spec = JobSpec::new(&id, rng.random_range(1..6));
                spec.price_chips = byterank_core::ByteChips(rng.random_range(100..40_000));
                if rng.random_bool(0.5) {
                    spec.replication = Some(byterank_core::job::ReplicationGoal::R(2.0));
                }
                if gzip {
                    let len = rng.random_range(1..20_000u64);
                    spec.application = "gzip".into();
                    spec.chunks = None;
                    spec.input_bytes = Some(len);
                    spec.chunk_bytes = Some(rng.random_range(1_000..8_000));
                    let input: Vec<u8> = (0..len).map(|_| b"abcd "[rng.random_range(0..5)]).collect();
                    let who = if rng.random_bool(0.1) { eve.clone() } else { ana.clone() };
                    if d.run(|s, at| s.create_job(at, &who, spec.clone(), None)).is_some() {
                        let bytes = if rng.random_bool(0.1) { input[1..].to_vec() } else { input.clone() };
                        if d.run(|s, at| s.store_input(at, &ana, &id, bytes)).is_some() {
                            d.inputs.insert(id, input);
                        }
                    }
                } else {
                    d.run(|s, at| s.create_job(at, &ana, spec, None));
                }
            }
            10..=40 => {
                let k = rng.random_range(0..n_dev);
                // Keys and retries draw from their own stream, so the rest of
                // the mix is the one it would be without them.
                let key = match keys.random_range(0..20) {
                    0..=9 => None,
                    10 => {
                        let refused = d.run(|s, at| s.pull(at, &devices[k], Some("not a key")));
                        assert!(refused.is_none(), "a malformed Idempotency-Key was taken");
                        None
                    }
                    _ => Some(format!("pull-{}", keys.random::<u32>())),
                };
                let answer = d.run(|s, at| s.pull(at, &devices[k], key.as_deref()));
                if let Some(t) = answer.and_then(|p| p.task) {
                    if let Some(key) = key.filter(|_| keys.random_bool(0.3)) {
                        // The answer was lost: the retry gets the same task and
                        // journals nothing.
                        let before = d.journal.len();
                        let again = d.run(|s, at| s.pull(at, &devices[k], Some(&key))).unwrap();
                        assert_eq!(again.task.map(|a| a.attempt), Some(t.attempt), "a retried pull got another task");
                        assert_eq!(d.journal.len(), before, "a retried pull journalled something");
                    }
                    held.push((k, AttemptId(t.attempt), t.job, t.chunk));
                }
            }
            41..=75 if !held.is_empty() => {
                let i = rng.random_range(0..held.len());
                let (k, a, job, chunk) = held.swap_remove(i);
                // Another device meddling with the attempt is refused.
                let other = &devices[(k + 1) % n_dev];
                if n_dev > 1 {
                    d.run(|s, at| s.report_result(at, other, a, b"{}", None));
                }
                let body = result_body(&d.inputs, &job, &chunk, k == liar);
                match rng.random_range(0..10) {
                    0 => {
                        d.run(|s, at| s.report_error(at, &devices[k], a, None));
                    }
                    1 => {} // crashed: the deadline frees it
                    2 => {
                        d.run(|s, at| s.heartbeat(at, &devices[k], a));
                        held.push((k, a, job, chunk));
                    }
                    _ => {
                        let key = rng.random_bool(0.5).then(|| format!("r{}", rng.random::<u32>()));
                        let first = d.run(|s, at| s.report_result(at, &devices[k], a, &body, key.as_deref()));
                        // A retry under the key, the attempt ended since: the first
                        // answer, and nothing changes.
                        if let (Some(first), Some(key)) = (first, key) {
                            let before = state(&d.svc);
                            let again = d.run(|s, at| s.report_result(at, &devices[k], a, &body, Some(&key)));
                            assert_eq!(again.map(|r| r.accepted), Some(first.accepted));
                            assert_eq!(state(&d.svc), before, "a retried result changed the state");
                        }
                    }
                }
            }
            76..=80 => {
                let j = format!("j{}", rng.random_range(1..=jobs.max(1)));
                d.run(|s, at| s.cancel_job(at, &ana, &j));
            }
            81..=82 => {
                let keep = rng.random_range(0..30_000);
                d.run(|s, at| s.forget_ended(at, keep));
            }
            _ => {
                d.now += rng.random_range(0..2_000);
                d.run(|s, at| s.apply(at, &Op::Tick));
            }
        }
    }
    // Every device works off what is left (the liar still lies): a job ends by
    // its results, since stale and crashed attempts never fail it.
    for _ in 0..120 {
        for (k, device) in devices.iter().enumerate() {
            let Some(t) = d.run(|s, at| s.pull(at, device, None)).and_then(|p| p.task) else { continue };
            let body = result_body(&d.inputs, &t.job, &t.chunk, k == liar);
            d.run(|s, at| s.report_result(at, device, AttemptId(t.attempt), &body, None));
        }
        d.now += 1_000;
        d.run(|s, at| s.apply(at, &Op::Tick));
    }
    // Let every deadline pass so that every job ends.
    for _ in 0..40 {
        d.now += 5_000;
        d.run(|s, at| s.apply(at, &Op::Tick));
    }

    // Storage, from the effects alone.
    for (id, book) in d.svc.job_books() {
        if book.state != byterank_http::service::JobState::Running
            && book.state != byterank_http::service::JobState::AwaitingInput
        {
            assert!(!d.blobs.contains_key(&format!("input/{id}")), "job {id} ended but its input is kept");
        }
        // A task decided by one untrusted copy may hold the liar's result (it is
        // reported unverified); every cross-checked job must be exact.
        if book.has_output && book.spec.application == "gzip" && book.unverified == 0 {
            let out = &d.blobs[&format!("output/{id}")];
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&out[..]).read_to_end(&mut back).unwrap();
            assert!(back == d.inputs[id], "seed {seed}, job {id}: the output is not the gzip of the input");
            checked += 1;
        }
    }
    let results = d.blobs.keys().filter(|k| k.starts_with("result/")).count();
    let running = d.svc.job_books().filter(|(_, b)| b.state == byterank_http::service::JobState::Running).count();
    assert!(running > 0 || results == 0, "{results} results kept with no job running");
    let b = d.svc.balance(&ana).unwrap();
    assert_eq!(b.topped_up, d.topped_up, "an acknowledged top-up is missing");

    // Retention: forgetting every ended job leaves only live books and no
    // output in storage, and a forgotten id may be used again.
    d.now += 1;
    d.run(|s, at| s.forget_ended(at, 0)).unwrap();
    for (id, book) in d.svc.job_books() {
        let live = [byterank_http::service::JobState::Running, byterank_http::service::JobState::AwaitingInput];
        assert!(live.contains(&book.state), "job {id} ended and was not forgotten");
    }
    assert!(!d.blobs.keys().any(|k| k.starts_with("output/")), "a forgotten job's output is kept");
    if jobs > 0 && d.svc.job("j1").is_none() {
        let spec = JobSpec { price_chips: byterank_core::ByteChips(2), ..JobSpec::new("j1", 1) };
        d.run(|s, at| s.create_job(at, &ana, spec, None)).expect("a forgotten id can be used again");
    }

    // Replay: whole, and from a snapshot taken midway.
    let mid = d.journal.len() / 2;
    let mut fresh = Service::new(d.svc.engine().config().clone()).unwrap();
    for (i, (at, op)) in d.journal.iter().enumerate() {
        fresh.apply(*at, op).unwrap_or_else(|e| panic!("op {i} ({}) refused in replay: {e}", op.name()));
        if i + 1 == mid {
            let snap: Service = serde_json::from_str(&state(&fresh)).unwrap();
            let mut from_snap = snap;
            for (at, op) in &d.journal[mid..] {
                from_snap.apply(*at, op).unwrap();
            }
            assert_eq!(state(&from_snap), state(&d.svc), "snapshot + tail differs from the live state");
        }
    }
    assert_eq!(state(&fresh), state(&d.svc), "replay differs from the live state");

    assert!(d.refused > 0, "the mix should include refused calls");
    checked
}

#[test]
fn replay_rebuilds_the_state_and_refusals_change_nothing() {
    let cases: u64 = std::env::var("SERVICE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    let checked: u32 = (0..cases).map(one_run).sum();
    assert!(checked > 0, "no gzip job completed: the mix checks nothing");
    eprintln!("{cases} runs, {checked} gzip outputs checked");
}
