//! The journal in one SQLite file, `byterank.db` in the data directory: WAL mode
//! with `synchronous=FULL`, so a commit is on disk (fsync'd) when it returns, and
//! readers never block the writer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use byterank_core::{EngineConfig, Timestamp};
use rusqlite::{params, Connection, OptionalExtension};

use super::{Journal, JournalError, Recovered, Store};
use crate::service::{Effect, Entry, Op};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, op TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY, account TEXT NOT NULL, entry TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_by_account ON history (account, id);
";

/// Snapshots kept; older ones are deleted when a new one is stored.
const SNAPSHOTS_KEPT: u64 = 2;

fn db(e: rusqlite::Error) -> JournalError {
    JournalError::Db(e.to_string())
}

/// The database file in a data directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("byterank.db")
}

fn open(path: &Path) -> Result<Connection, JournalError> {
    let c = Connection::open(path).map_err(|e| JournalError::Db(format!("{}: {e}", path.display())))?;
    c.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
    c.pragma_update(None, "synchronous", "FULL").map_err(db)?;
    c.busy_timeout(std::time::Duration::from_secs(10)).map_err(db)?;
    Ok(c)
}

/// The writer.
pub struct SqliteJournal {
    conn: Connection,
    last: u64,
}

impl SqliteJournal {
    /// Opens (or creates) the journal in `dir`, which must exist.
    pub fn open(dir: &Path) -> Result<SqliteJournal, JournalError> {
        let conn = open(&db_path(dir))?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        let last: u64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM journal", [], |r| r.get(0)).map_err(db)?;
        Ok(SqliteJournal { conn, last })
    }
}

impl Journal for SqliteJournal {
    fn engine_config(&mut self, given: Option<&EngineConfig>) -> Result<EngineConfig, JournalError> {
        let stored: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'engine_config'", [], |r| r.get(0))
            .optional()
            .map_err(db)?;
        match (stored, given) {
            (Some(s), given) => {
                let cfg: EngineConfig = serde_json::from_str(&s)
                    .map_err(|e| JournalError::Config(format!("the stored engine configuration does not read: {e}")))?;
                if given.is_some_and(|g| *g != cfg) {
                    return Err(JournalError::Config(
                        "the data directory was made with another engine configuration: \
                         start without --engine-config, or use a new data directory"
                            .into(),
                    ));
                }
                Ok(cfg)
            }
            (None, given) => {
                let cfg = given.cloned().unwrap_or_default();
                let json = serde_json::to_string(&cfg).expect("a configuration serializes");
                self.conn
                    .execute("INSERT INTO meta (key, value) VALUES ('engine_config', ?1)", params![json])
                    .map_err(db)?;
                Ok(cfg)
            }
        }
    }

