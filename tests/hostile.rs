//! The service under callers who try to freeze it or exhaust its memory: the
//! real `byterank serve`, driven over HTTP while a probe times `/health` and a
//! device's task cycle (pull, heartbeat, result) and the server's peak resident
//! memory is read from /proc.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use byterank::core::application::Synthetic;
use byterank::core::{Chunk, EngineConfig};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

mod common;

use common::Proc;

const KEY: &str = "operator-key-for-tests-0123456789";

/// The tests that time calls take turns, so that neither measures the other's
/// load on a small machine (the others run beside them as usual).
static TIMED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Server {
    child: Proc,
    url: String,
    dir: std::path::PathBuf,
}

impl Server {
    fn start(name: &str, extra: &[&str]) -> Server {
        let cfg = EngineConfig { t1_ms: 5_000, t2_ms: 15_000, refresh_ms: 500, ..EngineConfig::default() };
        Self::start_with(name, extra, &cfg)
    }

    fn start_with(name: &str, extra: &[&str], cfg: &EngineConfig) -> Server {
        let dir = common::temp_dir("hostile", name);
        let cfg_path = common::write_engine_config(&dir, cfg);
        let mut args: Vec<std::ffi::OsString> = vec!["--listen".into(), "127.0.0.1:0".into(), "--tick-ms".into()];
        args.extend([
            "100".into(),
            "--data".into(),
            dir.join("data").into(),
            "--engine-config".into(),
            cfg_path.into(),
        ]);
        args.extend(extra.iter().map(Into::into));
        let (child, url) = common::serve(args, KEY, &[]);
        Server { child, url, dir }
    }

    /// The peak resident memory of the server process so far, bytes (VmHWM).
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("Linux reports VmHWM");
        let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill9();
        // The freeze test's data holds a 200 MB input.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(120)).build().unwrap()
}

