//! `byterank serve`: recover the state, start the engine thread, serve the routes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{BoxError, Json, Router};
use byterank_core::EngineConfig;
use tower::ServiceBuilder;
use utoipa::OpenApi;

use crate::api::paths;
use crate::auth::OperatorKey;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::journal::postgres::{PgJournal, PgLease, PgStore};
use crate::journal::sqlite::{SqliteJournal, SqliteStore};
use crate::journal::{Journal, JournalError, Store};
use crate::lead::{self, Lead, Role};
use crate::routes::{self, App, AppState};
use crate::sequencer::{Options, Sequencer};
use crate::service::{Op, Service};

/// How to run the service.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The data directory (made if missing).
    pub data: PathBuf,
    /// The operator's key.
    pub operator_key: String,
    /// The engine configuration for a new data directory.
    pub engine_config: Option<EngineConfig>,
    /// Largest job input, bytes.
    pub max_input_bytes: usize,
    /// Requests in flight beyond this are refused with 503.
    pub max_in_flight: usize,
    /// Store a snapshot every this many ops.
    pub snapshot_every: u64,
    /// Send a tick (timeouts, refreshes, the lottery) this often.
    pub tick: Duration,
    /// Forget ended jobs (books and outputs) this long after they end; `None`
    /// keeps them.
    pub keep_ended: Option<Duration>,
    /// What one job may ask: least price per task, most tasks, largest input.
    pub work_limits: crate::service::WorkLimits,
    /// Per-caller rate limits on registrations, quotes and job creations
    /// (`None`: none).
    pub rates: Option<crate::throttle::Rates>,
    /// Quotes planned at once.
    pub planners: usize,
    /// Open connections, and deadlines for a request's headers and body.
    pub connections: crate::connections::ConnectionLimits,
    /// A PostgreSQL URL: journal there instead of SQLite in `data`, with a
    /// leader's lease so that several nodes can share it.
    pub journal_url: Option<String>,
    /// With `journal_url`: follow the leader and take over when its lease lapses.
    pub standby: bool,
    /// How long the leader's lease lasts without renewal.
    pub lease: Duration,
    /// The URL other nodes and workers reach this node at (default
    /// `http://` and the bound address).
    pub advertise: Option<String>,
    /// Where the engine thread reads the time: [`Clock::system`] unless a test
    /// gives a manual clock.
    pub clock: Clock,
}

