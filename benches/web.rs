//! The web app's pages with 1,000 jobs and 100,000 devices in the service:
//! each page requested through the real router (without a socket), with the
//! session cookie, on a state built in memory (the wallet's history lines, which
//! the pages read from storage, written to the journal's history table). Criterion times each page; then
//! 500 requests of each are timed one by one and their p50 and p99 printed, the
//! pages' goal being a p99 under 50 ms. `GET /health` is the same-run baseline.
//!
//! ```console
//! $ cargo bench --bench web
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use byterank::core::{ByteChips, Device, EngineConfig, JobSpec, Timestamp};
use byterank::http::api::{CreateOwner, CreateUser, RegisterDevice, TopUp};
use byterank::http::auth::{OperatorKey, Secret};
use byterank::http::clock::Clock;
use byterank::http::journal::sqlite::{SqliteJournal, SqliteStore};
use byterank::http::journal::Journal;
use byterank::http::lead::Role;
use byterank::http::sequencer::{Options, Sequencer};
use byterank::http::server::{app_state, recover, router, ServeOptions};
use byterank::http::service::{Effect, Entry, Op, Principal, Service};
use criterion::Criterion;
use rand::{Rng, SeedableRng};
use tower::ServiceExt;

const KEY: &str = "operator-key-for-benches-0123456789";
const DEVICES: usize = 100_000;
/// The devices' owners.
const OWNERS: usize = 5_000;
const JOBS: usize = 1_000;
/// Lines in the first owner's wallet history.
const HISTORY: usize = 5_000;

/// The service: `DEVICES` devices, ranked; `JOBS` jobs of one user, a tenth of
/// them running (synthetic, 20 tasks at r = 2), the rest waiting for their input
/// (gzip); the user's key and the first owner's.
fn state() -> (Service, String, String) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(50);
    let mut svc = Service::new(EngineConfig::default()).unwrap();
    let mut at = 1_800_000_000_000i64;
    let op = Principal::Operator;
    let ana = svc.create_user(Timestamp(at), &op, CreateUser { user: "ana".into() }, Secret::generate()).unwrap();
    svc.top_up(Timestamp(at), &op, TopUp { user: "ana".into(), amount: 1 << 40 }, None).unwrap();
    let mut owner_key = String::new();
    for o in 0..OWNERS {
        let created = svc
            .create_owner(Timestamp(at), Some(&op), CreateOwner { owner: format!("owner-{o}") }, Secret::generate())
            .unwrap();
        if o == 0 {
            owner_key = created.api_key;
        }
    }
    for i in 0..DEVICES {
        let mut d = Device::new(format!("device-{i:06}"));
        d.ram_available_mb = Some(rng.random_range(500.0..16_000.0));
        let owner = format!("owner-{}", i % OWNERS);
        let req = RegisterDevice { device: d, owner: owner.clone() };
        svc.register_device(Timestamp(at), Some(&Principal::Owner(owner)), req, Secret::generate()).unwrap();
    }
    at += 60_000;
    svc.apply(Timestamp(at), &Op::Tick).unwrap();
    let who = Principal::User("ana".into());
    for j in 0..JOBS {
        at += rng.random_range(1_000..200_000);
        let mut spec = JobSpec::new(format!("job-{j:04}"), 20);
        spec.price_chips = ByteChips(10_000);
        if j % 10 == 0 {
            spec.replication = Some(byterank::core::job::ReplicationGoal::R(2.0));
        } else {
            spec.application = "gzip".into();
            spec.chunks = None;
            spec.input_bytes = Some(1 << 20);
            spec.chunk_bytes = Some(1 << 16);
        }
        svc.create_job(Timestamp(at), &who, spec, None).unwrap();
    }
    (svc, ana.api_key, owner_key)
}

/// `HISTORY` reward lines of the first owner's devices.
fn history() -> Vec<Effect> {
    (0..HISTORY)
        .map(|i| {
            Effect::Entry(Entry {
                account: "worker:owner-0".into(),
                at: 1_800_000_000_000 + i as i64 * 1_000,
                kind: "reward".into(),
                job: Some(format!("job-{:04}", (i / 20) % JOBS)),
                task: Some((i % 20) as u32),
                device: Some(format!("device-{:06}", (i % 20) * OWNERS)),
                amount: 350,
                payout: None,
                unverified: false,
            })
        })
        .collect()
}

fn app(svc: Service) -> Router {
    let dir = std::env::temp_dir().join(format!("byterank-bench-web-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut journal = SqliteJournal::open(&dir).unwrap();
    // The journal's own state is ignored: the pages read the state built above.
    let _ = recover(&mut journal, Some(&EngineConfig::default())).unwrap();
    journal.commit(&[], &history()).unwrap();
    let opts = Options {
        snapshot_every: u64::MAX,
        operator: OperatorKey::new(KEY).unwrap(),
        leader: true,
        clock: Clock::system(),
    };
    let seq = Sequencer::start(svc, Box::new(journal), 0, opts);
    let store = Arc::new(SqliteStore::open(&dir).unwrap());
    let serve = ServeOptions::new("127.0.0.1:0".parse().unwrap(), dir, KEY.into());
    router(app_state(seq, store, None, Role::leading(), &serve).unwrap(), &serve)
}

async fn get(app: &Router, path: &str, key: &str) -> usize {
    let req = Request::get(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::COOKIE, format!("byterank_key={key}"))
        .body(Body::empty())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    axum::body::to_bytes(resp.into_body(), 1 << 26).await.unwrap().len()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let t = Instant::now();
    let (svc, user_key, owner_key) = state();
    eprintln!("state: {DEVICES} devices, {JOBS} jobs, built in {:.1} s", t.elapsed().as_secs_f64());
    let app = rt.block_on(async { app(svc) });
    let pages: Vec<(&str, String, &str)> = vec![
        ("health (baseline)", "/health".into(), user_key.as_str()),
        ("jobs", "/jobs".into(), user_key.as_str()),
        ("jobs, page 20", "/jobs?after=job-0500".into(), user_key.as_str()),
        ("job", "/jobs/job-0990".into(), user_key.as_str()),
        ("billing", "/billing".into(), user_key.as_str()),
        ("new job", "/new-job".into(), user_key.as_str()),
        ("wallet", "/wallet".into(), owner_key.as_str()),
        ("wallet, older history", "/wallet?before=2500".into(), owner_key.as_str()),
        ("operator", "/operator".into(), KEY),
        ("operator, search", "/operator?q=device-0999".into(), KEY),
        ("operator, page 1000", "/operator?page=1000".into(), KEY),
    ];
    for (name, path, key) in &pages {
        let bytes = rt.block_on(get(&app, path, key));
        eprintln!("{name}: {path}, {bytes} bytes");
    }
    let mut c = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5)).configure_from_args();
    let mut group = c.benchmark_group("web_100k_devices_1k_jobs");
    for (name, path, key) in &pages {
        group.bench_function(*name, |b| b.iter(|| rt.block_on(get(&app, path, key))));
    }
    group.finish();
    c.final_summary();

    println!("| page | p50 | p99 | max |");
    println!("|---|---|---|---|");
    for (name, path, key) in &pages {
        let mut times: Vec<Duration> = (0..500)
            .map(|_| {
                let t = Instant::now();
                rt.block_on(get(&app, path, key));
                t.elapsed()
            })
            .collect();
        times.sort();
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        println!("| {name} | {} | {} | {} |", ms(times[249]), ms(times[494]), ms(times[499]));
    }
}
