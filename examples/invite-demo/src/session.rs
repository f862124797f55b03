//! The demo's sign-in sessions, kept in the demo's database (demo only, never in the
//! library): a table of the demo's own, `invite_demo_sessions`, created at start-up next
//! to the library's tables (`CREATE TABLE IF NOT EXISTS`; it is not one of the library's
//! migrations, which own only the library's tables, rule H5).
//!
//! | column | |
//! |---|---|
//! | `id_hash` | SHA-256 of the cookie's value, lowercase hex: the raw id is never stored |
//! | `user_id` | the signed-in account, as the store writes its key |
//! | `created_at`, `expires_at` | unix microseconds (UTC), as the library's SQLite schema |
//!
//! - A session lives `--session-ttl` (12 hours by default) from sign-in, however much it
//!   is used (an absolute expiry); the cookie's `Max-Age` says the same to the browser. An
//!   expired row is never honoured, and every sign-in deletes the expired rows, so the
//!   table holds at most the sign-ins of one lifetime (which the sign-in rate limit bounds
//!   per client) and the server's memory holds none of it.
//! - Every sign-in makes a fresh random id (256 bits) and deletes the session the request
//!   came with, if any: an id a browser had before signing in, planted or not, never
//!   becomes a signed-in session (session fixation).
//! - `POST /logout` deletes the row, so the cookie stops working on the server too.
//! - The rows are in the database, so sessions survive a restart of the demo.
//!
//! **Why a table of our own and not `tower-sessions`.** `tower-sessions-core` 0.15 itself
//! pulls in no sqlx (its stores come in other crates, and `tower-sessions-sqlx-store` 0.15
//! is built on sqlx 0.8, whose SQLite library cannot be linked next to our sqlx 0.9). But
//! it brings only the session type and the store trait: the store for SQLite *and*
//! PostgreSQL would still be ours to write, over this same table. It would add `rand` 0.9
//! and `time` next to the workspace's `rand` 0.10 and `chrono`, a serialized map of
//! session data where the demo keeps one user id, and a 128-bit id handed to the store as
//! it is (we would have to hash it in our store anyway). The whole of what the demo needs
//! is four SQL statements; they are here.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::HeaderValue;
use axum::http::header::COOKIE;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use invite_core::{Invitations, UserId};
use invite_store_sqlx::AnyStore;
use sha2::{Digest as _, Sha256};
use sqlx::{PgPool, SqlitePool};

use crate::BoxError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "invite_demo_session";

/// The length of a session id in the cookie: 32 random bytes, base64url without padding.
const ID_LEN: usize = 43;

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS invite_demo_sessions (
    id_hash     TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
)";
const CREATE_INDEX: &str = "CREATE INDEX IF NOT EXISTS invite_demo_sessions_expires_at \
     ON invite_demo_sessions (expires_at)";
const INSERT: &str = "INSERT INTO invite_demo_sessions (id_hash, user_id, created_at, expires_at) \
     VALUES ($1, $2, $3, $4)";
const SELECT_USER: &str = "SELECT user_id FROM invite_demo_sessions WHERE id_hash = $1 AND expires_at > $2";
const DELETE_ONE: &str = "DELETE FROM invite_demo_sessions WHERE id_hash = $1";
const DELETE_EXPIRED: &str = "DELETE FROM invite_demo_sessions WHERE expires_at <= $1";

/// The demo database's pool, of whichever backend `--database-url` names.
#[derive(Clone, Debug)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the pool of either backend (the same SQL serves
/// both: `$n` placeholders, `TEXT` and `BIGINT`).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// At most how often a sign-in also deletes the expired sessions (expired ones are never
/// read: the lookup compares `expires_at`), so that sign-ins do not all queue a second
/// write on SQLite's one writer (issue #11); a shorter session lifetime prunes as often as
/// it lasts, so the table holds at most the sessions of about two lifetimes.
const PRUNE_EVERY_MICROS: i64 = 60_000_000;

/// The signed-in sessions, in the demo's database.
#[derive(Clone, Debug)]
pub struct Sessions {
    db: Db,
    ttl: Duration,
    secure_cookie: bool,
    /// When the expired sessions were last deleted (µs since the epoch).
    pruned_at: Arc<AtomicI64>,
}

impl Sessions {
    /// The sessions in `store`'s database, living `ttl` from sign-in; the cookie carries
    /// `Secure` when the demo is served over HTTPS. Creates the table if it is missing and
    /// deletes the rows that expired while the demo was stopped.
    ///
    /// # Errors
    /// When the table cannot be created, or the store is of a backend the demo does not
    /// know.
    pub async fn open(store: &AnyStore, ttl: Duration, secure_cookie: bool) -> Result<Self, BoxError> {
        let db = match store {
            AnyStore::Sqlite(store) => Db::Sqlite(store.pool().clone()),
            AnyStore::Postgres(store) => Db::Postgres(store.pool().clone()),
            other => {
                return Err(format!("sessions: unsupported backend {}", other.backend_name()).into());
            }
        };
        let sessions = Self {
            db,
            ttl,
            secure_cookie,
            pruned_at: Arc::new(AtomicI64::new(i64::MIN)),
        };
        on_pool!(&sessions.db, pool => {
            sqlx::query(CREATE_TABLE).execute(pool).await?;
            sqlx::query(CREATE_INDEX).execute(pool).await?;
        });
        let pruned = sessions.prune().await?;
        tracing::info!(
            pruned,
            ttl = %humantime::format_duration(ttl),
            "sessions ready (table invite_demo_sessions)"
        );
        Ok(sessions)
    }

