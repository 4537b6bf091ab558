//! `byterank journal DIR|URL`: what happened to a job or a device, replayed from the
//! journal through the same engine, and the state as of any instant.
//!
//! Replay starts from the first op (the journal keeps every op), so the answer
//! does not depend on which snapshots exist.

use std::collections::BTreeMap;
use std::io::Write;

use byterank_core::{Event, Timestamp};

use crate::journal::{JournalError, Store};
use crate::service::{Op, Service};

/// What to show.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Only ops and events about this job.
    pub job: Option<String>,
    /// Only ops and events about this device.
    pub device: Option<String>,
    /// Stop at this instant (ops after it are not applied) and print the state.
    pub at: Option<Timestamp>,
    /// Include ticks and pulls that found nothing (left out by default).
    pub all: bool,
}

/// Why the journal could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Storage.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Writing the report.
    #[error("writing: {0}")]
    Io(#[from] std::io::Error),
}

/// Replays `store`'s journal (see [`open_store`](crate::journal::open_store))
/// and writes what `q` asks for to `out`, one line per op and one indented line
/// per event. Returns how many ops were applied.
pub fn inspect(store: &dyn Store, q: &Query, out: &mut dyn Write) -> Result<u64, InspectError> {
    let cfg = store.engine_config()?.unwrap_or_default();
    let mut svc = Service::new(cfg).map_err(|e| JournalError::Config(e.to_string()))?;
    // Job handles are never reused; the names of released jobs stay known here.
    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    let mut after = 0;
    let mut applied = 0;
    'pages: loop {
        let page = store.ops(after, 10_000)?;
        if page.is_empty() {
            break;
        }
        for (seq, at, op) in page {
            if q.at.is_some_and(|t| at > t) {
                break 'pages;
            }
            crate::server::replay_one(&mut svc, seq, at, &op)?;
            applied += 1;
            after = seq;
            for e in svc.last_events() {
                if let Event::JobAccepted { job, id, .. } = e {
                    names.insert(job.0, id.clone());
                }
            }
            let events: Vec<&Event> = svc.last_events().iter().filter(|e| concerns_event(&svc, &names, q, e)).collect();
            let quiet = matches!(op, Op::Tick | Op::Pull { .. }) && !q.all && events.iter().all(|e| is_noise(e));
            if quiet || (!concerns_op(q, &op) && events.is_empty()) {
                continue;
            }
            writeln!(out, "{seq:>8} {at} {}", serde_json::to_string(&op).expect("an op serializes"))?;
            for e in events {
                writeln!(out, "{:>8}   -> {}", "", serde_json::to_string(e).expect("an event serializes"))?;
            }
        }
    }
    if q.at.is_some() {
        summary(&svc, out)?;
    }
    Ok(applied)
}

fn is_noise(e: &Event) -> bool {
    matches!(e, Event::NoTask { .. } | Event::RankingRefreshed { .. })
}

fn filtered(q: &Query) -> bool {
    q.job.is_some() || q.device.is_some()
}

fn concerns_op(q: &Query, op: &Op) -> bool {
    if !filtered(q) {
        return true;
    }
    let dev = |d: &str| q.device.as_deref() == Some(d);
    let job = |j: &str| q.job.as_deref() == Some(j);
    match op {
        Op::RegisterDevice { device, .. } | Op::UpdateDevice { device } => dev(&device.id),
        Op::SetPreferences { device, .. }
        | Op::RemoveDevice { device }
        | Op::SetTrust { device, .. }
        | Op::Pull { device, .. }
        | Op::Heartbeat { device, .. }
        | Op::ReportResult { device, .. }
        | Op::ReportError { device, .. } => dev(device),
        Op::CreateJob { job: spec, .. } => job(&spec.id),
        Op::StoreInput { job: j, .. } | Op::CancelJob { job: j } => job(j),
        Op::CreateUser { .. }
        | Op::CreateOwner { .. }
        | Op::TopUp { .. }
        | Op::Tick
        | Op::Resume
        | Op::ForgetEnded { .. } => false,
    }
}

fn concerns_event(svc: &Service, names: &BTreeMap<u32, String>, q: &Query, e: &Event) -> bool {
    if !filtered(q) {
        return true;
    }
    let value = serde_json::to_value(e).expect("an event serializes");
    let handle = |key: &str| value.get(key).and_then(|v| v.as_u64()).map(|v| v as u32);
    let job_hit =
        q.job.as_deref().is_some_and(|want| handle("job").and_then(|h| names.get(&h)).is_some_and(|n| n == want));
    let device_hit = q.device.as_deref().is_some_and(|want| {
        handle("device").and_then(|h| svc.engine().device(byterank_core::DeviceId(h))).is_some_and(|d| d.id == want)
    });
    job_hit || device_hit
}

fn summary(svc: &Service, out: &mut dyn Write) -> Result<(), InspectError> {
    let e = svc.engine();
    writeln!(out, "state at {}:", e.now())?;
    writeln!(out, "  devices: {} live", e.live_devices().count())?;
    for (id, d) in e.live_devices().map(|(h, d)| (h, d.clone())) {
        writeln!(out, "    {} rank {} trusted {} owner {}", d.id, e.rank(id), d.trusted, e.owner(id).unwrap_or("-"))?;
    }
    writeln!(out, "  jobs:")?;
    for (id, b) in svc.job_books() {
        writeln!(
            out,
            "    {id} {:?} {}/{} tasks done, user {}, refunded {}",
            b.state, b.done, b.tasks, b.user, b.refunded.0
        )?;
    }
    let l = e.ledger();
    writeln!(out, "  ledger: platform {} escrow {}", l.platform.0, l.escrow.0)?;
    for (user, b) in svc.user_books() {
        let charged = l.charged.get(user).map_or(0, |c| c.0);
        writeln!(out, "    user {user}: topped up {}, charged {charged}", b.topped_up.0)?;
    }
    for (owner, c) in &l.wallets {
        writeln!(out, "    wallet {owner}: {}", c.0)?;
    }
    Ok(())
}
