//! `byterank loadgen`: many simulated devices driving a running service over
//! HTTP (pull, heartbeat, result), and, in the same run, the same client against
//! a trivial axum endpoint on loopback: the ceiling the service is compared with.
//!
//! The devices are honest synthetic workers: each result is
//! `Synthetic::expected`, so every copy agrees and the job's tasks complete.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use byterank_core::application::Synthetic;
use byterank_core::Device;
use reqwest::Client;
use serde::Serialize;

use byterank_http::api::{Beat, OwnerCreated, Pulled, RegisterDevice, Registered, Reported, UserCreated};
use byterank_http::error::ApiError;

/// How to load the service.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The service.
    pub server: String,
    /// Its operator key (to open a user and credit them).
    pub operator_key: String,
    /// Simulated devices, each one connection's worth of calls in flight.
    pub devices: usize,
    /// How long to measure each side.
    pub duration: Duration,
    /// Copies per task.
    pub replicas: u32,
}

/// Latencies of one kind of call, microseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Calls measured.
    pub calls: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
}

/// What a run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LoadReport {
    /// Simulated devices.
    pub devices: usize,
    /// Seconds measured, each side.
    pub seconds: f64,
    /// Pull, heartbeat, result cycles completed per second.
    pub cycles_per_s: f64,
    /// Pull latency.
    pub pull: Latency,
    /// Heartbeat latency.
    pub heartbeat: Latency,
    /// Result latency.
    pub result: Latency,
    /// Requests per second of the trivial endpoint, same client and concurrency.
    pub ceiling_requests_per_s: f64,
    /// Its latency.
    pub ceiling: Latency,
    /// `cycles_per_s * 3 / ceiling_requests_per_s`: the share of the ceiling's
    /// request rate the service sustains.
    pub share_of_ceiling: f64,
}

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The service refused setting up.
    #[error("setting up: {0}")]
    Setup(String),
}

fn setup_err(e: impl std::fmt::Display) -> LoadError {
    LoadError::Setup(e.to_string())
}

async fn json<T: serde::de::DeserializeOwned>(r: reqwest::RequestBuilder) -> Result<T, LoadError> {
    let mut resp = r.try_clone().expect("a JSON request clones").send().await.map_err(setup_err)?;
    // Set-up calls are rate-limited per caller like any other: wait as told.
    while resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
        let e: ApiError = resp.json().await.map_err(setup_err)?;
        tokio::time::sleep(Duration::from_millis(e.retry_after_ms.unwrap_or(1_000))).await;
        resp = r.try_clone().expect("a JSON request clones").send().await.map_err(setup_err)?;
    }
    if !resp.status().is_success() {
        let e: ApiError = resp.json().await.map_err(setup_err)?;
        return Err(setup_err(e));
    }
    resp.json().await.map_err(setup_err)
}

/// Runs the load: sets up a user, devices and a job, drives them for `duration`,
/// then measures the ceiling for as long.
pub async fn run(opts: LoadOptions) -> Result<LoadReport, LoadError> {
    let base = opts.server.trim_end_matches('/').to_string();
    let http = Client::builder().pool_max_idle_per_host(opts.devices.max(1)).build().map_err(setup_err)?;
    let tag = std::process::id();
    let u: UserCreated = json(
        http.post(format!("{base}/v1/users"))
            .bearer_auth(&opts.operator_key)
            .json(&serde_json::json!({"user": format!("loadgen-{tag}")})),
    )
    .await?;
    // The most tasks a default service takes in one job.
    let chunks = 1_000_000u64;
    let _: serde_json::Value = json(
        http.post(format!("{base}/v1/billing/top-ups"))
            .bearer_auth(&opts.operator_key)
            .json(&serde_json::json!({"user": u.user, "amount": chunks * 100})),
    )
    .await?;
    let mut owners = Vec::new();
    for i in 0..16 {
        let o: OwnerCreated = json(
            http.post(format!("{base}/v1/owners")).json(&serde_json::json!({"owner": format!("loadgen-{tag}-{i}")})),
        )
        .await?;
        owners.push(o.api_key);
    }
    let mut tokens = Vec::new();
    for i in 0..opts.devices {
        let mut d = Device::new(format!("load-{tag}-{i}"));
        d.processor_score = Some(400.0);
        d.ram_available_mb = Some(4096.0);
        d.download_mbps = Some(100.0);
        d.upload_mbps = Some(20.0);
        let req = RegisterDevice { device: d, owner: String::new() };
        let r: Registered =
            json(http.post(format!("{base}/v1/devices")).bearer_auth(&owners[i % owners.len()]).json(&req)).await?;
        tokens.push(r.token.ok_or_else(|| setup_err("registered without a token"))?);
    }
    let job = format!("load-{tag}");
    let _: serde_json::Value =
        json(http.post(format!("{base}/v1/jobs")).bearer_auth(&u.api_key).json(&serde_json::json!({
            "id": job, "application": "synthetic", "chunks": chunks, "price_chips": chunks * 100,
            "preferences": {"byte_level": "high"}, "replication": {"r": opts.replicas},
            "pools": {"s_min": 1}
        })))
        .await?;

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut handles = Vec::new();
    for token in tokens {
        let (http, base, stop, job) = (http.clone(), base.clone(), stop.clone(), job.clone());
        handles.push(tokio::spawn(async move { device_loop(http, base, token, job, stop).await }));
    }
    tokio::time::sleep(opts.duration).await;
    stop.store(true, Ordering::SeqCst);
    let seconds = started.elapsed().as_secs_f64();
    let (mut pulls, mut beats, mut results, mut cycles) = (Vec::new(), Vec::new(), Vec::new(), 0u64);
    for h in handles {
        let s = h.await.map_err(setup_err)?;
        pulls.extend(s.pull);
        beats.extend(s.heartbeat);
        results.extend(s.result);
        cycles += s.cycles;
    }
    let _ = http.delete(format!("{base}/v1/jobs/{job}")).bearer_auth(&u.api_key).send().await;

    let (ceiling_rps, ceiling) = ceiling(opts.devices, opts.duration).await?;
    let cycles_per_s = cycles as f64 / seconds;
    Ok(LoadReport {
        devices: opts.devices,
        seconds,
        cycles_per_s,
        pull: latency(pulls),
        heartbeat: latency(beats),
        result: latency(results),
        ceiling_requests_per_s: ceiling_rps,
        ceiling,
        share_of_ceiling: cycles_per_s * 3.0 / ceiling_rps,
    })
}

