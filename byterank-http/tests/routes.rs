//! Every route in process: the real router over a real SQLite journal, driven
//! with `tower::ServiceExt::oneshot` (no socket, no child process), on a manual
//! clock that the tests advance past deadlines instead of sleeping.
//!
//! Each route's success, and its main refusals with the status the OpenAPI
//! document lists for it. What a test expects comes from what the test did (the
//! chips it topped up, the bytes it uploaded, the result it computed with the
//! application's own rule), not from the service's view of itself.

use std::io::{Read, Write};
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use byterank_core::application::Synthetic;
use byterank_core::{Chunk, EngineConfig, Timestamp};
use byterank_http::auth::OperatorKey;
use byterank_http::clock::Clock;
use byterank_http::journal::sqlite::{SqliteJournal, SqliteStore};
use byterank_http::lead::Role;
use byterank_http::sequencer::{Options, Sequencer};
use byterank_http::server::{app_state, recover, router, ServeOptions};
use byterank_http::service::Op;
use serde_json::{json, Value};
use tower::ServiceExt;

const KEY: &str = "operator-key-for-tests-0123456789";

/// Short deadlines: a test passes them by advancing the clock.
fn cfg() -> EngineConfig {
    EngineConfig { t1_ms: 1_000, t2_ms: 3_000, ..EngineConfig::default() }
}

/// The router over a fresh data directory, the clock it reads, and its
/// sequencer (for the ticks that `byterank serve`'s ticker would send).
fn app(name: &str) -> (Router, Clock, Sequencer) {
    let dir: PathBuf = std::env::temp_dir().join(format!("byterank-routes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let clock = Clock::manual(Timestamp(1_700_000_000_000));
    let mut journal = SqliteJournal::open(&dir).unwrap();
    let (svc, seq) = recover(&mut journal, Some(&cfg())).unwrap();
    let opts =
        Options { snapshot_every: 1_000, operator: OperatorKey::new(KEY).unwrap(), leader: true, clock: clock.clone() };
    let seq = Sequencer::start(svc, Box::new(journal), seq, opts);
    let ticker = seq.clone();
    let store = std::sync::Arc::new(SqliteStore::open(&dir).unwrap());
    let serve = ServeOptions::new("127.0.0.1:0".parse().unwrap(), dir, KEY.into());
    let state = app_state(seq, store, None, Role::leading(), &serve).unwrap();
    (router(state, &serve), clock, ticker)
}

/// One tick of the service's clock, as `byterank serve` sends every second.
async fn tick(seq: &Sequencer) {
    seq.call(|svc, at| svc.apply(at, &Op::Tick)).await.unwrap();
}

/// A request with an optional bearer key and body (JSON, or raw bytes).
enum Payload {
    None,
    Json(Value),
    Bytes(Vec<u8>),
    Text(&'static str),
}

async fn send(app: &Router, method: &str, path: &str, key: Option<&str>, payload: Payload) -> (StatusCode, Vec<u8>) {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    let req = match payload {
        Payload::None => b.body(Body::empty()),
        Payload::Json(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())),
        Payload::Text(t) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(t)),
        Payload::Bytes(v) => b.header(header::CONTENT_TYPE, "application/octet-stream").body(Body::from(v)),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 26).await.unwrap();
    (status, bytes.to_vec())
}

/// A JSON call: its status and its body as JSON (`null` when empty).
async fn call(app: &Router, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
    let payload = body.map_or(Payload::None, Payload::Json);
    let (s, bytes) = send(app, method, path, key, payload).await;
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e})"))
    };
    (s, v)
}

/// A refusal: the status, and an `ApiError` body with a message.
async fn refused(app: &Router, method: &str, path: &str, key: Option<&str>, body: Option<Value>, want: StatusCode) {
    let (s, v) = call(app, method, path, key, body).await;
    assert_eq!(s, want, "{method} {path}: {v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{method} {path}: no message in {v}");
    assert_eq!(v["status"].as_u64(), Some(u64::from(want.as_u16())), "{method} {path}: {v}");
}