impl ServeOptions {
    /// Defaults for `listen`, `data` and `operator_key`.
    pub fn new(listen: SocketAddr, data: PathBuf, operator_key: String) -> ServeOptions {
        ServeOptions {
            listen,
            data,
            operator_key,
            engine_config: None,
            max_input_bytes: 256 << 20,
            max_in_flight: 4_096,
            snapshot_every: 50_000,
            tick: Duration::from_secs(1),
            keep_ended: Some(Duration::from_secs(30 * 86_400)),
            work_limits: crate::service::WorkLimits::default(),
            rates: Some(crate::throttle::Rates::default()),
            planners: 1,
            connections: crate::connections::ConnectionLimits::default(),
            journal_url: None,
            standby: false,
            lease: Duration::from_secs(5),
            advertise: None,
            clock: Clock::system(),
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The options are unusable.
    #[error("{0}")]
    Options(String),
    /// Storage failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The state as of the last durable op: the last snapshot plus the journal's tail,
/// replayed. Returns the state and the last seq.
pub fn recover(journal: &mut dyn Journal, given: Option<&EngineConfig>) -> Result<(Service, u64), ServeError> {
    let cfg = journal.engine_config(given)?;
    let recovered = journal.recover()?;
    let (mut svc, mut seq) = match recovered.snapshot {
        Some((seq, state)) => {
            let svc: Service = serde_json::from_slice(&state)
                .map_err(|e| JournalError::Corrupt { seq, problem: format!("the snapshot does not read: {e}") })?;
            (svc, seq)
        }
        None => (Service::new(cfg).map_err(|e| ServeError::Options(e.to_string()))?, 0),
    };
    svc.set_live(false);
    for (s, at, op) in &recovered.tail {
        replay_one(&mut svc, *s, *at, op)?;
        seq = *s;
    }
    Ok((svc, seq))
}

/// Applies one journalled op in replay; a refusal means the journal and the code
/// disagree.
pub fn replay_one(svc: &mut Service, seq: u64, at: byterank_core::Timestamp, op: &Op) -> Result<(), JournalError> {
    svc.apply(at, op).map_err(|e| JournalError::Corrupt {
        seq,
        problem: format!("replaying `{}` was refused: {}", op.name(), e.message),
    })
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "ByteRank Core System", description = "The ByteNite Core System's APIs (white paper §3.1): \
        devices, tasks, jobs, wallet, billing and operators. Every error is an `ApiError`."),
    paths(
        routes::devices::create_owner, routes::devices::register, routes::devices::me, routes::devices::report_status,
        routes::devices::set_preferences, routes::devices::leave,
        routes::tasks::pull, routes::tasks::held, routes::tasks::input, routes::tasks::heartbeat, routes::tasks::result,
        routes::tasks::error,
        routes::jobs::quote, routes::jobs::create, routes::jobs::upload_input, routes::jobs::status,
        routes::jobs::output, routes::jobs::cancel, routes::history::jobs, routes::history::usage,
        routes::money::wallet, routes::money::request_payout, routes::money::own_payouts,
        routes::money::all_payouts, routes::money::settle_payout, routes::money::billing, routes::money::top_up, routes::money::create_user,
        routes::operators::grid, routes::operators::pools, routes::operators::set_trust, routes::operators::ledger,
        routes::operators::health, routes::operators::metrics,
    ),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Largest JSON body, bytes.
const MAX_JSON_BYTES: usize = 1 << 20;

/// The routes over a state.
pub fn router(app: AppState, opts: &ServeOptions) -> Router {
    use routes::{devices, history, jobs, money, operators, tasks};
    let doc = ApiDoc::openapi();
    Router::new()
        .route(paths::OWNERS, post(devices::create_owner))
        .route(paths::DEVICES, post(devices::register))
        .route(paths::DEVICE_STATUS, get(devices::me).put(devices::report_status).delete(devices::leave))
        .route(paths::DEVICE_PREFERENCES, put(devices::set_preferences))
        .route(paths::PULL, post(tasks::pull))
        .route(paths::HELD_TASKS, get(tasks::held))
        .route(paths::TASK_INPUT, get(tasks::input))
        .route(paths::TASK_HEARTBEAT, post(tasks::heartbeat))
        .route(paths::TASK_RESULT, post(tasks::result))
        .route(paths::TASK_ERROR, post(tasks::error))
        .route(paths::JOBS, post(jobs::create).get(history::jobs))
        .route(paths::USAGE, get(history::usage))
        .route(paths::QUOTE, post(jobs::quote))
        .route(paths::JOB, get(jobs::status).delete(jobs::cancel))
        .route(paths::JOB_INPUT, put(jobs::upload_input))
        .route(paths::JOB_OUTPUT, get(jobs::output))
        .route(paths::WALLET, get(money::wallet))
        .route(paths::WALLET_PAYOUTS, get(money::own_payouts).post(money::request_payout))
        .route(paths::PAYOUTS, get(money::all_payouts))
        .route(paths::PAYOUT, put(money::settle_payout))
        .route(paths::BILLING, get(money::billing))
        .route(paths::TOP_UPS, post(money::top_up))
        .route(paths::USERS, post(money::create_user))
        .route(paths::GRID, get(operators::grid))
        .route(paths::POOLS, get(operators::pools))
        .route(paths::TRUST, put(operators::set_trust))
        .route(paths::LEDGER, get(operators::ledger))
        .route(paths::HEALTH, get(operators::health))
        .route(paths::METRICS, get(operators::metrics))
        .route(paths::OPENAPI, get(move || async move { Json(doc.clone()) }))
        .merge(crate::web::router(opts.max_input_bytes))
        .fallback(|| async { ApiError::not_found("no such route: see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::method_not_allowed("this route does not take that method: see /openapi.json")
        })
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(axum::middleware::from_fn(crate::telemetry::track))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(app.role.clone(), lead::guard))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|e: BoxError| async move {
                    ApiError::unavailable(format!("too many requests in flight: retry shortly ({e})")).into_response()
                }))
                .load_shed()
                .concurrency_limit(opts.max_in_flight),
        )
        .with_state(app)
}

/// Opens the data directory and recovers the state: a sequencer ready to serve.
pub fn open(opts: &ServeOptions) -> Result<(Sequencer, Arc<dyn Store>), ServeError> {
    let operator = OperatorKey::new(&opts.operator_key).map_err(ServeError::Options)?;
    std::fs::create_dir_all(&opts.data)
        .map_err(|e| ServeError::Options(format!("cannot make the data directory {}: {e}", opts.data.display())))?;
    private(&opts.data)?;
    let mut journal = SqliteJournal::open(&opts.data)?;
    let (mut svc, seq) = recover(&mut journal, opts.engine_config.as_ref())?;
    svc.set_limits(limits(opts));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&opts.data)?);
    tracing::info!(seq, "recovered");
    let seqr = Sequencer::start(
        svc,
        Box::new(journal),
        seq,
        Options { snapshot_every: opts.snapshot_every, operator, leader: true, clock: opts.clock.clone() },
    );
    Ok((seqr, store))
}

