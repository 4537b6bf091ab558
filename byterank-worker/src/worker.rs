//! `byterank worker`: a real worker. It registers (or reuses its token), reports
//! the device's measured state, pulls tasks, runs them, heartbeats while they
//! run, uploads the results, and stops an attempt the service cancelled.
//!
//! Stopping: the first Ctrl-C finishes the task in hand and exits; a second one
//! abandons it (reported as an error, so the service re-issues it at once).
//! While the service is unreachable (a restart), every call is retried.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use byterank_core::application::{Gzip, Synthetic};
use byterank_core::device::{Connection, DeviceClass};
use byterank_core::{Chunk, Device};
use reqwest::{Client, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use byterank_http::api::{Assignment, Beat, Pulled, RegisterDevice, Registered, Reported};
use byterank_http::error::ApiError;

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// The service's nodes, e.g. `http://127.0.0.1:8080`: the first is called
    /// first; when a node cannot be reached the worker tries the next, and a
    /// standby's 503 naming the leader moves it there.
    pub servers: Vec<String>,
    /// Where the device's token is kept (read if present, written on registration).
    pub token_file: Option<PathBuf>,
    /// The device id, for a new registration.
    pub id: String,
    /// The key of the owner whose wallet the work pays: registers a new device.
    pub owner_key: Option<String>,
    /// Stop after this many tasks.
    pub max_tasks: Option<u64>,
    /// Stop after this long without a task.
    pub idle_exit: Option<Duration>,
    /// Report the device's state this often.
    pub status_every: Duration,
}

/// What a worker did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WorkerSummary {
    /// Results uploaded and taken.
    pub completed: u64,
    /// Results uploaded after their deadline.
    pub late: u64,
    /// Attempts the service ended while they ran (decided elsewhere, or timed out).
    pub cancelled: u64,
    /// Attempts that failed here, or were abandoned on Ctrl-C.
    pub failed: u64,
}

/// Why the worker stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The service refused a call the worker cannot do without.
    #[error("the service refused: {0}")]
    Refused(ApiError),
    /// The token file could not be read or written.
    #[error("token file {path}: {problem}")]
    TokenFile {
        /// The file.
        path: String,
        /// What went wrong.
        problem: String,
    },
    /// The server URL is unusable.
    #[error("server `{0}`: give a URL like http://127.0.0.1:8080")]
    Url(String),
}

/// What the token file holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct TokenFile {
    device: String,
    token: String,
}

/// Ctrl-C presses seen: 1 finishes the task in hand, 2 abandons it.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicU8>);

