//! The service's commands: `serve`, `worker`, `journal` and `loadgen`. Each parses
//! its options and runs the `byterank-http` library.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use byterank::core::{EngineConfig, Timestamp};
use byterank::http::inspect::{inspect, Format, InspectError, Query};
use byterank::http::journal::{open_store, redacted};
use byterank::http::server::{serve, ServeOptions};
use byterank::worker::loadgen::{self, LoadOptions};
use byterank::worker::worker::{self, Stop, WorkerOptions};
use clap::Args;

use super::{read_json, Failure, Shape};

/// Serve the Core System's APIs (devices, tasks, jobs, wallet, billing,
/// operators) over HTTP, durably: every write is journalled (in DIR, or in
/// PostgreSQL with --journal) before it is acknowledged, and a restart recovers
/// from it. Prints `listening on URL`.
#[derive(Args)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// The data directory (made if missing): the journal with inputs and
    /// outputs (`byterank.db`), and snapshots (`snapshots/`).
    #[arg(long, default_value = "byterank-data", value_name = "DIR")]
    data: PathBuf,
    /// The operator's key (at least 16 bytes); or set BYTERANK_OPERATOR_KEY.
    #[arg(long, env = "BYTERANK_OPERATOR_KEY", hide_env_values = true, value_name = "KEY")]
    operator_key: String,
    /// The engine configuration of a new data directory (JSON, `EngineConfig`).
    #[arg(long, value_name = "FILE")]
    engine_config: Option<PathBuf>,
    /// Largest job input, MiB.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    max_input_mib: usize,
    /// Requests in flight beyond this get 503.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    max_in_flight: usize,
    /// Milliseconds between ticks (timeouts, ranking refreshes, the lottery).
    #[arg(long, default_value_t = 1000, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..=60_000))]
    tick_ms: u64,
    /// Forget an ended job (its status and output) this many days after it
    /// ended; 0 keeps ended jobs for good.
    #[arg(long, default_value_t = 30, value_name = "DAYS", value_parser = clap::value_parser!(u64).range(0..=36_500))]
    keep_ended_days: u64,
    /// Snapshot the state after at least this many journalled ops (and one op
    /// per 32 bytes of the last snapshot): a restart replays at most about
    /// this many.
    #[arg(long, default_value_t = 50_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    snapshot_every: u64,
    /// Least price per task, ByteChips: a job of N tasks costs at least N times
    /// this, so a user's outstanding work is bounded by what they paid.
    #[arg(long, default_value_t = 1, value_name = "CHIPS", value_parser = clap::value_parser!(u64).range(1..))]
    min_task_price: u64,
    /// Most tasks in one job.
    #[arg(long, default_value_t = 1_000_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    max_job_tasks: u64,
    /// Most copies in one job (tasks times `r`; times the largest `r` for a PJF
    /// bound): bounds what planning one submission holds the engine thread.
    #[arg(long, default_value_t = 100_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    max_job_copies: u64,
    /// Per caller: registrations (per address), quotes and job creations (per
    /// key) allowed per second, sustained; 0 turns the limits off.
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    rate_per_second: u32,
    /// Per caller: how many of those calls may come at once after a quiet spell.
    #[arg(long, default_value_t = 200, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate_burst: u32,
    /// Connections open at once; more wait to be accepted.
    #[arg(long, default_value_t = 10_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// A connection that has not sent a request's headers within this long is
    /// closed (slow clients are dropped).
    #[arg(long, default_value_t = 10_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(100..=600_000))]
    header_timeout_ms: u64,
    /// A request's body must arrive within this long (else 408).
    #[arg(long, default_value_t = 300_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    body_timeout_ms: u64,
    /// Quotes planned at once (each on a thread of its own, beside the engine's).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    planners: u64,
    /// Journal in PostgreSQL at this URL (postgres://USER:PASS@HOST/DB) instead
    /// of SQLite in --data; several nodes may share it, one leading.
    #[arg(long, value_name = "URL")]
    journal: Option<String>,
    /// With --journal: follow the leader, answer reads, and take over when its
    /// lease lapses.
    #[arg(long, requires = "journal")]
    standby: bool,
    /// With --journal: how long the leader's lease lasts unrenewed (renewed every
    /// third of it); a standby takes over within about this long.
    #[arg(long, default_value_t = 5000, value_name = "MS", value_parser = clap::value_parser!(u64).range(300..=600_000))]
    lease_ms: u64,
    /// With --journal: the URL others reach this node at (default: http:// and
    /// the bound address); a standby names it in its 503s.
    #[arg(long, value_name = "URL")]
    advertise: Option<String>,
}

