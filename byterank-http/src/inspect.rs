//! `byterank journal DIR|URL`: what happened to a job or a device, replayed from the
//! journal through the same engine, and the state as of any instant.
//!
//! Replay starts from the first op (the journal keeps every op), so the answer
//! does not depend on which snapshots exist. The engine's events speak in handles
//! (small numbers the engine gives jobs and devices); the report names jobs and
//! devices by the ids the API uses, and attempts by the number the API gives them
//! (the `attempt` of a pull's answer, in `/v1/tasks/{attempt}/...`).

use std::collections::BTreeMap;
use std::io::Write;

use byterank_core::{Event, Timestamp};
use serde_json::{json, Map, Value};

use crate::journal::{JournalError, Store};
use crate::service::{Op, Service};

/// How the report is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Columns for a person: seq, instant, then the op and, under it, its events
    /// as `name key=value ...`.
    #[default]
    Table,
    /// One JSON object per line: `{"seq", "at", "op", "events"}` per op, and with
    /// `--at` a last line `{"state": {...}}`.
    Json,
}

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
    /// Table or JSON lines.
    pub format: Format,
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
    /// `--at` names an instant before anything was journalled.
    #[error("--at {at} is before the journal's first op ({first}): nothing had happened yet; give a later instant")]
    BeforeFirstOp {
        /// The instant asked for.
        at: Timestamp,
        /// The first op's instant.
        first: Timestamp,
    },
    /// `--at` was given and the journal holds no op at all.
    #[error("the journal is empty: there is no state to rebuild at {0}")]
    Empty(Timestamp),
    /// No op or event concerns the job or device asked for.
    #[error(
        "{what} is not in the journal ({ops} ops replayed{until}); leave out --job and --device to list everything"
    )]
    NoMatch {
        /// `job `x``, `device `y``, or both.
        what: String,
        /// Ops replayed.
        ops: u64,
        /// `, up to TIME` with --at.
        until: String,
    },
}

/// Replays `store`'s journal (see [`open_store`](crate::journal::open_store))
/// and writes what `q` asks for to `out`. Returns how many ops were applied.
///
/// Refuses, writing nothing, an `--at` before the first op, and a job or device
/// that nothing in the journal (up to `--at`) concerns.
pub fn inspect(store: &dyn Store, q: &Query, out: &mut dyn Write) -> Result<u64, InspectError> {
    let cfg = store.engine_config()?.unwrap_or_default();
    let mut svc = Service::new(cfg).map_err(|e| JournalError::Config(e.to_string()))?;
    let mut names = Names::default();
    let mut after = 0;
    let mut applied = 0;
    let mut shown = 0;
    let mut last = None;
    'pages: loop {
        let page = store.ops(after, 10_000)?;
        if page.is_empty() {
            break;
        }
        for (seq, at, op) in page {
            if let Some(t) = q.at {
                if at > t {
                    if applied == 0 {
                        return Err(InspectError::BeforeFirstOp { at: t, first: at });
                    }
                    break 'pages;
                }
            }
            crate::server::replay_one(&mut svc, seq, at, &op)?;
            applied += 1;
            after = seq;
            last = Some((seq, at));
            names.learn(svc.last_events());
            let events: Vec<(&Event, Value)> =
                svc.last_events().iter().map(|e| (e, names.event(e))).filter(|(_, v)| concerns_event(q, v)).collect();
            let quiet = matches!(op, Op::Tick | Op::Pull { .. }) && !q.all && events.iter().all(|(e, _)| is_noise(e));
            if quiet || (!concerns_op(q, &op) && events.is_empty()) {
                continue;
            }
            let events: Vec<Value> = events.into_iter().map(|(_, v)| v).collect();
            // The header waits for the first line, so that a refusal writes nothing.
            if shown == 0 && q.format == Format::Table {
                writeln!(out, "{:>8}  {:<24}  what", "seq", "at")?;
            }
            shown += 1;
            write_op(out, q.format, seq, at, &op, &events)?;
        }
    }
    if filtered(q) && shown == 0 {
        // Ids as the user typed them, but on one line and of a readable length.
        let id = byterank_core::device::display_id;
        let what = [
            q.job.as_deref().map(|j| format!("job `{}`", id(j))),
            q.device.as_deref().map(|d| format!("device `{}`", id(d))),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" or ");
        let until = q.at.map(|t| format!(", up to {t}")).unwrap_or_default();
        return Err(InspectError::NoMatch { what, ops: applied, until });
    }
    if let Some(at) = q.at {
        let Some(last) = last else { return Err(InspectError::Empty(at)) };
        summary(&svc, q.format, at, last, out)?;
    }
    Ok(applied)
}

