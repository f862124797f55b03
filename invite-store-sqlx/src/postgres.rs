//! The PostgreSQL backend (feature `postgres`): for several server processes sharing one
//! database.
//!
//! Decisions are transactions at READ COMMITTED built from conditional statements
//! (`UPDATE … WHERE status = 'pending' AND expires_at > now RETURNING …`), so of two
//! concurrent accepts the second waits for the first's row lock, re-reads the row and
//! changes nothing. One pending invitation per contact is a partial unique index. The
//! decisions that read and write the memberships of an enterprise (send, resend, accept)
//! also take a transaction-scoped advisory lock on the enterprise, and the host's member
//! check and insert run inside it, so a send cannot miss a membership that an accept
//! commits a moment later (rules S7, H2). Times are `timestamptz`.

use std::str::FromStr;

use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::{Error, SelfContained, SqlStore};

/// A store on PostgreSQL; `PgStore` alone is the self-contained layout,
/// `PgStore<TableMapping>` one over the host's tables.
pub type PgStore<D = SelfContained> = SqlStore<Postgres, D>;

impl SqlStore<Postgres, SelfContained> {
    /// The self-contained layout on the PostgreSQL server at `url`
    /// (`postgres://user:password@host:port/database`). Call [`SqlStore::migrate`] before
    /// use.
    ///
    /// # Errors
    /// [`Error::Connect`] if the URL is malformed or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = PgConnectOptions::from_str(url).map_err(Error::Connect)?;
        Self::connect_with(options).await
    }

    /// The self-contained layout, connected with `options`.
    ///
    /// # Errors
    /// [`Error::Connect`] if the server cannot be reached.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, Error> {
        let pool: PgPool = PgPoolOptions::new()
            .connect_with(options)
            .await
            .map_err(Error::Connect)?;
        Ok(Self::new(pool, SelfContained::new()))
    }
}