async fn call(http: &Client, method: &str, url: String, key: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
    let mut r = http.request(method.parse().unwrap(), url);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.expect("the server answers");
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn ok(http: &Client, method: &str, url: String, key: Option<&str>, body: Option<Value>) -> Value {
    let (s, v) = call(http, method, url.clone(), key, body).await;
    assert!(s.is_success(), "{method} {url}: {s} {v}");
    v
}

async fn user(http: &Client, base: &str, name: &str, chips: u64) -> String {
    let u = ok(http, "POST", format!("{base}/v1/users"), Some(KEY), Some(json!({ "user": name }))).await;
    if chips > 0 {
        let t = json!({ "user": name, "amount": chips });
        ok(http, "POST", format!("{base}/v1/billing/top-ups"), Some(KEY), Some(t)).await;
    }
    u["api_key"].as_str().unwrap().to_string()
}

async fn owner(http: &Client, base: &str, name: &str) -> String {
    let o = ok(http, "POST", format!("{base}/v1/owners"), None, Some(json!({ "owner": name }))).await;
    o["api_key"].as_str().unwrap().to_string()
}

async fn register(http: &Client, base: &str, owner_key: &str, id: &str, score: f64) -> String {
    let d = json!({ "device": { "id": id, "processor_score": score, "ram_available_mb": 4096.0,
        "download_mbps": 100.0, "upload_mbps": 20.0 } });
    let r = ok(http, "POST", format!("{base}/v1/devices"), Some(owner_key), Some(d)).await;
    r["token"].as_str().unwrap().to_string()
}

/// When each `/health` and each task cycle started and how long it took, while
/// `busy` held.
#[derive(Debug, Default)]
struct Probe {
    healths: Vec<(Instant, Duration)>,
    cycles: Vec<(Instant, Duration)>,
}

impl Probe {
    /// The calls that started inside `window`.
    fn during(&self, window: &std::ops::Range<Instant>) -> (Vec<Duration>, Vec<Duration>) {
        let pick = |v: &[(Instant, Duration)]| v.iter().filter(|(t, _)| window.contains(t)).map(|&(_, d)| d).collect();
        (pick(&self.healths), pick(&self.cycles))
    }
}

/// The 95th percentile and the largest of `d`.
fn p95_max(d: &mut [Duration]) -> (Duration, Duration) {
    d.sort();
    (d[(d.len() * 95).div_ceil(100).min(d.len()) - 1], d[d.len() - 1])
}

/// Times `/health` and task cycles (pull, heartbeat, result) of the device
/// `token` until `busy` clears. Synthetic tasks of any job are run; another
/// application's task is handed back and not counted.
async fn probe(base: String, token: String, busy: Arc<AtomicBool>) -> Probe {
    let http = client();
    let mut p = Probe::default();
    while busy.load(Ordering::Relaxed) {
        let t = Instant::now();
        let h = http.get(format!("{base}/health")).send().await.unwrap();
        assert!(h.status().is_success());
        p.healths.push((t, t.elapsed()));
        let t = Instant::now();
        let (s, pulled) = call(&http, "POST", format!("{base}/v1/tasks/pull"), Some(&token), None).await;
        assert!(s.is_success(), "{pulled}");
        if let Some(task) = pulled.get("task").filter(|t| !t.is_null()) {
            let a = task["attempt"].as_u64().unwrap();
            let (s, beat) = call(&http, "POST", format!("{base}/v1/tasks/{a}/heartbeat"), Some(&token), None).await;
            assert!(s.is_success(), "{beat}");
            let job = task["job"].as_str().unwrap().to_string();
            if job == "big" {
                // The gzip job once its input is in: hand it back.
                let (s, v) = call(&http, "POST", format!("{base}/v1/tasks/{a}/error"), Some(&token), None).await;
                assert!(s.is_success(), "{v}");
                continue;
            }
            let chunk: Chunk = serde_json::from_value(task["chunk"].clone()).unwrap();
            let meta = Synthetic::expected(&job, &chunk);
            let r = http
                .post(format!("{base}/v1/tasks/{a}/result"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&meta).unwrap())
                .send()
                .await
                .unwrap();
            // A job cancelled meanwhile ends its attempts: 410 is its answer.
            assert!(r.status().is_success() || r.status() == StatusCode::GONE, "{}", r.text().await.unwrap());
            p.cycles.push((t, t.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p
}

/// A grid of 40 devices for the hostile calls to plan on, a steady job of
/// `chunks` paid by `payer`, and the device `cycler` running it under [`probe`]
/// (started, and given 300 ms to warm up) until the returned flag clears.
async fn probed_grid(
    http: &Client,
    base: &str,
    payer: &str,
    chunks: u64,
    price: u64,
) -> (Arc<AtomicBool>, tokio::task::JoinHandle<Probe>) {
    let own = owner(http, base, "own").await;
    for i in 0..40 {
        register(http, base, &own, &format!("grid-{i}"), 100.0 + f64::from(i) * 10.0).await;
    }
    let cycler = register(http, base, &own, "cycler", 900.0).await;
    let steady = json!({ "id": "steady", "chunks": chunks, "price_chips": price, "pools": { "s_min": 1 } });
    ok(http, "POST", format!("{base}/v1/jobs"), Some(payer), Some(steady)).await;
    let busy = Arc::new(AtomicBool::new(true));
    let probing = tokio::spawn(probe(base.to_string(), cycler, busy.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    (busy, probing)
}

/// Checks the calls timed inside `window`: enough of them to have a 95th
/// percentile worth the name, 95% within 100 ms, none held for a second.
/// (A freeze held every call for seconds; a single slow fsync on a shared
/// machine is not one.)
fn answered_within_bounds(p: &Probe, window: &std::ops::Range<Instant>, what: &str) {
    let (mut healths, mut cycles) = p.during(window);
    assert!(healths.len() >= 30 && cycles.len() >= 30, "the probe ran under {what}: {p:?}");
    let (health, cycle) = (p95_max(&mut healths), p95_max(&mut cycles));
    eprintln!(
        "under {what} for {:?}: /health p95 {:?} max {:?} ({} calls); task cycle p95 {:?} max {:?} ({} cycles)",
        window.end - window.start,
        health.0,
        health.1,
        healths.len(),
        cycle.0,
        cycle.1,
        cycles.len(),
    );
    let bound = Duration::from_millis(100);
    assert!(health.0 < bound && cycle.0 < bound, "calls waited: /health {health:?}, cycle {cycle:?}");
    assert!(health.1 < bound * 10 && cycle.1 < bound * 10, "a call was held: /health {health:?}, cycle {cycle:?}");
}

/// The three freezes: a 10,000,000-chunk quote, concurrent quotes at r = 10,
/// and a 200 MB upload (with the quotes a paying user may make beside them),
/// kept up for seconds. Meanwhile `/health` and a task cycle answer within
/// 100 ms, and the server's peak memory stays under 300 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_caller_freezes_the_service_or_exhausts_its_memory() {
    let _turn = TIMED.lock().await;
    let server = Server::start("freeze", &[]);
    let base = server.url.clone();
    let http = client();
    let rich = user(&http, &base, "rich", 5_000_000).await;
    let broke = user(&http, &base, "broke", 0).await;
    let (busy, probing) = probed_grid(&http, &base, &rich, 100_000, 150_000).await;

    let started = Instant::now();
    // A 200 MB upload, beside the quotes.
    let size: u64 = 200_000_000;
    let gz = json!({ "id": "big", "application": "gzip", "input_bytes": size, "chunk_bytes": 4_000_000,
        "price_chips": 1_000 });
    ok(&http, "POST", format!("{base}/v1/jobs"), Some(&rich), Some(gz)).await;
    let upload = {
        let (http, base, key) = (http.clone(), base.clone(), rich.clone());
        tokio::spawn(async move {
            let up = http
                .put(format!("{base}/v1/jobs/big/input"))
                .bearer_auth(&key)
                .header("content-type", "application/octet-stream")
                .body(vec![b'r'; size as usize])
                .send()
                .await
                .unwrap();
            (up.status(), up.text().await.unwrap())
        })
    };
    let quote = |key: String, body: Value| {
        let (http, base) = (http.clone(), base.clone());
        tokio::spawn(async move { call(&http, "POST", format!("{base}/v1/jobs/quote"), Some(&key), Some(body)).await })
    };
    let mut waves = 0;
    while waves == 0 || !upload.is_finished() || started.elapsed() < Duration::from_secs(3) {
        waves += 1;
        // The 10,000,000-chunk quote, by a user who could pay for it.
        let huge = quote(rich.clone(), json!({ "id": "huge", "chunks": 10_000_000u64, "price_chips": 15_000_000u64 }));
        // Three concurrent quotes at r = 10 by a user with nothing.
        let poor: Vec<_> = (0..3)
            .map(|i| {
                let body = json!({ "id": format!("r10-{i}"), "chunks": 10_000, "price_chips": 100_000,
                    "replication": { "r": 10.0 } });
                quote(broke.clone(), body)
            })
            .collect();
        // Concurrent quotes at r = 10 that a paying user may make.
        let paid: Vec<_> = (0..3)
            .map(|i| {
                let body = json!({ "id": format!("paid-{i}"), "chunks": 10_000, "price_chips": 100_000,
                    "replication": { "r": 10.0 } });
                quote(rich.clone(), body)
            })
            .collect();
        let (s, v) = huge.await.unwrap();
        assert_eq!((s, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("chunks")), "{v}");
        for q in poor {
            let (s, v) = q.await.unwrap();
            assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{v}");
        }
        for q in paid {
            let (s, v) = q.await.unwrap();
            assert_eq!(s, StatusCode::OK, "{v}");
            assert_eq!(v["tasks"], 10_000);
        }
    }
    let (up_status, up_body) = upload.await.unwrap();
    assert_eq!(up_status, StatusCode::OK, "{up_body}");
    let window = started..Instant::now();
    busy.store(false, Ordering::Relaxed);
    let p = probing.await.unwrap();
    let peak = server.peak_rss();
    answered_within_bounds(&p, &window, &format!("{waves} waves of hostile quotes and a 200 MB upload"));
    eprintln!("peak RSS {} MB", peak >> 20);
    assert!(peak < 300 << 20, "peak RSS {} MB", peak >> 20);
}

/// Uploads by callers without a key, with a wrong key, or to another user's
/// job are refused before their bodies are read: the server's peak memory does
/// not move while four 200 MB bodies are offered at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unauthenticated_uploads_are_refused_before_their_bodies_are_read() {
    let server = Server::start("preauth", &[]);
    let base = server.url.clone();
    let http = client();
    let ana = user(&http, &base, "ana", 10_000).await;
    let bo = user(&http, &base, "bo", 10_000).await;
    let size: u64 = 200_000_000;
    let gz = json!({ "id": "gz", "application": "gzip", "input_bytes": size, "chunk_bytes": 4_000_000,
        "price_chips": 1_000 });
    ok(&http, "POST", format!("{base}/v1/jobs"), Some(&ana), Some(gz)).await;
    let before = server.peak_rss();
    let body = bytes_of(size);
    let tries = [
        (None, StatusCode::UNAUTHORIZED),
        (Some("kid.wrong-secret".to_string()), StatusCode::UNAUTHORIZED),
        (Some(bo.clone()), StatusCode::NOT_FOUND),
        (Some(KEY.to_string()), StatusCode::FORBIDDEN),
    ];
    let started = Instant::now();
    let sent: Vec<_> = tries
        .iter()
        .map(|(key, want)| {
            let (http, url, body, key, want) =
                (http.clone(), format!("{base}/v1/jobs/gz/input"), body, key.clone(), *want);
            tokio::spawn(async move {
                let mut r = http.put(url).header("content-type", "application/octet-stream").body(body);
                if let Some(k) = key {
                    r = r.bearer_auth(k);
                }
                // The server answers without reading the body and closes the
                // connection: the client sees the answer, or the connection
                // closed under its upload.
                match r.send().await {
                    Ok(resp) => assert_eq!(resp.status(), want, "{}", resp.text().await.unwrap()),
                    Err(e) => assert!(!e.is_timeout(), "{e}"),
                }
            })
        })
        .collect();
    for s in sent {
        s.await.unwrap();
    }
    let after = server.peak_rss();
    eprintln!("refused in {:?}; peak RSS {} MB before, {} MB after", started.elapsed(), before >> 20, after >> 20);
    assert!(after < before + (16 << 20), "peak RSS grew from {} to {} MB", before >> 20, after >> 20);
    // Nothing changed: the job still waits for its input, from its user.
    let v = ok(&http, "GET", format!("{base}/v1/jobs/gz"), Some(&ana), None).await;
    assert_eq!(v["state"], "awaiting_input");
    // And a body of the wrong length is refused before it is read, too.
    let r = http
        .put(format!("{base}/v1/jobs/gz/input"))
        .bearer_auth(&ana)
        .header("content-type", "application/octet-stream")
        .body(vec![0u8; 1_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["field"], "input", "{e}");
}

/// `n` bytes, made once for the test's life and shared between requests.
fn bytes_of(n: u64) -> &'static [u8] {
    Vec::leak(vec![b'x'; n as usize])
}

/// Who may call what: the roles table of docs/service.md, route by route.
/// Each route is called by each role; a role the table allows is never
/// refused as unauthenticated or forbidden (401/403), and any other is refused
/// so: 401 without a credential, 403 with another role's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_route_answers_to_the_roles_in_the_table_only() {
    let server = Server::start("roles", &[]);
    let base = server.url.clone();
    let http = client();
    let user_key = user(&http, &base, "ana", 100_000).await;
    let owner_key = owner(&http, &base, "olga").await;
    let device = register(&http, &base, &owner_key, "dev", 500.0).await;
    let gz = json!({ "id": "gz", "application": "gzip", "input_bytes": 10, "chunk_bytes": 10, "price_chips": 10 });
    ok(&http, "POST", format!("{base}/v1/jobs"), Some(&user_key), Some(gz)).await;

    // Roles: A anyone (no credential), U user, O owner, D device, P operator.
    let job = json!({ "id": "j-ROLE", "chunks": 1, "price_chips": 2 });
    let table: Vec<(&str, &str, Option<Value>, &str)> = vec![
        ("GET", "/health", None, "AUODP"),
        ("GET", "/openapi.json", None, "AUODP"),
        ("POST", "/v1/owners", Some(json!({ "owner": "o-ROLE" })), "AUODP"),
        ("POST", "/v1/devices", Some(json!({ "device": { "id": "d-ROLE" } })), "OD"),
        ("GET", "/v1/devices/me", None, "D"),
        ("PUT", "/v1/devices/me", Some(json!({ "id": "dev", "processor_score": 500.0 })), "D"),
        ("PUT", "/v1/devices/me/preferences", Some(json!({})), "D"),
        ("POST", "/v1/tasks/pull", None, "D"),
        ("GET", "/v1/tasks/held", None, "D"),
        ("GET", "/v1/tasks/999/input", None, "D"),
        ("POST", "/v1/tasks/999/heartbeat", None, "D"),
        ("POST", "/v1/tasks/999/result", Some(json!({ "size": 1, "digest": "x" })), "D"),
        ("POST", "/v1/tasks/999/error", None, "D"),
        ("POST", "/v1/jobs/quote", Some(job.clone()), "U"),
        ("POST", "/v1/jobs", Some(job), "U"),
        ("GET", "/v1/jobs/gz", None, "UP"),
        ("GET", "/v1/jobs/gz/output", None, "UP"),
        ("PUT", "/v1/jobs/gz/input", None, "U"),
        ("DELETE", "/v1/jobs/nothing", None, "U"),
        ("GET", "/v1/wallet", None, "O"),
        ("POST", "/v1/wallet/payouts", Some(json!({ "amount": 1 })), "O"),
        ("GET", "/v1/wallet/payouts", None, "O"),
        ("GET", "/v1/payouts", None, "P"),
        ("PUT", "/v1/payouts/1", Some(json!({ "state": "paid" })), "P"),
        ("GET", "/v1/billing", None, "U"),
        ("GET", "/v1/usage", None, "U"),
        ("GET", "/v1/jobs", None, "U"),
        ("POST", "/v1/billing/top-ups", Some(json!({ "user": "ana", "amount": 1 })), "P"),
        ("POST", "/v1/users", Some(json!({ "user": "u-ROLE" })), "P"),
        ("GET", "/v1/grid", None, "P"),
        ("GET", "/v1/grid/pools", None, "P"),
        ("GET", "/v1/ledger", None, "P"),
        ("PUT", "/v1/devices/dev/trust", Some(json!({ "trusted": false })), "P"),
        ("GET", "/metrics", None, "P"),
    ];
    let roles = [('A', None), ('U', Some(&user_key)), ('O', Some(&owner_key)), ('D', Some(&device)), ('P', None)];
    for (method, path, body, allowed) in &table {
        for (role, key) in &roles {
            let key = if *role == 'P' { Some(KEY.to_string()) } else { key.map(|k| k.to_string()) };
            // A fresh name per call, so that an allowed creation never collides;
            // a device registers only itself (coming back with its token).
            let body = body.as_ref().map(|b| {
                let text = b.to_string().replace("ROLE", &role.to_string()).replace("d-D", "dev");
                serde_json::from_str::<Value>(&text).unwrap()
            });
            let (s, v) = call(&http, method, format!("{base}{path}"), key.as_deref(), body).await;
            let refused = s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN;
            if allowed.contains(*role) {
                assert!(!refused, "{method} {path} as {role}: {s} {v}");
            } else {
                let want = if *role == 'A' { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
                assert_eq!(s, want, "{method} {path} as {role}: {v}");
            }
        }
    }
}

/// A job created twice under one `Idempotency-Key` (a retry whose answer was
/// lost) is created and charged once; the key used again for another job is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_created_again_under_its_key_is_created_once() {
    let server = Server::start("keyed", &[]);
    let base = server.url.clone();
    let http = client();
    let ana = user(&http, &base, "ana", 1_000).await;
    let own = owner(&http, &base, "own").await;
    register(&http, &base, &own, "dev", 500.0).await;
    let create = |body: Value| {
        http.post(format!("{base}/v1/jobs")).bearer_auth(&ana).header("idempotency-key", "job-1").json(&body).send()
    };
    let job = json!({ "id": "j", "chunks": 4, "price_chips": 400 });
    let first = create(job.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = create(job).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED, "a retry is answered as the first try was");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let b = ok(&http, "GET", format!("{base}/v1/billing"), Some(&ana), None).await;
    assert_eq!((b["charged"].as_u64(), b["available"].as_u64()), (Some(400), Some(600)), "{b}");
    let other = create(json!({ "id": "k", "chunks": 4, "price_chips": 400 })).await.unwrap();
    assert_eq!(other.status(), StatusCode::BAD_REQUEST);
    assert_eq!(other.json::<Value>().await.unwrap()["field"], "Idempotency-Key");
    let (s, _) = call(&http, "GET", format!("{base}/v1/jobs/k"), Some(&ana), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing was created for the reused key");
}

/// A worker killed while it held attempts and started again (same token) is
/// not starved by them: it resumes them at once, and the job completes within
/// seconds though its deadlines are minutes away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_resumes_the_attempts_it_held() {
    let cfg = EngineConfig { t1_ms: 60_000, t2_ms: 180_000, refresh_ms: 500, ..EngineConfig::default() };
    let server = Server::start_with("resume", &[], &cfg);
    let base = server.url.clone();
    let http = client();
    let ana = user(&http, &base, "ana", 1_000).await;
    let own = owner(&http, &base, "own").await;
    let token = register(&http, &base, &own, "w-0", 500.0).await;
    let job = json!({ "id": "j", "chunks": 2, "price_chips": 200 });
    ok(&http, "POST", format!("{base}/v1/jobs"), Some(&ana), Some(job)).await;
    // The worker's first life: it took the tasks, then was killed.
    let mut held = 0;
    for _ in 0..2 {
        let p = ok(&http, "POST", format!("{base}/v1/tasks/pull"), Some(&token), None).await;
        held += u32::from(!p["task"].is_null());
    }
    assert!(held >= 1, "the device took a task");
    let file = server.dir.join("w-0.token");
    std::fs::write(&file, json!({ "device": "w-0", "token": token }).to_string()).unwrap();
    let started = Instant::now();
    let mut worker = Command::new(env!("CARGO_BIN_EXE_byterank"))
        .args(["worker", "--server", &base, "--idle-exit", "2", "--token-file"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let done = loop {
        let v = ok(&http, "GET", format!("{base}/v1/jobs/j"), Some(&ana), None).await;
        if v["state"] == "completed" {
            break started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the held attempts were not resumed: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("the restarted worker finished the held job in {done:?}");
    assert!(worker.wait().unwrap().success());
}

/// A worker given a server nobody answers at says so as it retries, and
/// `--idle-exit` still ends it, with one clear error.
#[test]
fn a_worker_that_cannot_reach_its_server_says_so_and_idle_exit_holds() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener); // nobody listens there now
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_byterank"))
        .args(["worker", "--server", &url, "--owner-key", "k.s", "--idle-exit", "2"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(took < Duration::from_secs(10), "--idle-exit 2 took {took:?}");
    assert!(err.contains(&url) && err.contains("no answer"), "the retries are logged: {err}");
    assert!(err.contains("check --server"), "{err}");
}

/// A client that never finishes its headers is dropped after the header
/// deadline, and SIGTERM stops the server cleanly (exit 0) with what it
/// acknowledged kept: a restart on the same data has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_dropped_and_sigterm_stops_cleanly() {
    use std::io::{Read, Write};
    let mut server = Server::start("slow", &["--header-timeout-ms", "1000"]);
    let base = server.url.clone();
    let http = client();
    user(&http, &base, "ana", 777).await;
    let addr = base.trim_start_matches("http://").to_string();
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap(); // never finished
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest); // ends when the server closes it
    let dropped = started.elapsed();
    assert!(dropped < Duration::from_secs(5), "a half-sent request was held {dropped:?}");
    // The server still answers others. A new client: the header deadline also
    // closes keep-alive connections left idle past it, as the one `http` pooled.
    ok(&client(), "GET", format!("{base}/health"), None, None).await;

    assert!(Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap().success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = server.child.0.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "SIGTERM did not stop the server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let data = server.dir.join("data");
    let out =
        Command::new(env!("CARGO_BIN_EXE_byterank")).args(["journal", "--format", "json"]).arg(&data).output().unwrap();
    let story = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && story.contains("\"op\":\"top_up\""), "the top-up is in the journal: {story}");
}

/// An idle server (no job running) journals nothing, though it ticks every
/// 100 ms; with a job running, it journals its ticks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_server_journals_nothing() {
    let server = Server::start("idle", &[]);
    let base = server.url.clone();
    let http = client();
    let ana = user(&http, &base, "ana", 100).await;
    let own = owner(&http, &base, "own").await;
    let dev = register(&http, &base, &own, "dev", 500.0).await;
    // A registration is a change: the next tick ranks the device, once.
    let ranked = Instant::now();
    while ok(&http, "GET", format!("{base}/v1/devices/me"), Some(&dev), None).await["rank"] != 1 {
        assert!(ranked.elapsed() < Duration::from_secs(10), "the new device is never ranked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seq = |h: Value| h["journal_seq"].as_u64().unwrap();
    let before = seq(ok(&http, "GET", format!("{base}/health"), None, None).await);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let idle = seq(ok(&http, "GET", format!("{base}/health"), None, None).await);
    assert_eq!(idle, before, "an idle server journalled {} ops", idle - before);
    let job = json!({ "id": "j", "chunks": 1, "price_chips": 2 });
    ok(&http, "POST", format!("{base}/v1/jobs"), Some(&ana), Some(job)).await;
    // Ticks come every 100 ms of real time: wait for them, however loaded the machine.
    let t = Instant::now();
    loop {
        let busy = seq(ok(&http, "GET", format!("{base}/health"), None, None).await);
        if busy > idle + 3 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "a running job's ticks are not journalled: {idle} -> {busy}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An answer that must be the service's error shape: JSON with the status, a
/// code and a message, and no engine handle or Rust type name in the message.
fn assert_api_error(status: u16, content_type: Option<&str>, body: &str, want: u16, what: &str) -> Value {
    assert_eq!(status, want, "{what}: {body}");
    assert!(content_type.is_some_and(|c| c.starts_with("application/json")), "{what}: {content_type:?} {body}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
    assert_eq!(v["status"].as_u64(), Some(u64::from(want)), "{what}: {v}");
    assert!(v["code"].is_string() && v["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {v}");
    no_internal_names(body, what);
    v
}

/// No engine handle (`DeviceId(4)`) or Rust type name reaches an answer.
fn no_internal_names(text: &str, what: &str) {
    for name in ["DeviceId(", "AttemptId(", "JobId(", "Some(", "None", "::"] {
        assert!(!text.contains(name), "{what}: `{name}` in {text}");
    }
}

/// Sends `raw` on a new connection and reads the answer: status, content type, body.
fn raw_http(addr: &str, raw: &[u8]) -> (u16, Option<String>, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer and close before it has read all of `raw`.
    let _ = s.write_all(raw);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no answer: {text:?}"));
    let status = head.get(9..12).unwrap().parse().unwrap();
    let kind = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-type").then(|| v.trim().to_string())
    });
    (status, kind, body.to_string())
}

/// Every refusal answers the service's JSON error shape, including those no
/// route makes: no route (404), a method the route does not take (405), a body
/// too large (413), a path too long for HTTP to hold (414), headers past the
/// buffer (431), and a path segment that is not UTF-8 (400).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_the_json_error_shape() {
    let server = Server::start("shapes", &[]);
    let base = server.url.clone();
    let addr = base.trim_start_matches("http://").to_string();
    let http = client();
    let ana = user(&http, &base, "ana", 100).await;
    let own = owner(&http, &base, "own").await;
    let dev = register(&http, &base, &own, "dev", 500.0).await;
    let send = |method: &str, path: &str, key: Option<&str>, body: Option<Vec<u8>>| {
        let mut r = http.request(method.parse().unwrap(), format!("{base}{path}"));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        async move {
            let resp = r.send().await.unwrap();
            let status = resp.status().as_u16();
            let kind = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
            (status, kind, resp.text().await.unwrap())
        }
    };
    let cases = [
        ("GET", "/no/such/route", None, None, 404, "not_found"),
        ("PATCH", "/health", None, None, 405, "method_not_allowed"),
        ("DELETE", "/v1/billing", Some(ana.as_str()), None, 405, "method_not_allowed"),
        ("GET", "/v1/jobs/%FF%FE", Some(ana.as_str()), None, 400, "bad_request"),
        ("POST", "/v1/tasks/%C3%28/heartbeat", Some(dev.as_str()), None, 400, "bad_request"),
        ("POST", "/v1/users", Some(KEY), Some(vec![b' '; 2 << 20]), 413, "too_large"),
    ];
    for (method, path, key, body, want, code) in cases {
        let (s, kind, text) = send(method, path, key, body).await;
        let v = assert_api_error(s, kind.as_deref(), &text, want, &format!("{method} {path}"));
        assert_eq!(v["code"], code, "{method} {path}: {v}");
    }
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let (s, kind, text) = raw_http(&addr, long.as_bytes());
    assert_eq!(assert_api_error(s, kind.as_deref(), &text, 414, "a 70,000-byte path")["code"], "uri_too_long");
    let fat = format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Fat: {}\r\n\r\n", "b".repeat(1 << 20));
    let (s, kind, text) = raw_http(&addr, fat.as_bytes());
    assert_eq!(assert_api_error(s, kind.as_deref(), &text, 431, "1 MB of headers")["code"], "headers_too_large");
    // The server still answers, and a good request is untouched.
    ok(&client(), "GET", format!("{base}/health"), None, None).await;
}

/// Another device's attempt, running or ended, is not found (404) on every
/// attempt route; the holder is told its attempt ended. A device that left
/// answers 410 on every device route, is in no grid or pool, and no answer
/// names an engine handle. The data files are readable by the server's user
/// only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_their_holders_and_a_removed_device_is_gone_everywhere() {
    let server = Server::start("attempts", &[]);
    let base = server.url.clone();
    let http = client();
    let ana = user(&http, &base, "ana", 10_000).await;
    let own = owner(&http, &base, "own").await;
    let a = register(&http, &base, &own, "dev-a", 900.0).await;
    let b = register(&http, &base, &own, "dev-b", 800.0).await;
    ok(
        &http,
        "POST",
        format!("{base}/v1/jobs"),
        Some(&ana),
        Some(json!({ "id": "j", "chunks": 2, "price_chips": 200 })),
    )
    .await;
    let attempt = loop {
        let p = ok(&http, "POST", format!("{base}/v1/tasks/pull"), Some(&a), None).await;
        if let Some(n) = p["task"]["attempt"].as_u64() {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let routes = |n: u64| {
        [
            ("GET", format!("/v1/tasks/{n}/input"), None),
            ("POST", format!("/v1/tasks/{n}/heartbeat"), None),
            ("POST", format!("/v1/tasks/{n}/result"), Some(json!({ "size": 1, "digest": "x" }))),
            ("POST", format!("/v1/tasks/{n}/error"), None),
        ]
    };
    let mut seen = String::new();
    // Running, then ended: to the other device, it is not found either way.
    for phase in ["running", "ended"] {
        for (method, path, body) in routes(attempt) {
            let (s, v) = call(&http, method, format!("{base}{path}"), Some(&b), body).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{phase}: {method} {path} by another device: {v}");
            seen.push_str(&v.to_string());
        }
        if phase == "running" {
            let (s, v) = call(&http, "POST", format!("{base}/v1/tasks/{attempt}/error"), Some(&a), None).await;
            assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
        }
    }
    // Its holder is told it ended.
    let beat = ok(&http, "POST", format!("{base}/v1/tasks/{attempt}/heartbeat"), Some(&a), None).await;
    assert_eq!(beat["continue"], false, "{beat}");
    let (s, v) = call(&http, "POST", format!("{base}/v1/tasks/{attempt}/error"), Some(&a), None).await;
    assert_eq!(s, StatusCode::GONE, "{v}");
    seen.push_str(&v.to_string());

    // dev-a leaves: every device route answers 410, and it is ranked nowhere.
    let (s, _) = call(&http, "DELETE", format!("{base}/v1/devices/me"), Some(&a), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let mut device_routes = vec![
        ("GET", "/v1/devices/me".to_string(), None),
        ("PUT", "/v1/devices/me".to_string(), Some(json!({ "id": "dev-a", "processor_score": 900.0 }))),
        ("PUT", "/v1/devices/me/preferences".to_string(), Some(json!({}))),
        ("DELETE", "/v1/devices/me".to_string(), None),
        ("POST", "/v1/tasks/pull".to_string(), None),
        ("GET", "/v1/tasks/held".to_string(), None),
    ];
    device_routes.extend(routes(attempt));
    device_routes.extend(routes(attempt + 1_000));
    for (method, path, body) in device_routes {
        let (s, v) = call(&http, method, format!("{base}{path}"), Some(&a), body).await;
        assert_eq!(s, StatusCode::GONE, "{method} {path} by a device that left: {v}");
        assert!(v["message"].as_str().unwrap().contains("dev-a"), "{v}");
        seen.push_str(&v.to_string());
    }
    for path in ["/v1/grid", "/v1/grid/pools"] {
        let v = ok(&http, "GET", format!("{base}{path}"), Some(KEY), None).await;
        assert!(!v.to_string().contains("dev-a"), "{path} still shows the device that left: {v}");
    }
    no_internal_names(&seen, "the refusals");
    // Coming back with its token, it acts again.
    let back = json!({ "device": { "id": "dev-a", "processor_score": 900.0, "ram_available_mb": 4096.0,
        "download_mbps": 100.0, "upload_mbps": 20.0 } });
    ok(&http, "POST", format!("{base}/v1/devices"), Some(&a), Some(back)).await;
    ok(&http, "GET", format!("{base}/v1/devices/me"), Some(&a), None).await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fn walk(dir: &std::path::Path, files: &mut Vec<(std::path::PathBuf, u32)>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                if p.is_dir() {
                    walk(&p, files);
                }
                files.push((p, mode));
            }
        }
        let mut files = Vec::new();
        walk(&server.dir.join("data"), &mut files);
        assert!(files.iter().any(|(p, _)| p.ends_with("byterank.db")), "{files:?}");
        for (p, mode) in files {
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}: readable by others", p.display());
        }
    }
}

/// `/metrics` has a HELP and a TYPE line for every series, histograms with
/// buckets (no summaries) for HTTP requests by route and status, commit
/// latency and batch size, the engine thread's backlog, and each running job's
/// queue depth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_histograms_with_help_lines() {
    let server = Server::start("metrics", &[]);
    let base = server.url.clone();
    let http = client();
    let ana = user(&http, &base, "ana", 1_000).await;
    let own = owner(&http, &base, "own").await;
    let dev = register(&http, &base, &own, "dev", 500.0).await;
    ok(
        &http,
        "POST",
        format!("{base}/v1/jobs"),
        Some(&ana),
        Some(json!({ "id": "j\"q", "chunks": 5, "price_chips": 500 })),
    )
    .await;
    ok(&http, "POST", format!("{base}/v1/tasks/pull"), Some(&dev), None).await;
    let (s, _) = call(&http, "GET", format!("{base}/v1/jobs/nope"), Some(&ana), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let text = http.get(format!("{base}/metrics")).bearer_auth(KEY).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains("summary") && !text.contains("quantile="), "summaries: {text}");
    for (name, kind) in [
        ("byterank_http_request_seconds", "histogram"),
        ("byterank_commit_seconds", "histogram"),
        ("byterank_batch_ops", "histogram"),
        ("byterank_engine_backlog", "gauge"),
        ("byterank_job_queued_tasks", "gauge"),
        ("byterank_job_running_attempts", "gauge"),
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "no HELP for {name}: {text}");
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "{name} is not a {kind}: {text}");
    }
    // Every series has its HELP line.
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let name = line.split(['{', ' ']).next().unwrap();
        let base_name = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
        assert!(text.contains(&format!("# HELP {base_name} ")), "no HELP for {name}");
    }
    let has = |needle: &str| text.lines().any(|l| l.contains(needle));
    assert!(has(r#"route="/v1/jobs/{job}""#) && has(r#"status="404""#), "requests by route and status: {text}");
    assert!(has(r#"byterank_http_request_seconds_bucket{"#) && has(r#"le="0.005""#), "{text}");
    // One job, queued copies less the one running; its id escaped as a label.
    let queued = text.lines().find(|l| l.starts_with(r#"byterank_job_queued_tasks{job="j\"q"}"#));
    let n: u64 = queued.unwrap_or_else(|| panic!("{text}")).rsplit(' ').next().unwrap().parse().unwrap();
    assert!((1..=5).contains(&n), "{n}");
    assert!(has(r#"byterank_job_running_attempts{job="j\"q"} 1"#), "{text}");
}

/// Submissions are planned on the engine thread, bounded by the copy cap: a
/// funded user's concurrent submissions of the largest jobs the cap allows
/// (at r = 1 and at r = 10, beside one over it), wave after wave for seconds
/// (each wave's jobs cancelled after it), leave `/health` and a task cycle
/// answering within 100 ms, and memory under 300 MB. The cap is set here to
/// what a debug build plans in a few tens of milliseconds; the default's cost
/// in a release build is in docs/benchmarks.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_largest_submissions_do_not_hold_the_others() {
    let _turn = TIMED.lock().await;
    let server = Server::start("submit", &["--max-job-copies", "10000", "--rate-per-second", "0"]);
    let base = server.url.clone();
    let http = client();
    let rich = user(&http, &base, "rich", 100_000_000).await;
    let (busy, probing) = probed_grid(&http, &base, &rich, 10_000, 20_000).await;
    let started = Instant::now();
    let submit = |body: Value| {
        let (http, base, key) = (http.clone(), base.clone(), rich.clone());
        tokio::spawn(async move { call(&http, "POST", format!("{base}/v1/jobs"), Some(&key), Some(body)).await })
    };
    let mut waves = 0;
    while started.elapsed() < Duration::from_secs(3) {
        waves += 1;
        let mut sent = Vec::new();
        let mut ids = Vec::new();
        for i in 0..6 {
            let id = format!("w{waves}-{i}");
            let body = if i % 2 == 0 {
                json!({ "id": id, "chunks": 10_000, "price_chips": 20_000 })
            } else {
                json!({ "id": id, "chunks": 1_000, "price_chips": 10_000, "replication": { "r": 10.0 } })
            };
            ids.push(id);
            sent.push(submit(body));
        }
        let over = submit(json!({ "id": format!("over-{waves}"), "chunks": 1_001, "price_chips": 10_010,
            "replication": { "r": 10.0 } }));
        for s in sent {
            let (s, v) = s.await.unwrap();
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
        let (s, v) = over.await.unwrap();
        assert_eq!((s, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("replication")), "{v}");
        for id in ids {
            ok(&http, "DELETE", format!("{base}/v1/jobs/{id}"), Some(&rich), None).await;
        }
    }
    let window = started..Instant::now();
    busy.store(false, Ordering::Relaxed);
    let p = probing.await.unwrap();
    let peak = server.peak_rss();
    answered_within_bounds(&p, &window, &format!("{waves} waves of 6 submissions of 10,000 copies"));
    eprintln!("peak RSS {} MB", peak >> 20);
    assert!(peak < 300 << 20, "peak RSS {} MB", peak >> 20);
}
