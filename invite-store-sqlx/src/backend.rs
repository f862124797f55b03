//! What differs between SQLite and PostgreSQL, and nothing else: the [`Backend`] trait,
//! implemented for [`sqlx::Sqlite`] and [`sqlx::Postgres`] only (sealed), as sqlx itself
//! keeps a backend's differences in its `Migrate` trait.

#[cfg(feature = "postgres")]
use chrono::{DateTime, Utc};
use invite_core::StoreError;
use sqlx::Database;
use sqlx::migrate::Migrator;

use crate::row::DbTime;

mod sealed {
    pub trait Sealed {}
    #[cfg(feature = "sqlite")]
    impl Sealed for sqlx::Sqlite {}
    #[cfg(feature = "postgres")]
    impl Sealed for sqlx::Postgres {}
}

/// A database invite-store-sqlx runs on: SQLite or PostgreSQL. Sealed.
pub trait Backend: Database + sealed::Sealed {
    /// How a time is stored: INTEGER unix microseconds on SQLite, `timestamptz` on
    /// PostgreSQL.
    type Time: DbTime + Send + Sync + Unpin + 'static;

    /// The statement that opens a transaction that will write. SQLite: `BEGIN IMMEDIATE`,
    /// so the one write lock is taken up front and concurrent writers queue on the busy
    /// timeout instead of failing on an upgrade. PostgreSQL: `BEGIN`.
    const BEGIN_WRITE: &'static str;

    /// Takes the per-enterprise lock of `$1` (the enterprise key's canonical text) until
    /// the transaction ends, or `None` where the write lock is global already (SQLite).
    /// Decisions that read and write memberships (send, resend, accept) hold it, so a
    /// send cannot miss a membership an accept commits a moment later (rules S7, H2).
    const LOCK_ENTERPRISE: Option<&'static str>;

    /// As [`Backend::LOCK_ENTERPRISE`], for the enterprise of the invitation whose token
    /// digest is `$1`.
    const LOCK_ENTERPRISE_OF: Option<&'static str>;

    /// As [`Backend::LOCK_ENTERPRISE`], for the enterprise of the invitation whose id is
    /// `$1` (an accept by id, rule B1).
    const LOCK_ENTERPRISE_OF_ID: Option<&'static str>;

    /// The claim of due outbox rows (rule D3): see `sql::CLAIM_DELIVERIES_*`. PostgreSQL
    /// skips rows another transaction has locked (`FOR UPDATE SKIP LOCKED`); SQLite needs
    /// no clause, its write transactions being one at a time.
    const CLAIM_DELIVERIES: &'static str;

    /// How many rows a statement changed.
    fn rows_affected(done: &Self::QueryResult) -> u64;

    /// The library's own migrations (`migrations/{sqlite,postgres}/`).
    fn library_migrations() -> Migrator;

    /// The self-contained layout's migrations (`migrations/self_contained/…`).
    fn self_contained_migrations() -> Migrator;
}

#[cfg(feature = "sqlite")]
impl Backend for sqlx::Sqlite {
    type Time = i64;
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const LOCK_ENTERPRISE: Option<&'static str> = None;
    const LOCK_ENTERPRISE_OF: Option<&'static str> = None;
    const LOCK_ENTERPRISE_OF_ID: Option<&'static str> = None;
    const CLAIM_DELIVERIES: &'static str = crate::sql::CLAIM_DELIVERIES_SQLITE;

    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }

    fn library_migrations() -> Migrator {
        sqlx::migrate!("migrations/sqlite")
    }

    fn self_contained_migrations() -> Migrator {
        sqlx::migrate!("migrations/self_contained/sqlite")
    }
}

#[cfg(feature = "postgres")]
impl Backend for sqlx::Postgres {
    type Time = DateTime<Utc>;
    const BEGIN_WRITE: &'static str = "BEGIN";
    const LOCK_ENTERPRISE: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))");
    const LOCK_ENTERPRISE_OF: Option<&'static str> = Some(
        "SELECT pg_advisory_xact_lock(hashtextextended(enterprise_id, 0)) \
         FROM invite_rs_invitations WHERE token_digest = $1",
    );
    const LOCK_ENTERPRISE_OF_ID: Option<&'static str> = Some(
        "SELECT pg_advisory_xact_lock(hashtextextended(enterprise_id, 0)) \
         FROM invite_rs_invitations WHERE id = $1",
    );
    const CLAIM_DELIVERIES: &'static str = crate::sql::CLAIM_DELIVERIES_POSTGRES;

    fn rows_affected(done: &Self::QueryResult) -> u64 {
        done.rows_affected()
    }

    fn library_migrations() -> Migrator {
        sqlx::migrate!("migrations/postgres")
    }

    fn self_contained_migrations() -> Migrator {
        sqlx::migrate!("migrations/self_contained/postgres")
    }
}

/// A backend failure, cause kept as `source()`.
pub(crate) fn backend(err: sqlx::Error) -> StoreError {
    StoreError::backend(err)
}
