//! The web app in a real browser: headless Chromium driven over WebDriver
//! (`chromedriver`, Debian's `chromium` and `chromium-driver`), against the real
//! `byterank serve` and real `byterank worker` processes.
//!
//! A customer signs in with the keyboard, quotes and submits a gzip job with a
//! file, watches its page until it completes, and downloads an output that
//! gunzips to the file; a job whose id is hostile markup shows as text; the
//! workers' owner sees what they earned and asks for a payout; the operator
//! marks it paid, follows the metrics link, and trusts a device. Each page's screenshot is written to `docs/web/`
//! for `docs/web.md`. Without chromedriver the test prints that it was skipped,
//! unless `BYTERANK_REQUIRE_TOOLS` is set (CI sets it), when it fails.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use byterank::core::EngineConfig;
use fantoccini::{Client, ClientBuilder, Locator};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

mod common;

use common::Proc;

const KEY: &str = "operator-key-for-web-tests-0123456789";
const ENTER: &str = "\u{E007}";

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("web", name)
}

fn serve(dir: &Path) -> (Proc, String) {
    let cfg =
        EngineConfig { t1_ms: 1_000, t2_ms: 3_000, refresh_ms: 300, rescue_wait_ms: 500, ..EngineConfig::default() };
    let cfg_path = common::write_engine_config(dir, &cfg);
    let mut args: Vec<std::ffi::OsString> = vec!["--listen".into(), "127.0.0.1:0".into(), "--tick-ms".into()];
    args.extend(["100".into(), "--data".into(), dir.join("data").into(), "--engine-config".into(), cfg_path.into()]);
    common::serve(args, KEY, &[])
}

/// `n` workers of one owner, registered with the owner's key.
fn workers(url: &str, dir: &Path, owner_key: &str, n: usize) -> Vec<Proc> {
    common::workers(&[url], dir, owner_key, "phone", n)
}

/// chromedriver on a free port, or `None` (after a notice) when it is not installed.
fn chromedriver() -> Option<(Proc, String)> {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = match Command::new("chromedriver").arg(format!("--port={port}")).stdout(Stdio::null()).spawn() {
        Ok(c) => c,
        Err(e) if std::env::var_os("BYTERANK_REQUIRE_TOOLS").is_none() => {
            eprintln!("skipped: chromedriver does not run ({e}); apt-get install chromium chromium-driver");
            return None;
        }
        Err(e) => panic!("chromedriver does not run ({e}) and BYTERANK_REQUIRE_TOOLS is set"),
    };
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "chromedriver did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((Proc(child), format!("http://127.0.0.1:{port}")))
}

async fn browser(driver: &str, profile: &Path) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1280,900",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), json!({ "binary": "/usr/bin/chromium", "args": args }));
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a browser session starts")
}

struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Value {
        let mut r = self.http.request(method.parse().unwrap(), format!("{}{path}", self.url));
        if !key.is_empty() {
            r = r.bearer_auth(key);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }
}

/// A screenshot of the page as it is, into `docs/web/NAME.png`.
async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/web");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn text(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no `{css}`: {e}")).text().await.unwrap()
}

async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(css)).await.unwrap_or_else(|e| {
        panic!("`{css}` did not appear: {e}");
    })
}

/// Tabs until `css` has the focus (at most 40 presses): the page is usable
/// from the keyboard alone.
async fn tab_to(c: &Client, css: &str) {
    for _ in 0..40 {
        let focused: Value =
            c.execute("return document.activeElement.matches(arguments[0]);", vec![json!(css)]).await.unwrap();
        if focused == json!(true) {
            return;
        }
        c.active_element().await.unwrap().send_keys("\u{E004}").await.unwrap(); // Tab
    }
    panic!("Tab never reached `{css}`");
}

