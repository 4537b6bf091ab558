//! Leading and standing by, over the PostgreSQL journal.
//!
//! The leader holds a lease row and renews it every third of the lease; if it
//! cannot, it stops (exit 70) before another node may take over. A standby
//! replays what the leader commits (woken by NOTIFY, and polling), answers
//! reads, refuses writes with 503 naming the leader, and takes the lease once it
//! lapses: it replays to the last seq, then leads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::journal::postgres::{connect, PgLease, CHANNEL};
use crate::journal::{JournalError, Store};
use crate::sequencer::Sequencer;

/// The header a standby's 503 names the leader's URL in.
pub const LEADER_HEADER: &str = "x-byterank-leader";

/// Whether this node leads, and where the leader is.
#[derive(Debug, Default)]
pub struct Role {
    leader: AtomicBool,
    address: RwLock<Option<String>>,
}

impl Role {
    /// A node that leads from the start (SQLite, or a leader that took the lease).
    pub fn leading() -> Arc<Role> {
        let r = Role::default();
        r.leader.store(true, Ordering::Release);
        Arc::new(r)
    }

    /// A standby, leader unknown yet.
    pub fn standby() -> Arc<Role> {
        Arc::new(Role::default())
    }

    /// Whether this node leads.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// The leader's URL, as the lease names it.
    pub fn leader_address(&self) -> Option<String> {
        self.address.read().expect("never poisoned").clone()
    }

    /// Records where the leader is (as the lease names it).
    pub fn set_address(&self, a: Option<String>) {
        *self.address.write().expect("never poisoned") = a;
    }
}

/// Middleware: on a standby, everything but GET and HEAD is refused with 503
/// naming the leader (in the message and in [`LEADER_HEADER`]).
pub async fn guard(State(role): State<Arc<Role>>, req: Request, next: Next) -> Response {
    if role.is_leader() || req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    match role.leader_address() {
        Some(url) => {
            let mut resp = ApiError::unavailable(format!("this node is a standby: send writes to the leader at {url}"))
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                resp.headers_mut().insert(LEADER_HEADER, v);
            }
            resp
        }
        None => {
            ApiError::unavailable("this node is a standby and no leader holds the lease: retry shortly").into_response()
        }
    }
}

/// How a node leads or stands by.
pub struct Lead {
    /// The PostgreSQL URL.
    pub url: String,
    /// The lease handle (this node's holder id and URL).
    pub lease: PgLease,
    /// How long a lease lasts.
    pub duration: Duration,
}

/// Renews the lease every third of it, forever; stops the process (exit 70)
/// when another node took it, or when renewing failed for a whole lease.
pub fn renew_forever(mut lease: PgLease, duration: Duration) -> ! {
    let every = duration / 3;
    let mut renewed = Instant::now();
    loop {
        std::thread::sleep(every);
        match lease.renew() {
            Ok(true) => renewed = Instant::now(),
            Ok(false) => stop("another node took the leader's lease"),
            Err(e) => {
                tracing::warn!("could not renew the lease: {e}");
                if renewed.elapsed() >= duration {
                    stop(&format!("the lease could not be renewed for {duration:?} ({e})"));
                }
            }
        }
    }
}

fn stop(why: &str) -> ! {
    tracing::error!("{why}: stopping, this node must not write");
    eprintln!("byterank: {why}; stopping so that this node writes nothing more. Restart it with --standby.");
    std::process::exit(70);
}

/// Follows the journal as a standby until the lease lapses, then takes it,
/// replays to the last seq, leads and renews. Never returns while it leads.
pub fn stand_by(lead: Lead, seq: Sequencer, store: Arc<dyn Store>, role: Arc<Role>) {
    let Lead { url, mut lease, duration } = lead;
    let poll = (duration / 10).clamp(Duration::from_millis(20), Duration::from_millis(500));
    let mut listen = match listener(&url) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!("cannot LISTEN, polling only: {e}");
            None
        }
    };
    loop {
        if let Err(e) = catch_up(&seq, &*store) {
            tracing::warn!("cannot read the journal: {e}");
        }
        match lease.acquire() {
            Ok(true) => break,
            Ok(false) => match lease.holder() {
                Ok(h) => role.set_address(h.filter(|h| h.live).map(|h| h.address)),
                Err(e) => tracing::warn!("cannot read the lease: {e}"),
            },
            Err(e) => tracing::warn!("cannot try the lease: {e}"),
        }
        let failed = match listen.as_mut() {
            Some(c) => {
                use ::postgres::fallible_iterator::FallibleIterator;
                let mut n = c.notifications();
                let woke = n.timeout_iter(poll).next();
                // Drain what else arrived: one catch-up serves them all.
                while let Ok(Some(_)) = n.iter().next() {}
                woke.err()
            }
            None => {
                std::thread::sleep(poll);
                None
            }
        };
        if let Some(e) = failed {
            tracing::warn!("LISTEN failed, polling only: {e}");
            listen = None;
        }
    }
    // The lease is ours: no other node can commit now. Replay everything.
    loop {
        match catch_up(&seq, &*store) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => stop(&format!("cannot read the journal to take over ({e})")),
        }
    }
    if seq.promote_blocking().is_err() {
        return;
    }
    role.set_address(None);
    role.leader.store(true, Ordering::Release);
    tracing::info!(seq = seq.seq(), "took the lease: leading");
    eprintln!("byterank: took the leader's lease at seq {}; leading", seq.seq());
    renew_forever(lease, duration);
}

fn listener(url: &str) -> Result<::postgres::Client, JournalError> {
    let mut c = connect(url)?;
    c.batch_execute(&format!("LISTEN {CHANNEL}")).map_err(|e| JournalError::Db(e.to_string()))?;
    Ok(c)
}

/// Replays the ops after the state's seq; how many.
fn catch_up(seq: &Sequencer, store: &dyn Store) -> Result<usize, JournalError> {
    let mut n = 0;
    loop {
        let ops = store.ops(seq.seq(), 10_000)?;
        if ops.is_empty() {
            return Ok(n);
        }
        n += ops.len();
        seq.replay_blocking(ops).map_err(|e| JournalError::Db(e.message))?;
    }
}