impl Stop {
    /// Counts one press.
    pub fn press(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn level(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
}

struct Api {
    http: Client,
    /// The node called; a standby's 503 naming the leader moves it there.
    base: std::sync::Mutex<String>,
    /// The nodes the worker was given, tried in turn when the one called is down.
    nodes: Vec<String>,
    token: Option<String>,
    /// Stop retrying an unanswered call after this long (`--idle-exit`).
    give_up: Option<Duration>,
}

enum Failure {
    /// The service answered with an error.
    Api(ApiError),
    /// The service could not be reached.
    Down,
}

impl Api {
    async fn send(&self, method: Method, path: &str, body: Body) -> Result<reqwest::Response, Failure> {
        let base = self.base.lock().expect("never poisoned").clone();
        let mut req = self.http.request(method.clone(), format!("{base}{path}"));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req = match body {
            Body::None => req,
            Body::Idempotent(key) => req.header("idempotency-key", key),
            Body::Json(v) => req.json(&v),
            Body::KeyedBytes(key, b) => {
                req.header("idempotency-key", key).header("content-type", "application/octet-stream").body(b)
            }
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("{method} {base}{path}: no answer ({})", causes(&e));
                if e.is_connect() {
                    self.next_node(&base);
                }
                return Err(Failure::Down);
            }
        };
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let leader = resp.headers().get(byterank_http::lead::LEADER_HEADER).and_then(|v| v.to_str().ok());
        if let Some(url) = leader.filter(|u| u.starts_with("http://") || u.starts_with("https://")) {
            // A standby: call the leader it names, and retry there.
            tracing::info!("following the leader at {url}");
            *self.base.lock().expect("never poisoned") = url.trim_end_matches('/').to_string();
            return Err(Failure::Down);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Every 503 says to come back: a standby with no leader yet, a node at
            // capacity or stopping. Retried with the rest of "down", never fatal.
            return Err(Failure::Down);
        }
        match resp.json::<ApiError>().await {
            Ok(e) => Err(Failure::Api(e)),
            Err(_) if status.is_server_error() => Err(Failure::Down),
            Err(_) => Err(Failure::Api(ApiError::bad_request(format!("status {status} without an error body")))),
        }
    }

    /// `failed` refused the connection: call the node after it in the list next
    /// (a node the list does not hold, a leader named by a standby, is left for
    /// the first).
    fn next_node(&self, failed: &str) {
        if self.nodes.len() < 2 {
            return;
        }
        let i = self.nodes.iter().position(|n| n == failed).map_or(0, |i| (i + 1) % self.nodes.len());
        let mut base = self.base.lock().expect("never poisoned");
        if *base == failed {
            tracing::info!("{failed} is down: trying {}", self.nodes[i]);
            base.clone_from(&self.nodes[i]);
        }
    }

    /// Tries `once` until the service answers (it may be restarting), or `stop`
    /// says give up. An answer cut short (the service stopped mid-reply) is
    /// retried like no answer: the call may have been applied. A pull's retry
    /// carries its first try's `Idempotency-Key`, so it gets the task that try
    /// was given rather than leave it to time out.
    async fn retrying<T, F, Fut>(&self, stop: &Stop, mut once: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut wait = Duration::from_millis(100);
        let started = Instant::now();
        loop {
            match once().await {
                Ok(v) => return Ok(v),
                Err(Failure::Down) if self.give_up.is_some_and(|d| started.elapsed() >= d) => {
                    tracing::warn!("the service has not answered for {:?}: giving up", started.elapsed());
                    return Err(Failure::Down);
                }
                Err(Failure::Down) if stop.level() < 2 => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A call whose answer is JSON, retried while the service is down.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Body,
        stop: &Stop,
    ) -> Result<T, Failure> {
        self.retrying(stop, || async {
            let resp = self.send(method.clone(), path, body.clone()).await?;
            resp.json::<T>().await.map_err(|_| Failure::Down)
        })
        .await
    }

    /// A call whose answer is bytes, retried while the service is down.
    async fn call_bytes(&self, path: &str, stop: &Stop) -> Result<Vec<u8>, Failure> {
        self.retrying(stop, || async {
            let resp = self.send(Method::GET, path, Body::None).await?;
            resp.bytes().await.map(|b| b.to_vec()).map_err(|_| Failure::Down)
        })
        .await
    }

    async fn call_empty(&self, method: Method, path: &str, body: Body, stop: &Stop) -> Result<(), Failure> {
        self.retrying(stop, || async { self.send(method.clone(), path, body.clone()).await.map(drop) }).await
    }
}

#[derive(Clone)]
enum Body {
    None,
    /// No body, and this `Idempotency-Key`: the same on every retry of one call.
    Idempotent(String),
    Json(serde_json::Value),
    /// Bytes, and this `Idempotency-Key`: the same on every retry of one call.
    KeyedBytes(String, Vec<u8>),
}

/// An error and its causes, on one line (a connection error says why).
fn causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

fn down() -> ApiError {
    ApiError::unavailable("the service did not answer (the log says why): check --server")
}

/// A new `Idempotency-Key`, for one call and its retries.
fn fresh_key() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Runs the worker until `max_tasks`, `idle_exit`, or Ctrl-C (`stop`).
pub async fn run(opts: WorkerOptions, stop: Stop) -> Result<WorkerSummary, WorkerError> {
    let mut nodes = Vec::new();
    for server in &opts.servers {
        let url = server.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(WorkerError::Url(server.clone()));
        }
        nodes.push(url);
    }
    let Some(first) = nodes.first().cloned() else { return Err(WorkerError::Url(String::new())) };
    let http =
        Client::builder().timeout(Duration::from_secs(120)).build().map_err(|_| WorkerError::Url(first.clone()))?;
    let mut api = Api { http, base: std::sync::Mutex::new(first), nodes, token: None, give_up: opts.idle_exit };
    let (device_id, token) = login(&mut api, &opts, &stop).await?;
    tracing::info!(device = %device_id, "working");
    api.token = Some(token);
    let mut summary = WorkerSummary::default();
    let mut last_status = Instant::now() - opts.status_every;
    let mut idle_since = Instant::now();
    // Attempts this device held when its worker stopped (a crash, a kill) would
    // fill its slots until their deadlines: resume them first.
    match api.call::<Vec<Assignment>>(Method::GET, "/v1/tasks/held", Body::None, &stop).await {
        Ok(held) => {
            if !held.is_empty() {
                tracing::info!(attempts = held.len(), "resuming the attempts this device held");
            }
            for task in &held {
                run_task(&api, task, &stop, &mut summary).await;
            }
        }
        Err(Failure::Api(e)) => tracing::warn!("cannot list the attempts this device holds: {}", e.message),
        Err(Failure::Down) => {}
    }
    while stop.level() == 0 && opts.max_tasks.is_none_or(|m| summary.completed + summary.late < m) {
        if last_status.elapsed() >= opts.status_every {
            let state = serde_json::to_value(measure(&device_id)).expect("a device serializes");
            match api.call::<serde_json::Value>(Method::PUT, "/v1/devices/me", Body::Json(state), &stop).await {
                Ok(_) | Err(Failure::Down) => {}
                Err(Failure::Api(e)) => return Err(WorkerError::Refused(e)),
            }
            last_status = Instant::now();
        }
        let key = Body::Idempotent(format!("{:016x}", rand::random::<u64>()));
        let pulled: Pulled = match api.call(Method::POST, "/v1/tasks/pull", key, &stop).await {
            Ok(p) => p,
            Err(Failure::Down) => break,
            Err(Failure::Api(e)) => return Err(WorkerError::Refused(e)),
        };
        match pulled.task {
            Some(task) => {
                tracing::info!(attempt = task.attempt, job = %task.job, task = task.task, "running a task");
                run_task(&api, &task, &stop, &mut summary).await;
                idle_since = Instant::now();
            }
            None => {
                if opts.idle_exit.is_some_and(|d| idle_since.elapsed() >= d) {
                    break;
                }
                let wait = Duration::from_millis(pulled.retry_after_ms.unwrap_or(1_000).clamp(50, 5_000));
                let until = Instant::now() + wait;
                while Instant::now() < until && stop.level() == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    Ok(summary)
}

async fn login(api: &mut Api, opts: &WorkerOptions, stop: &Stop) -> Result<(String, String), WorkerError> {
    let file_err =
        |path: &PathBuf, problem: String| WorkerError::TokenFile { path: path.display().to_string(), problem };
    if let Some(path) = &opts.token_file {
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| file_err(path, e.to_string()))?;
            let t: TokenFile = serde_json::from_str(&text).map_err(|e| file_err(path, e.to_string()))?;
            api.token = Some(t.token.clone());
            // A device that left comes back by registering with its token.
            match api.call::<serde_json::Value>(Method::GET, "/v1/devices/me", Body::None, stop).await {
                Ok(_) => {}
                Err(Failure::Api(e)) if e.status == 404 || e.status == 410 => {
                    let req = RegisterDevice { device: measure(&t.device), owner: String::new() };
                    let body = Body::Json(serde_json::to_value(req).expect("serializes"));
                    if let Err(Failure::Api(e)) = api.call::<Registered>(Method::POST, "/v1/devices", body, stop).await
                    {
                        return Err(WorkerError::Refused(e));
                    }
                }
                Err(Failure::Api(e)) => return Err(WorkerError::Refused(e)),
                Err(Failure::Down) => return Err(WorkerError::Refused(down())),
            }
            return Ok((t.device, t.token));
        }
    }
    let Some(owner_key) = opts.owner_key.clone() else {
        return Err(WorkerError::Refused(ApiError::unauthorized(
            "a new device is registered with its owner's key: pass --owner-key (or set BYTERANK_OWNER_KEY)",
        )));
    };
    let req = RegisterDevice { device: measure(&opts.id), owner: String::new() };
    let body = Body::Json(serde_json::to_value(req).expect("serializes"));
    api.token = Some(owner_key);
    let registered = api.call(Method::POST, "/v1/devices", body, stop).await;
    api.token = None;
    let r: Registered = match registered {
        Ok(r) => r,
        Err(Failure::Api(e)) => return Err(WorkerError::Refused(e)),
        Err(Failure::Down) => return Err(WorkerError::Refused(down())),
    };
    let token = r.token.ok_or_else(|| WorkerError::Refused(ApiError::conflict("registered without a token")))?;
    if let Some(path) = &opts.token_file {
        let json =
            serde_json::to_string(&TokenFile { device: r.device.clone(), token: token.clone() }).expect("serializes");
        write_private(path, &json).map_err(|e| file_err(path, e.to_string()))?;
    }
    Ok((r.device, token))
}

fn write_private(path: &PathBuf, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)?.write_all(text.as_bytes())
}

async fn run_task(api: &Api, task: &Assignment, stop: &Stop, summary: &mut WorkerSummary) {
    let a = task.attempt;
    let input = if task.input {
        match api.call_bytes(&format!("/v1/tasks/{a}/input"), stop).await {
            Ok(b) => b,
            // The attempt ended meanwhile (decided elsewhere, or timed out).
            Err(Failure::Api(_)) => {
                summary.cancelled += 1;
                return;
            }
            Err(Failure::Down) => return fail(api, a, stop, summary).await,
        }
    } else {
        Vec::new()
    };
    let (app, job, chunk) = (task.application.clone(), task.job.clone(), task.chunk);
    let mut work = tokio::task::spawn_blocking(move || compute(&app, &job, &chunk, &input));
    let beat_every = Duration::from_millis(task.heartbeat_ms.max(100) as u64);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = tokio::time::sleep(beat_every) => {
                if stop.level() >= 2 {
                    return fail(api, a, stop, summary).await;
                }
                match api.call::<Beat>(Method::POST, &format!("/v1/tasks/{a}/heartbeat"), Body::None, stop).await {
                    Ok(b) if !b.keep_going => { summary.cancelled += 1; return; }
                    Err(Failure::Api(_)) => { summary.cancelled += 1; return; }
                    _ => {}
                }
            }
        }
    };
    let bytes = match result {
        Ok(Ok(b)) => b,
        _ => return fail(api, a, stop, summary).await,
    };
    if stop.level() >= 2 {
        return fail(api, a, stop, summary).await;
    }
    // Under a key: a retry whose first answer was lost gets that answer.
    let body = Body::KeyedBytes(fresh_key(), bytes);
    match api.call::<Reported>(Method::POST, &format!("/v1/tasks/{a}/result"), body, stop).await {
        Ok(r) if r.accepted => {
            summary.completed += 1;
            tracing::info!(attempt = a, "result accepted");
        }
        Ok(_) => {
            summary.late += 1;
            tracing::info!(attempt = a, "result late: the task was decided without it");
        }
        Err(Failure::Api(e)) => {
            summary.cancelled += 1;
            tracing::warn!(attempt = a, "result refused: {}", e.message);
        }
        Err(Failure::Down) => summary.cancelled += 1,
    }
}

