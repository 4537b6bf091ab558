//! The service end to end on loopback: a server, four worker processes, and a
//! user who compresses an 8 MB file with the chunked gzip application at r = 2.
//! The assembled output must gunzip to the input, and the money must add up:
//! what the user was charged = what the workers earned + the platform's share +
//! refunds.
//!
//! ```console
//! $ cargo run --release --example serve_gzip
//! ```
//!
//! The workers are this same program, started again with `worker URL N KEY`
//! (KEY: their owner's key); each leaves when its input closes.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use byterank::http::server::{serve_on, ServeOptions};
use byterank::worker::worker::{self, Stop, WorkerOptions};
use serde_json::{json, Value};

const KEY: &str = "example-operator-key-0123456789";
const WORKERS: usize = 4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Runtime::new()?;
    if args.get(1).map(String::as_str) == Some("worker") {
        let opts = WorkerOptions {
            servers: vec![args[2].clone()],
            token_file: None,
            id: format!("laptop-{}", args[3]),
            owner_key: Some(args[4].clone()),
            max_tasks: None,
            // The workers stay until the example closes their input (below):
            // however long the engine takes to recover a copy, they are there.
            idle_exit: None,
            status_every: Duration::from_secs(30),
        };
        let stop = Stop::default();
        let on_eof = stop.clone();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            on_eof.press();
        });
        let summary = rt.block_on(worker::run(opts, stop))?;
        println!("worker {}: {}", args[3], serde_json::to_string(&summary)?);
        return Ok(());
    }
    rt.block_on(demo())
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let data = std::env::temp_dir().join(format!("byterank-example-{}", std::process::id()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let opts = ServeOptions::new(listener.local_addr()?, data.clone(), KEY.into());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_on(listener, opts, async move {
        let _ = stop_rx.await;
    }));
    println!("server on {url}, data in {}", data.display());

    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, key: &str, body: Value| {
        http.request(method, format!("{url}{path}")).bearer_auth(key).json(&body).send()
    };
    let user: Value = call(reqwest::Method::POST, "/v1/users", KEY, json!({"user": "ana"})).await?.json().await?;
    let ana = user["api_key"].as_str().ok_or("no api key")?.to_string();
    call(reqwest::Method::POST, "/v1/billing/top-ups", KEY, json!({"user": "ana", "amount": 1_000_000})).await?;

    let me = std::env::current_exe()?;
    let mut workers = Vec::new();
    for i in 0..WORKERS {
        // Each worker's owner opens an account; its key registers the device.
        let owner: Value = call(reqwest::Method::POST, "/v1/owners", KEY, json!({"owner": format!("owner-{i}")}))
            .await?
            .json()
            .await?;
        let key = owner["api_key"].as_str().ok_or("no owner key")?.to_string();
        workers.push(
            Command::new(&me)
                .args(["worker", &url, &i.to_string(), &key])
                .stdin(Stdio::piped())
                .stdout(Stdio::inherit())
                .spawn()?,
        );
    }
    let waiting = Instant::now();
    while http.get(format!("{url}/health")).send().await?.json::<Value>().await?["devices"] != WORKERS {
        if waiting.elapsed() > Duration::from_secs(60) {
            return Err(format!("the {WORKERS} workers did not all register within 60 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let input = text(8_000_000);
    let spec = json!({"id": "compress-1", "application": "gzip", "input_bytes": input.len(),
                      "chunk_bytes": 512 * 1024, "price_chips": 100_000, "replication": {"r": 2}});
    let quote: Value = call(reqwest::Method::POST, "/v1/jobs/quote", &ana, spec.clone()).await?.json().await?;
    println!("quote: {quote}");
    call(reqwest::Method::POST, "/v1/jobs", &ana, spec).await?;
    let started = Instant::now();
    http.put(format!("{url}/v1/jobs/compress-1/input")).bearer_auth(&ana).body(input.clone()).send().await?;
    let status = loop {
        let s: Value = http.get(format!("{url}/v1/jobs/compress-1")).bearer_auth(&ana).send().await?.json().await?;
        if s["state"] != "running" {
            break s;
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(format!("the job is still running after 300 s: {s}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("job: {status} ({:.1} s)", started.elapsed().as_secs_f64());
    let out = http.get(format!("{url}/v1/jobs/compress-1/output")).bearer_auth(&ana).send().await?.bytes().await?;
    let mut back = Vec::new();
    flate2::read::MultiGzDecoder::new(&out[..]).read_to_end(&mut back)?;
    assert_eq!(back, input, "the output gunzips to the input");
    println!("output: {} bytes of gzip, gunzips to the {} input bytes", out.len(), input.len());

    let ledger: Value = http.get(format!("{url}/v1/ledger")).bearer_auth(KEY).send().await?.json().await?;
    let n = |k: &str| ledger[k].as_u64().unwrap_or(0);
    println!(
        "money: charged {} = workers {} + platform {} + refunds {} + escrow {}",
        n("charged"),
        n("wallets"),
        n("platform"),
        n("refunded"),
        n("escrow")
    );
    assert_eq!(n("charged"), n("wallets") + n("platform") + n("refunded") + n("escrow"));
    // Closing a worker's input is its Ctrl-C: it finishes what it holds and leaves.
    for w in &mut workers {
        drop(w.stdin.take());
    }
    for mut w in workers {
        w.wait()?;
    }
    let _ = stop_tx.send(());
    server.await??;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

/// `n` bytes of words drawn by a fixed linear congruential generator: text that
/// compresses about as well as prose.
fn text(n: usize) -> Vec<u8> {
    let words = ["grid ", "device ", "ByteRank ", "pool ", "task ", "chip ", "replica ", "worker ", "job\n"];
    let (mut x, mut out) = (1u64, Vec::with_capacity(n + 16));
    while out.len() < n {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.extend_from_slice(words[(x >> 33) as usize % words.len()].as_bytes());
    }
    out.truncate(n);
    out
}
