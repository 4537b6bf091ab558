//! Durable storage: the journal of ops, snapshots of the state, blobs (inputs,
//! results, outputs) and money history.
//!
//! [`Journal`] is the writer, owned by the engine thread: it commits a batch of
//! ops with their effects in one durable transaction (group commit). [`Store`] is
//! the reader, shared by the routes for downloads and history, and by the journal
//! inspector.

use byterank_core::{EngineConfig, Timestamp};

use crate::service::{Effect, Entry, Op};

pub mod files;
pub mod postgres;
pub mod sqlite;

/// Storage failed; the message names the file or statement.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(String),
    /// A stored record does not read back.
    #[error("journal record {seq} does not read back: {problem}")]
    Corrupt {
        /// The record.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
    /// The data directory was made for another configuration.
    #[error("{0}")]
    Config(String),
    /// Another node leads: this one must not write (fencing).
    #[error("fenced: {0}")]
    Fenced(String),
}

/// What a restart starts from: the last snapshot and the ops after it.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The last snapshot: the seq it includes and the state's JSON.
    pub snapshot: Option<(u64, Vec<u8>)>,
    /// Ops after it, in order: seq, instant, op.
    pub tail: Vec<(u64, Timestamp, Op)>,
}

/// The journal's writer.
pub trait Journal: Send + 'static {
    /// The engine configuration the data was made with; `given` is stored on first
    /// use, and refused later if it differs.
    fn engine_config(&mut self, given: Option<&EngineConfig>) -> Result<EngineConfig, JournalError>;

    /// The last snapshot and the ops after it.
    fn recover(&mut self) -> Result<Recovered, JournalError>;

    /// Appends `ops` (as seq = last + 1, ...) and carries out `effects`, all in one
    /// durable transaction; returns the last seq.
    fn commit(&mut self, ops: &[(Timestamp, Op)], effects: &[Effect]) -> Result<u64, JournalError>;

    /// A writer of snapshots with storage of its own, for a thread other than the
    /// engine's: storing one never holds up a commit.
    fn snapshots(&self) -> Result<Box<dyn Snapshots>, JournalError>;

    /// The state now includes the ops up to `seq`, replayed from the journal
    /// another node wrote (a standby following its leader).
    fn follow(&mut self, _seq: u64) {}
}

/// Where snapshots of the state go.
pub trait Snapshots: Send + 'static {
    /// Stores a snapshot of the state as of `seq` (all of it or nothing, even
    /// across a crash), and drops all but the newest few.
    fn store(&mut self, seq: u64, state: &[u8]) -> Result<(), JournalError>;
}

/// The reader.
pub trait Store: Send + Sync + 'static {
    /// `len` bytes of a blob from `offset` (all of it with `None`); `None` if absent.
    fn blob(&self, key: &str, offset: u64, len: Option<u64>) -> Result<Option<Vec<u8>>, JournalError>;

    /// An account's latest history lines, newest first.
    fn history(&self, account: &str, limit: u32) -> Result<Vec<Entry>, JournalError>;

    /// Up to `limit` of an account's history lines older than the line
    /// `before` (from the newest with `None`), newest first, each with its
    /// line number (the `before` of the next page).
    fn history_page(&self, account: &str, before: Option<u64>, limit: u32) -> Result<Vec<(u64, Entry)>, JournalError>;

    /// Up to `limit` ops after `after`, in order.
    fn ops(&self, after: u64, limit: u32) -> Result<Vec<(u64, Timestamp, Op)>, JournalError>;

    /// The seq of the last op.
    fn last_seq(&self) -> Result<u64, JournalError>;

    /// The engine configuration the journal was made with (`None` before the
    /// first start stored one).
    fn engine_config(&self) -> Result<Option<EngineConfig>, JournalError>;
}

/// Opens a reader of the journal `source` names: a `postgres://` (or
/// `postgresql://`) URL, or else the data directory of a SQLite journal.
pub fn open_store(source: &str) -> Result<Box<dyn Store>, JournalError> {
    if source.starts_with("postgres://") || source.starts_with("postgresql://") {
        Ok(Box::new(postgres::PgStore::open(source)?))
    } else {
        Ok(Box::new(sqlite::SqliteStore::open(std::path::Path::new(source))?))
    }
}

/// `source` for messages: a URL's password replaced by `***`.
pub fn redacted(source: &str) -> String {
    let Some((scheme, rest)) = source.split_once("://") else { return source.into() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return source.into() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => source.into(),
    }
}

/// Reads a stored engine configuration.
fn parse_config(json: &str) -> Result<EngineConfig, JournalError> {
    serde_json::from_str(json)
        .map_err(|e| JournalError::Config(format!("the stored engine configuration does not read: {e}")))
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_url_loses_its_password_and_nothing_else() {
        assert_eq!(redacted("postgres://ana:s3cr@t@db.local/byterank"), "postgres://ana:***@db.local/byterank");
        assert_eq!(redacted("postgres://ana@db.local/byterank"), "postgres://ana@db.local/byterank");
        assert_eq!(redacted("/var/lib/byterank"), "/var/lib/byterank");
    }
}
