//! The journal in one SQLite file, `byterank.db` in the data directory: WAL mode
//! with `synchronous=FULL`, so a commit is on disk (fsync'd) when it returns, and
//! readers never block the writer. Snapshots are files beside it
//! (`snapshots/SEQ.json`, written whole and renamed into place), so that writing
//! one, hundreds of megabytes for a grid with millions of tasks, never takes the
//! database's write lock from the commits.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use byterank_core::{EngineConfig, Timestamp};
use rusqlite::{params, Connection, OptionalExtension};

use super::{files, Journal, JournalError, Recovered, Snapshots, Store};
use crate::service::{Effect, Entry, Op};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, op TEXT NOT NULL);
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

/// Makes `path` readable by this user only, or a new empty file that is: SQLite
/// gives its `-wal` and `-shm` files the database file's mode.
fn private_file(path: &Path) -> Result<(), JournalError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(0o600)))
            .map_err(|e| io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn open(path: &Path) -> Result<Connection, JournalError> {
    private_file(path)?;
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
    snapshots: PathBuf,
    data: PathBuf,
}

impl SqliteJournal {
    /// Opens (or creates) the journal in `dir`, which must exist.
    pub fn open(dir: &Path) -> Result<SqliteJournal, JournalError> {
        let conn = open(&db_path(dir))?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        let last: u64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM journal", [], |r| r.get(0)).map_err(db)?;
        Ok(SqliteJournal { conn, last, snapshots: dir.join("snapshots"), data: dir.to_path_buf() })
    }
}

/// Snapshot files in a data directory's `snapshots/`.
struct SnapshotFiles {
    dir: PathBuf,
}

fn io(what: &Path, e: std::io::Error) -> JournalError {
    JournalError::Db(format!("{}: {e}", what.display()))
}

impl SnapshotFiles {
    /// The stored snapshots' seqs, oldest first.
    fn seqs(&self) -> Result<Vec<u64>, JournalError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.dir, e)),
        };
        let mut seqs = Vec::new();
        for entry in entries {
            let name = entry.map_err(|e| io(&self.dir, e))?.file_name();
            if let Some(seq) = name.to_str().and_then(|n| n.strip_suffix(".json")).and_then(|n| n.parse().ok()) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        Ok(seqs)
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }

    fn newest(&self) -> Result<Option<(u64, Vec<u8>)>, JournalError> {
        let Some(&seq) = self.seqs()?.last() else { return Ok(None) };
        let path = self.path(seq);
        Ok(Some((seq, std::fs::read(&path).map_err(|e| io(&path, e))?)))
    }
}

impl Snapshots for SnapshotFiles {
    fn store(&mut self, seq: u64, state: &[u8]) -> Result<(), JournalError> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let part = self.dir.join(format!("{seq:020}.json.part"));
        let mut create = std::fs::OpenOptions::new();
        create.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
        let mut f = create.open(&part).map_err(|e| io(&part, e))?;
        f.write_all(state).and_then(|()| f.sync_all()).map_err(|e| io(&part, e))?;
        drop(f);
        let done = self.path(seq);
        std::fs::rename(&part, &done).map_err(|e| io(&done, e))?;
        // The rename itself must be durable before older snapshots go.
        std::fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| io(&self.dir, e))?;
        let seqs = self.seqs()?;
        for old in seqs.iter().rev().skip(SNAPSHOTS_KEPT as usize) {
            let path = self.path(*old);
            std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
        }
        Ok(())
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
        let snapshot = SnapshotFiles { dir: self.snapshots.clone() }.newest()?;
        if let Some((seq, _)) = &snapshot {
            if *seq > self.last {
                return Err(JournalError::Corrupt {
                    seq: *seq,
                    problem: format!(
                        "a snapshot in {} is newer than the journal's last op ({}): \
                         the snapshots belong to another database",
                        self.snapshots.display(),
                        self.last
                    ),
                });
            }
        }
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
                apply_effect(&tx, &self.data, e)?;
            }
        }
        tx.commit().map_err(db)?;
        self.last = seq;
        // Files go once nothing can need them: a crash before the commit replays
        // ops that still read them.
        for e in effects {
            if let Effect::Delete(keys) = e {
                for k in keys {
                    files::remove(&self.data, k)?;
                }
            }
        }
        Ok(seq)
    }

    fn snapshots(&self) -> Result<Box<dyn Snapshots>, JournalError> {
        Ok(Box::new(SnapshotFiles { dir: self.snapshots.clone() }))
    }
}