/// The ids of the engine's handles, learnt from its events as they happen.
/// Handles of jobs are never reused; a device's is kept while its id is.
#[derive(Default)]
struct Names {
    jobs: BTreeMap<u64, String>,
    devices: BTreeMap<u64, String>,
}

impl Names {
    fn learn(&mut self, events: &[Event]) {
        for e in events {
            match e {
                Event::JobAccepted { job, id, .. } => {
                    self.jobs.insert(job.0.into(), id.clone());
                }
                Event::DeviceRegistered { device, id } => {
                    self.devices.insert(device.0.into(), id.clone());
                }
                _ => {}
            }
        }
    }

    /// `e` as JSON with its `job` and `device` handles replaced by ids.
    fn event(&self, e: &Event) -> Value {
        let mut v = serde_json::to_value(e).expect("an event serializes");
        if let Some(m) = v.as_object_mut() {
            // `DeviceRegistered` and `JobAccepted` carry the id beside the handle,
            // which `learn` has just named.
            if matches!(e, Event::DeviceRegistered { .. } | Event::JobAccepted { .. }) {
                m.remove("id");
            }
            for (key, names) in [("job", &self.jobs), ("device", &self.devices)] {
                if let Some(h) = m.get(key).and_then(Value::as_u64) {
                    let id = names.get(&h).cloned().unwrap_or_else(|| format!("#{h}"));
                    m.insert(key.into(), Value::String(id));
                }
            }
        }
        v
    }
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
        | Op::RequestPayout { .. }
        | Op::SettlePayout { .. }
        | Op::Tick
        | Op::Resume
        | Op::ForgetEnded { .. } => false,
    }
}

fn concerns_event(q: &Query, e: &Value) -> bool {
    let is = |key: &str, want: &Option<String>| {
        want.as_deref().is_some_and(|w| e.get(key).and_then(Value::as_str) == Some(w))
    };
    !filtered(q) || is("job", &q.job) || is("device", &q.device)
}

/// The op as JSON, with the objects it carries named by their id and the key
/// records (hashes of secrets) left out.
fn op_json(op: &Op) -> Value {
    let mut v = serde_json::to_value(op).expect("an op serializes");
    if let Some(m) = v.as_object_mut() {
        if let Op::CreateJob { job, .. } = op {
            m.insert("job".into(), Value::String(job.id.clone()));
        }
        if let Op::RegisterDevice { device, .. } | Op::UpdateDevice { device } = op {
            m.insert("device".into(), Value::String(device.id.clone()));
        }
        if m.get("key").is_some_and(Value::is_object) || m.get("key").is_some_and(Value::is_null) {
            m.remove("key");
        }
    }
    v
}

fn write_op(out: &mut dyn Write, f: Format, seq: u64, at: Timestamp, op: &Op, events: &[Value]) -> std::io::Result<()> {
    match f {
        Format::Json => {
            // The whole op, job file and device state included: nothing is lost.
            let line = json!({"seq": seq, "at": at.to_string(), "op": op, "events": events});
            writeln!(out, "{line}")
        }
        Format::Table => {
            writeln!(out, "{seq:>8}  {:<24}  {}", at.to_string(), fields(&op_json(op), "op"))?;
            for e in events {
                writeln!(out, "{:>8}  {:<24}  -> {}", "", "", fields(e, "type"))?;
            }
            Ok(())
        }
    }
}

