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

use invite_core::{EnterpriseId, StoreError, TokenDigest};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::Error;
use crate::imp::impl_store;

/// How long a writer waits for the write lock before giving up (SQLite busy timeout).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Invitations, enterprises, users and members in SQLite; implements
/// [`invite_core::InvitationStore`] and [`invite_core::Directory`].
///
/// Cheap to clone: it holds a connection pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`, e.g.
    /// `sqlite://invite.db?mode=rwc` or `sqlite::memory:`, with WAL for files, foreign
    /// keys on and a busy timeout of [`DEFAULT_BUSY_TIMEOUT`]. Call
    /// [`SqliteStore::migrate`] before use.
    ///
    /// # Errors
    /// [`Error::Connect`] if the URL is malformed or the file cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url).map_err(Error::Connect)?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::open(options, in_memory).await
    }

    /// Opens the database file described by `options`, adding what the store relies on:
    /// create if missing, WAL, foreign keys, a busy timeout of [`DEFAULT_BUSY_TIMEOUT`]
    /// (for an in-memory database use [`SqliteStore::connect`] with `sqlite::memory:`).
    ///
    /// # Errors
    /// [`Error::Connect`] if the database cannot be opened.
    pub async fn connect_with(options: SqliteConnectOptions) -> Result<Self, Error> {
        Self::open(options, false).await
    }

    /// An in-memory database lives as long as its connections and is not shared safely
    /// between them, so its pool holds exactly one, forever.
    async fn open(options: SqliteConnectOptions, in_memory: bool) -> Result<Self, Error> {
        let mut options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(DEFAULT_BUSY_TIMEOUT);
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
        let pool = pool.connect_with(options).await.map_err(Error::Connect)?;
        Ok(Self::new(pool))
    }

    /// Wraps a pool the host configured. Give its connections a busy timeout (concurrent
    /// writers wait on it) and foreign keys; [`SqliteStore::connect`] does.
    #[must_use]
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The pool, e.g. for the host's own tables.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Creates or updates the tables (migrations embedded from `migrations/sqlite/`,
    /// recorded in their own table). Safe to call at every start.
    ///
    /// # Errors
    /// [`Error::Migrate`] if a migration fails or the database holds a newer one.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut migrator = sqlx::migrate!("migrations/sqlite");
        migrator.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
        migrator.run(&self.pool).await.map_err(Error::Migrate)
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Nothing to do: `BEGIN IMMEDIATE` holds the database's one write lock already.
    #[allow(clippy::unused_async)]
    async fn lock_enterprise(
        _tx: &mut Transaction<'static, Sqlite>,
        _id: EnterpriseId,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Nothing to do, as [`SqliteStore::lock_enterprise`].
    #[allow(clippy::unused_async)]
    async fn lock_enterprise_of(
        _tx: &mut Transaction<'static, Sqlite>,
        _digest: &TokenDigest,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

impl_store!(SqliteStore, Sqlite, i64);
