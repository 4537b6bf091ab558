//! The journal in PostgreSQL, shared by several service nodes: the same tables as
//! SQLite plus a `lease` row naming the leader.
//!
//! Fencing: a commit writes its ops with explicit seqs (`last + 1`, ...) and, in
//! the same transaction, checks under a share lock that this node still holds the
//! lease. A node that lost the lease, or whose view of the journal is stale, fails
//! its commit (on the lease check or on the primary key) and writes nothing.
//! Taking the lease waits for a commit in flight, so no op slips in after a
//! standby took over.
//!
//! The sync `postgres` client runs its own small runtime: call it from plain
//! threads (the engine thread, `spawn_blocking`), never from a runtime's worker.

use std::sync::Mutex;
use std::time::Duration;

use ::postgres::error::SqlState;
use ::postgres::types::ToSql;
use ::postgres::{Client, NoTls, Statement};
use byterank_core::{EngineConfig, Timestamp};

use super::{Journal, JournalError, Recovered, Snapshots, Store};
use crate::service::{Effect, Entry, Op};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, op TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot_parts (seq BIGINT NOT NULL, part INT NOT NULL, data BYTEA NOT NULL,
    PRIMARY KEY (seq, part));
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS history (id BIGSERIAL PRIMARY KEY, account TEXT NOT NULL, entry TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_by_account ON history (account, id);
CREATE TABLE IF NOT EXISTS lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, address TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL);
";

/// The channel a commit notifies with its last seq.
pub const CHANNEL: &str = "byterank_journal";

/// The lease row's name.
const LEASE: &str = "leader";

/// Snapshots kept; older ones are deleted when a new one is stored.
const SNAPSHOTS_KEPT: i64 = 2;

/// A snapshot is stored in rows of at most this many bytes (a BYTEA value may not
/// pass 1 GB, and a state with millions of tasks comes near).
const SNAPSHOT_PART: usize = 32 << 20;

fn db(e: ::postgres::Error) -> JournalError {
    match e.as_db_error() {
        Some(d) => JournalError::Db(d.to_string()),
        None => JournalError::Db(e.to_string()),
    }
}

/// Connects to `url` (a `postgres://` URL; `?options=-csearch_path%3DNAME`
/// selects a schema).
pub fn connect(url: &str) -> Result<Client, JournalError> {
    Client::connect(url, NoTls).map_err(|e| {
        JournalError::Db(format!("cannot connect to PostgreSQL ({e}): check the URL, the server and the role"))
    })
}

/// The writer.
pub struct PgJournal {
    client: Client,
    url: String,
    last: u64,
    /// The lease holder this node commits as; `None` commits without a lease
    /// (a single node, or tests).
    holder: Option<String>,
    insert_ops: Statement,
    check_lease: Statement,
    put: Statement,
    get: Statement,
    delete: Statement,
    entries: Statement,
}