/// `name key=value ...` from a tagged JSON object; long lists are cut short.
fn fields(v: &Value, tag: &str) -> String {
    let Some(m) = v.as_object() else { return v.to_string() };
    let mut s = m.get(tag).and_then(Value::as_str).unwrap_or("?").to_string();
    // Who and what first, then the rest in the order of their names.
    const FIRST: [&str; 5] = ["job", "device", "task", "replica", "attempt"];
    let first = FIRST.iter().filter_map(|k| m.get_key_value(*k));
    let rest = m.iter().filter(|(k, _)| *k != tag && !FIRST.contains(&k.as_str()));
    for (k, v) in first.chain(rest) {
        let text = match v {
            Value::String(t) if !t.is_empty() && !t.contains([' ', '=', '"']) => t.clone(),
            Value::Array(a) if a.len() > 3 => {
                let head: Vec<String> = a[..3].iter().map(Value::to_string).collect();
                format!("[{},...] ({} in all)", head.join(","), a.len())
            }
            other => other.to_string(),
        };
        s.push_str(&format!(" {k}={text}"));
    }
    s
}

fn summary(
    svc: &Service,
    f: Format,
    at: Timestamp,
    last: (u64, Timestamp),
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let e = svc.engine();
    let l = e.ledger();
    let devices: Vec<Value> = e
        .live_devices()
        .map(|(h, d)| json!({"device": d.id, "rank": e.rank(h), "trusted": d.trusted, "owner": e.owner(h)}))
        .collect();
    let jobs: Vec<Value> = svc
        .job_books()
        .map(|(id, b)| {
            json!({"job": id, "state": b.state, "done": b.done, "tasks": b.tasks, "user": b.user, "refunded": b.refunded.0})
        })
        .collect();
    let users: Vec<Value> = svc
        .user_books()
        .map(|(u, b)| json!({"user": u, "topped_up": b.topped_up.0, "charged": l.charged.get(u).map_or(0, |c| c.0)}))
        .collect();
    let wallets: Map<String, Value> = l.wallets.iter().map(|(o, c)| (o.clone(), c.0.into())).collect();
    if f == Format::Json {
        let state = json!({"at": at.to_string(), "last_op": {"seq": last.0, "at": last.1.to_string()},
            "devices": devices, "jobs": jobs, "users": users, "wallets": wallets,
            "platform": l.platform.0, "escrow": l.escrow.0});
        return writeln!(out, "{}", json!({ "state": state }));
    }
    writeln!(out, "state at {at} (the last op before it: {} at {}):", last.0, last.1)?;
    writeln!(out, "  devices: {} live", devices.len())?;
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    for d in &devices {
        let owner = d["owner"].as_str().unwrap_or("-");
        writeln!(out, "    {} rank {} trusted {} owner {owner}", text(&d["device"]), d["rank"], d["trusted"])?;
    }
    writeln!(out, "  jobs: {}", jobs.len())?;
    for j in &jobs {
        writeln!(
            out,
            "    {} {}, {}/{} tasks done, user {}, refunded {}",
            text(&j["job"]),
            text(&j["state"]),
            j["done"],
            j["tasks"],
            text(&j["user"]),
            j["refunded"]
        )?;
    }
    writeln!(out, "  ledger: platform {} escrow {}", l.platform.0, l.escrow.0)?;
    for u in &users {
        writeln!(out, "    user {}: topped up {}, charged {}", text(&u["user"]), u["topped_up"], u["charged"])?;
    }
    for (owner, c) in &wallets {
        writeln!(out, "    wallet {owner}: {c}")?;
    }
    Ok(())
}