/// Runs `serve`.
pub fn run_serve(args: ServeArgs) -> Result<(), Failure> {
    let engine_config = match &args.engine_config {
        Some(p) => {
            let (cfg, name): (EngineConfig, String) =
                read_json(p, "engine configuration", Shape::Object { example: r#"{"t1_ms": ..., ...}"# })?;
            cfg.validate().map_err(|e| Failure::Input(format!("{name}: {e}")))?;
            Some(cfg)
        }
        None => None,
    };
    let mut opts = ServeOptions::new(args.listen, args.data, args.operator_key);
    opts.engine_config = engine_config;
    opts.max_input_bytes = args.max_input_mib.saturating_mul(1 << 20);
    opts.max_in_flight = args.max_in_flight.max(1);
    opts.tick = Duration::from_millis(args.tick_ms);
    opts.snapshot_every = args.snapshot_every;
    opts.keep_ended = (args.keep_ended_days > 0).then(|| Duration::from_secs(args.keep_ended_days * 86_400));
    opts.work_limits.min_task_price = args.min_task_price;
    opts.work_limits.max_job_tasks = args.max_job_tasks;
    opts.work_limits.max_job_copies = args.max_job_copies;
    opts.rates = (args.rate_per_second > 0)
        .then_some(byterank::http::throttle::Rates { per_second: args.rate_per_second, burst: args.rate_burst });
    opts.planners = args.planners as usize;
    opts.connections = byterank::http::connections::ConnectionLimits {
        max_connections: args.max_connections as usize,
        header_timeout: Duration::from_millis(args.header_timeout_ms),
        body_timeout: Duration::from_millis(args.body_timeout_ms),
    };
    opts.journal_url = args.journal;
    opts.standby = args.standby;
    opts.lease = Duration::from_millis(args.lease_ms);
    opts.advertise = args.advertise;
    init_logs("warn");
    runtime()?.block_on(serve(opts)).map_err(|e| Failure::Input(e.to_string()))
}

/// Work for a ByteRank service: register (or reuse the token in --token-file),
/// report this machine's state, pull tasks, run them, heartbeat, upload results.
/// Ctrl-C once finishes the task in hand; twice abandons it.
#[derive(Args)]
pub struct WorkerArgs {
    /// The service's URL; repeat it for each node of a leader and standby
    /// (the worker tries the next when one cannot be reached, and follows a
    /// standby's 503 to the leader it names).
    #[arg(long, value_name = "URL", required = true)]
    server: Vec<String>,
    /// Keep the device's token here (read if present, written on registration).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The device id for a new registration (default: host name and process id).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// The key of the owner whose wallet the work pays (`POST /v1/owners` opens
    /// an account); needed to register a new device, not to come back with a
    /// token file.
    #[arg(long, env = "BYTERANK_OWNER_KEY", hide_env_values = true, value_name = "KEY")]
    owner_key: Option<String>,
    /// Stop after this many tasks.
    #[arg(long, value_name = "N")]
    max_tasks: Option<u64>,
    /// Stop after this many seconds without a task.
    #[arg(long, value_name = "S")]
    idle_exit: Option<u64>,
}

/// Runs `worker`.
pub fn run_worker(args: WorkerArgs) -> Result<(), Failure> {
    let host = sysinfo::System::host_name().unwrap_or_else(|| "worker".into());
    let opts = WorkerOptions {
        servers: args.server,
        token_file: args.token_file,
        id: args.id.unwrap_or_else(|| format!("{host}-{}", std::process::id())),
        owner_key: args.owner_key,
        max_tasks: args.max_tasks,
        idle_exit: args.idle_exit.map(Duration::from_secs),
        status_every: Duration::from_secs(30),
    };
    init_logs("info");
    let rt = runtime()?;
    let stop = Stop::default();
    let presses = stop.clone();
    let summary = rt.block_on(async move {
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                presses.press();
                eprintln!("stopping: finishing the task in hand (Ctrl-C again abandons it)");
            }
        });
        worker::run(opts, stop).await
    });
    let s = summary.map_err(|e| Failure::Input(e.to_string()))?;
    println!("{}", serde_json::to_string(&s).expect("a summary serializes"));
    Ok(())
}

