//! [`SqlStore`]: the invitation store, written once as generic Rust over a [`Backend`]
//! (SQLite or PostgreSQL) and a [`HostDirectory`] (the host's tables, a
//! [`TableMapping`](crate::TableMapping), or the self-contained layout).
//!
//! Every decision is one transaction whose refusals roll back, so an error between two
//! steps leaves nothing half made (rule X7). The host's member check and membership insert
//! run on that transaction's connection (rule H2).
//!
//! The store's parts: [`steps`] (what the decisions are made of), [`invitations`] (the
//! [`InvitationStore`](invite_core::InvitationStore) methods), [`outbox`] (the
//! [`DeliveryOutbox`](invite_core::DeliveryOutbox) methods); here the type, its
//! construction and migrations, and [`Directory`].

mod invitations;
mod outbox;
mod steps;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::{Directory, Enterprise, EnterpriseId, KeyKinds, Role, StoreError, Target, UserId};
use sqlx::migrate::Migrate;
use sqlx::{Pool, Transaction};

use crate::backend::{Backend, backend};
use crate::host::HostDirectory;
use crate::row::DbTime;
use crate::{Error, sql};

/// Invitations and their events in the library's own tables (`invite_rs_*`, rule H5), and
/// the host's directory `D` read and written on the same transactions. Implements
/// [`InvitationStore`](invite_core::InvitationStore) and [`Directory`], as
/// [`Invitations::builder`](invite_core::Invitations::builder) wants.
///
/// Cheap to clone: it holds a connection pool and the directory in an `Arc`.
pub struct SqlStore<DB: Backend, D> {
    pool: Pool<DB>,
    directory: std::sync::Arc<D>,
    kinds: KeyKinds,
}

impl<DB: Backend, D> Clone for SqlStore<DB, D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            directory: self.directory.clone(),
            kinds: self.kinds,
        }
    }
}

impl<DB: Backend, D> std::fmt::Debug for SqlStore<DB, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &DB::NAME)
            .field("keys", &self.kinds)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend, D: HostDirectory<DB>> SqlStore<DB, D> {
    /// A store over the host's `pool` and `directory`. Call [`SqlStore::migrate`] (or run
    /// [`SqlStore::migrator`] in your own pipeline) before use.
    pub fn new(pool: Pool<DB>, directory: D) -> Self {
        let kinds = directory.key_kinds();
        Self {
            pool,
            directory: std::sync::Arc::new(directory),
            kinds,
        }
    }

    /// The pool, e.g. for the host's own queries.
    #[must_use]
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The host's directory.
    #[must_use]
    pub fn directory(&self) -> &D {
        &self.directory
    }

    /// The library's migrations for this backend (`invite_rs_*` tables only), recorded in
    /// their own table `_invite_store_migrations` (rule H5), for hosts that run migrations
    /// in their own pipeline. It ignores versions it does not know in that table, so the
    /// self-contained layout's migrations can share it.
    #[must_use]
    pub fn migrator() -> sqlx::migrate::Migrator {
        let mut migrator = DB::library_migrations();
        migrator.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
        migrator.set_ignore_missing(true);
        migrator
    }

    async fn begin_write(&self) -> Result<Transaction<'static, DB>, StoreError> {
        self.pool
            .begin_with(sqlx::AssertSqlSafe(DB::BEGIN_WRITE))
            .await
            .map_err(backend)
    }
}

impl<DB: Backend, D: HostDirectory<DB>> SqlStore<DB, D>
where
    DB::Connection: Migrate,
{
    /// Creates or updates the library's tables, then those of the directory if it has
    /// any ([`HostDirectory::migrator`]: the self-contained layout does, a host's mapping
    /// does not). Safe to call at every start, also from several processes at once (sqlx
    /// locks the migrations).
    ///
    /// # Errors
    /// [`Error::Migrate`] if a migration fails or the database holds a newer one.
    pub async fn migrate(&self) -> Result<(), Error> {
        Self::migrator().run(&self.pool).await.map_err(Error::Migrate)?;
        if let Some(mut own) = self.directory.migrator() {
            own.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
            own.set_ignore_missing(true);
            own.run(&self.pool).await.map_err(Error::Migrate)?;
        }
        Ok(())
    }
}

/// Rolls back and answers `err` (a refusal: nothing was changed).
async fn refuse<DB: Backend, T>(tx: Transaction<'static, DB>, err: StoreError) -> Result<T, StoreError> {
    tx.rollback().await.map_err(backend)?;
    Err(err)
}

/// A failure of the host's directory, cause kept.
fn host(err: sqlx::Error) -> StoreError {
    StoreError::backend(err)
}

/// Whether `err` is the unique index that keeps one pending invitation per contact.
fn is_pending_conflict(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                && (db.constraint() == Some(sql::PENDING_CONTACT_INDEX)
                    || db.message().contains(sql::PENDING_CONTACT_SQLITE_MESSAGE))
        }
        _ => false,
    }
}

/// Accept or reject: which conditional UPDATE moves the invitation out of `pending`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    Accept,
    Reject,
}

impl Decision {
    /// The conditional UPDATE of this decision on `target`.
    fn statement(self, target: Target<'_>) -> &'static str {
        match (target, self) {
            (Target::Token(_), Decision::Accept) => sql::ACCEPT,
            (Target::Token(_), Decision::Reject) => sql::REJECT,
            (Target::Mine(_), Decision::Accept) => sql::ACCEPT_BY_ID,
            (Target::Mine(_), Decision::Reject) => sql::REJECT_BY_ID,
        }
    }
}

/// `batch` as an SQL `LIMIT`.
fn limit(batch: usize) -> i64 {
    i64::try_from(batch).unwrap_or(i64::MAX)
}

fn text(key: &invite_core::Key) -> String {
    key.canonical().into_owned()
}

fn at<DB: Backend>(time: DateTime<Utc>) -> DB::Time {
    <DB::Time as DbTime>::encode(time)
}

#[async_trait]
impl<DB, D> Directory for SqlStore<DB, D>
where
    DB: Backend,
    D: HostDirectory<DB>,
{
    fn key_kinds(&self) -> KeyKinds {
        self.kinds
    }

    async fn enterprise(&self, id: &EnterpriseId) -> Result<Option<Enterprise>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        self.directory.enterprise(&mut conn, id).await.map_err(host)
    }

    async fn role_of(&self, enterprise: &EnterpriseId, user: &UserId) -> Result<Option<Role>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        self.directory
            .role_of(&mut conn, enterprise, user)
            .await
            .map_err(host)
    }
}