async fn fail(api: &Api, attempt: u64, stop: &Stop, summary: &mut WorkerSummary) {
    summary.failed += 1;
    tracing::warn!(attempt, "the task failed here: reporting it");
    let body = Body::Idempotent(fresh_key());
    let _ = api.call_empty(Method::POST, &format!("/v1/tasks/{attempt}/error"), body, stop).await;
}

/// The device's state as this machine measures it: CPU, RAM, battery where the
/// operating system tells.
pub fn measure(id: &str) -> Device {
    use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};
    let mut sys = System::new_with_specifics(
        RefreshKind::nothing().with_cpu(CpuRefreshKind::everything()).with_memory(MemoryRefreshKind::everything()),
    );
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    sys.refresh_cpu_usage();
    let cores = sys.cpus().len().max(1) as f64;
    let mhz = sys.cpus().iter().map(|c| c.frequency() as f64).fold(0.0, f64::max).max(1000.0);
    let mut d = Device::new(id);
    d.online = Some(true);
    // A rough score: cores times GHz, times 100 (a 4-core 3 GHz desktop scores 1200).
    d.processor_score = Some((cores * mhz / 10.0).round());
    d.ram_available_mb = Some((sys.available_memory() as f64 / (1 << 20) as f64).round());
    d.cpu_available_pct = Some((100.0 - f64::from(sys.global_cpu_usage())).clamp(0.0, 100.0));
    d.connection = Some(Connection::Ethernet);
    d.app_version = Some(env!("CARGO_PKG_VERSION").into());
    if let Some((pct, charging)) = battery() {
        d.battery_pct = Some(pct);
        d.charging = Some(charging);
        d.class = Some(DeviceClass::Laptop);
    } else {
        d.class = Some(DeviceClass::Desktop);
    }
    d
}