fn input_bytes(n: usize) -> Vec<u8> {
    let words = ["grid ", "device ", "rank ", "pool ", "task ", "chip ", "replica ", "\n"];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(22);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend_from_slice(words[rng.random_range(0..words.len())].as_bytes());
    }
    out.truncate(n);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_runs_a_gzip_job_the_owner_redeems_the_earnings_and_the_operator_pays_and_trusts() {
    let Some((_driver, driver_url)) = chromedriver() else { return };
    let dir = temp_dir("e2e");
    let (_server, url) = serve(&dir);
    let api = Api { http: reqwest::Client::new(), url: url.clone() };
    let olga = api.call("POST", "/v1/owners", "", Some(json!({ "owner": "olga" }))).await;
    let _workers = workers(&url, &dir, olga["api_key"].as_str().unwrap(), 3);
    let t = Instant::now();
    while api.call("GET", "/v1/grid", KEY, None).await["active"].as_u64().unwrap() < 3 {
        assert!(t.elapsed() < Duration::from_secs(30), "the workers did not join the grid");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = browser(&driver_url, &dir.join("profile")).await;

    // The operator opens the customer's account from the browser; the page
    // shows the key once.
    c.goto(&url).await.unwrap();
    shot(&c, "sign-in").await;
    tab_to(&c, "#key").await;
    c.active_element().await.unwrap().send_keys(&format!("{KEY}{ENTER}")).await.unwrap();
    wait_for(&c, "#new-user").await.send_keys("ana").await.unwrap();
    let chips = c.find(Locator::Css("#new-chips")).await.unwrap();
    chips.clear().await.unwrap();
    chips.send_keys(&format!("1000000{ENTER}")).await.unwrap();
    let key = wait_for(&c, "#api-key").await.text().await.unwrap();
    let balance = api.call("GET", "/v1/billing", &key, None).await;
    assert_eq!(balance["available"], 1_000_000, "the account is open and credited: {balance}");
    tab_to(&c, "header button[type=submit]").await;
    c.active_element().await.unwrap().send_keys(ENTER).await.unwrap();
    wait_for(&c, "#key").await;

    // A job whose id is markup, quotes and a right-to-left mark (the service refuses
    // the overrides that reorder text; a mark it keeps, and the page shows it).
    let hostile = "<img src=x onerror=alert(1)>\"'\u{200f}gpj.exe";
    let spec = json!({ "id": hostile, "application": "synthetic", "chunks": 2, "price_chips": 500 });
    api.call("POST", "/v1/jobs", &key, Some(spec)).await;

    let input = input_bytes(180_000);
    let file = dir.join("words.txt");
    std::fs::write(&file, &input).unwrap();

    // The customer signs in with the keyboard: the key field has the focus.
    tab_to(&c, "#key").await;
    c.active_element().await.unwrap().send_keys(&format!("{key}{ENTER}")).await.unwrap();
    wait_for(&c, "a[aria-current=page][href='/jobs']").await;

    // The hostile id is shown as text, its direction mark as a visible
    // code point, and nothing it spells became markup.
    let shown = hostile.replace('\u{200f}', "[U+200F]");
    let link = wait_for(&c, "td a.id").await;
    assert_eq!(link.text().await.unwrap(), shown);
    assert!(c.find_all(Locator::Css("img")).await.unwrap().is_empty(), "markup in an id became an element");
    link.click().await.unwrap();
    assert_eq!(text(&c, ".id-line bdi").await, shown);
    assert!(c.find_all(Locator::Css("img")).await.unwrap().is_empty());

    // The job form: a quote first, then submit; the upload shows its progress.
    c.goto(&format!("{url}/new-job")).await.unwrap();
    let id = "words-1";
    let field = wait_for(&c, "#f-id").await;
    field.clear().await.unwrap();
    field.send_keys(id).await.unwrap();
    c.find(Locator::Css("#f-file")).await.unwrap().send_keys(file.to_str().unwrap()).await.unwrap();
    let chunk = c.find(Locator::Css("#f-chunk")).await.unwrap();
    chunk.clear().await.unwrap();
    chunk.send_keys("16").await.unwrap();
    c.find(Locator::Css("#f-repl option[value='r:2']")).await.unwrap().click().await.unwrap();
    tab_to(&c, "#quote-button").await;
    c.active_element().await.unwrap().send_keys(ENTER).await.unwrap();
    let facts = wait_for(&c, "#quote-facts").await;
    let quoted = facts.text().await.unwrap();
    let tasks = input.len().div_ceil(16 * 1024);
    assert!(quoted.contains(&format!("Tasks\n{tasks}")), "the quote names {tasks} tasks: {quoted}");
    assert!(quoted.contains(&format!("Copies\n{}", 2 * tasks)), "two copies each: {quoted}");
    shot(&c, "new-job-quoted").await;
    // Enter on the focused submit button sends the form.
    c.active_element().await.unwrap().send_keys(ENTER).await.unwrap();

    // The job's page follows the job to its end by itself.
    let t = Instant::now();
    loop {
        let here = c.current_url().await.unwrap();
        if here.path() == format!("/jobs/{id}") {
            break;
        }
        let err = c.find(Locator::Css("#form-error")).await.ok();
        if let Some(e) = err {
            let msg = e.text().await.unwrap_or_default();
            assert!(msg.is_empty(), "the form failed: {msg}");
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the form did not go to the job's page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The running page is shot once, and again when some tasks are done.
    let mut running_shot = (false, false);
    let t = Instant::now();
    loop {
        let state = text(&c, "#state").await;
        if state == "running" && !running_shot.1 {
            let some_done = !text(&c, "#done .num").await.starts_with("0 ");
            if !running_shot.0 || some_done {
                shot(&c, "job-running").await;
                running_shot = (true, some_done);
            }
        }
        if state == "completed" {
            break;
        }
        assert!(["running", "awaiting input"].contains(&state.as_str()), "the job went {state}");
        assert!(t.elapsed() < Duration::from_secs(90), "the job did not complete in the browser");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(text(&c, "#done .num").await, format!("{tasks} / {tasks}"));
    shot(&c, "job-completed").await;

    // The download link gives the output; it gunzips to the file.
    let href = wait_for(&c, "#download").await.attr("href").await.unwrap().unwrap();
    let bytes: Value = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => done(Array.from(new Uint8Array(b))));",
            vec![json!(href)],
        )
        .await
        .unwrap();
    let gz: Vec<u8> = bytes.as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect();
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut out).expect("the output is gzip");
    assert!(out == input, "the output gunzips to the uploaded file");

    // The job list, billing with its chart, and a phone's width.
    c.goto(&format!("{url}/jobs")).await.unwrap();
    wait_for(&c, "td a.id").await;
    let listed: Vec<String> = {
        let mut v = Vec::new();
        for a in c.find_all(Locator::Css("td a.id")).await.unwrap() {
            v.push(a.text().await.unwrap());
        }
        v
    };
    assert_eq!(listed, vec![id.to_string(), shown], "newest first");
    shot(&c, "jobs").await;
    c.goto(&format!("{url}/billing")).await.unwrap();
    let available = text(&c, "#available").await;
    let balance = api.call("GET", "/v1/billing", &key, None).await;
    let expected = balance["available"].as_u64().unwrap();
    assert_eq!(available.replace(',', ""), format!("{expected} ByteChips"));
    assert!(!c.find_all(Locator::Css("svg rect.bar")).await.unwrap().is_empty(), "the chart has bars");
    shot(&c, "billing").await;
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{url}/jobs/{id}")).await.unwrap();
    let overflow: Value =
        c.execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![]).await.unwrap();
    assert_eq!(overflow, json!(true), "the job page fits a phone's width");
    shot(&c, "job-phone").await;
    c.set_window_size(1280, 900).await.unwrap();

    // The page's policy forbids inline script: an injected one does not run.
    let csp: Value = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch('/jobs').then(r => done(r.headers.get('content-security-policy')));",
            vec![],
        )
        .await
        .unwrap();
    assert!(csp.as_str().unwrap().contains("script-src 'self'"), "{csp}");

    // The worker owner signs in with the owner key (after the customer signs
    // out), sees what the three workers earned, and asks for a payout.
    tab_to(&c, "header button[type=submit]").await;
    c.active_element().await.unwrap().send_keys(ENTER).await.unwrap();
    let olga_key = olga["api_key"].as_str().unwrap();
    tab_to(&c, "#key").await;
    c.active_element().await.unwrap().send_keys(&format!("{olga_key}{ENTER}")).await.unwrap();
    wait_for(&c, "#wallet").await;
    let wallet = api.call("GET", "/v1/wallet", olga_key, None).await;
    let earned = wallet["balance"].as_u64().unwrap();
    assert!(earned > 0, "the workers earned nothing: {wallet}");
    assert_eq!(text(&c, "#balance").await.replace(',', ""), format!("{earned} ByteChips"));
    let mut devices = Vec::new();
    for row in c.find_all(Locator::Css("#devices tbody tr td:first-child")).await.unwrap() {
        devices.push(row.text().await.unwrap());
    }
    assert_eq!(devices, ["phone-0", "phone-1", "phone-2"], "the owner's devices");
    let rewards = c.find_all(Locator::Css("#history tbody tr")).await.unwrap().len();
    assert!(rewards > 0, "the history lists the rewards");
    c.set_window_size(1280, 1500).await.unwrap();
    shot(&c, "wallet").await;
    c.set_window_size(1280, 900).await.unwrap();
    let amount = earned / 3;
    tab_to(&c, "#payout-amount").await;
    c.active_element().await.unwrap().send_keys(&format!("{amount}{ENTER}")).await.unwrap();
    wait_for(&c, "#payouts .payout-pending").await;
    assert_eq!(text(&c, "#balance").await.replace(',', ""), format!("{} ByteChips", earned - amount));
    let mine = api.call("GET", "/v1/wallet/payouts", olga_key, None).await;
    assert_eq!(mine["payouts"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(
        (mine["payouts"][0]["amount"].as_u64(), mine["payouts"][0]["state"].as_str()),
        (Some(amount), Some("pending"))
    );
    shot(&c, "wallet-payout").await;
    c.set_window_size(390, 844).await.unwrap();
    c.refresh().await.unwrap();
    wait_for(&c, "#wallet").await;
    let fits: Value =
        c.execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![]).await.unwrap();
    assert_eq!(fits, json!(true), "the wallet fits a phone's width");
    c.set_window_size(1280, 900).await.unwrap();

    // The operator signs in (after the owner signs out), marks the payout
    // paid, reads the metrics from its link, and trusts a device.
    tab_to(&c, "header button[type=submit]").await;
    c.active_element().await.unwrap().send_keys(ENTER).await.unwrap();
    let key_field = wait_for(&c, "#key").await;
    key_field.send_keys(&format!("{KEY}{ENTER}")).await.unwrap();
    wait_for(&c, "#grid").await;
    assert_eq!(text(&c, "#ledger-pending").await.replace(',', ""), amount.to_string());
    c.execute("document.getElementById('payouts-card').scrollIntoView();", vec![]).await.unwrap();
    shot(&c, "operator-payouts").await;
    tab_to(&c, "#pending-payouts button.pay").await;
    c.active_element().await.unwrap().send_keys(ENTER).await.unwrap();
    wait_for(&c, "#latest-payouts .payout-paid").await;
    let paid = api.call("GET", "/v1/payouts", KEY, None).await;
    assert_eq!(paid["payouts"][0]["state"], "paid", "{paid}");
    let ledger = api.call("GET", "/v1/ledger", KEY, None).await;
    assert_eq!((ledger["paid_out"].as_u64(), ledger["conserves"].as_bool()), (Some(amount), Some(true)), "{ledger}");
    assert_eq!(text(&c, "#ledger-paid").await.replace(',', ""), amount.to_string());
    c.find(Locator::Css("nav a[href='/operator/metrics']")).await.unwrap().click().await.unwrap();
    let t = Instant::now();
    while !c.source().await.unwrap().contains("byterank_ops_total") {
        assert!(t.elapsed() < Duration::from_secs(10), "the metrics link shows no metrics");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.goto(&format!("{url}/operator")).await.unwrap();
    wait_for(&c, "#grid").await;
    let trusted_before = api.call("GET", "/v1/grid", KEY, None).await["ranked"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["trusted"] == true)
        .count();
    assert_eq!(trusted_before, 0);
    shot(&c, "operator").await;
    c.find(Locator::Css("#grid tbody tr:first-child button")).await.unwrap().click().await.unwrap();
    // Back on the page, the device's switch now offers to distrust it.
    wait_for(&c, "#grid tbody button.secondary").await;
    let grid = api.call("GET", "/v1/grid", KEY, None).await;
    let trusted: Vec<&str> = grid["ranked"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["trusted"] == true)
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(trusted.len(), 1, "one device trusted: {grid}");
    assert!(trusted[0].starts_with("phone-"));
    c.close().await.unwrap();
}