impl PgJournal {
    /// Connects, makes the tables if missing and reads the last seq. With
    /// `holder`, every commit checks that this holder has the lease.
    pub fn open(url: &str, holder: Option<String>) -> Result<PgJournal, JournalError> {
        let mut client = connect(url)?;
        // Two nodes starting at once may both create: the loser retries once.
        if client.batch_execute(SCHEMA).is_err() {
            client.batch_execute(SCHEMA).map_err(db)?;
        }
        let last: i64 = client.query_one("SELECT COALESCE(MAX(seq), 0) FROM journal", &[]).map_err(db)?.get(0);
        // One round trip: the lease check (none without a holder), the ops, and
        // the notification; no row is written when the lease is not this node's.
        let insert_ops = client
            .prepare(
                "WITH held AS (SELECT 1 FROM lease WHERE name = $4 AND holder = $5 FOR SHARE), \
                 ins AS (INSERT INTO journal (seq, at, op) \
                     SELECT s, a, o FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[]) AS t(s, a, o) \
                     WHERE $5::TEXT IS NULL OR EXISTS (SELECT 1 FROM held) RETURNING 1) \
                 SELECT (SELECT COUNT(*) FROM ins), pg_notify($6, $7)",
            )
            .map_err(db)?;
        let check_lease =
            client.prepare("SELECT 1 FROM lease WHERE name = $1 AND holder = $2 FOR SHARE").map_err(db)?;
        let put = client
            .prepare(
                "INSERT INTO blobs (key, data) SELECT * FROM unnest($1::TEXT[], $2::BYTEA[]) \
                 ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data",
            )
            .map_err(db)?;
        let get = client.prepare("SELECT key, data FROM blobs WHERE key = ANY($1::TEXT[])").map_err(db)?;
        let delete = client.prepare("DELETE FROM blobs WHERE key = ANY($1::TEXT[])").map_err(db)?;
        let entries = client
            .prepare(
                "INSERT INTO history (account, entry) SELECT a, e FROM unnest($1::TEXT[], $2::TEXT[]) \
                 WITH ORDINALITY AS t(a, e, n) ORDER BY n",
            )
            .map_err(db)?;
        Ok(PgJournal {
            client,
            url: url.into(),
            last: last as u64,
            holder,
            insert_ops,
            check_lease,
            put,
            get,
            delete,
            entries,
        })
    }
}