#[derive(Default)]
struct Samples {
    pull: Vec<u32>,
    heartbeat: Vec<u32>,
    result: Vec<u32>,
    cycles: u64,
}

async fn device_loop(http: Client, base: String, token: String, job: String, stop: Arc<AtomicBool>) -> Samples {
    let mut s = Samples::default();
    let timed = |t: Instant| t.elapsed().as_micros().min(u32::MAX as u128) as u32;
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let Ok(resp) = http.post(format!("{base}/v1/tasks/pull")).bearer_auth(&token).send().await else { continue };
        let Ok(p) = resp.json::<Pulled>().await else { continue };
        s.pull.push(timed(t));
        let Some(task) = p.task else {
            tokio::time::sleep(Duration::from_millis(p.retry_after_ms.unwrap_or(100).min(200))).await;
            continue;
        };
        let t = Instant::now();
        let a = task.attempt;
        let ok = match http.post(format!("{base}/v1/tasks/{a}/heartbeat")).bearer_auth(&token).send().await {
            Ok(r) => r.json::<Beat>().await.is_ok_and(|b| b.keep_going),
            Err(_) => false,
        };
        s.heartbeat.push(timed(t));
        if !ok {
            continue;
        }
        let meta = Synthetic::expected(&job, &task.chunk);
        let t = Instant::now();
        let sent = http
            .post(format!("{base}/v1/tasks/{a}/result"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&meta).expect("serializes"))
            .send()
            .await;
        if let Ok(r) = sent {
            if r.json::<Reported>().await.is_ok() {
                s.result.push(timed(t));
                s.cycles += 1;
            }
        }
    }
    s
}

/// A trivial axum endpoint on loopback, driven by the same client at the same
/// concurrency: requests per second and latency.
async fn ceiling(concurrency: usize, duration: Duration) -> Result<(f64, Latency), LoadError> {
    let app = axum::Router::new().route("/ping", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(setup_err)?;
    let addr = listener.local_addr().map_err(setup_err)?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = Client::builder().pool_max_idle_per_host(concurrency.max(1)).build().map_err(setup_err)?;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..concurrency {
        let (http, stop) = (http.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if let Ok(r) = http.get(format!("http://{addr}/ping")).send().await {
                    if r.bytes().await.is_ok() {
                        lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                }
            }
            lat
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::SeqCst);
    let seconds = started.elapsed().as_secs_f64();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.map_err(setup_err)?);
    }
    server.abort();
    Ok((all.len() as f64 / seconds, latency(all)))
}

fn latency(mut v: Vec<u32>) -> Latency {
    if v.is_empty() {
        return Latency::default();
    }
    v.sort_unstable();
    let at = |q: f64| u64::from(v[((v.len() - 1) as f64 * q).round() as usize]);
    Latency { calls: v.len() as u64, p50_us: at(0.5), p99_us: at(0.99) }
}
