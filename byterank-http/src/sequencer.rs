//! The one thread that owns the state: it applies calls in arrival order and
//! commits them in batches (group commit).
//!
//! Each route sends a call (a closure over the [`Service`]) and waits. The thread
//! takes every call waiting, applies them one after another, commits the batch's
//! ops and effects in one durable transaction, and only then answers them all:
//! nothing is acknowledged before it is on disk, and one fsync serves every call
//! of the batch. Reads take the same path, so they never show what is not yet
//! durable. If storage fails the process exits: what was applied but not
//! committed is rebuilt from the journal on the next start, and nobody was told.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use byterank_core::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::auth::OperatorKey;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::journal::Journal;
use crate::service::{Op, Principal, Service};
use crate::snapshotter::Snapshotter;

type Answer = Box<dyn FnOnce() + Send>;
type Call = Box<dyn FnOnce(&mut Service, Timestamp, &OperatorKey) -> Answer + Send>;
type Ops = Vec<(u64, Timestamp, Op)>;

/// What the engine thread takes: a call, or (on a standby) ops another node
/// journalled, or the order to lead.
enum Msg {
    Call(Call),
    Replay(Ops, oneshot::Sender<()>),
    Promote(oneshot::Sender<()>),
}

/// Calls waiting beyond this are refused with 503 (back-pressure).
pub const QUEUE_DEPTH: usize = 65_536;

/// Most calls applied in one batch.
const MAX_BATCH: usize = 8_192;

/// The handle routes use to reach the state.
#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Msg>,
    seq: Arc<AtomicU64>,
    counts: Arc<Counts>,
}

/// Live devices and running jobs as of the last batch, for `/health` without a
/// call to the thread.
#[derive(Default)]
struct Counts {
    devices: AtomicU32,
    jobs: AtomicU32,
}

impl Counts {
    fn set(&self, (devices, jobs): (u32, u32)) {
        self.devices.store(devices, Ordering::Relaxed);
        self.jobs.store(jobs, Ordering::Relaxed);
    }
}

/// How the thread runs.
pub struct Options {
    /// Snapshot after at least this many ops since the last one (and at least
    /// one op per 32 bytes of the last snapshot, so that the cost of snapshots
    /// stays proportional to the journal written). A thread of its own
    /// serializes and stores each; the engine thread only copies the state.
    pub snapshot_every: u64,
    /// The operator's key.
    pub operator: OperatorKey,
    /// Whether this node writes (leads); a standby only replays and reads until
    /// [`Sequencer::promote_blocking`].
    pub leader: bool,
    /// Where the thread reads the time of each call: [`Clock::system`] in
    /// production.
    pub clock: Clock,
}