impl Journal for PgJournal {
    fn engine_config(&mut self, given: Option<&EngineConfig>) -> Result<EngineConfig, JournalError> {
        if let Some(g) = given {
            let json = serde_json::to_string(g).expect("a configuration serializes");
            self.client
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('engine_config', $1) ON CONFLICT (key) DO NOTHING",
                    &[&json],
                )
                .map_err(db)?;
        }
        let stored = self.client.query_opt("SELECT value FROM meta WHERE key = 'engine_config'", &[]).map_err(db)?;
        match stored {
            Some(row) => {
                let cfg: EngineConfig = serde_json::from_str(row.get(0))
                    .map_err(|e| JournalError::Config(format!("the stored engine configuration does not read: {e}")))?;
                if given.is_some_and(|g| *g != cfg) {
                    return Err(JournalError::Config(
                        "the database was made with another engine configuration: \
                         start without --engine-config, or use a new database or schema"
                            .into(),
                    ));
                }
                Ok(cfg)
            }
            None => {
                let cfg = EngineConfig::default();
                let json = serde_json::to_string(&cfg).expect("a configuration serializes");
                self.client
                    .execute(
                        "INSERT INTO meta (key, value) VALUES ('engine_config', $1) ON CONFLICT (key) DO NOTHING",
                        &[&json],
                    )
                    .map_err(db)?;
                self.engine_config(None)
            }
        }
    }

    fn recover(&mut self) -> Result<Recovered, JournalError> {
        let newest: Option<i64> = self.client.query_one("SELECT MAX(seq) FROM snapshot_parts", &[]).map_err(db)?.get(0);
        let snapshot = match newest {
            None => None,
            Some(seq) => {
                let rows = self
                    .client
                    .query("SELECT data FROM snapshot_parts WHERE seq = $1 ORDER BY part", &[&seq])
                    .map_err(db)?;
                let mut state = Vec::new();
                for r in &rows {
                    state.extend_from_slice(r.get::<_, &[u8]>(0));
                }
                Some((seq as u64, state))
            }
        };
        let from = snapshot.as_ref().map_or(0, |s| s.0);
        let tail = read_ops(&mut self.client, from, i64::MAX)?;
        self.last = tail.last().map_or(from, |t| t.0).max(self.last);
        Ok(Recovered { snapshot, tail })
    }

    fn commit(&mut self, ops: &[(Timestamp, Op)], effects: &[Effect]) -> Result<u64, JournalError> {
        let fenced =
            || JournalError::Fenced("this node no longer holds the leader's lease: another node leads now".into());
        let mut tx = self.client.transaction().map_err(db)?;
        if let (Some(holder), true) = (&self.holder, ops.is_empty()) {
            if tx.query_opt(&self.check_lease, &[&LEASE, holder]).map_err(db)?.is_none() {
                return Err(fenced());
            }
        }
        let first = self.last + 1;
        let last = self.last + ops.len() as u64;
        let seqs: Vec<i64> = (0..ops.len() as i64).map(|i| first as i64 + i).collect();
        let ats: Vec<i64> = ops.iter().map(|(at, _)| at.millis()).collect();
        let jsons: Vec<String> =
            ops.iter().map(|(_, op)| serde_json::to_string(op).expect("an op serializes")).collect();
        if !ops.is_empty() {
            let params: [&(dyn ToSql + Sync); 7] =
                [&seqs, &ats, &jsons, &LEASE, &self.holder, &CHANNEL, &last.to_string()];
            let written: i64 = tx
                .query_one(&self.insert_ops, &params)
                .map_err(|e| {
                    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                        JournalError::Fenced(format!(
                            "seq {first} was already written by another node: this node's view of the journal is stale"
                        ))
                    } else {
                        db(e)
                    }
                })?
                .get(0);
            if written != ops.len() as i64 {
                return Err(fenced());
            }
        }
        let (mut accounts, mut lines) = (Vec::new(), Vec::new());
        // Puts go in runs of one statement each; a run ends before anything that
        // reads or deletes blobs, so effects keep their order.
        let mut puts: Vec<(&str, &[u8])> = Vec::new();
        let put = &self.put;
        let flush = |tx: &mut ::postgres::Transaction<'_>, puts: &mut Vec<(&str, &[u8])>| {
            if puts.is_empty() {
                return Ok(());
            }
            // One statement may not write a key twice: the last put of a key wins.
            let mut seen = std::collections::BTreeSet::new();
            let (mut keys, mut data) = (Vec::new(), Vec::new());
            for (k, b) in puts.drain(..).rev() {
                if seen.insert(k) {
                    keys.push(k);
                    data.push(b);
                }
            }
            tx.execute(put, &[&keys, &data]).map(|_| ()).map_err(db)
        };
        for e in effects {
            match e {
                Effect::Put { key, bytes } => puts.push((key, bytes)),
                Effect::Concat { into, parts } => {
                    flush(&mut tx, &mut puts)?;
                    let rows = tx.query(&self.get, &[parts]).map_err(db)?;
                    let found: std::collections::BTreeMap<&str, &[u8]> =
                        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                    let mut out = Vec::new();
                    for p in parts {
                        let part = found
                            .get(p.as_str())
                            .ok_or_else(|| JournalError::Db(format!("blob `{p}` to assemble is missing")))?;
                        out.extend_from_slice(part);
                    }
                    tx.execute(put, &[&[into.as_str()].as_slice(), &[out.as_slice()].as_slice()]).map_err(db)?;
                }
                Effect::Delete(keys) => {
                    flush(&mut tx, &mut puts)?;
                    tx.execute(&self.delete, &[keys]).map_err(db)?;
                }
                // Every node reads blobs from the database: the staged file is
                // copied in (and removed once committed).
                Effect::Adopt { key, path } => {
                    flush(&mut tx, &mut puts)?;
                    let bytes =
                        std::fs::read(path).map_err(|e| JournalError::Db(format!("{}: {e}", path.display())))?;
                    tx.execute(put, &[&[key.as_str()].as_slice(), &[bytes.as_slice()].as_slice()]).map_err(db)?;
                }
                Effect::Entry(entry) => {
                    accounts.push(entry.account.clone());
                    lines.push(serde_json::to_string(entry).expect("an entry serializes"));
                }
            }
        }
        flush(&mut tx, &mut puts)?;
        if !lines.is_empty() {
            tx.execute(&self.entries, &[&accounts, &lines]).map_err(db)?;
        }
        tx.commit().map_err(db)?;
        self.last = last;
        for e in effects {
            if let Effect::Adopt { path, .. } = e {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(last)
    }

    fn snapshots(&self) -> Result<Box<dyn Snapshots>, JournalError> {
        Ok(Box::new(PgSnapshots { client: connect(&self.url)? }))
    }

    fn follow(&mut self, seq: u64) {
        self.last = seq;
    }
}