fn apply_effect(tx: &rusqlite::Transaction<'_>, data: &Path, e: &Effect) -> Result<(), JournalError> {
    match e {
        // Moved into place before the commit: if the commit is lost, the blob is
        // one that no op names, and a retried upload replaces it.
        Effect::Adopt { key, path } => {
            files::adopt(data, key, path)?;
            tx.prepare_cached("DELETE FROM blobs WHERE key = ?1")
                .and_then(|mut s| s.execute(params![key]))
                .map_err(db)?;
        }
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

/// Most connections the reader holds. More readers wait for one of these rather
/// than open their own: opening a connection (and preparing its statements
/// again) costs far more than a read, and readers come from as many blocking
/// threads as there are requests in flight.
const READERS: usize = 8;

/// The reader: a few connections of its own, shared by the routes.
pub struct SqliteStore {
    path: PathBuf,
    data: PathBuf,
    pool: Mutex<Pool>,
    returned: Condvar,
}

/// The reader's connections: those idle, and how many exist.
#[derive(Default)]
struct Pool {
    idle: Vec<Connection>,
    open: usize,
}

impl SqliteStore {
    /// A reader of the journal in `dir` (made by [`SqliteJournal::open`]).
    pub fn open(dir: &Path) -> Result<SqliteStore, JournalError> {
        let path = db_path(dir);
        if !path.exists() {
            return Err(JournalError::Db(format!("{}: no journal here", path.display())));
        }
        Ok(SqliteStore { path, data: dir.to_path_buf(), pool: Mutex::default(), returned: Condvar::new() })
    }

    /// The pool, locked (a panic elsewhere leaves it consistent: its fields
    /// change in single steps).
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on an idle connection, opening one while fewer than
    /// [`READERS`] exist, else waiting for one to come back.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, JournalError>) -> Result<T, JournalError> {
        let conn = {
            let mut pool = self.pool();
            loop {
                if let Some(c) = pool.idle.pop() {
                    break c;
                }
                if pool.open < READERS {
                    pool.open += 1;
                    drop(pool);
                    match open(&self.path) {
                        Ok(c) => break c,
                        Err(e) => {
                            self.pool().open -= 1;
                            self.returned.notify_one();
                            return Err(e);
                        }
                    }
                }
                pool = self.returned.wait(pool).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            // The lock ends here: giving the connection back takes it again.
        };
        // Given back even if `f` panics, so that the pool never shrinks.
        struct Back<'a>(&'a SqliteStore, Option<Connection>);
        impl Drop for Back<'_> {
            fn drop(&mut self) {
                if let Some(c) = self.1.take() {
                    self.0.pool().idle.push(c);
                    self.0.returned.notify_one();
                }
            }
        }
        let back = Back(self, Some(conn));
        f(back.1.as_ref().expect("held until dropped"))
    }
}

impl Store for SqliteStore {
    fn blob(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Option<Vec<u8>>, JournalError> {
        if let Some(bytes) = files::read(&self.data, key, offset, len)? {
            return Ok(Some(bytes));
        }
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

    fn history_page(&self, account: &str, before: Option<u64>, limit: u32) -> Result<Vec<(u64, Entry)>, JournalError> {
        let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        self.with(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, entry FROM history WHERE account = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![account, before, limit], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .map_err(db)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, json) = row.map_err(db)?;
                let e = serde_json::from_str(&json).map_err(|e| JournalError::Db(format!("history line: {e}")))?;
                out.push((id as u64, e));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_share_a_bounded_set_of_connections() {
        let dir = std::env::temp_dir().join(format!("byterank-readers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut journal = SqliteJournal::open(&dir).unwrap();
        journal.commit(&[(Timestamp(5), Op::Resume)], &[]).unwrap();
        let store = SqliteStore::open(&dir).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 * READERS {
                s.spawn(|| {
                    for _ in 0..20 {
                        assert_eq!(store.last_seq().unwrap(), 1);
                    }
                });
            }
        });
        let pool = store.pool.lock().unwrap();
        assert!(pool.open >= 1 && pool.open <= READERS, "{} connections opened", pool.open);
        assert_eq!(pool.idle.len(), pool.open, "every connection came back");
        drop(pool);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn snapshot_files_keep_the_newest_and_ignore_a_torn_write() {
        let dir = std::env::temp_dir().join(format!("byterank-snapshot-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut files = SnapshotFiles { dir: dir.clone() };
        assert_eq!(files.newest().unwrap(), None);
        for seq in [3, 10, 7] {
            files.store(seq, format!("state {seq}").as_bytes()).unwrap();
        }
        // A crash in the middle of a write leaves only a `.part` file.
        std::fs::write(dir.join(format!("{:020}.json.part", 99)), b"torn").unwrap();
        assert_eq!(files.seqs().unwrap(), vec![7, 10]);
        assert_eq!(files.newest().unwrap(), Some((10, b"state 10".to_vec())));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