    /// Deletes the expired sessions, at most once a minute ([`PRUNE_EVERY_MICROS`]) or
    /// once a lifetime if that is shorter; returns how many.
    async fn prune(&self) -> Result<u64, sqlx::Error> {
        let now = Utc::now().timestamp_micros();
        let ttl = i64::try_from(self.ttl.as_micros()).unwrap_or(i64::MAX);
        let last = self.pruned_at.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= ttl.min(PRUNE_EVERY_MICROS);
        if !due
            || self
                .pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(0);
        }
        Ok(on_pool!(&self.db, pool => sqlx::query(DELETE_EXPIRED)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Signs `user` in: deletes the expired sessions (when due, see [`Sessions::prune`])
    /// and the one the request came with (`headers`), if any, and opens a new one under a
    /// fresh random id. Returns its `Set-Cookie` value.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn sign_in(&self, headers: &HeaderMap, user: &UserId) -> Result<HeaderValue, sqlx::Error> {
        self.prune().await?;
        if let Some(previous) = session_id(headers) {
            self.delete(&previous).await?;
        }
        let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::MAX);
        let expires = now
            .checked_add_signed(ttl)
            .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC);
        on_pool!(&self.db, pool => {
            sqlx::query(INSERT)
                .bind(digest(&id))
                .bind(user.to_string())
                .bind(now.timestamp_micros())
                .bind(expires.timestamp_micros())
                .execute(pool)
                .await?;
        });
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        let max_age = self.ttl.as_secs() + u64::from(self.ttl.subsec_nanos() > 0);
        let cookie =
            format!("{SESSION_COOKIE}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
        // Only base64url characters and the fixed attributes: always a valid header value.
        HeaderValue::from_str(&cookie).map_err(|err| sqlx::Error::Protocol(err.to_string()))
    }

    /// Ends the session of the request, if any; returns the `Set-Cookie` that clears it.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn sign_out(&self, headers: &HeaderMap) -> Result<HeaderValue, sqlx::Error> {
        if let Some(id) = session_id(headers) {
            self.delete(&id).await?;
        }
        Ok(HeaderValue::from_static(
            "invite_demo_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        ))
    }

    async fn delete(&self, id: &str) -> Result<(), sqlx::Error> {
        on_pool!(&self.db, pool => {
            sqlx::query(DELETE_ONE).bind(digest(id)).execute(pool).await?;
        });
        Ok(())
    }

    /// The account the request's cookie is signed in as: its session exists and has not
    /// expired. `invitations` parses the stored key as the store's kind.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn user_id(
        &self,
        headers: &HeaderMap,
        invitations: &Invitations,
    ) -> Result<Option<UserId>, sqlx::Error> {
        let Some(id) = session_id(headers) else {
            return Ok(None);
        };
        let now = Utc::now().timestamp_micros();
        let row: Option<(String,)> = on_pool!(&self.db, pool => sqlx::query_as(SELECT_USER)
            .bind(digest(&id))
            .bind(now)
            .fetch_optional(pool)
            .await?);
        Ok(row.and_then(|(raw,)| match invitations.user_id(&raw) {
            Ok(user) => Some(user),
            Err(err) => {
                tracing::warn!(error = %err, "a session names a user id the store cannot parse");
                None
            }
        }))
    }
}

/// SHA-256 of a session id, lowercase hex: what the table keeps instead of the id.
fn digest(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The session id of the request's cookie, if it has the shape of one of ours (anything
/// else is no session, without asking the database).
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, id)| id)
        .filter(|id| {
            id.len() == ID_LEN
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_sha256_hex() {
        // The table keeps SHA-256 of the id, never the id.
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn only_ids_of_our_shape_are_read_from_the_cookie() {
        let headers = |cookie: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(COOKIE, HeaderValue::from_str(cookie).unwrap());
            headers
        };
        let id = URL_SAFE_NO_PAD.encode([7u8; 32]);
        assert_eq!(id.len(), ID_LEN);
        assert_eq!(
            session_id(&headers(&format!("a=b; {SESSION_COOKIE}={id}"))),
            Some(id.clone())
        );
        assert_eq!(session_id(&headers(&format!("{SESSION_COOKIE}=short"))), None);
        assert_eq!(session_id(&headers(&format!("{SESSION_COOKIE}={id}!"))), None);
        assert_eq!(session_id(&headers("other=1")), None);
    }
}