fn read_ops(client: &mut Client, after: u64, limit: i64) -> Result<Vec<(u64, Timestamp, Op)>, JournalError> {
    let rows = client
        .query("SELECT seq, at, op FROM journal WHERE seq > $1 ORDER BY seq LIMIT $2", &[&(after as i64), &limit])
        .map_err(db)?;
    rows.iter()
        .map(|r| {
            let seq = r.get::<_, i64>(0) as u64;
            let op =
                serde_json::from_str(r.get(2)).map_err(|e| JournalError::Corrupt { seq, problem: e.to_string() })?;
            Ok((seq, Timestamp(r.get(1)), op))
        })
        .collect()
}

/// Snapshots, over a connection of their own.
struct PgSnapshots {
    client: Client,
}

impl Snapshots for PgSnapshots {
    fn store(&mut self, seq: u64, state: &[u8]) -> Result<(), JournalError> {
        let seq = seq as i64;
        let mut tx = self.client.transaction().map_err(db)?;
        // Another node may have stored this seq's snapshot: the same state.
        if tx.query_opt("SELECT 1 FROM snapshot_parts WHERE seq = $1 LIMIT 1", &[&seq]).map_err(db)?.is_some() {
            return Ok(());
        }
        for (part, data) in state.chunks(SNAPSHOT_PART).enumerate() {
            tx.execute(
                "INSERT INTO snapshot_parts (seq, part, data) VALUES ($1, $2, $3)",
                &[&seq, &(part as i32), &data],
            )
            .map_err(db)?;
        }
        tx.execute(
            "DELETE FROM snapshot_parts WHERE seq NOT IN \
             (SELECT DISTINCT seq FROM snapshot_parts ORDER BY seq DESC LIMIT $1)",
            &[&SNAPSHOTS_KEPT],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }
}

/// The reader: a few connections of its own, shared by the routes.
pub struct PgStore {
    url: String,
    idle: Mutex<Vec<Client>>,
}

impl PgStore {
    /// A reader of the journal at `url` (made by [`PgJournal::open`]).
    pub fn open(url: &str) -> Result<PgStore, JournalError> {
        let c = connect(url)?;
        Ok(PgStore { url: url.into(), idle: Mutex::new(vec![c]) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T, JournalError>) -> Result<T, JournalError> {
        let conn = self.idle.lock().expect("the pool is never poisoned").pop();
        let mut conn = match conn {
            Some(c) if !c.is_closed() => c,
            _ => connect(&self.url)?,
        };
        let r = f(&mut conn);
        let mut idle = self.idle.lock().expect("the pool is never poisoned");
        if idle.len() < 8 && !conn.is_closed() {
            idle.push(conn);
        }
        r
    }
}

impl Store for PgStore {
    fn blob(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Option<Vec<u8>>, JournalError> {
        self.with(|c| {
            let row = match len {
                None => c.query_opt("SELECT data FROM blobs WHERE key = $1", &[&key]),
                // substring counts from 1, in bytes over BYTEA.
                Some(len) => c.query_opt(
                    "SELECT substring(data FROM ($2::BIGINT)::INT FOR ($3::BIGINT)::INT) FROM blobs WHERE key = $1",
                    &[&key, &(offset as i64 + 1), &(len.min(i32::MAX as u64) as i64)],
                ),
            };
            Ok(row.map_err(db)?.map(|r| r.get(0)))
        })
    }

    fn history(&self, account: &str, limit: u32) -> Result<Vec<Entry>, JournalError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT entry FROM history WHERE account = $1 ORDER BY id DESC LIMIT $2",
                    &[&account, &i64::from(limit)],
                )
                .map_err(db)?;
            rows.iter()
                .map(|r| serde_json::from_str(r.get(0)).map_err(|e| JournalError::Db(format!("history line: {e}"))))
                .collect()
        })
    }