    fn recover(&mut self) -> Result<Recovered, JournalError> {
        let snapshot: Option<(u64, Vec<u8>)> = self
            .conn
            .query_row("SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db)?;
        let from = snapshot.as_ref().map_or(0, |s| s.0);
        let tail = read_ops(&self.conn, from, u32::MAX)?;
        Ok(Recovered { snapshot, tail })
    }

    fn commit(&mut self, ops: &[(Timestamp, Op)], effects: &[Effect]) -> Result<u64, JournalError> {
        let tx = self.conn.transaction().map_err(db)?;
        let mut seq = self.last;
        {
            let mut insert = tx.prepare_cached("INSERT INTO journal (seq, at, op) VALUES (?1, ?2, ?3)").map_err(db)?;
            for (at, op) in ops {
                seq += 1;
                let json = serde_json::to_string(op).expect("an op serializes");
                insert.execute(params![seq, at.millis(), json]).map_err(db)?;
            }
            for e in effects {
                apply_effect(&tx, e)?;
            }
        }
        tx.commit().map_err(db)?;
        self.last = seq;
        Ok(seq)
    }

    fn snapshot(&mut self, seq: u64, state: &[u8]) -> Result<(), JournalError> {
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute("INSERT OR REPLACE INTO snapshots (seq, state) VALUES (?1, ?2)", params![seq, state]).map_err(db)?;
        tx.execute(
            "DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
            params![SNAPSHOTS_KEPT],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }
}

fn apply_effect(tx: &rusqlite::Transaction<'_>, e: &Effect) -> Result<(), JournalError> {
    match e {
        Effect::Put { key, bytes } => {
            tx.prepare_cached("INSERT OR REPLACE INTO blobs (key, data) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![key, bytes]))
                .map_err(db)?;
        }
        Effect::Concat { into, parts } => {
            let mut out = Vec::new();
            let mut get = tx.prepare_cached("SELECT data FROM blobs WHERE key = ?1").map_err(db)?;
            for p in parts {
                let part: Option<Vec<u8>> = get.query_row(params![p], |r| r.get(0)).optional().map_err(db)?;
                let part = part.ok_or_else(|| JournalError::Db(format!("blob `{p}` to assemble is missing")))?;
                out.extend_from_slice(&part);
            }
            tx.execute("INSERT OR REPLACE INTO blobs (key, data) VALUES (?1, ?2)", params![into, out]).map_err(db)?;
        }
        Effect::Delete(keys) => {
            let mut del = tx.prepare_cached("DELETE FROM blobs WHERE key = ?1").map_err(db)?;
            for k in keys {
                del.execute(params![k]).map_err(db)?;
            }
        }
        Effect::Entry(entry) => {
            let json = serde_json::to_string(entry).expect("an entry serializes");
            tx.prepare_cached("INSERT INTO history (account, entry) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![entry.account, json]))
                .map_err(db)?;
        }
    }
    Ok(())
}

fn read_ops(conn: &Connection, after: u64, limit: u32) -> Result<Vec<(u64, Timestamp, Op)>, JournalError> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, at, op FROM journal WHERE seq > ?1 ORDER BY seq LIMIT ?2").map_err(db)?;
    let rows = stmt
        .query_map(params![after, limit], |r| Ok((r.get::<_, u64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at, json) = row.map_err(db)?;
        let op = serde_json::from_str(&json).map_err(|e| JournalError::Corrupt { seq, problem: e.to_string() })?;
        out.push((seq, Timestamp(at), op));
    }
    Ok(out)
}

/// The reader: a few connections of its own, shared by the routes.
pub struct SqliteStore {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// A reader of the journal in `dir` (made by [`SqliteJournal::open`]).
    pub fn open(dir: &Path) -> Result<SqliteStore, JournalError> {
        let path = db_path(dir);
        if !path.exists() {
            return Err(JournalError::Db(format!("{}: no journal here", path.display())));
        }
        Ok(SqliteStore { path, idle: Mutex::new(Vec::new()) })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, JournalError>) -> Result<T, JournalError> {
        let conn = self.idle.lock().expect("the pool is never poisoned").pop();
        let conn = match conn {
            Some(c) => c,
            None => open(&self.path)?,
        };
        let r = f(&conn);
        let mut idle = self.idle.lock().expect("the pool is never poisoned");
        if idle.len() < 8 {
            idle.push(conn);
        }
        r
    }
}

impl Store for SqliteStore {
    fn blob(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Option<Vec<u8>>, JournalError> {
        self.with(|c| {
            let r = match len {
                None => c.query_row("SELECT data FROM blobs WHERE key = ?1", params![key], |r| r.get(0)),
                // substr counts from 1, and over blobs in bytes.
                Some(len) => c.query_row(
                    "SELECT substr(data, ?2, ?3) FROM blobs WHERE key = ?1",
                    params![key, offset as i64 + 1, len as i64],
                    |r| r.get(0),
                ),
            };
            r.optional().map_err(db)
        })
    }

    fn history(&self, account: &str, limit: u32) -> Result<Vec<Entry>, JournalError> {
        self.with(|c| {
            let mut stmt = c
                .prepare_cached("SELECT entry FROM history WHERE account = ?1 ORDER BY id DESC LIMIT ?2")
                .map_err(db)?;
            let rows = stmt.query_map(params![account, limit], |r| r.get::<_, String>(0)).map_err(db)?;
            let mut out = Vec::new();
            for row in rows {
                let json = row.map_err(db)?;
                out.push(serde_json::from_str(&json).map_err(|e| JournalError::Db(format!("history line: {e}")))?);
            }
            Ok(out)
        })
    }

    fn ops(&self, after: u64, limit: u32) -> Result<Vec<(u64, Timestamp, Op)>, JournalError> {
        self.with(|c| read_ops(c, after, limit))
    }

    fn last_seq(&self) -> Result<u64, JournalError> {
        self.with(|c| c.query_row("SELECT COALESCE(MAX(seq), 0) FROM journal", [], |r| r.get(0)).map_err(db))
    }

    fn engine_config(&self) -> Result<Option<EngineConfig>, JournalError> {
        self.with(|c| {
            let s: Option<String> = c
                .query_row("SELECT value FROM meta WHERE key = 'engine_config'", [], |r| r.get(0))
                .optional()
                .map_err(db)?;
            s.as_deref().map(super::parse_config).transpose()
        })
    }
}