impl Sequencer {
    /// Starts the thread over a recovered state whose journal ends at `seq`.
    pub fn start(mut svc: Service, mut journal: Box<dyn Journal>, seq: u64, opts: Options) -> Sequencer {
        let (tx, mut rx) = mpsc::channel::<Msg>(QUEUE_DEPTH);
        let last = Arc::new(AtomicU64::new(seq));
        let shared = last.clone();
        let counts = Arc::new(Counts::default());
        counts.set(svc.counts());
        let counted = counts.clone();
        std::thread::Builder::new()
            .name("byterank-engine".into())
            .spawn(move || {
                // A bug must not leave a process that answers nothing: stop, and let
                // the restart recover from the journal.
                let snapshots = journal
                    .snapshots()
                    .map_err(|e| e.to_string())
                    .and_then(|store| Snapshotter::start(store, opts.snapshot_every).map_err(|e| e.to_string()));
                let mut snapshots = snapshots
                    .inspect_err(|e| tracing::warn!("no snapshots (the journal still holds everything): {e}"))
                    .ok();
                let run = std::panic::AssertUnwindSafe(move || {
                    svc.set_live(true);
                    let mut leader = opts.leader;
                    if leader {
                        resume(&mut svc, &opts.clock);
                    }
                    let mut calls = Vec::with_capacity(MAX_BATCH);
                    let mut answers = Vec::with_capacity(MAX_BATCH);
                    let mut next = rx.blocking_recv();
                    while let Some(first) = next.take() {
                        match first {
                            Msg::Call(c) => calls.push(c),
                            Msg::Replay(ops, done) => {
                                follow(&mut svc, &mut *journal, &shared, &ops);
                                let _ = done.send(());
                            }
                            Msg::Promote(done) => {
                                leader = true;
                                resume(&mut svc, &opts.clock);
                                let _ = done.send(());
                            }
                        }
                        while calls.len() < MAX_BATCH && !calls.is_empty() {
                            match rx.try_recv() {
                                Ok(Msg::Call(c)) => calls.push(c),
                                Ok(other) => {
                                    next = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        for call in calls.drain(..) {
                            let at = now(&opts.clock, svc.engine().now());
                            answers.push(call(&mut svc, at, &opts.operator));
                        }
                        let (ops, effects) = svc.take_pending();
                        if !leader && !ops.is_empty() {
                            // Routes refuse writes on a standby; an op here would make
                            // this state differ from the journal.
                            eprintln!(
                                "byterank: a standby recorded `{}`; stopping. Restart to recover.",
                                ops[0].1.name()
                            );
                            std::process::exit(70);
                        }
                        if !ops.is_empty() || !effects.is_empty() {
                            let started = Instant::now();
                            match journal.commit(&ops, &effects) {
                                Ok(seq) => shared.store(seq, Ordering::Release),
                                Err(e) => {
                                    tracing::error!("the journal failed, stopping so that a restart recovers: {e}");
                                    eprintln!("byterank: the journal failed ({e}); stopping. Restart to recover.");
                                    std::process::exit(70);
                                }
                            }
                            metrics::histogram!("byterank_commit_seconds").record(started.elapsed().as_secs_f64());
                            metrics::histogram!("byterank_batch_ops").record(ops.len() as f64);
                            for (_, op) in &ops {
                                metrics::counter!("byterank_ops_total", "op" => op.name()).increment(1);
                            }
                        }
                        for answer in answers.drain(..) {
                            answer();
                        }
                        if let Some(s) = snapshots.as_mut().filter(|_| !ops.is_empty()) {
                            s.committed(ops.len(), &svc, shared.load(Ordering::Acquire));
                        }
                        let (devices, jobs) = svc.counts();
                        counted.set((devices, jobs));
                        metrics::gauge!("byterank_devices").set(f64::from(devices));
                        metrics::gauge!("byterank_running_jobs").set(f64::from(jobs));
                        metrics::gauge!("byterank_running_attempts").set(svc.engine().running_attempts() as f64);
                        if next.is_none() {
                            next = rx.blocking_recv();
                        }
                    }
                });
                if std::panic::catch_unwind(run).is_err() {
                    eprintln!("byterank: the engine thread panicked; stopping. Restart to recover from the journal.");
                    std::process::exit(70);
                }
            })
            .expect("the engine thread starts");
        Sequencer { tx, seq: last, counts }
    }

    /// Live devices and running jobs as of the last batch applied.
    pub fn counts(&self) -> (u32, u32) {
        (self.counts.devices.load(Ordering::Relaxed), self.counts.jobs.load(Ordering::Relaxed))
    }

    /// Calls waiting for the engine thread now.
    pub fn backlog(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The seq of the last committed op.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// On a standby: applies ops another node journalled, in order, from a plain
    /// thread (it blocks). Replay failing stops the process (exit 70).
    pub fn replay_blocking(&self, ops: Ops) -> Result<(), ApiError> {
        let (tx, rx) = oneshot::channel();
        self.tx.blocking_send(Msg::Replay(ops, tx)).map_err(|_| ApiError::unavailable("the service is stopping"))?;
        rx.blocking_recv().map_err(|_| ApiError::unavailable("the service is stopping"))
    }

    /// On a standby that took the lease and replayed everything: from now on it
    /// commits what it applies. Blocks; call from a plain thread.
    pub fn promote_blocking(&self) -> Result<(), ApiError> {
        let (tx, rx) = oneshot::channel();
        self.tx.blocking_send(Msg::Promote(tx)).map_err(|_| ApiError::unavailable("the service is stopping"))?;
        rx.blocking_recv().map_err(|_| ApiError::unavailable("the service is stopping"))
    }

    /// Runs `f` on the state, answered once what it recorded is durable.
    pub async fn call<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Service, Timestamp) -> Result<T, ApiError> + Send + 'static,
    {
        self.send(move |svc, at, _| f(svc, at)).await
    }

    /// Like [`call`](Self::call), for a caller who must present a credential.
    pub async fn authed<T, F>(&self, bearer: Option<String>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Service, Timestamp, &Principal) -> Result<T, ApiError> + Send + 'static,
    {
        self.send(move |svc, at, operator| {
            let who = svc.authenticate(bearer.as_deref(), operator)?;
            f(svc, at, &who)
        })
        .await
    }

    /// Like [`authed`](Self::authed), for a caller who may present a credential
    /// (which must then verify).
    pub async fn maybe_authed<T, F>(&self, bearer: Option<String>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Service, Timestamp, Option<&Principal>) -> Result<T, ApiError> + Send + 'static,
    {
        self.send(move |svc, at, operator| {
            let who = bearer.as_deref().map(|b| svc.authenticate(Some(b), operator)).transpose()?;
            f(svc, at, who.as_ref())
        })
        .await
    }

    async fn send<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Service, Timestamp, &OperatorKey) -> Result<T, ApiError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let call: Call = Box::new(move |svc, at, operator| {
            let r = f(svc, at, operator);
            Box::new(move || {
                let _ = tx.send(r);
            })
        });
        self.tx.try_send(Msg::Call(call)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ApiError::unavailable("the service is at capacity: retry shortly"),
            mpsc::error::TrySendError::Closed(_) => ApiError::unavailable("the service is stopping"),
        })?;
        rx.await.map_err(|_| ApiError::unavailable("the service stopped before answering: retry"))?
    }
}

/// Replays ops journalled elsewhere onto the state; a refusal means this state
/// and the journal disagree, and the process stops so that a restart recovers.
fn follow(svc: &mut Service, journal: &mut dyn Journal, shared: &AtomicU64, ops: &[(u64, Timestamp, Op)]) {
    svc.set_live(false);
    for (seq, at, op) in ops {
        if *seq <= shared.load(Ordering::Acquire) {
            continue;
        }
        if let Err(e) = crate::server::replay_one(svc, *seq, *at, op) {
            eprintln!("byterank: following the journal failed ({e}); stopping. Restart to recover.");
            std::process::exit(70);
        }
        journal.follow(*seq);
        shared.store(*seq, Ordering::Release);
    }
    svc.set_live(true);
}

/// A node that starts to lead (started, restarted, or a standby taking over)
/// could not hear workers while no node led: [`Op::Resume`] keeps that time from
/// counting against their attempts. Journalled with the next batch.
fn resume(svc: &mut Service, clock: &Clock) {
    let at = now(clock, svc.engine().now());
    if let Err(e) = svc.apply(at, &Op::Resume) {
        tracing::warn!("resuming was refused: {}", e.message);
    }
}

/// The clock's time, never behind the engine's (a clock set back, or a
/// restart on a machine whose clock is behind, must not move the engine back).
fn now(clock: &Clock, engine_now: Timestamp) -> Timestamp {
    clock.now().max(engine_now)
}
