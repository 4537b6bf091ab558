//! A bare axum endpoint: the ceiling the service's throughput is compared with
//! (docs/benchmarks.md). `GET /ping` answers `ok` and does nothing else.
//!
//! ```console
//! $ cargo run --release --example bare_axum -- 127.0.0.1:18090
//! $ wrk -t2 -c64 -d10s --latency http://127.0.0.1:18090/ping
//! ```

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    let app = axum::Router::new().route("/ping", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