/// Battery charge and whether it charges, from Linux's power-supply class.
fn battery() -> Option<(f64, bool)> {
    let dir = std::fs::read_dir("/sys/class/power_supply").ok()?;
    for entry in dir.flatten() {
        let p = entry.path();
        let kind = std::fs::read_to_string(p.join("type")).unwrap_or_default();
        if kind.trim() != "Battery" {
            continue;
        }
        let pct: f64 = std::fs::read_to_string(p.join("capacity")).ok()?.trim().parse().ok()?;
        let status = std::fs::read_to_string(p.join("status")).unwrap_or_default();
        return Some((pct.clamp(0.0, 100.0), matches!(status.trim(), "Charging" | "Full")));
    }
    None
}

/// What an honest worker produces for a task of the applications it runs: the
/// bytes to upload (a gzip member, or a synthetic result's metadata as JSON).
fn compute(application: &str, job: &str, chunk: &Chunk, input: &[u8]) -> Result<Vec<u8>, String> {
    match application {
        "gzip" => Ok(Gzip::compress_chunk(input)),
        "synthetic" => Ok(serde_json::to_vec(&Synthetic::expected(job, chunk)).expect("metadata serializes")),
        other => Err(format!("this worker cannot run application `{other}` (it runs gzip and synthetic)")),
    }
}