async fn ok(app: &Router, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Value {
    let (s, v) = call(app, method, path, key, body).await;
    assert!(s.is_success(), "{method} {path}: {s} {v}");
    v
}

async fn user(app: &Router, name: &str, chips: u64) -> String {
    let v = ok(app, "POST", "/v1/users", Some(KEY), Some(json!({ "user": name }))).await;
    ok(app, "POST", "/v1/billing/top-ups", Some(KEY), Some(json!({ "user": name, "amount": chips }))).await;
    v["api_key"].as_str().unwrap().to_string()
}

async fn owner(app: &Router, name: &str) -> String {
    let v = ok(app, "POST", "/v1/owners", None, Some(json!({ "owner": name }))).await;
    v["api_key"].as_str().unwrap().to_string()
}

async fn device(app: &Router, owner_key: &str, id: &str) -> String {
    let body = json!({ "device": { "id": id } });
    let (s, v) = call(app, "POST", "/v1/devices", Some(owner_key), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_string()
}

async fn pull(app: &Router, token: &str) -> Value {
    ok(app, "POST", "/v1/tasks/pull", Some(token), None).await["task"].clone()
}

fn synthetic_result(task: &Value) -> Value {
    let chunk: Chunk = serde_json::from_value(task["chunk"].clone()).unwrap();
    let meta = Synthetic::expected(task["job"].as_str().unwrap(), &chunk);
    json!({ "size": meta.size, "digest": meta.digest.as_str() })
}

#[tokio::test]
async fn owners_and_devices() {
    let (app, clock, seq) = app("devices");
    let (s, v) = call(&app, "POST", "/v1/owners", None, Some(json!({ "owner": "olga" }))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let olga = v["api_key"].as_str().unwrap().to_string();
    refused(&app, "POST", "/v1/owners", None, Some(json!({ "owner": "olga" })), StatusCode::CONFLICT).await;
    refused(&app, "POST", "/v1/owners", None, Some(json!({ "owner": "x", "extra": 1 })), StatusCode::BAD_REQUEST).await;
    let (s, _) = send(&app, "POST", "/v1/owners", None, Payload::Text("{not json")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let token = device(&app, &olga, "phone-1").await;
    let dev = json!({ "device": { "id": "phone-2" } });
    refused(&app, "POST", "/v1/devices", None, Some(dev.clone()), StatusCode::UNAUTHORIZED).await;
    refused(&app, "POST", "/v1/devices", Some("not-a-key"), Some(dev), StatusCode::UNAUTHORIZED).await;
    let pete = owner(&app, "pete").await;
    let theirs = json!({ "device": { "id": "phone-3" }, "owner": "olga" });
    refused(&app, "POST", "/v1/devices", Some(&pete), Some(theirs), StatusCode::FORBIDDEN).await;

    let me = ok(&app, "GET", "/v1/devices/me", Some(&token), None).await;
    assert_eq!(me["device"]["id"], "phone-1");
    refused(&app, "GET", "/v1/devices/me", None, None, StatusCode::UNAUTHORIZED).await;
    refused(&app, "GET", "/v1/devices/me", Some(&olga), None, StatusCode::FORBIDDEN).await;

    // A status report: the device as it is now (a faster processor).
    let report = json!({ "id": "phone-1", "processor_score": 450 });
    let (s, v) = call(&app, "PUT", "/v1/devices/me", Some(&token), Some(report)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["device"]["processor_score"], 450.0);
    let (s, _) = send(&app, "PUT", "/v1/devices/me", Some(&token), Payload::Text("[]")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let prefs = ok(&app, "PUT", "/v1/devices/me/preferences", Some(&token), Some(json!({}))).await;
    assert_eq!(prefs["device"]["id"], "phone-1");
    refused(
        &app,
        "PUT",
        "/v1/devices/me/preferences",
        Some(&token),
        Some(json!({ "nope": 1 })),
        StatusCode::BAD_REQUEST,
    )
    .await;

    // The operator trusts a device; an unknown one is not found.
    let (s, v) = call(&app, "PUT", "/v1/devices/phone-1/trust", Some(KEY), Some(json!({ "trusted": true }))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The grid is the ranking in force: the devices appear at its next refresh.
    let grid = ok(&app, "GET", "/v1/grid", Some(KEY), None).await;
    assert_eq!(grid["ranked"], json!([]), "ranked before any refresh: {grid}");
    clock.advance(30_000).unwrap();
    tick(&seq).await;
    let grid = ok(&app, "GET", "/v1/grid", Some(KEY), None).await;
    let ranked = grid["ranked"].as_array().unwrap();
    assert!(ranked.iter().any(|d| d["id"] == "phone-1" && d["trusted"] == true), "{grid}");
    let body = json!({ "trusted": true });
    refused(&app, "PUT", "/v1/devices/ghost/trust", Some(KEY), Some(body.clone()), StatusCode::NOT_FOUND).await;
    refused(&app, "PUT", "/v1/devices/phone-1/trust", Some(&olga), Some(body), StatusCode::FORBIDDEN).await;

    // Leaving: the device can no longer pull, nor leave twice.
    let (s, _) = call(&app, "DELETE", "/v1/devices/me", Some(&token), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    refused(&app, "DELETE", "/v1/devices/me", Some(&token), None, StatusCode::GONE).await;
    refused(&app, "POST", "/v1/tasks/pull", Some(&token), None, StatusCode::GONE).await;
}

#[tokio::test]
async fn users_money_and_the_ledger() {
    let (app, _, _) = app("money");
    let (s, v) = call(&app, "POST", "/v1/users", Some(KEY), Some(json!({ "user": "ana" }))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ana = v["api_key"].as_str().unwrap().to_string();
    refused(&app, "POST", "/v1/users", Some(KEY), Some(json!({ "user": "ana" })), StatusCode::CONFLICT).await;
    refused(&app, "POST", "/v1/users", None, Some(json!({ "user": "bo" })), StatusCode::UNAUTHORIZED).await;
    refused(&app, "POST", "/v1/users", Some(&ana), Some(json!({ "user": "bo" })), StatusCode::FORBIDDEN).await;

    let top_up = |user: &str, amount: u64| Some(json!({ "user": user, "amount": amount }));
    ok(&app, "POST", "/v1/billing/top-ups", Some(KEY), top_up("ana", 700)).await;
    ok(&app, "POST", "/v1/billing/top-ups", Some(KEY), top_up("ana", 300)).await;
    refused(&app, "POST", "/v1/billing/top-ups", Some(KEY), top_up("ghost", 5), StatusCode::NOT_FOUND).await;
    refused(&app, "POST", "/v1/billing/top-ups", Some(&ana), top_up("ana", 5), StatusCode::FORBIDDEN).await;
    let bad = Some(json!({ "user": "ana", "amount": -5 }));
    refused(&app, "POST", "/v1/billing/top-ups", Some(KEY), bad, StatusCode::BAD_REQUEST).await;

    let b = ok(&app, "GET", "/v1/billing", Some(&ana), None).await;
    assert_eq!((b["topped_up"].as_u64(), b["available"].as_u64()), (Some(1_000), Some(1_000)), "{b}");
    refused(&app, "GET", "/v1/billing", None, None, StatusCode::UNAUTHORIZED).await;

    let olga = owner(&app, "olga").await;
    let w = ok(&app, "GET", "/v1/wallet", Some(&olga), None).await;
    assert_eq!((w["owner"].as_str(), w["balance"].as_u64()), (Some("olga"), Some(0)), "{w}");
    refused(&app, "GET", "/v1/wallet", Some(&ana), None, StatusCode::FORBIDDEN).await;

    let l = ok(&app, "GET", "/v1/ledger", Some(KEY), None).await;
    assert_eq!(l["conserves"], true, "{l}");
    refused(&app, "GET", "/v1/ledger", Some(&ana), None, StatusCode::FORBIDDEN).await;
    refused(&app, "GET", "/v1/ledger", None, None, StatusCode::UNAUTHORIZED).await;

    let u = ok(&app, "GET", "/v1/usage", Some(&ana), None).await;
    assert!(u.is_object(), "{u}");
    refused(&app, "GET", "/v1/usage?days=nope", Some(&ana), None, StatusCode::BAD_REQUEST).await;
}

/// A synthetic job from quote to completion, with every task route on the way,
/// and the deadline passed by advancing the clock.
#[tokio::test]
async fn a_job_from_quote_to_completion() {
    let (app, clock, _) = app("jobs");
    let ana = user(&app, "ana", 10_000).await;
    let eve = user(&app, "eve", 10).await;
    let olga = owner(&app, "olga").await;
    let d1 = device(&app, &olga, "d1").await;
    let d2 = device(&app, &olga, "d2").await;

    let spec = json!({ "id": "j", "chunks": 2, "price_chips": 2_000 });
    let q = ok(&app, "POST", "/v1/jobs/quote", Some(&ana), Some(spec.clone())).await;
    assert_eq!((q["tasks"].as_u64(), q["price"].as_u64()), (Some(2), Some(2_000)), "{q}");
    refused(&app, "POST", "/v1/jobs/quote", Some(&eve), Some(spec.clone()), StatusCode::PAYMENT_REQUIRED).await;
    refused(&app, "POST", "/v1/jobs/quote", None, Some(spec.clone()), StatusCode::UNAUTHORIZED).await;

    let (s, v) = call(&app, "POST", "/v1/jobs", Some(&ana), Some(spec.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    refused(&app, "POST", "/v1/jobs", Some(&ana), Some(spec.clone()), StatusCode::CONFLICT).await;
    let dear = json!({ "id": "dear", "chunks": 2, "price_chips": 2_000 });
    refused(&app, "POST", "/v1/jobs", Some(&eve), Some(dear), StatusCode::PAYMENT_REQUIRED).await;
    refused(&app, "POST", "/v1/jobs", Some(&olga), Some(spec), StatusCode::FORBIDDEN).await;
    // An application the engine does not run: the engine's one message, which
    // names the ones it does, for quotes and jobs alike.
    let odd = json!({ "id": "odd", "application": "ffmpeg", "chunks": 2, "price_chips": 2_000 });
    for path in ["/v1/jobs/quote", "/v1/jobs"] {
        let (s, v) = call(&app, "POST", path, Some(&ana), Some(odd.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        let m = v["message"].as_str().unwrap_or_default();
        assert!(m.contains("unknown application `ffmpeg`") && m.contains("gzip"), "{path}: {v}");
    }
    let listed = ok(&app, "GET", "/v1/jobs", Some(&ana), None).await;
    assert_eq!(listed["jobs"].as_array().map(|j| j.len()), Some(1), "{listed}");
    assert_eq!(ok(&app, "GET", "/v1/jobs", Some(&eve), None).await["jobs"], json!([]));

    let status = ok(&app, "GET", "/v1/jobs/j", Some(&ana), None).await;
    assert_eq!((status["state"].as_str(), status["tasks"].as_u64()), (Some("running"), Some(2)), "{status}");
    refused(&app, "GET", "/v1/jobs/j", Some(&eve), None, StatusCode::NOT_FOUND).await;
    refused(&app, "GET", "/v1/jobs/j/output", Some(&ana), None, StatusCode::CONFLICT).await;
    let pools = ok(&app, "GET", "/v1/grid/pools", Some(KEY), None).await;
    assert!(pools.as_array().is_some_and(|p| p.iter().any(|p| p["job"] == "j")), "{pools}");
    refused(&app, "GET", "/v1/grid/pools", Some(&ana), None, StatusCode::FORBIDDEN).await;

    // d1 takes a copy, then goes quiet past T2: the copy is lost.
    let lost = pull(&app, &d1).await;
    let a = lost["attempt"].as_u64().expect("a copy for d1");
    let held = ok(&app, "GET", "/v1/tasks/held", Some(&d1), None).await;
    assert_eq!(held.as_array().map(|h| h.len()), Some(1), "{held}");
    let beat = ok(&app, "POST", &format!("/v1/tasks/{a}/heartbeat"), Some(&d1), None).await;
    assert_eq!(beat["continue"], true, "{beat}");
    // Per-task progress: the task d1 holds runs, the other waits.
    let held_task = lost["task"].as_u64().unwrap();
    let view = ok(&app, "GET", "/v1/jobs/j?tasks=true", Some(&ana), None).await;
    let want: Vec<Value> = (0..2)
        .map(|t| {
            let (state, n) = if t == held_task { ("running", 1) } else { ("waiting", 0) };
            json!({ "task": t, "state": state, "running": n, "attempts": n })
        })
        .collect();
    assert_eq!((view["progress"].clone(), view["running"].as_u64()), (json!(want), Some(1)), "{view}");
    let page = ok(&app, "GET", "/v1/jobs/j?tasks=true&from=1&limit=5", Some(&ana), None).await;
    assert_eq!(page["progress"], json!(want[1..]), "{page}");
    refused(&app, "POST", &format!("/v1/tasks/{a}/heartbeat"), Some(&d2), None, StatusCode::NOT_FOUND).await;
    refused(&app, "POST", "/v1/tasks/seven/heartbeat", Some(&d1), None, StatusCode::BAD_REQUEST).await;
    clock.advance(3_500).unwrap();
    let late = call(&app, "POST", &format!("/v1/tasks/{a}/heartbeat"), Some(&d1), None).await;
    assert!(late.1["continue"] == false || late.0 == StatusCode::GONE, "a heartbeat past T2: {late:?}");

    // The device reports an error on a copy: 204, and then it is gone; another
    // device cannot report on it.
    let failed = pull(&app, &d2).await;
    let f = failed["attempt"].as_u64().expect("a copy for d2");
    refused(&app, "POST", &format!("/v1/tasks/{f}/error"), Some(&d1), None, StatusCode::NOT_FOUND).await;
    let (s, _) = call(&app, "POST", &format!("/v1/tasks/{f}/error"), Some(&d2), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    refused(&app, "POST", &format!("/v1/tasks/{f}/error"), Some(&d2), None, StatusCode::GONE).await;

    // Then the devices finish every task with the right results.
    let t = std::time::Instant::now();
    loop {
        let status = ok(&app, "GET", "/v1/jobs/j", Some(&ana), None).await;
        if status["state"] == "completed" {
            break;
        }
        assert_eq!(status["state"], "running", "{status}");
        assert!(t.elapsed() < std::time::Duration::from_secs(30), "the job did not complete: {status}");
        for token in [&d1, &d2] {
            let task = pull(&app, token).await;
            let Some(a) = task["attempt"].as_u64() else { continue };
            let path = format!("/v1/tasks/{a}/result");
            let r = ok(&app, "POST", &path, Some(token), Some(synthetic_result(&task))).await;
            assert_eq!(r["accepted"], true, "{r}");
        }
        // Rescued copies wait out rescue_wait; the clock, not the test, waits.
        clock.advance(1_000).unwrap();
    }
    let done = ok(&app, "GET", "/v1/jobs/j?tasks=true", Some(&ana), None).await;
    let none = done["progress"].as_array().is_none_or(Vec::is_empty);
    assert!(none && done["running"] == 0, "an ended job has no progress to show: {done}");
    let (s, out) = send(&app, "GET", "/v1/jobs/j/output", Some(&ana), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!out.is_empty());
    let paid = ok(&app, "GET", "/v1/wallet", Some(&olga), None).await["balance"].as_u64().unwrap();
    assert!(paid > 0, "the devices' owner was paid nothing");
    let l = ok(&app, "GET", "/v1/ledger", Some(KEY), None).await;
    assert_eq!(l["conserves"], true, "{l}");
    assert_eq!(l["wallets"].as_u64(), Some(paid));
    // An ended job cannot be cancelled.
    refused(&app, "DELETE", "/v1/jobs/j", Some(&ana), None, StatusCode::CONFLICT).await;
}

/// One device and a job asking two copies a task: refused with the shortfall
/// named and nothing charged; quoted and run with `accept_unverified`, every
/// task reported and paid as unverified; with a deadline it waits.
#[tokio::test]
async fn replicas_one_device_cannot_hold() {
    let (app, clock, seq) = app("replicas");
    let ana = user(&app, "ana", 10_000).await;
    let olga = owner(&app, "olga").await;
    let d = device(&app, &olga, "d1").await;
    let spec = json!({ "id": "r2", "chunks": 4, "price_chips": 1_000, "replication": { "r": 2 } });
    for path in ["/v1/jobs/quote", "/v1/jobs"] {
        let (s, v) = call(&app, "POST", path, Some(&ana), Some(spec.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        let m = v["message"].as_str().unwrap_or_default();
        assert!(m.contains("2 distinct devices per task") && m.contains("have 1"), "{path}: {m}");
        assert!(m.contains("accept_unverified") && m.contains("deadline_s"), "{path}: {m}");
    }
    let b = ok(&app, "GET", "/v1/billing", Some(&ana), None).await;
    assert_eq!(b["available"].as_u64(), Some(10_000), "nothing charged: {b}");
    refused(&app, "GET", "/v1/jobs/r2", Some(&ana), None, StatusCode::NOT_FOUND).await;

    // Accepting unverified results: the quote and the answer say what runs.
    let mut lax = spec.clone();
    lax["accept_unverified"] = json!(true);
    let q = ok(&app, "POST", "/v1/jobs/quote", Some(&ana), Some(lax.clone())).await;
    let want = json!({ "asked": 8, "placed": 4, "unplaced": 4, "per_task": 2, "devices": 1, "short_tasks": 4,
        "status": "unverified" });
    assert_eq!(q["replicas"], want, "{q}");
    let (s, v) = call(&app, "POST", "/v1/jobs", Some(&ana), Some(lax)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["replicas"], want, "{v}");
    for _ in 0..8 {
        let task = pull(&app, &d).await;
        let Some(a) = task["attempt"].as_u64() else { break };
        ok(&app, "POST", &format!("/v1/tasks/{a}/result"), Some(&d), Some(synthetic_result(&task))).await;
    }
    let status = ok(&app, "GET", "/v1/jobs/r2", Some(&ana), None).await;
    assert_eq!((status["state"].as_str(), status["unverified"].as_u64()), (Some("completed"), Some(4)), "{status}");
    let l = ok(&app, "GET", "/v1/ledger", Some(KEY), None).await;
    // 70% of 1,000 over four tasks: each one's bounty of 175, paid unverified.
    assert_eq!((l["wallets"].as_u64(), l["earned_unverified"].as_u64()), (Some(700), Some(700)), "{l}");
    assert_eq!(l["conserves"], true, "{l}");

    // With a deadline the job waits for a second device, and fails at its
    // deadline without one: nothing more is paid.
    let mut wait = spec.clone();
    wait["id"] = json!("r2-wait");
    wait["deadline_s"] = json!(30);
    let (s, v) = call(&app, "POST", "/v1/jobs", Some(&ana), Some(wait)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["replicas"]["status"], "waiting", "{v}");
    for _ in 0..8 {
        let task = pull(&app, &d).await;
        let Some(a) = task["attempt"].as_u64() else { break };
        ok(&app, "POST", &format!("/v1/tasks/{a}/result"), Some(&d), Some(synthetic_result(&task))).await;
    }
    assert_eq!(ok(&app, "GET", "/v1/jobs/r2-wait", Some(&ana), None).await["state"], "running");
    clock.advance(31_000).unwrap();
    tick(&seq).await;
    let status = ok(&app, "GET", "/v1/jobs/r2-wait", Some(&ana), None).await;
    assert_eq!(status["state"], "failed", "{status}");
    assert!(status["reason"].as_str().is_some_and(|r| r.contains("deadline")), "{status}");
    let l = ok(&app, "GET", "/v1/ledger", Some(KEY), None).await;
    assert_eq!(l["wallets"].as_u64(), Some(700), "nothing paid for the waiting job: {l}");
}

#[tokio::test]
async fn cancelling_a_job_refunds_it() {
    let (app, _, _) = app("cancel");
    let ana = user(&app, "ana", 5_000).await;
    let olga = owner(&app, "olga").await;
    device(&app, &olga, "d").await;
    ok(&app, "POST", "/v1/jobs", Some(&ana), Some(json!({ "id": "c", "chunks": 3, "price_chips": 3_000 }))).await;
    let before = ok(&app, "GET", "/v1/billing", Some(&ana), None).await["available"].as_u64().unwrap();
    assert_eq!(before, 2_000, "the price is reserved");
    refused(&app, "DELETE", "/v1/jobs/nope", Some(&ana), None, StatusCode::NOT_FOUND).await;
    let v = ok(&app, "DELETE", "/v1/jobs/c", Some(&ana), None).await;
    assert_eq!(v["state"], "cancelled", "{v}");
    // Nothing ran: the undecided tasks' bounties come back, the platform's
    // share stays charged, and nothing is left in escrow.
    let b = ok(&app, "GET", "/v1/billing", Some(&ana), None).await;
    let refunded = b["refunded"].as_u64().unwrap();
    assert!(refunded > 0, "{b}");
    assert_eq!(b["available"].as_u64(), Some(before + refunded), "{b}");
    let l = ok(&app, "GET", "/v1/ledger", Some(KEY), None).await;
    assert_eq!((l["charged"].as_u64(), l["escrow"].as_u64(), l["wallets"].as_u64()), (Some(3_000), Some(0), Some(0)));
    assert_eq!(l["refunded"].as_u64().unwrap() + l["platform"].as_u64().unwrap(), 3_000, "{l}");
    refused(&app, "DELETE", "/v1/jobs/c", Some(&ana), None, StatusCode::CONFLICT).await;
}

/// A gzip job: the input upload, a device reading its chunk, and the output
/// assembled from the results the devices computed.
#[tokio::test]
async fn a_gzip_job_uploads_input_and_assembles_output() {
    let (app, clock, _) = app("gzip");
    let ana = user(&app, "ana", 100_000).await;
    let olga = owner(&app, "olga").await;
    let d = device(&app, &olga, "d").await;
    let input: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let spec = json!({ "id": "gz", "application": "gzip", "input_bytes": input.len(), "chunk_bytes": 32 * 1024,
                       "price_chips": 10_000 });
    ok(&app, "POST", "/v1/jobs", Some(&ana), Some(spec)).await;
    let (s, _) = send(&app, "PUT", "/v1/jobs/gz/input", Some(&ana), Payload::Bytes(input[..10].to_vec())).await;
    assert!(s.is_client_error(), "an input of the wrong size: {s}");
    let (s, _) = send(&app, "PUT", "/v1/jobs/nope/input", Some(&ana), Payload::Bytes(input.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = send(&app, "PUT", "/v1/jobs/gz/input", Some(&ana), Payload::Bytes(input.clone())).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&v));

    let t = std::time::Instant::now();
    loop {
        let status = ok(&app, "GET", "/v1/jobs/gz", Some(&ana), None).await;
        if status["state"] == "completed" {
            break;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(30), "the job did not complete: {status}");
        let task = pull(&app, &d).await;
        if let Some(a) = task["attempt"].as_u64() {
            let (s, chunk) = send(&app, "GET", &format!("/v1/tasks/{a}/input"), Some(&d), Payload::None).await;
            assert_eq!(s, StatusCode::OK);
            let (off, len) = (task["chunk"]["offset"].as_u64().unwrap() as usize, chunk.len());
            assert_eq!(chunk, &input[off..off + len], "the chunk's bytes");
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&chunk).unwrap();
            let body = Payload::Bytes(gz.finish().unwrap());
            let (s, r) = send(&app, "POST", &format!("/v1/tasks/{a}/result"), Some(&d), body).await;
            assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&r));
        }
        clock.advance(1_000).unwrap();
    }
    let (s, out) = send(&app, "GET", "/v1/jobs/gz/output", Some(&ana), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    let mut whole = Vec::new();
    flate2::read::MultiGzDecoder::new(&out[..]).read_to_end(&mut whole).unwrap();
    assert_eq!(whole, input, "the output is the input, compressed");
}

#[tokio::test]
async fn operator_reads_and_the_fallbacks() {
    let (app, _, _) = app("operator");
    let h = ok(&app, "GET", "/health", None, None).await;
    assert_eq!((h["status"].as_str(), h["devices"].as_u64()), (Some("ok"), Some(0)), "{h}");
    let doc = ok(&app, "GET", "/openapi.json", None, None).await;
    assert!(doc["paths"]["/v1/tasks/pull"].is_object(), "the document lists the routes");
    refused(&app, "GET", "/v1/grid", None, None, StatusCode::UNAUTHORIZED).await;
    refused(&app, "GET", "/v1/grid?top=x", Some(KEY), None, StatusCode::BAD_REQUEST).await;
    refused(&app, "GET", "/metrics", None, None, StatusCode::UNAUTHORIZED).await;
    let olga = owner(&app, "olga").await;
    refused(&app, "GET", "/metrics", Some(&olga), None, StatusCode::FORBIDDEN).await;
    // No recorder is installed in process: the operator gets an empty exposition.
    let (s, _) = send(&app, "GET", "/metrics", Some(KEY), Payload::None).await;
    assert_eq!(s, StatusCode::OK);
    let grid = ok(&app, "GET", "/v1/grid?top=5", Some(KEY), None).await;
    assert_eq!((grid["devices"].as_u64(), grid["ranked"].as_array().map(Vec::len)), (Some(0), Some(0)), "{grid}");
    refused(&app, "GET", "/v1/nothing-here", None, None, StatusCode::NOT_FOUND).await;
    refused(&app, "PATCH", "/v1/jobs", None, None, StatusCode::METHOD_NOT_ALLOWED).await;
}