    fn history_page(&self, account: &str, before: Option<u64>, limit: u32) -> Result<Vec<(u64, Entry)>, JournalError> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT id, entry FROM history WHERE account = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                    &[&account, &before, &i64::from(limit)],
                )
                .map_err(db)?;
            rows.iter()
                .map(|r| {
                    let e =
                        serde_json::from_str(r.get(1)).map_err(|e| JournalError::Db(format!("history line: {e}")))?;
                    Ok((r.get::<_, i64>(0) as u64, e))
                })
                .collect()
        })
    }

    fn ops(&self, after: u64, limit: u32) -> Result<Vec<(u64, Timestamp, Op)>, JournalError> {
        self.with(|c| read_ops(c, after, i64::from(limit)))
    }

    fn last_seq(&self) -> Result<u64, JournalError> {
        self.with(|c| {
            let last: i64 = c.query_one("SELECT COALESCE(MAX(seq), 0) FROM journal", &[]).map_err(db)?.get(0);
            Ok(last as u64)
        })
    }

    fn engine_config(&self) -> Result<Option<EngineConfig>, JournalError> {
        self.with(|c| {
            let row = c.query_opt("SELECT value FROM meta WHERE key = 'engine_config'", &[]).map_err(db)?;
            row.map(|r| super::parse_config(r.get(0))).transpose()
        })
    }
}

/// Who holds the leader's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The holder's id.
    pub holder: String,
    /// Where it serves (its URL).
    pub address: String,
    /// Whether the lease has not lapsed.
    pub live: bool,
}

/// The leader's lease: one row, taken atomically when free or lapsed.
pub struct PgLease {
    client: Client,
    url: String,
    holder: String,
    address: String,
    lease: Duration,
}

impl PgLease {
    /// A lease handle for `holder`, serving at `address`, taken for `lease` at a
    /// time. The tables must exist ([`PgJournal::open`]).
    pub fn connect(url: &str, holder: &str, address: &str, lease: Duration) -> Result<PgLease, JournalError> {
        Ok(PgLease { client: connect(url)?, url: url.into(), holder: holder.into(), address: address.into(), lease })
    }

    fn client(&mut self) -> Result<&mut Client, JournalError> {
        if self.client.is_closed() {
            self.client = connect(&self.url)?;
        }
        Ok(&mut self.client)
    }

    /// Takes the lease if nobody holds it, it lapsed, or this holder has it;
    /// whether it is now ours.
    pub fn acquire(&mut self) -> Result<bool, JournalError> {
        let (holder, address, ms) = (self.holder.clone(), self.address.clone(), self.lease.as_millis() as i64);
        let row = self
            .client()?
            .query_opt(
                "INSERT INTO lease (name, holder, address, expires_at) \
                 VALUES ($1, $2, $3, now() + $4::BIGINT * INTERVAL '1 millisecond') \
                 ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, address = EXCLUDED.address, \
                     expires_at = EXCLUDED.expires_at \
                 WHERE lease.expires_at < now() OR lease.holder = EXCLUDED.holder \
                 RETURNING 1",
                &[&LEASE, &holder, &address, &ms],
            )
            .map_err(db)?;
        Ok(row.is_some())
    }

    /// Extends the lease if this holder still has it; whether it does.
    pub fn renew(&mut self) -> Result<bool, JournalError> {
        let (holder, ms) = (self.holder.clone(), self.lease.as_millis() as i64);
        let row = self
            .client()?
            .query_opt(
                "UPDATE lease SET expires_at = now() + $3::BIGINT * INTERVAL '1 millisecond' \
                 WHERE name = $1 AND holder = $2 RETURNING 1",
                &[&LEASE, &holder, &ms],
            )
            .map_err(db)?;
        Ok(row.is_some())
    }

    /// Who holds the lease, if anybody ever took it.
    pub fn holder(&mut self) -> Result<Option<Holder>, JournalError> {
        let row = self
            .client()?
            .query_opt("SELECT holder, address, expires_at > now() FROM lease WHERE name = $1", &[&LEASE])
            .map_err(db)?;
        Ok(row.map(|r| Holder { holder: r.get(0), address: r.get(1), live: r.get(2) }))
    }
}
