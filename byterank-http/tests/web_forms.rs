//! The web app's guards, through the real router without a socket: pages need a
//! session, every write needs the session's CSRF token (and without it nothing
//! changes), another user's job is not found, every page carries the policy,
//! and values are escaped in the HTML sent.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use byterank_core::EngineConfig;
use byterank_http::auth::OperatorKey;
use byterank_http::clock::Clock;
use byterank_http::journal::sqlite::{SqliteJournal, SqliteStore};
use byterank_http::lead::Role;
use byterank_http::sequencer::{Options, Sequencer};
use byterank_http::server::{app_state, recover, router, ServeOptions};
use byterank_http::web::session::csrf_token;
use byterank_http::web::CSP;
use serde_json::{json, Value};
use tower::ServiceExt;

const KEY: &str = "operator-key-for-tests-0123456789";

fn app(name: &str) -> Router {
    app_and_state(name).0
}

fn app_and_state(name: &str) -> (Router, Sequencer) {
    let dir: PathBuf = std::env::temp_dir().join(format!("byterank-webforms-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut journal = SqliteJournal::open(&dir).unwrap();
    let (svc, seq) = recover(&mut journal, Some(&EngineConfig::default())).unwrap();
    let opts = Options {
        snapshot_every: 1_000,
        operator: OperatorKey::new(KEY).unwrap(),
        leader: true,
        clock: Clock::system(),
    };
    let seq = Sequencer::start(svc, Box::new(journal), seq, opts);
    let store = std::sync::Arc::new(SqliteStore::open(&dir).unwrap());
    let serve = ServeOptions::new("127.0.0.1:0".parse().unwrap(), dir, KEY.into());
    let state = app_state(seq.clone(), store, None, Role::leading(), &serve).unwrap();
    (router(state, &serve), seq)
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
    Answer { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

fn api(method: &str, path: &str, key: &str, body: Option<Value>) -> Request<Body> {
    let b = Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {key}"));
    match body {
        Some(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())).unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

/// A browser request with the session cookie of `key`.
fn page(method: &str, path: &str, key: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::COOKIE, format!("byterank_key={key}"))
}

async fn user(app: &Router, name: &str) -> String {
    let a = send(app, api("POST", "/v1/users", KEY, Some(json!({ "user": name })))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    let b = send(app, api("POST", "/v1/billing/top-ups", KEY, Some(json!({ "user": name, "amount": 100_000 })))).await;
    assert_eq!(b.status, StatusCode::OK);
    v["api_key"].as_str().unwrap().to_string()
}

async fn job_ids(app: &Router, key: &str) -> Vec<String> {
    let a = send(app, api("GET", "/v1/jobs", key, None)).await;
    let v: Value = serde_json::from_str(&a.body).unwrap();
    v["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn pages_need_a_session_and_carry_the_policy() {
    let app = app("session");
    for path in ["/jobs", "/new-job", "/billing", "/operator", "/jobs/x", "/jobs/x/output"] {
        let a = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert!(a.status.is_redirection(), "{path}: {}", a.status);
        assert_eq!(a.headers[header::LOCATION], "/", "{path}");
        assert_eq!(a.headers[header::CONTENT_SECURITY_POLICY], CSP, "{path}");
    }
    let home = send(&app, Request::get("/").header(header::HOST, "127.0.0.1").body(Body::empty()).unwrap()).await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.headers[header::CONTENT_SECURITY_POLICY], CSP);
    assert!(!home.body.contains("<script>") && !home.body.contains(" style="), "no inline script or style");
}

#[tokio::test]
async fn sign_in_checks_its_token_and_the_key() {
    let app = app("login");
    let key = user(&app, "ana").await;
    let form = |csrf: &str, key: &str, cookie: &str| {
        Request::post("/login")
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie.to_string())
            .body(Body::from(format!("csrf={csrf}&key={key}")))
            .unwrap()
    };
    let no_cookie = send(&app, form("t1", &key, "other=1")).await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN);
    assert!(!no_cookie.headers.get_all(header::SET_COOKIE).iter().any(|v| v.to_str().unwrap().contains(&key)));
    let wrong = send(&app, form("t2", &key, "byterank_login=t1")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let bad_key =
        send(&app, form("t1", "0123456789abcdef.0123456789abcdef0123456789abcdef", "byterank_login=t1")).await;
    assert_eq!(bad_key.status, StatusCode::UNAUTHORIZED);
    let ok = send(&app, form("t1", &key, "byterank_login=t1")).await;
    assert!(ok.status.is_redirection());
    assert_eq!(ok.headers[header::LOCATION], "/jobs");
    let set: Vec<&str> = ok.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
    assert!(set.contains(&format!("byterank_key={key}; Path=/; HttpOnly; SameSite=Strict").as_str()), "{set:?}");
}

#[tokio::test]
async fn writes_without_the_sessions_token_change_nothing() {
    let app = app("csrf");
    let key = user(&app, "ana").await;
    let spec = json!({ "id": "j1", "application": "gzip", "input_bytes": 10, "chunk_bytes": 10, "price_chips": 100 });
    let create = |token: Option<&str>| {
        let mut b = page("POST", "/web/jobs", &key).header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            b = b.header("x-csrf-token", t);
        }
        b.body(Body::from(spec.to_string())).unwrap()
    };
    for token in [None, Some("0".repeat(32)), Some(csrf_token(KEY))] {
        let a = send(&app, create(token.as_deref())).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{token:?}: {}", a.body);
        assert!(job_ids(&app, &key).await.is_empty(), "a refused write created a job");
    }
    // A gzip job waits for its input (the grid has no devices to plan on).
    let a = send(&app, create(Some(&csrf_token(&key)))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(job_ids(&app, &key).await, ["j1"]);

    let cancel = |token: &str| {
        page("POST", "/jobs/j1/cancel", &key)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={token}")))
            .unwrap()
    };
    let refused = send(&app, cancel("stale")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let status = |a: &Answer| serde_json::from_str::<Value>(&a.body).unwrap()["state"].clone();
    let before = send(&app, api("GET", "/v1/jobs/j1", &key, None)).await;
    assert_ne!(status(&before), "cancelled");
    let done = send(&app, cancel(&csrf_token(&key))).await;
    assert!(done.status.is_redirection(), "{}", done.body);
    let after = send(&app, api("GET", "/v1/jobs/j1", &key, None)).await;
    assert_eq!(status(&after), "cancelled");
}

#[tokio::test]
async fn another_users_job_is_not_found_and_ids_are_escaped() {
    let app = app("escape");
    let (ana, eve) = (user(&app, "ana").await, user(&app, "eve").await);
    let id = "<script>alert(\"x\")</script>&\u{200f}txt.exe";
    let spec = json!({ "id": id, "application": "gzip", "input_bytes": 10, "chunk_bytes": 10, "price_chips": 10 });
    let a = send(&app, api("POST", "/v1/jobs", &ana, Some(spec))).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let href = format!("/jobs/{}", byterank_http::web::pages::segment(id));
    let mine = send(&app, page("GET", &href, &ana).body(Body::empty()).unwrap()).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(!mine.body.contains("<script>alert"), "the id went out as markup");
    assert!(mine.body.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;[U+200F]txt.exe"));
    assert!(!mine.body.contains('\u{200f}'), "the mark went out as is");
    let list = send(&app, page("GET", "/jobs", &ana).body(Body::empty()).unwrap()).await;
    assert!(list.body.contains(&format!("href=\"{href}\"")), "the list links the job's page");
    let theirs = send(&app, page("GET", &href, &eve).body(Body::empty()).unwrap()).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(!theirs.body.contains("gzip"), "nothing of the job is shown to another user");
    let output = send(&app, page("GET", &format!("{href}/output"), &eve).body(Body::empty()).unwrap()).await;
    assert_eq!(output.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_form_uploads_inputs_larger_than_a_json_body() {
    let (app, seq) = app_and_state("upload");
    let key = user(&app, "ana").await;
    let olga = send(
        &app,
        Request::post("/v1/owners")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "owner": "olga" }).to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(olga.status, StatusCode::CREATED, "{}", olga.body);
    let olga: Value = serde_json::from_str(&olga.body).unwrap();
    let olga = olga["api_key"].as_str().unwrap().to_string();
    for i in 0..3 {
        let body = json!({ "device": { "id": format!("d{i}") } });
        let a = send(
            &app,
            Request::post("/v1/devices")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {olga}"))
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
    seq.call(|s, at| s.apply(at, &byterank_http::service::Op::Tick)).await.unwrap();
    let len = 3_000_000usize;
    let spec =
        json!({ "id": "big", "application": "gzip", "input_bytes": len, "chunk_bytes": 1 << 20, "price_chips": 1000 });
    let token = csrf_token(&key);
    let create = page("POST", "/web/jobs", &key)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-csrf-token", &token)
        .body(Body::from(spec.to_string()))
        .unwrap();
    assert_eq!(send(&app, create).await.status, StatusCode::CREATED);
    let upload = page("PUT", "/web/jobs/big/input", &key)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("x-csrf-token", &token)
        .body(Body::from(vec![b'x'; len]))
        .unwrap();
    let a = send(&app, upload).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!((v["state"].as_str(), v["tasks"].as_u64()), (Some("running"), Some(3)));
}

fn json_of(a: &Answer) -> Value {
    serde_json::from_str(&a.body).unwrap_or_else(|_| panic!("not JSON: {} {}", a.status, a.body))
}

fn form(path: &str, key: &str, body: String) -> Request<Body> {
    page("POST", path, key)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

async fn journal_seq(app: &Router) -> u64 {
    json_of(&send(app, Request::get("/health").body(Body::empty()).unwrap()).await)["journal_seq"].as_u64().unwrap()
}

/// An owner with two devices that ran a synthetic job of `ana`'s to its end:
/// the owner's key.
async fn owner_with_earnings(app: &Router, seq: &Sequencer, ana: &str) -> String {
    let olga = send(
        app,
        Request::post("/v1/owners")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "owner": "olga" }).to_string()))
            .unwrap(),
    )
    .await;
    let olga = json_of(&olga)["api_key"].as_str().unwrap().to_string();
    for i in 0..2 {
        let a =
            send(app, api("POST", "/v1/devices", &olga, Some(json!({ "device": { "id": format!("d{i}") } })))).await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    }
    seq.call(|s, at| s.apply(at, &byterank_http::service::Op::Tick)).await.unwrap();
    let spec = json!({ "id": "s1", "application": "synthetic", "chunks": 3, "price_chips": 10_000 });
    assert_eq!(send(app, api("POST", "/v1/jobs", ana, Some(spec))).await.status, StatusCode::CREATED);
    for _ in 0..50 {
        let done = seq
            .call(|s, at| {
                for d in ["d0", "d1"] {
                    let dev = byterank_http::service::Principal::Device(d.into());
                    if let Some(t) = s.pull(at, &dev, None)?.task {
                        let meta = byterank_core::application::Synthetic::expected(&t.job, &t.chunk);
                        let body = serde_json::to_vec(&meta).unwrap();
                        s.report_result(at, &dev, byterank_core::AttemptId(t.attempt), &body, None)?;
                    }
                }
                Ok(s.job("s1").unwrap().state != byterank_http::service::JobState::Running)
            })
            .await
            .unwrap();
        if done {
            return olga;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the synthetic job did not complete");
}

#[tokio::test]
async fn payouts_from_the_wallet_page_and_the_api_refuse_bad_input_and_keep_the_ledger() {
    let (app, seq) = app_and_state("payouts");
    let ana = user(&app, "ana").await;
    let olga = owner_with_earnings(&app, &seq, &ana).await;
    let wallet = |key: &str| api("GET", "/v1/wallet", key, None);
    let w = json_of(&send(&app, wallet(&olga)).await);
    let earned = w["earned"].as_u64().unwrap();
    assert!(earned > 0 && w["balance"] == earned, "{w}");

    // The owner's page: the balance, the devices, the form.
    let p = send(&app, page("GET", "/wallet", &olga).body(Body::empty()).unwrap()).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let shown = byterank_http::web::pages::count(earned);
    assert!(p.body.contains(&format!("<dd id=\"balance\">{shown} ByteChips</dd>")), "{}", p.body);
    assert!(p.body.contains(">d0</bdi>") && p.body.contains(">d1</bdi>"), "the devices are listed");
    assert!(p.body.contains("action=\"/wallet/payouts\""));

    // Refused, changing nothing: no token, a stale one, 0, too much, not a number.
    let csrf = csrf_token(&olga);
    let before = journal_seq(&app).await;
    for (body, status) in [
        ("idem=f1&amount=5".to_string(), StatusCode::FORBIDDEN),
        ("csrf=stale&idem=f1&amount=5".to_string(), StatusCode::FORBIDDEN),
        (format!("csrf={csrf}&idem=f1&amount=0"), StatusCode::BAD_REQUEST),
        (format!("csrf={csrf}&idem=f1&amount={}", earned + 1), StatusCode::CONFLICT),
        (format!("csrf={csrf}&idem=f1&amount=lots"), StatusCode::BAD_REQUEST),
    ] {
        let a = send(&app, form("/wallet/payouts", &olga, body.clone())).await;
        assert_eq!(a.status, status, "{body}: {}", a.body);
    }
    // Through the API: the wrong callers, unknown payouts, bad states.
    let ask = |key: &str, amount: u64| api("POST", "/v1/wallet/payouts", key, Some(json!({ "amount": amount })));
    assert_eq!(send(&app, ask(&ana, 5)).await.status, StatusCode::FORBIDDEN, "a user is not an owner");
    assert_eq!(send(&app, ask(KEY, 5)).await.status, StatusCode::FORBIDDEN, "nor is the operator");
    assert_eq!(send(&app, ask(&olga, 0)).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(send(&app, ask(&olga, earned + 1)).await.status, StatusCode::CONFLICT);
    let settle = |key: &str, id: &str, state: &str| {
        api("PUT", &format!("/v1/payouts/{id}"), key, Some(json!({ "state": state })))
    };
    assert_eq!(send(&app, settle(KEY, "99", "paid")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(send(&app, settle(KEY, "one", "paid")).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(send(&app, api("GET", "/v1/payouts", &olga, None)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&app, api("GET", "/v1/wallet/payouts", KEY, None)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(journal_seq(&app).await, before, "a refused payout was journalled");
    assert_eq!(json_of(&send(&app, wallet(&olga)).await)["balance"], earned);

    // The form, sent twice with its key (a reload): one payout.
    for _ in 0..2 {
        let a = send(&app, form("/wallet/payouts", &olga, format!("csrf={csrf}&idem=f1&amount=100"))).await;
        assert!(a.status.is_redirection(), "{}", a.body);
        assert_eq!(a.headers[header::LOCATION], "/wallet");
    }
    let mine = json_of(&send(&app, api("GET", "/v1/wallet/payouts", &olga, None)).await);
    assert_eq!(mine["payouts"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!((mine["payouts"][0]["id"].as_u64(), mine["payouts"][0]["state"].as_str()), (Some(1), Some("pending")));
    let w = json_of(&send(&app, wallet(&olga)).await);
    assert_eq!((w["balance"].as_u64(), w["pending"].as_u64()), (Some(earned - 100), Some(100)));
    assert_eq!(
        send(&app, settle(&olga, "1", "paid")).await.status,
        StatusCode::FORBIDDEN,
        "owners do not pay themselves"
    );
    assert_eq!(send(&app, settle(KEY, "1", "pending")).await.status, StatusCode::BAD_REQUEST);

    // The operator's page lists it; its form needs the token; rejected, it goes back.
    let op = send(&app, page("GET", "/operator", KEY).body(Body::empty()).unwrap()).await;
    assert!(op.body.contains("id=\"pending-payouts\"") && op.body.contains("action=\"/operator/payouts/1\""));
    let stale = send(&app, form("/operator/payouts/1", KEY, "csrf=stale&state=rejected".into())).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    assert_eq!(json_of(&send(&app, wallet(&olga)).await)["pending"], 100);
    let ok = send(&app, form("/operator/payouts/1", KEY, format!("csrf={}&state=rejected", csrf_token(KEY)))).await;
    assert!(ok.status.is_redirection(), "{}", ok.body);
    let w = json_of(&send(&app, wallet(&olga)).await);
    assert_eq!((w["balance"].as_u64(), w["pending"].as_u64()), (Some(earned), Some(0)), "rejected: back in the wallet");
    assert_eq!(
        send(&app, settle(KEY, "1", "paid")).await.status,
        StatusCode::CONFLICT,
        "a rejected payout is not paid"
    );

    // Through the API under a key: a retry is the same payout; paid, it stays paid.
    let keyed = || {
        let mut r = ask(&olga, 250);
        r.headers_mut().insert("idempotency-key", "pay-2".parse().unwrap());
        r
    };
    let first = send(&app, keyed()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(json_of(&send(&app, keyed()).await), json_of(&first));
    assert_eq!(json_of(&first)["id"], 2);
    for _ in 0..2 {
        let a = send(&app, settle(KEY, "2", "paid")).await;
        assert_eq!((a.status, json_of(&a)["state"].as_str()), (StatusCode::OK, Some("paid")), "{}", a.body);
    }
    assert_eq!(send(&app, settle(KEY, "2", "rejected")).await.status, StatusCode::CONFLICT);
    let w = json_of(&send(&app, wallet(&olga)).await);
    assert_eq!((w["balance"].as_u64(), w["paid_out"].as_u64()), (Some(earned - 250), Some(250)));
    let kinds: Vec<&str> = w["history"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(&kinds[..4], ["payout_paid", "payout", "payout_returned", "payout"], "newest first: {kinds:?}");
    let l = json_of(&send(&app, api("GET", "/v1/ledger", KEY, None)).await);
    let n = |k: &str| l[k].as_u64().unwrap();
    assert_eq!(l["conserves"], true);
    assert_eq!((n("paid_out"), n("pending_payouts"), n("wallets")), (250, 0, earned - 250));
    assert_eq!(
        n("charged"),
        n("wallets") + n("pending_payouts") + n("paid_out") + n("refunded") + n("platform") + n("escrow")
    );

    // The history, a page at a time, is the whole history.
    let all = json_of(&send(&app, api("GET", "/v1/wallet?limit=1000", &olga, None)).await)["history"].clone();
    let mut paged = Vec::new();
    let mut path = "/v1/wallet?limit=2".to_string();
    loop {
        let w = json_of(&send(&app, api("GET", &path, &olga, None)).await);
        paged.extend(w["history"].as_array().unwrap().iter().cloned());
        match w["next"].as_u64() {
            Some(n) => path = format!("/v1/wallet?limit=2&before={n}"),
            None => break,
        }
    }
    assert_eq!(Value::Array(paged), all);
    assert!(all.as_array().unwrap().len() > 4);
}

#[tokio::test]
async fn owners_sign_in_to_their_wallet_and_the_operator_reads_metrics_in_the_browser() {
    let app = app("owner-login");
    let olga = send(
        &app,
        Request::post("/v1/owners")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "owner": "olga" }).to_string()))
            .unwrap(),
    )
    .await;
    let olga = json_of(&olga)["api_key"].as_str().unwrap().to_string();
    let login = Request::post("/login")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, "byterank_login=t1")
        .body(Body::from(format!("csrf=t1&key={olga}")))
        .unwrap();
    let a = send(&app, login).await;
    assert!(a.status.is_redirection(), "{}", a.body);
    assert_eq!(a.headers[header::LOCATION], "/wallet");
    let home = send(&app, page("GET", "/", &olga).body(Body::empty()).unwrap()).await;
    assert_eq!(home.headers[header::LOCATION], "/wallet");
    let w = send(&app, page("GET", "/wallet", &olga).body(Body::empty()).unwrap()).await;
    assert_eq!(w.status, StatusCode::OK);
    assert!(w.body.contains("None yet.") && w.body.contains("0 live devices"), "{}", w.body);
    assert!(w.body.contains("disabled"), "nothing to redeem: the button is disabled");
    let ana = user(&app, "ana").await;
    let theirs = send(&app, page("GET", "/wallet", &ana).body(Body::empty()).unwrap()).await;
    assert_eq!(theirs.status, StatusCode::FORBIDDEN, "a customer has no wallet");

    let metrics = send(&app, page("GET", "/operator/metrics", KEY).body(Body::empty()).unwrap()).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    let op = send(&app, page("GET", "/operator", KEY).body(Body::empty()).unwrap()).await;
    assert!(op.body.contains("href=\"/operator/metrics\""), "the page links the metrics it serves");
    for key in [olga.as_str(), ana.as_str()] {
        let a = send(&app, page("GET", "/operator/metrics", key).body(Body::empty()).unwrap()).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN);
    }
    let none = send(&app, Request::get("/operator/metrics").body(Body::empty()).unwrap()).await;
    assert!(none.status.is_redirection());
}
