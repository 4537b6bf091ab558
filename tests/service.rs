//! The service as its users meet it: the real `byterank serve` on a loopback port,
//! real `byterank worker` processes, and a real HTTP client. Every scenario runs
//! on both journals: SQLite in a data directory (`on_sqlite::`) and PostgreSQL
//! (`on_postgres::`, which needs BYTERANK_TEST_POSTGRES, a URL whose role may
//! create schemas; those tests are ignored by default, so a run without a server
//! reports them as ignored: `cargo test --test service on_postgres --
//! --include-ignored` runs them, as CI does).
//!
//! What the tests check comes from their own records (what was acknowledged to
//! them, the input they uploaded, the history lines they read), not from the
//! service's view of itself.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use byterank::core::EngineConfig;
use rand::{Rng, SeedableRng};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

mod common;

use common::{write_engine_config, Proc};

const KEY: &str = "operator-key-for-tests-0123456789";

/// Where a server journals.
#[derive(Clone, Debug)]
enum Backend {
    /// SQLite in the server's data directory.
    Sqlite,
    /// PostgreSQL, in a schema of the scenario's own (this URL selects it).
    Postgres(String),
}

impl Backend {
    /// PostgreSQL in a fresh schema `t_svc_{name}`.
    fn postgres(name: &str) -> Backend {
        let base = std::env::var("BYTERANK_TEST_POSTGRES")
            .expect("set BYTERANK_TEST_POSTGRES=postgres://USER:PASS@127.0.0.1/DB to run the PostgreSQL scenarios");
        let schema = format!("t_svc_{name}");
        let (b, s) = (base.clone(), schema.clone());
        // The blocking client must not run on the test's runtime.
        std::thread::spawn(move || {
            byterank::http::journal::postgres::connect(&b)
                .unwrap()
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}"))
                .unwrap()
        })
        .join()
        .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Backend::Postgres(format!("{base}{sep}options=-csearch_path%3D{schema}"))
    }

    /// A name for this scenario's files, distinct per backend.
    fn dir(&self, name: &str) -> PathBuf {
        temp_dir(&format!("{name}-{}", if matches!(self, Backend::Sqlite) { "sqlite" } else { "pg" }))
    }
}

/// Each scenario, as one test per backend.
macro_rules! on_both_journals {
    ($($scenario:ident as $short:literal),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Backend::Sqlite).await
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs BYTERANK_TEST_POSTGRES"]
                async fn $scenario() {
                    super::$scenario(super::Backend::postgres($short)).await
                }
            )*
        }
    };
}

on_both_journals!(
    a_gzip_job_runs_end_to_end_and_the_money_adds_up as "lifecycle",
    callers_see_only_what_is_theirs as "auth",
    bad_requests_get_a_json_error_naming_the_field_and_change_nothing as "bad",
    kill_9_at_random_moments_loses_nothing_acknowledged_and_pays_nothing_twice as "crash",
    the_openapi_document_lists_every_route_and_its_errors as "openapi",
);

struct Server {
    proc: Proc,
    url: String,
    listen: String,
    backend: Backend,
    data: PathBuf,
    cfg: PathBuf,
    tick_ms: u64,
    /// A manual clock's time (`BYTERANK_TEST_CLOCK_MS`), kept across restarts.
    clock_ms: Option<i64>,
}

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("test", name)
}

/// Short deadlines, so that lost attempts come back in seconds.
fn fast() -> EngineConfig {
    EngineConfig { t1_ms: 1_000, t2_ms: 3_000, refresh_ms: 500, rescue_wait_ms: 500, ..EngineConfig::default() }
}

/// A PostgreSQL node's lease: short, so that a restart after `kill -9` waits
/// little for its predecessor's lease to lapse.
const LEASE_MS: &str = "1000";

impl Server {
    fn start(backend: &Backend, dir: &Path, tick_ms: u64) -> Server {
        Self::start_with(backend, dir, tick_ms, &fast())
    }

    fn start_with(backend: &Backend, dir: &Path, tick_ms: u64, cfg: &EngineConfig) -> Server {
        let data = dir.join("data");
        let cfg = write_engine_config(dir, cfg);
        Self::spawn(backend.clone(), data, cfg, "127.0.0.1:0".into(), tick_ms, None)
    }

    /// Like [`start_with`](Self::start_with), on a manual clock standing at
    /// `clock_ms`: no deadline passes, however slowly a loaded machine runs.
    fn start_frozen(backend: &Backend, dir: &Path, tick_ms: u64, cfg: &EngineConfig, clock_ms: i64) -> Server {
        let data = dir.join("data");
        let cfg = write_engine_config(dir, cfg);
        Self::spawn(backend.clone(), data, cfg, "127.0.0.1:0".into(), tick_ms, Some(clock_ms))
    }

    fn spawn(
        backend: Backend,
        data: PathBuf,
        cfg: PathBuf,
        listen: String,
        tick_ms: u64,
        clock_ms: Option<i64>,
    ) -> Server {
        let mut args: Vec<std::ffi::OsString> =
            vec!["--listen".into(), listen.into(), "--data".into(), data.clone().into()];
        args.extend(["--engine-config".into(), cfg.clone().into(), "--tick-ms".into(), tick_ms.to_string().into()]);
        // Snapshots often, so that restarts recover from them, not only from
        // the whole journal.
        args.extend(["--snapshot-every".into(), "50".into()]);
        if let Backend::Postgres(url) = &backend {
            args.extend(["--journal".into(), url.into(), "--lease-ms".into(), LEASE_MS.into()]);
        }
        let envs: Vec<(&str, String)> =
            clock_ms.map(|ms| ("BYTERANK_TEST_CLOCK_MS", ms.to_string())).into_iter().collect();
        let (proc, url) = common::serve(args, KEY, &envs);
        let listen = url.trim_start_matches("http://").to_string();
        Server { proc, url, listen, backend, data, cfg, tick_ms, clock_ms }
    }