/// The work limits, with the upload limit as the largest input.
fn limits(opts: &ServeOptions) -> crate::service::WorkLimits {
    crate::service::WorkLimits { max_input_bytes: opts.max_input_bytes as u64, ..opts.work_limits }
}

/// A node ready to serve: its state's thread, its reader, its role.
pub type Opened = (Sequencer, Arc<dyn Store>, Arc<Role>);

/// Opens the PostgreSQL journal at `url` as the node at `address`: a leader takes
/// the lease (refused while another node holds it), a standby starts following.
/// Blocks: call from a plain thread.
pub fn open_postgres(opts: &ServeOptions, url: &str, address: &str) -> Result<Opened, ServeError> {
    let operator = OperatorKey::new(&opts.operator_key).map_err(ServeError::Options)?;
    let holder = format!("{address}#{:016x}", rand::random::<u64>());
    let mut journal = PgJournal::open(url, Some(holder.clone()))?;
    let mut lease = PgLease::connect(url, &holder, address, opts.lease)?;
    if !opts.standby {
        take_lease(&mut lease, opts.lease)?;
    }
    let (mut svc, seq) = recover(&mut journal, opts.engine_config.as_ref())?;
    svc.set_limits(limits(opts));
    let store: Arc<dyn Store> = Arc::new(PgStore::open(url)?);
    tracing::info!(seq, standby = opts.standby, "recovered");
    let leader = !opts.standby;
    let seqr = Sequencer::start(
        svc,
        Box::new(journal),
        seq,
        Options { snapshot_every: opts.snapshot_every, operator, leader, clock: opts.clock.clone() },
    );
    let duration = opts.lease;
    let role = if leader {
        std::thread::Builder::new()
            .name("byterank-lease".into())
            .spawn(move || lead::renew_forever(lease, duration))
            .map_err(ServeError::Io)?;
        Role::leading()
    } else {
        let role = Role::standby();
        role.set_address(lease.holder()?.filter(|h| h.live).map(|h| h.address));
        let lead = Lead { url: url.into(), lease, duration };
        let (s, st, r) = (seqr.clone(), store.clone(), role.clone());
        std::thread::Builder::new()
            .name("byterank-standby".into())
            .spawn(move || lead::stand_by(lead, s, st, r))
            .map_err(ServeError::Io)?;
        role
    };
    Ok((seqr, store, role))
}

/// Takes the leader's lease for a node started without `--standby`. A lease held
/// by another may be a crashed predecessor's (a restart after `kill -9`): wait
/// for it to lapse, at most one lease and a little more, since a live leader
/// renews it well within that.
fn take_lease(lease: &mut PgLease, duration: Duration) -> Result<(), ServeError> {
    let until = std::time::Instant::now() + duration + duration / 2;
    let mut told = false;
    while !lease.acquire()? {
        let by = lease.holder()?.map_or_else(|| "another node".into(), |h| h.address);
        if std::time::Instant::now() >= until {
            return Err(ServeError::Options(format!(
                "{by} holds the leader's lease and renews it: start this node with --standby"
            )));
        }
        if !told {
            eprintln!("byterank: {by} holds the leader's lease; waiting up to {duration:?} for it to lapse");
            told = true;
        }
        std::thread::sleep((duration / 10).max(Duration::from_millis(20)));
    }
    Ok(())
}

/// Serves until Ctrl-C (or SIGTERM). Prints `listening on http://ADDR` once bound.
pub async fn serve(#[allow(unused_mut)] mut opts: ServeOptions) -> Result<(), ServeError> {
    #[cfg(feature = "test-clock")]
    if let Some(clock) = test_clock()? {
        opts.clock = clock;
    }
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: opts.listen, source })?;
    let addr = listener.local_addr()?;
    let metrics = crate::telemetry::recorder();
    let (seq, store, role) = match opts.journal_url.clone() {
        None => {
            let (seq, store) = open(&opts)?;
            (seq, store, Role::leading())
        }
        Some(url) => {
            let address = opts.advertise.clone().unwrap_or_else(|| format!("http://{addr}"));
            let o = opts.clone();
            // The sync PostgreSQL client must not run on a runtime's worker.
            tokio::task::spawn_blocking(move || open_postgres(&o, &url, &address))
                .await
                .map_err(|e| ServeError::Options(format!("opening the journal panicked: {e}")))??
        }
    };
    let app = app_state(seq, store, metrics, role, &opts)?;
    println!("listening on http://{addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    run(listener, app, &opts, shutdown()).await
}

