//! The SQLite backend (feature `sqlite`): the embedded default, one file created if
//! missing.
//!
//! Write decisions run in `BEGIN IMMEDIATE` transactions: the database's single write
//! lock is taken at the start, so two decisions never interleave — also across pools and
//! processes sharing the file — and a writer that finds the lock taken waits up to the
//! busy timeout instead of failing. File databases use WAL, so readers never wait for
//! writers. Times are stored as INTEGER unix microseconds.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{Error, SelfContained, SqlStore};

/// How long a writer waits for the write lock before giving up (SQLite busy timeout).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A store on SQLite; `SqliteStore` alone is the self-contained layout,
/// `SqliteStore<TableMapping>` one over the host's tables.
pub type SqliteStore<D = SelfContained> = SqlStore<Sqlite, D>;

/// Opens (creating if missing) the SQLite database at `url` (e.g.
/// `sqlite://app.db?mode=rwc` or `sqlite::memory:`) as the store wants it: WAL and
/// `synchronous = NORMAL` for files, foreign keys on, `secure_delete` on (an outbox row's
/// erased link is overwritten, rule D4), a busy timeout of
/// [`DEFAULT_BUSY_TIMEOUT`]. An in-memory database gets a pool of exactly one connection,
/// forever (it lives as long as its connection). Hosts that open their own pool should
/// give it a busy timeout: concurrent writers wait on it.
///
/// # Errors
/// [`Error::Connect`] if the URL is malformed or the file cannot be opened.
pub async fn sqlite_pool(url: &str) -> Result<SqlitePool, Error> {
    let options = SqliteConnectOptions::from_str(url).map_err(Error::Connect)?;
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    open(options, in_memory).await
}

async fn open(options: SqliteConnectOptions, in_memory: bool) -> Result<SqlitePool, Error> {
    // rule D4: freed bytes (an outbox row's erased link) are overwritten, not just unlinked.
    let mut options = options
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(DEFAULT_BUSY_TIMEOUT)
        .pragma("secure_delete", "ON");
    let mut pool = SqlitePoolOptions::new();
    if in_memory {
        pool = pool
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else {
        options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
    }
    pool.connect_with(options).await.map_err(Error::Connect)
}

impl SqlStore<Sqlite, SelfContained> {
    /// The self-contained layout on the SQLite database at `url` ([`sqlite_pool`]). Call
    /// [`SqlStore::migrate`] before use.
    ///
    /// # Errors
    /// [`Error::Connect`] if the URL is malformed or the file cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Ok(Self::new(sqlite_pool(url).await?, SelfContained::new()))
    }

    /// The self-contained layout on the database file described by `options`, with what
    /// the store relies on added (see [`sqlite_pool`]).
    ///
    /// # Errors
    /// [`Error::Connect`] if the database cannot be opened.
    pub async fn connect_with(options: SqliteConnectOptions) -> Result<Self, Error> {
        Ok(Self::new(open(options, false).await?, SelfContained::new()))
    }
}