/// What happened to a job or device, replayed from the journal of
/// `byterank serve` (its data directory, or its --journal URL); with --at, the
/// state as of that instant. Jobs and devices are named by their ids, attempts by
/// the number the API gives them. A job or device the journal does not know, or
/// an --at before its first op, is an error (exit status 2).
#[derive(Args)]
pub struct JournalArgs {
    /// The data directory of `byterank serve`, or the postgres:// URL it
    /// journals to.
    #[arg(value_name = "DIR|URL")]
    source: String,
    /// Only what concerns this job.
    #[arg(long, value_name = "ID")]
    job: Option<String>,
    /// Only what concerns this device.
    #[arg(long, value_name = "ID")]
    device: Option<String>,
    /// Replay up to this instant (RFC 3339) and print the state then.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Include ticks and pulls that found nothing.
    #[arg(long)]
    all: bool,
    /// `table` (for a person) or `json` (one object per op, and the state last).
    #[arg(long, value_enum, default_value_t = JournalFormat::Table)]
    format: JournalFormat,
}

/// The output formats of `journal`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum JournalFormat {
    Table,
    Json,
}

/// Runs `journal`.
pub fn run_journal(args: JournalArgs) -> Result<(), Failure> {
    let at = match &args.at {
        Some(s) => Some(Timestamp::parse_rfc3339(s).map_err(|e| Failure::Input(format!("--at `{s}`: {e}")))?),
        None => None,
    };
    let format = match args.format {
        JournalFormat::Table => Format::Table,
        JournalFormat::Json => Format::Json,
    };
    let q = Query { job: args.job, device: args.device, at, all: args.all, format };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let failed = |e: &dyn std::fmt::Display| Failure::Input(format!("{}: {e}", redacted(&args.source)));
    let store = open_store(&args.source).map_err(|e| failed(&e))?;
    inspect(&*store, &q, &mut out).map_err(|e| match e {
        InspectError::Io(e) => Failure::Output(e),
        e => failed(&e),
    })?;
    out.flush()?;
    Ok(())
}

/// Load a running service with simulated devices (pull, heartbeat, result), then
/// measure a trivial axum endpoint with the same client as the ceiling. Prints
/// JSON.
#[derive(Args)]
pub struct LoadgenArgs {
    /// The service's URL.
    #[arg(long, value_name = "URL")]
    server: String,
    /// Its operator key; or set BYTERANK_OPERATOR_KEY.
    #[arg(long, env = "BYTERANK_OPERATOR_KEY", hide_env_values = true, value_name = "KEY")]
    operator_key: String,
    /// Simulated devices (concurrent callers).
    #[arg(long, default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    devices: u64,
    /// Seconds to measure each side.
    #[arg(long, default_value_t = 10, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Copies per task.
    #[arg(long, default_value_t = 2, value_name = "R", value_parser = clap::value_parser!(u32).range(1..=10))]
    replicas: u32,
}

/// Runs `loadgen`.
pub fn run_loadgen(args: LoadgenArgs) -> Result<(), Failure> {
    let opts = LoadOptions {
        server: args.server,
        operator_key: args.operator_key,
        devices: args.devices as usize,
        duration: Duration::from_secs(args.seconds),
        replicas: args.replicas,
    };
    let report = runtime()?.block_on(loadgen::run(opts)).map_err(|e| Failure::Input(e.to_string()))?;
    println!("{}", serde_json::to_string_pretty(&report).expect("a report serializes"));
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(Failure::Output)
}

/// Logs to stderr at `BYTERANK_LOG` (an `EnvFilter`), else at `default`.
fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BYTERANK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
