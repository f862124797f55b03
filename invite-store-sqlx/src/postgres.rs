//! The PostgreSQL backend (feature `postgres`): for several server processes sharing one
//! database.
//!
//! Decisions are transactions at READ COMMITTED built from conditional statements
//! (`UPDATE … WHERE status = 'pending' AND expires_at > now RETURNING …`), so of two
//! concurrent accepts the second waits for the first's row lock, re-reads the row and
//! changes nothing. One pending invitation per contact is a partial unique index. The
//! decisions that read and write the memberships of an enterprise (send, resend, accept,
//! add a member) also take a transaction-scoped advisory lock on the enterprise, so a send
//! cannot miss a membership that an accept commits a moment later. Times are
//! `timestamptz`.

use std::str::FromStr;

use invite_core::{EnterpriseId, StoreError, TokenDigest};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::Error;
use crate::imp::{backend, impl_store};

/// Takes the enterprise's advisory lock until the transaction ends.
const LOCK_ENTERPRISE: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))";
/// Takes the advisory lock of the enterprise of the invitation with this digest.
const LOCK_ENTERPRISE_OF: &str = "SELECT pg_advisory_xact_lock(hashtextextended(enterprise_id::text, 0)) \
     FROM invitations WHERE token_digest = $1";

/// Invitations, enterprises, users and members in PostgreSQL; implements
/// [`invite_core::InvitationStore`] and [`invite_core::Directory`].
///
/// Cheap to clone: it holds a connection pool.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`). Call
    /// [`PgStore::migrate`] before use.
    ///
    /// # Errors
    /// [`Error::Connect`] if the URL is malformed or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = PgConnectOptions::from_str(url).map_err(Error::Connect)?;
        Self::connect_with(options).await
    }

    /// Connects with `options`.
    ///
    /// # Errors
    /// [`Error::Connect`] if the server cannot be reached.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .connect_with(options)
            .await
            .map_err(Error::Connect)?;
        Ok(Self::new(pool))
    }

    /// Wraps a pool the host configured.
    #[must_use]
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool, e.g. for the host's own tables.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates or updates the tables (migrations embedded from `migrations/postgres/`,
    /// recorded in their own table). Safe to call at every start, also from several
    /// processes at once (sqlx takes an advisory lock).
    ///
    /// # Errors
    /// [`Error::Migrate`] if a migration fails or the database holds a newer one.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut migrator = sqlx::migrate!("migrations/postgres");
        migrator.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
        migrator.run(&self.pool).await.map_err(Error::Migrate)
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    async fn lock_enterprise(
        tx: &mut Transaction<'static, Postgres>,
        id: EnterpriseId,
    ) -> Result<(), StoreError> {
        sqlx::query(LOCK_ENTERPRISE)
            .bind(id.as_uuid())
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn lock_enterprise_of(
        tx: &mut Transaction<'static, Postgres>,
        digest: &TokenDigest,
    ) -> Result<(), StoreError> {
        sqlx::query(LOCK_ENTERPRISE_OF)
            .bind(digest.as_bytes().as_slice())
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

impl_store!(PgStore, Postgres, chrono::DateTime<chrono::Utc>);