    /// What `byterank journal` reads: the data directory, or the URL.
    fn journal(&self) -> std::ffi::OsString {
        match &self.backend {
            Backend::Sqlite => self.data.clone().into_os_string(),
            Backend::Postgres(url) => url.into(),
        }
    }

    /// `kill -9`, then start again on the same port and journal.
    fn crash_and_restart(&mut self) {
        self.proc.kill9();
        let mut started = Instant::now();
        loop {
            let s = Self::spawn(
                self.backend.clone(),
                self.data.clone(),
                self.cfg.clone(),
                self.listen.clone(),
                self.tick_ms,
                self.clock_ms,
            );
            if s.url.ends_with(&self.listen) {
                *self = s;
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the port did not come free");
            started = Instant::now();
        }
    }
}

/// `n` workers with ids `{owner}-{i}`, registered with `owner_key`.
fn workers(url: &str, dir: &Path, n: usize, owner: &str, owner_key: &str) -> Vec<Proc> {
    common::workers(&[url], dir, owner_key, owner, n)
}

struct Api {
    http: Client,
    url: String,
}

impl Api {
    fn new(url: &str) -> Api {
        Api { http: Client::builder().timeout(Duration::from_secs(30)).build().unwrap(), url: url.into() }
    }

    /// One try: `None` when no answer came (the call may or may not have been applied).
    async fn call_once(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Option<(StatusCode, Value)> {
        self.keyed_once(method, path, key, None, body).await
    }

    /// One try under an `Idempotency-Key` (`idem`), if given.
    async fn keyed_once(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        idem: Option<&str>,
        body: Option<Value>,
    ) -> Option<(StatusCode, Value)> {
        let mut r = self.http.request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        if let Some(k) = idem {
            r = r.header("idempotency-key", k);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.ok()?;
        let status = resp.status();
        let text = resp.text().await.ok()?;
        Some((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    /// Tries again while no answer comes (a pooled connection to a killed server).
    async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        for _ in 0..20 {
            if let Some(r) = self.call_once(method, path, key, body.clone()).await {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{method} {path}: the server does not answer");
    }

    async fn ok(&self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Value {
        let (s, v) = self.call(method, path, key, body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }

    async fn bytes(&self, method: &str, path: &str, key: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let resp = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .bearer_auth(key)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn user(&self, name: &str, chips: u64) -> String {
        let u = self.ok("POST", "/v1/users", Some(KEY), Some(json!({ "user": name }))).await;
        self.ok("POST", "/v1/billing/top-ups", Some(KEY), Some(json!({ "user": name, "amount": chips }))).await;
        u["api_key"].as_str().unwrap().to_string()
    }

    /// Opens a worker owner's account: its key.
    async fn owner(&self, name: &str) -> String {
        let o = self.ok("POST", "/v1/owners", None, Some(json!({ "owner": name }))).await;
        o["api_key"].as_str().unwrap().to_string()
    }

    async fn wait_job(&self, key: &str, job: &str, state: &str, within: Duration) -> Value {
        let t = Instant::now();
        loop {
            let (s, v) = self.call("GET", &format!("/v1/jobs/{job}"), Some(key), None).await;
            if s.is_success() && v["state"] == state {
                return v;
            }
            assert!(t.elapsed() < within, "job {job} did not reach {state}: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn input_bytes(n: usize, seed: u64) -> Vec<u8> {
    // Compressible but not trivial: words drawn at random.
    let words = ["grid ", "device ", "rank ", "pool ", "task ", "chip ", "replica ", "\n"];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend_from_slice(words[rng.random_range(0..words.len())].as_bytes());
    }
    out.truncate(n);
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).expect("the output is gzip");
    out
}

/// Reward lines per (job, task, device) from an owner's wallet history, and
/// what the owner earned (payout lines are left to the caller).
async fn rewards(api: &Api, owner_key: &str) -> (u64, BTreeMap<(String, u64, String), u32>) {
    let w = api.ok("GET", "/v1/wallet?limit=10000", Some(owner_key), None).await;
    let mut seen = BTreeMap::new();
    for e in w["history"].as_array().unwrap() {
        if e["kind"] != "reward" {
            assert!(e["kind"].as_str().unwrap().starts_with("payout"), "{e}");
            continue;
        }
        let k = (
            e["job"].as_str().unwrap().to_string(),
            e["task"].as_u64().unwrap(),
            e["device"].as_str().unwrap().to_string(),
        );
        *seen.entry(k).or_insert(0) += 1;
    }
    (w["earned"].as_u64().unwrap(), seen)
}

async fn register(api: &Api, id: &str, owner_key: &str) -> String {
    let r = api.ok("POST", "/v1/devices", Some(owner_key), Some(json!({ "device": { "id": id } }))).await;
    r["token"].as_str().unwrap().to_string()
}

async fn a_gzip_job_runs_end_to_end_and_the_money_adds_up(backend: Backend) {
    let dir = backend.dir("lifecycle");
    let server = Server::start(&backend, &dir, 100);
    let api = Api::new(&server.url);
    let ana = api.user("ana", 100_000).await;
    let input = input_bytes(3_000_000, 1);
    let spec = json!({ "id": "gz", "application": "gzip", "input_bytes": input.len(), "chunk_bytes": 256 * 1024,
                       "price_chips": 60_000, "replication": { "r": 2 } });
    let bob = api.owner("bob").await;
    let _workers = workers(&server.url, &dir, 3, "bob", &bob);
    // Once the workers are known, the job can be quoted.
    let t = Instant::now();
    while api.ok("GET", "/health", None, None).await["devices"] != 3 {
        assert!(t.elapsed() < Duration::from_secs(20), "the workers did not register");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let quote = api.ok("POST", "/v1/jobs/quote", Some(&ana), Some(spec.clone())).await;
    assert_eq!(quote["tasks"], 12);
    assert_eq!(quote["copies"], 24);
    assert_eq!(quote["available"], 100_000);

    let created = api.ok("POST", "/v1/jobs", Some(&ana), Some(spec)).await;
    assert_eq!(created["state"], "awaiting_input");
    let b = api.ok("GET", "/v1/billing", Some(&ana), None).await;
    assert_eq!((b["available"].as_u64(), b["reserved"].as_u64()), (Some(40_000), Some(60_000)));
    let (s, v) = api.bytes("PUT", "/v1/jobs/gz/input", &ana, input.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let done = api.wait_job(&ana, "gz", "completed", Duration::from_secs(120)).await;
    assert_eq!((done["tasks"].as_u64(), done["done"].as_u64()), (Some(12), Some(12)));
    assert_eq!(done["unverified"], 0, "every task was cross-checked");

    let out = api.http.get(format!("{}/v1/jobs/gz/output", server.url)).bearer_auth(&ana).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(gunzip(&out.bytes().await.unwrap()), input, "the assembled output gunzips to the input");

    // Money, from the histories: each task paid once per agreeing copy, the user
    // charged the price once, and every ByteChip accounted for.
    let (balance, seen) = rewards(&api, &bob).await;
    assert_eq!(seen.len(), 24, "two agreeing copies of each of 12 tasks are paid");
    assert!(seen.values().all(|&n| n == 1), "nothing paid twice: {seen:?}");
    let b = api.ok("GET", "/v1/billing", Some(&ana), None).await;
    assert_eq!((b["charged"].as_u64(), b["available"].as_u64()), (Some(60_000), Some(40_000)));
    let l = api.ok("GET", "/v1/ledger", Some(KEY), None).await;
    assert_eq!(l["wallets"].as_u64(), Some(balance));
    assert_eq!(
        l["charged"].as_u64().unwrap(),
        balance + l["platform"].as_u64().unwrap() + l["refunded"].as_u64().unwrap() + l["escrow"].as_u64().unwrap()
    );
    assert_eq!(l["escrow"], 0);
    assert!(balance > 0 && balance < 60_000);

    // The journal tells the job's story, replayed beside the running server.
    let out = Command::new(common::bin())
        .args(["journal"])
        .arg(server.journal())
        .args(["--job", "gz", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let story = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "\"op\":\"create_job\"",
        "\"op\":\"store_input\"",
        "\"type\":\"job_accepted\"",
        "\"type\":\"task_validated\"",
        "\"type\":\"job_completed\"",
    ] {
        assert!(story.contains(needle), "the journal's story of gz lacks {needle}");
    }
    assert_eq!(story.matches("\"type\":\"task_validated\"").count(), 12);
    let out = Command::new(common::bin())
        .args(["journal"])
        .arg(server.journal())
        .args(["--at", "2000-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an instant before the first op is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("before the journal's first op"));

    // Ctrl-C stops an idle worker cleanly, with its summary on stdout.
    let carl = api.owner("carl").await;
    let mut w = Command::new(common::bin())
        .args(["worker", "--server", &server.url, "--id", "late-1"])
        .env("BYTERANK_OWNER_KEY", &carl)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Idle once registered: the grid's fourth device.
    let t = Instant::now();
    while api.ok("GET", "/health", None, None).await["devices"] != 4 {
        assert!(t.elapsed() < Duration::from_secs(20), "the late worker did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(Command::new("kill").args(["-INT", &w.id().to_string()]).status().unwrap().success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = w.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "the worker did not stop on Ctrl-C");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success());
    let mut summary = String::new();
    w.stdout.take().unwrap().read_to_string(&mut summary).unwrap();
    let summary: Value = serde_json::from_str(summary.trim()).unwrap();
    assert_eq!(summary["failed"], 0);
}

async fn callers_see_only_what_is_theirs(backend: Backend) {
    let dir = backend.dir("auth");
    let server = Server::start(&backend, &dir, 100);
    let api = Api::new(&server.url);
    let ana = api.user("ana", 10_000).await;
    let eve = api.user("eve", 10_000).await;
    let o1 = api.owner("o1").await;
    let o2 = api.owner("o2").await;
    let d1 = register(&api, "d1", &o1).await;
    let d2 = register(&api, "d2", &o2).await;
    // Devices are registered by their owner's key, for that owner only.
    let (s, v) = api.call("POST", "/v1/devices", None, Some(json!({"device": {"id": "d3"}, "owner": "o1"}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = api.call("POST", "/v1/devices", Some(&o2), Some(json!({"device": {"id": "d3"}, "owner": "o1"}))).await;
    assert_eq!((s, v["field"].as_str()), (StatusCode::FORBIDDEN, Some("owner")), "{v}");
    let (s, _) = api.call("POST", "/v1/owners", None, Some(json!({"owner": "o1"}))).await;
    assert_eq!(s, StatusCode::CONFLICT, "an owner's name is theirs");
    // A wallet answers to its owner's key only: not to a device's token, and
    // another owner's key reads that owner's wallet.
    for key in [&d1, &d2, &ana] {
        assert_eq!(api.call("GET", "/v1/wallet", Some(key), None).await.0, StatusCode::FORBIDDEN);
    }
    assert_eq!(api.ok("GET", "/v1/wallet", Some(&o2), None).await["owner"], "o2");
    api.ok("POST", "/v1/jobs", Some(&ana), Some(json!({"id": "j", "chunks": 4, "price_chips": 4000}))).await;
    let attempt = loop {
        let p = api.ok("POST", "/v1/tasks/pull", Some(&d1), None).await;
        if let Some(a) = p["task"]["attempt"].as_u64() {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // A device on another's attempt.
    for (m, p) in [("POST", "heartbeat"), ("POST", "result"), ("POST", "error"), ("GET", "input")] {
        let (s, v) = api.call(m, &format!("/v1/tasks/{attempt}/{p}"), Some(&d2), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}: {v}");
        assert_eq!(v["field"], "attempt");
    }
    // A user on another's job: as if it did not exist.
    for (m, p) in [("GET", "/v1/jobs/j"), ("DELETE", "/v1/jobs/j"), ("GET", "/v1/jobs/j/output")] {
        let (s, _) = api.call(m, p, Some(&eve), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{m} {p}");
    }
    // Operator routes without the key, or with someone else's.
    for p in ["/v1/grid", "/v1/grid/pools", "/v1/ledger", "/metrics"] {
        assert_eq!(api.call("GET", p, None, None).await.0, StatusCode::UNAUTHORIZED, "{p}");
        assert_eq!(api.call("GET", p, Some(&ana), None).await.0, StatusCode::FORBIDDEN, "{p}");
        assert_eq!(api.call("GET", p, Some(&d1), None).await.0, StatusCode::FORBIDDEN, "{p}");
        assert_eq!(
            api.call("GET", p, Some("0123456789abcdef.0123456789abcdef0123456789abcdef"), None).await.0,
            StatusCode::UNAUTHORIZED,
            "{p}"
        );
    }
    let (s, _) = api.call("PUT", "/v1/devices/d1/trust", Some(&ana), Some(json!({"trusted": true}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api.call("POST", "/v1/billing/top-ups", Some(&ana), Some(json!({"user": "ana", "amount": 5}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "users cannot credit themselves");
    // A device cannot take over another's id.
    let (s, v) = api.call("POST", "/v1/devices", Some(&d2), Some(json!({"device": {"id": "d1"}, "owner": "x"}))).await;
    assert_eq!((s, v["field"].as_str()), (StatusCode::CONFLICT, Some("device.id")));
    // The rightful holder is answered.
    let b = api.ok("POST", &format!("/v1/tasks/{attempt}/heartbeat"), Some(&d1), None).await;
    assert_eq!(b["continue"], true);
    let grid = api.ok("GET", "/v1/grid", Some(KEY), None).await;
    assert_eq!(grid["devices"], 2);
    let t = api.ok("PUT", "/v1/devices/d2/trust", Some(KEY), Some(json!({"trusted": true}))).await;
    assert_eq!(t["device"]["trusted"], true);
    let m = api.http.get(format!("{}/metrics", server.url)).bearer_auth(KEY).send().await.unwrap();
    assert!(m.text().await.unwrap().contains("byterank_ops_total"));
}

async fn bad_requests_get_a_json_error_naming_the_field_and_change_nothing(backend: Backend) {
    let dir = backend.dir("bad");
    // No ticks during the test: the journal moves only if a request changes something.
    let server = Server::start(&backend, &dir, 60_000);
    let api = Api::new(&server.url);
    let ana = api.user("ana", 1_000).await;
    let o1 = api.owner("o1").await;
    let dev = register(&api, "d1", &o1).await;
    api.ok(
        "POST",
        "/v1/jobs",
        Some(&ana),
        Some(json!({"id": "gz", "application": "gzip", "input_bytes": 100,
        "chunk_bytes": 50, "price_chips": 500})),
    )
    .await;
    let seq = |v: Value| v["journal_seq"].as_u64().unwrap();
    let before = seq(api.ok("GET", "/health", None, None).await);

    // Method, path, key, body, the status expected, the field it names.
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, Value, StatusCode, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/devices",
            Some(&o1),
            json!({"device": {"id": "d2", "battery_pct": 140}}),
            StatusCode::BAD_REQUEST,
            Some("device.battery_pct"),
        ),
        (
            "POST",
            "/v1/devices",
            Some(&o1),
            json!({"device": {"id": "d2"}, "owner": "o2"}),
            StatusCode::FORBIDDEN,
            Some("owner"),
        ),
        ("POST", "/v1/owners", None, json!({"owner": ""}), StatusCode::BAD_REQUEST, Some("owner")),
        (
            "POST",
            "/v1/devices",
            Some(&o1),
            json!({"device": {"id": "d2", "speed": 1}}),
            StatusCode::BAD_REQUEST,
            Some("device.speed"),
        ),
        ("POST", "/v1/devices", Some(&o1), json!({"device": {"id": "d1"}}), StatusCode::CONFLICT, Some("device.id")),
        (
            "POST",
            "/v1/jobs",
            Some(&ana),
            json!({"id": "big", "chunks": 10, "price_chips": 5000}),
            StatusCode::PAYMENT_REQUIRED,
            Some("price_chips"),
        ),
        ("POST", "/v1/jobs", Some(&ana), json!({"id": "x", "chunks": "ten"}), StatusCode::BAD_REQUEST, Some("chunks")),
        (
            "POST",
            "/v1/jobs",
            Some(&ana),
            json!({"id": "x", "application": "nope", "chunks": 1}),
            StatusCode::BAD_REQUEST,
            Some("application"),
        ),
        ("POST", "/v1/jobs", Some(&ana), json!({"id": "gz", "chunks": 1}), StatusCode::CONFLICT, Some("id")),
        (
            "POST",
            "/v1/jobs",
            Some(&ana),
            json!({"id": "x", "chunks": 10_000_000_000u64}),
            StatusCode::BAD_REQUEST,
            None,
        ),
        ("POST", "/v1/users", Some(KEY), json!({"user": "a\nb"}), StatusCode::BAD_REQUEST, Some("user")),
        // Job ids follow the device id rules.
        (
            "POST",
            "/v1/jobs",
            Some(&ana),
            json!({"id": "a\u{202e}b", "chunks": 1, "price_chips": 1}),
            StatusCode::BAD_REQUEST,
            Some("id"),
        ),
        (
            "POST",
            "/v1/jobs",
            Some(&ana),
            json!({"id": "a\u{0}b", "chunks": 1, "price_chips": 1}),
            StatusCode::BAD_REQUEST,
            Some("id"),
        ),
        (
            "POST",
            "/v1/jobs",
            Some(&ana),
            json!({"id": "x".repeat(257), "chunks": 1, "price_chips": 1}),
            StatusCode::BAD_REQUEST,
            Some("id"),
        ),
        // A gzip job whose input could never be uploaded.
        (
            "POST",
            "/v1/jobs",
            Some(&ana),
            json!({"id": "huge", "application": "gzip", "input_bytes": 300_000_000u64, "chunk_bytes": 1_000_000,
                "price_chips": 500}),
            StatusCode::BAD_REQUEST,
            Some("input_bytes"),
        ),
        (
            "POST",
            "/v1/billing/top-ups",
            Some(KEY),
            json!({"user": "ana", "amount": 0}),
            StatusCode::BAD_REQUEST,
            Some("amount"),
        ),
        (
            "POST",
            "/v1/billing/top-ups",
            Some(KEY),
            json!({"user": "nobody", "amount": 5}),
            StatusCode::NOT_FOUND,
            Some("user"),
        ),
        ("PUT", "/v1/devices/me", Some(&dev), json!({"id": "d9"}), StatusCode::FORBIDDEN, Some("id")),
        (
            "PUT",
            "/v1/devices/me/preferences",
            Some(&dev),
            json!({"schedule": ["XYZ 25:00-26:00"]}),
            StatusCode::BAD_REQUEST,
            Some("schedule[0]"),
        ),
        ("POST", "/v1/tasks/abc/heartbeat", Some(&dev), Value::Null, StatusCode::BAD_REQUEST, Some("attempt")),
        ("POST", "/v1/tasks/99999/result", Some(&dev), Value::Null, StatusCode::NOT_FOUND, Some("attempt")),
        ("GET", "/v1/jobs/gz?limit=20000&tasks=true", Some(&ana), Value::Null, StatusCode::BAD_REQUEST, Some("limit")),
        ("GET", "/v1/grid?top=-1", Some(KEY), Value::Null, StatusCode::BAD_REQUEST, None),
    ];
    for (m, p, key, body, want, field) in cases {
        let body = (!body.is_null()).then_some(body);
        let (s, v) = api.call(m, p, key, body.clone()).await;
        assert_eq!(s, want, "{m} {p} {body:?}: {v}");
        assert_eq!(v["status"].as_u64(), Some(u64::from(want.as_u16())), "{v}");
        assert!(!v["message"].as_str().unwrap().is_empty());
        if let Some(f) = field {
            assert_eq!(v["field"].as_str(), Some(f), "{m} {p}: {v}");
        }
    }
    // An unpaid job is refused by the engine's admission rule, with its message
    // (the CLI shows the same: tests/cli.rs), before the service's own limits.
    for job in [
        json!({"id": "free", "chunks": 3, "price_chips": 0}),
        json!({"id": "cheap", "chunks": 10_000_000, "price_chips": 1}),
    ] {
        let (s, v) = api.call("POST", "/v1/jobs", Some(&ana), Some(job.clone())).await;
        assert_eq!((s, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("price_chips")), "{job}: {v}");
        let spec: byterank::core::JobSpec = serde_json::from_value(job).unwrap();
        let core = byterank::core::Engine::default().check_terms(&spec, Some("ana")).unwrap_err();
        assert_eq!(v["message"].as_str(), Some(core.to_string().as_str()));
        assert!(core.to_string().contains("with a bounty of 0 ByteChips"), "{core}");
    }
    // JSON with more after it; a content type that only starts like JSON's.
    for (ct, body) in [
        ("application/json", r#"{"id": "t", "chunks": 1, "price_chips": 1} {"#),
        ("application/json", r#"{"id": "t", "chunks": 1, "price_chips": 1}x"#),
        ("application/jsonfoo", r#"{"id": "t", "chunks": 1, "price_chips": 1}"#),
    ] {
        let r = api
            .http
            .post(format!("{}/v1/jobs", server.url))
            .bearer_auth(&ana)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{ct} {body}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "bad_request");
    }
    // The data directory is the server user's alone.
    #[cfg(unix)]
    if matches!(backend, Backend::Sqlite) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&server.data).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the data directory is readable by others: {mode:o}");
    }
    // Not JSON, or not declared as JSON.
    let r = api.http.post(format!("{}/v1/jobs", server.url)).bearer_auth(&ana).body("{").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = api
        .http
        .post(format!("{}/v1/jobs", server.url))
        .bearer_auth(&ana)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // An input of the wrong size; one larger than a JSON body may be.
    let (s, v) = api.bytes("PUT", "/v1/jobs/gz/input", &ana, vec![b'a'; 99]).await;
    assert_eq!((s, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("input")));
    // On a client of its own: the server closes that connection after answering.
    let r = Client::new()
        .post(format!("{}/v1/jobs", server.url))
        .bearer_auth(&ana)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "too_large");
    // Unknown routes and methods.
    assert_eq!(api.call("GET", "/v1/nothing", None, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.call("PATCH", "/v1/jobs", Some(&ana), None).await.0, StatusCode::METHOD_NOT_ALLOWED);

    assert_eq!(seq(api.ok("GET", "/health", None, None).await), before, "no refused request was journalled");
    let job = api.ok("GET", "/v1/jobs/gz", Some(&ana), None).await;
    assert_eq!(job["state"], "awaiting_input");
    let b = api.ok("GET", "/v1/billing", Some(&ana), None).await;
    assert_eq!(
        (b["topped_up"].as_u64(), b["reserved"].as_u64(), b["charged"].as_u64()),
        (Some(1_000), Some(500), Some(0))
    );
}

async fn kill_9_at_random_moments_loses_nothing_acknowledged_and_pays_nothing_twice(backend: Backend) {
    let dir = backend.dir("crash");
    // On a manual clock that stands still: the test is about what survives
    // `kill -9`, and with real time a worker starved around a restart on a
    // loaded machine could lose its attempt to T2 (with three devices at r = 2,
    // two such losses on one task fail the job). Each start still resumes, and a
    // pull whose answer a crash cut off is answered again under its key.
    let mut server = Server::start_frozen(&backend, &dir, 100, &fast(), 1_700_000_000_000);
    let api = Api::new(&server.url);
    let ana = api.user("ana", 1_000_000).await;
    let input = input_bytes(8_000_000, 2);
    let bob = api.owner("bob").await;
    let _workers = workers(&server.url, &dir, 3, "bob", &bob);
    let spec = json!({ "id": "gz", "application": "gzip", "input_bytes": input.len(), "chunk_bytes": 32 * 1024,
                       "price_chips": 500_000, "replication": { "r": 2 } });
    let t = Instant::now();
    while api.ok("GET", "/health", None, None).await["devices"] != 3 {
        assert!(t.elapsed() < Duration::from_secs(20), "the workers did not register");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A first job, so that the owner has ByteChips to redeem while the second runs.
    let warm = json!({ "id": "warm", "application": "synthetic", "chunks": 6, "price_chips": 50_000 });
    api.ok("POST", "/v1/jobs", Some(&ana), Some(warm)).await;
    api.wait_job(&ana, "warm", "completed", Duration::from_secs(60)).await;
    api.ok("POST", "/v1/jobs", Some(&ana), Some(spec)).await;
    let (s, v) = api.bytes("PUT", "/v1/jobs/gz/input", &ana, input.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut topped_up = 1_000_000u64;
    let mut paid_seen = 0u64;
    let mut crashes = 0;
    // Top-ups sent but not answered: retried under their keys after the restart.
    let mut unanswered: Vec<(String, Value, u64)> = Vec::new();
    let mut sent = 0;
    let mut retried = 0;
    // Payouts as the test knows them (id to amount and state), and requests sent
    // but not answered, retried under their keys after the restart.
    let mut payouts = Payouts::default();
    loop {
        // Payouts: one requested, one pending paid or rejected, acknowledged
        // before the crash.
        payouts.request(&api, &bob, &mut rng).await;
        payouts.settle(&api, &mut rng).await;
        // Acknowledged writes just before the crash: top-ups, and what was paid.
        let amount = rng.random_range(1..100u64);
        let top_up = json!({"user": "ana", "amount": amount});
        sent += 1;
        let idem = format!("top-up-{sent}");
        match api.keyed_once("POST", "/v1/billing/top-ups", Some(KEY), Some(&idem), Some(top_up.clone())).await {
            Some((s, _)) if s.is_success() => topped_up += amount,
            Some((s, v)) => panic!("a top-up was refused: {s} {v}"),
            None => unanswered.push((idem, top_up, amount)),
        }
        let (balance, _) = rewards(&api, &bob).await;
        assert!(balance >= paid_seen, "a wallet lost ByteChips: {balance} < {paid_seen}");
        paid_seen = balance;
        let job = api.ok("GET", "/v1/jobs/gz", Some(&ana), None).await;
        if job["state"] != "running" || crashes >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..800))).await;
        // A top-up on the wire as the server dies: its answer may never come.
        let amount = rng.random_range(1..100u64);
        let top_up = json!({"user": "ana", "amount": amount});
        sent += 1;
        let idem = format!("top-up-{sent}");
        let (api2, body, k) = (Api::new(&server.url), top_up.clone(), idem.clone());
        let racing = tokio::spawn(async move {
            api2.keyed_once("POST", "/v1/billing/top-ups", Some(KEY), Some(&k), Some(body)).await
        });
        // A payout request and a settlement on the wire as well.
        let racing_payout = payouts.race(&api, &bob, &mut rng).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..3))).await;
        server.crash_and_restart();
        payouts.after_crash(&api, &bob, racing_payout).await;
        match racing.await.unwrap() {
            Some((s, _)) if s.is_success() => topped_up += amount,
            Some((s, _)) if s.is_server_error() => unanswered.push((idem, top_up, amount)),
            Some((s, v)) => panic!("a top-up was refused: {s} {v}"),
            None => unanswered.push((idem, top_up, amount)),
        }
        crashes += 1;
        // Every unanswered top-up, retried under its key until it is answered:
        // each is then credited exactly once, whether or not its first try was.
        for (idem, body, amount) in unanswered.drain(..) {
            let r = loop {
                if let Some(r) =
                    api.keyed_once("POST", "/v1/billing/top-ups", Some(KEY), Some(&idem), Some(body.clone())).await
                {
                    break r;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert!(r.0.is_success(), "a retried top-up was refused: {r:?}");
            topped_up += amount;
            retried += 1;
        }
        let b = api.ok("GET", "/v1/billing", Some(&ana), None).await;
        let have = b["topped_up"].as_u64().unwrap();
        assert_eq!(have, topped_up, "top-ups retried under their keys were credited once each");
        payouts.check(&api, &bob).await;
    }
    assert!(crashes >= 3, "the job ended before the server was killed three times: make it bigger");
    let done = api.wait_job(&ana, "gz", "completed", Duration::from_secs(180)).await;
    if matches!(server.backend, Backend::Sqlite) {
        let snapshots = std::fs::read_dir(server.data.join("snapshots")).map_or(0, |d| d.count());
        assert!(snapshots > 0, "no snapshot was stored");
    }
    assert_eq!(done["done"], done["tasks"]);
    let out = api.http.get(format!("{}/v1/jobs/gz/output", server.url)).bearer_auth(&ana).send().await.unwrap();
    assert_eq!(gunzip(&out.bytes().await.unwrap()), input, "the output survived the crashes");

    // Payouts around two more crashes, with the whole job's rewards to redeem.
    for _ in 0..2 {
        payouts.request(&api, &bob, &mut rng).await;
        payouts.settle(&api, &mut rng).await;
        let racing_payout = payouts.race(&api, &bob, &mut rng).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..3))).await;
        server.crash_and_restart();
        payouts.after_crash(&api, &bob, racing_payout).await;
        payouts.check(&api, &bob).await;
        crashes += 1;
    }

    let (balance, seen) = rewards(&api, &bob).await;
    assert!(balance >= paid_seen);
    assert!(seen.values().all(|&n| n == 1), "a copy was paid twice: {seen:?}");
    let tasks = done["tasks"].as_u64().unwrap();
    let mut per_task: BTreeMap<u64, u32> = BTreeMap::new();
    for (_, task, _) in seen.keys().filter(|(job, _, _)| job == "gz") {
        *per_task.entry(*task).or_insert(0) += 1;
    }
    assert_eq!(per_task.len() as u64, tasks, "every task paid");
    payouts.check(&api, &bob).await;
    let (pending, paid) = (payouts.sum("pending"), payouts.sum("paid"));
    let l = api.ok("GET", "/v1/ledger", Some(KEY), None).await;
    let n = |k: &str| l[k].as_u64().unwrap();
    assert_eq!(l["conserves"], true, "{l}");
    assert_eq!((n("wallets"), n("pending_payouts"), n("paid_out")), (balance - pending - paid, pending, paid));
    assert_eq!(l["charged"].as_u64(), Some(550_000), "each job charged once");
    assert_eq!(
        n("charged"),
        n("wallets") + n("pending_payouts") + n("paid_out") + n("platform") + n("refunded") + n("escrow")
    );
    let b = api.ok("GET", "/v1/billing", Some(&ana), None).await;
    assert_eq!(b["topped_up"].as_u64(), Some(topped_up));
    assert!(payouts.settled > 0 && payouts.ids.len() > crashes, "too few payouts: {:?}", payouts.ids);
    eprintln!(
        "crash test: {crashes} crashes, {sent} top-ups, {retried} retried under their keys; {} payouts ({} settled, {} retried)",
        payouts.ids.len(),
        payouts.settled,
        payouts.retried
    );
}

/// Payouts as the crash test knows them: what it was acknowledged, and what it
/// must ask again after a crash.
#[derive(Default)]
struct Payouts {
    /// Payout id to amount and state.
    ids: BTreeMap<u64, (u64, String)>,
    sent: u32,
    settled: u32,
    retried: u32,
}

/// A payout request or a settlement sent as the server died.
enum Racing {
    Request(String, u64, tokio::task::JoinHandle<Option<(StatusCode, Value)>>),
    Settle(u64, String, tokio::task::JoinHandle<Option<(StatusCode, Value)>>),
    Nothing,
}

impl Payouts {
    fn sum(&self, state: &str) -> u64 {
        self.ids.values().filter(|(_, s)| s == state).map(|(a, _)| a).sum()
    }

    /// A request for a small part of the wallet, if it holds any; `None` when
    /// it holds nothing.
    async fn ask(&mut self, api: &Api, owner_key: &str, rng: &mut impl Rng) -> Option<(String, u64)> {
        let w = api.ok("GET", "/v1/wallet?limit=1", Some(owner_key), None).await;
        let balance = w["balance"].as_u64().unwrap();
        if balance == 0 {
            return None;
        }
        self.sent += 1;
        Some((format!("payout-{}", self.sent), rng.random_range(1..=balance.min(500))))
    }

    fn acknowledged(&mut self, amount: u64, v: &Value) {
        let id = v["id"].as_u64().unwrap();
        assert_eq!((v["amount"].as_u64(), v["state"].as_str()), (Some(amount), Some("pending")), "{v}");
        assert!(self.ids.insert(id, (amount, "pending".into())).is_none(), "payout {id} given twice");
    }

    async fn request(&mut self, api: &Api, owner_key: &str, rng: &mut impl Rng) {
        let Some((idem, amount)) = self.ask(api, owner_key, rng).await else { return };
        let body = json!({ "amount": amount });
        let r = api.keyed_once("POST", "/v1/wallet/payouts", Some(owner_key), Some(&idem), Some(body)).await;
        let (s, v) = r.expect("the server is up");
        assert_eq!(s, StatusCode::CREATED, "{v}");
        self.acknowledged(amount, &v);
    }

    /// A pending payout, and paid or rejected at random.
    fn pick(&self, rng: &mut impl Rng) -> Option<(u64, &'static str)> {
        let pending: Vec<u64> = self.ids.iter().filter(|(_, (_, s))| s == "pending").map(|(id, _)| *id).collect();
        let id = *pending.get(rng.random_range(0..pending.len().max(1)))?;
        Some((id, if rng.random_bool(0.6) { "paid" } else { "rejected" }))
    }

    fn settled_as(&mut self, id: u64, state: &str, v: &Value) {
        assert_eq!(v["state"].as_str(), Some(state), "{v}");
        self.ids.get_mut(&id).unwrap().1 = state.into();
        self.settled += 1;
    }

    async fn settle(&mut self, api: &Api, rng: &mut impl Rng) {
        let Some((id, state)) = self.pick(rng) else { return };
        let v = api.ok("PUT", &format!("/v1/payouts/{id}"), Some(KEY), Some(json!({ "state": state }))).await;
        self.settled_as(id, state, &v);
    }

    /// Sends a request or a settlement without waiting for its answer.
    async fn race(&mut self, api: &Api, owner_key: &str, rng: &mut impl Rng) -> Racing {
        let api2 = Api::new(&api.url);
        if rng.random_bool(0.5) {
            let Some((idem, amount)) = self.ask(api, owner_key, rng).await else { return Racing::Nothing };
            let (k, owner) = (idem.clone(), owner_key.to_string());
            let body = json!({ "amount": amount });
            let h = tokio::spawn(async move {
                api2.keyed_once("POST", "/v1/wallet/payouts", Some(&owner), Some(&k), Some(body)).await
            });
            Racing::Request(idem, amount, h)
        } else {
            let Some((id, state)) = self.pick(rng) else { return Racing::Nothing };
            let path = format!("/v1/payouts/{id}");
            let h =
                tokio::spawn(
                    async move { api2.call_once("PUT", &path, Some(KEY), Some(json!({ "state": state }))).await },
                );
            Racing::Settle(id, state.into(), h)
        }
    }

    /// What was on the wire: taken if it was answered, else asked again (under
    /// its key, or the same settlement) until it is.
    async fn after_crash(&mut self, api: &Api, owner_key: &str, racing: Racing) {
        match racing {
            Racing::Nothing => {}
            Racing::Request(idem, amount, h) => {
                let (s, v) = match h.await.unwrap() {
                    Some((s, v)) if s.is_success() => (s, v),
                    _ => {
                        self.retried += 1;
                        let body = json!({ "amount": amount });
                        loop {
                            let r = api
                                .keyed_once(
                                    "POST",
                                    "/v1/wallet/payouts",
                                    Some(owner_key),
                                    Some(&idem),
                                    Some(body.clone()),
                                )
                                .await;
                            if let Some(r) = r.filter(|r| !r.0.is_server_error()) {
                                break r;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                };
                assert_eq!(s, StatusCode::CREATED, "{v}");
                self.acknowledged(amount, &v);
            }
            Racing::Settle(id, state, h) => {
                let v = match h.await.unwrap() {
                    Some((s, v)) if s.is_success() => v,
                    _ => {
                        self.retried += 1;
                        let path = format!("/v1/payouts/{id}");
                        api.ok("PUT", &path, Some(KEY), Some(json!({ "state": state }))).await
                    }
                };
                self.settled_as(id, &state, &v);
            }
        }
    }

    /// The server's payouts and the owner's wallet against the test's.
    async fn check(&self, api: &Api, owner_key: &str) {
        let listed = api.ok("GET", "/v1/wallet/payouts?limit=1000", Some(owner_key), None).await;
        let theirs: BTreeMap<u64, (u64, String)> = listed["payouts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["id"].as_u64().unwrap(), (p["amount"].as_u64().unwrap(), p["state"].as_str().unwrap().into())))
            .collect();
        assert_eq!(theirs, self.ids, "the payouts are the ones acknowledged, each once");
        let w = api.ok("GET", "/v1/wallet?limit=10000", Some(owner_key), None).await;
        let n = |k: &str| w[k].as_u64().unwrap();
        assert_eq!((n("pending"), n("paid_out")), (self.sum("pending"), self.sum("paid")), "{w}");
        assert_eq!(n("balance"), n("earned") - self.sum("pending") - self.sum("paid"));
        // The history's payout lines, once each.
        let mut lines: BTreeMap<(u64, String), u32> = BTreeMap::new();
        for e in w["history"].as_array().unwrap().iter().filter(|e| e["kind"] != "reward") {
            *lines.entry((e["payout"].as_u64().unwrap(), e["kind"].as_str().unwrap().into())).or_default() += 1;
        }
        let mut want: BTreeMap<(u64, String), u32> = BTreeMap::new();
        for (id, (_, state)) in &self.ids {
            want.insert((*id, "payout".into()), 1);
            match state.as_str() {
                "paid" => want.insert((*id, "payout_paid".into()), 1),
                "rejected" => want.insert((*id, "payout_returned".into()), 1),
                _ => None,
            };
        }
        assert_eq!(lines, want, "each payout's lines are in the history once");
    }
}

async fn the_openapi_document_lists_every_route_and_its_errors(backend: Backend) {
    let dir = backend.dir("openapi");
    let server = Server::start(&backend, &dir, 60_000);
    let api = Api::new(&server.url);
    let doc = api.ok("GET", "/openapi.json", None, None).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in byterank::http::api::paths::ALL {
        if *p != byterank::http::api::paths::OPENAPI {
            assert!(paths.contains_key(*p), "{p} is served but not documented");
        }
    }
    // Every operation documents the errors a caller without a credential gets,
    // and the server answers them as documented.
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let secured = op.get("security").is_some();
            let concrete = path.replace("{attempt}", "1").replace("{job}", "j").replace("{device}", "d");
            let (s, v) = api.call(&method.to_uppercase(), &concrete, None, None).await;
            let documented = op["responses"].as_object().unwrap();
            assert!(documented.contains_key(s.as_str()), "{method} {path} answered {s}, not documented: {v}");
            if secured {
                assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path}");
                assert_eq!(v["code"], "unauthorized");
            }
        }
    }
}