/// Serves a SQLite data directory on a bound listener until `stop` completes
/// (`opts.listen` and `opts.journal_url` are ignored).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    opts: ServeOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let metrics = crate::telemetry::recorder();
    let (seq, store) = open(&opts)?;
    let app = app_state(seq, store, metrics, Role::leading(), &opts)?;
    run(listener, app, &opts, stop).await
}

/// Test builds only (the `test-clock` feature, which the root package enables
/// for its own tests and release builds lack): `BYTERANK_TEST_CLOCK_MS=<ms
/// since the epoch>` starts the service on a manual clock standing at that
/// time, so that process-level tests do not depend on how fast a loaded
/// machine runs (no deadline passes unless the test means it to).
#[cfg(feature = "test-clock")]
fn test_clock() -> Result<Option<Clock>, ServeError> {
    let Ok(ms) = std::env::var("BYTERANK_TEST_CLOCK_MS") else { return Ok(None) };
    let ms: i64 = ms.trim().parse().map_err(|e| {
        ServeError::Options(format!("BYTERANK_TEST_CLOCK_MS must be milliseconds since the epoch: {e}"))
    })?;
    eprintln!("byterank: on a manual clock standing at {ms} ms (BYTERANK_TEST_CLOCK_MS)");
    Ok(Some(Clock::manual(byterank_core::Timestamp(ms))))
}

/// Makes `dir` and what it holds reachable by this user only: it holds the
/// journal (key hashes, jobs, money) and users' inputs and outputs.
fn private(dir: &Path) -> Result<(), ServeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let cannot =
            |p: &Path, e: std::io::Error| ServeError::Options(format!("cannot make {} private: {e}", p.display()));
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| cannot(dir, e))?;
        // What an older version left readable by others (the journal, snapshots,
        // blobs): files 0600, folders 0700.
        for entry in std::fs::read_dir(dir).map_err(|e| cannot(dir, e))? {
            let path = entry.map_err(|e| cannot(dir, e))?.path();
            let meta = std::fs::symlink_metadata(&path).map_err(|e| cannot(&path, e))?;
            if meta.is_dir() {
                private(&path)?;
            } else if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| cannot(&path, e))?;
            }
        }
    }
    Ok(())
}

/// The staging directory for uploads, emptied of what a crash left there.
/// The routes' state for a sequencer and store, with the rate limits, planners
/// and staging directory (emptied) that `opts` sets.
pub fn app_state(
    seq: Sequencer,
    store: Arc<dyn Store>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    role: Arc<Role>,
    opts: &ServeOptions,
) -> Result<AppState, ServeError> {
    Ok(AppState::new(App { seq, store, metrics, role, throttle: throttle(opts), staging: staging(opts)? }))
}

fn staging(opts: &ServeOptions) -> Result<PathBuf, ServeError> {
    let dir = opts.data.join("staging");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| ServeError::Options(format!("cannot make the staging directory {}: {e}", dir.display())))?;
    private(&dir)?;
    Ok(dir)
}

fn throttle(opts: &ServeOptions) -> Arc<crate::throttle::Throttle> {
    Arc::new(crate::throttle::Throttle::new(opts.rates, opts.planners))
}

async fn run(
    listener: tokio::net::TcpListener,
    app: AppState,
    opts: &ServeOptions,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let ticker = app.seq.clone();
    let role = app.role.clone();
    let every = opts.tick;
    let keep_ms = opts.keep_ended.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if !role.is_leader() {
                continue;
            }
            let _ = ticker
                .call(move |svc, at| {
                    // With no job running, no attempt held and no device changed
                    // since the last ranking, a tick has nothing to time out, re-plan
                    // or re-rank: an idle server journals nothing.
                    let engine = svc.engine();
                    if svc.counts().1 > 0 || engine.running_attempts() > 0 || engine.refresh_due(at) {
                        svc.apply(at, &Op::Tick)?;
                    }
                    keep_ms.map_or(Ok(()), |keep| svc.forget_ended(at, keep))
                })
                .await;
        }
    });
    let throttle = app.throttle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            throttle.forget_quiet();
        }
    });
    crate::connections::serve(listener, router(app, opts), opts.connections, Duration::from_secs(30), stop).await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// The data directory's database, for tools.
pub fn database(dir: &Path) -> PathBuf {
    crate::journal::sqlite::db_path(dir)
}
