//! Snapshots taken beside the engine thread. The engine thread only copies the
//! state (a clone: for a state holding a 2,000,000-task job about a tenth of a
//! second, against seconds to serialize and store it); a thread
//! of its own serializes the copy and stores it, with storage of its own, while
//! commits go on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::time::Instant;

use crate::journal::Snapshots;
use crate::service::Service;

/// The engine thread's side.
pub(crate) struct Snapshotter {
    tx: SyncSender<(u64, Service)>,
    busy: Arc<AtomicBool>,
    /// Ops to commit between snapshots: at least the configured number, and one per
    /// 32 bytes of the last snapshot, so that their cost stays proportional to the
    /// journal written.
    after: Arc<AtomicU64>,
    since: u64,
}

impl Snapshotter {
    /// Starts the snapshot thread over `store`.
    pub fn start(mut store: Box<dyn Snapshots>, every: u64) -> std::io::Result<Snapshotter> {
        let (tx, rx) = sync_channel::<(u64, Service)>(1);
        let busy = Arc::new(AtomicBool::new(false));
        let after = Arc::new(AtomicU64::new(every));
        let (b, a) = (busy.clone(), after.clone());
        std::thread::Builder::new().name("byterank-snapshot".into()).spawn(move || {
            for (seq, state) in rx {
                let started = Instant::now();
                let bytes = serde_json::to_vec(&state).expect("the state serializes");
                drop(state);
                match store.store(seq, &bytes) {
                    Ok(()) => {
                        metrics::histogram!("byterank_snapshot_seconds").record(started.elapsed().as_secs_f64());
                        metrics::gauge!("byterank_snapshot_bytes").set(bytes.len() as f64);
                        tracing::info!(seq, bytes = bytes.len(), took = ?started.elapsed(), "stored a snapshot");
                    }
                    Err(e) => tracing::warn!("could not store a snapshot (the journal still holds everything): {e}"),
                }
                a.store(every.max(bytes.len() as u64 / 32), Ordering::Release);
                b.store(false, Ordering::Release);
            }
        })?;
        Ok(Snapshotter { tx, busy, after, since: 0 })
    }

    /// `ops` more ops are committed, and `svc` is the state as of `seq`: hands the
    /// thread a copy when one is due and the last one is stored.
    pub fn committed(&mut self, ops: usize, svc: &Service, seq: u64) {
        self.since += ops as u64;
        if self.since < self.after.load(Ordering::Acquire) || self.busy.load(Ordering::Acquire) {
            return;
        }
        let started = Instant::now();
        let copy = svc.clone();
        metrics::histogram!("byterank_snapshot_pause_seconds").record(started.elapsed().as_secs_f64());
        self.busy.store(true, Ordering::Release);
        // The thread is idle (not busy), so the channel is empty and this does not
        // block; it fails only if the thread is gone, and then snapshots stop.
        if self.tx.send((seq, copy)).is_ok() {
            self.since = 0;
        } else {
            tracing::warn!("the snapshot thread stopped: no more snapshots (the journal still holds everything)");
        }
    }
}
