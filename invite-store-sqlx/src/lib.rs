//! # invite-store-sqlx
//!
//! Storage for invite-rs: the [`InvitationStore`](invite_core::InvitationStore) and
//! [`Directory`](invite_core::Directory) ports of `invite-core`, implemented with sqlx for
//! **SQLite** (feature `sqlite`, the embedded default: one file, created if missing) and
//! **PostgreSQL** (feature `postgres`, for several server processes sharing a database).
//!
//! | type | what it is |
//! |---|---|
//! | [`SqliteStore`] | SQLite; `BEGIN IMMEDIATE` transactions, WAL, a busy timeout |
//! | [`PgStore`] | PostgreSQL; conditional statements, a partial unique index, advisory locks |
//! | [`AnyStore`] | either, picked from the URL scheme at run time ([`connect`]) |
//!
//! Each store is both the invitation store and the directory, as
//! [`Invitations::builder`](invite_core::Invitations::builder) wants, so that sending
//! and accepting check and write memberships in the same transaction.
//!
//! ## Guarantees
//!
//! - Every decision is one transaction or one conditional statement (SPEC S7, A5, A6,
//!   R2, R3): two processes sending to one contact at the same instant make one pending
//!   invitation (a partial unique index; pending rows past their expiry are written down
//!   `expired` first, so they never block); of any number of concurrent accepts of one
//!   token exactly one wins and makes exactly one membership.
//! - Each change writes its event in the same transaction (SPEC X5); a failure between
//!   two steps rolls everything back (SPEC X7).
//! - `expired` is derived on every read path: a pending row with `expires_at <= now` is
//!   expired whether or not [`sweep_expired`](invite_core::InvitationStore::sweep_expired)
//!   wrote it down.
//! - Tokens are stored only as SHA-256 digests, looked up through a unique index; the
//!   records table is keyset-paginated over `(sent_at, id)`, so a lookup and a page cost
//!   the same at a million invitations as at a thousand.
//! - Queries are built at run time (`sqlx::query_as` + `FromRow`): nothing needs a
//!   database to compile. A row that does not decode is a
//!   [`StoreError::Backend`](invite_core::StoreError::Backend), never a panic.
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use invite_core::{Directory, Enterprise, EnterpriseId, Invitations};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // `sqlite://invite.db?mode=rwc` for a file, `postgres://…` for PostgreSQL.
//! let store = invite_store_sqlx::connect("sqlite::memory:").await?;
//! let acme = Enterprise { id: EnterpriseId::new(), name: "Acme Robotics".into(), certified: true };
//! store.save_enterprise(&acme).await?;
//!
//! let invitations = Invitations::builder(Arc::new(store))
//!     .base_url("https://app.example")
//!     .build();
//! assert_eq!(invitations.directory().enterprise(acme.id).await?, Some(acme));
//! # Ok(())
//! # }
//! ```
//!
//! ## Schema
//!
//! The migrations live in `migrations/{sqlite,postgres}/` and are embedded; call
//! [`migrate`](AnyStore::migrate) (or [`connect`], which does) at start. They are recorded
//! in their own table, `_invite_store_migrations`, so they never clash with the host's.
//! Tables: `enterprises`, `users`, `members`, `invitations` (contact as entered,
//! normalized and its kind; token digest unique) and `invitation_events`. SQLite keeps
//! times as INTEGER unix microseconds and ids as 16-byte BLOBs; PostgreSQL uses
//! `timestamptz` and `uuid`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("invite-store-sqlx needs at least one of the features `sqlite` and `postgres`");

mod any;
mod error;
mod imp;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use any::{AnyStore, connect};
pub use error::Error;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use row::RowError;
#[cfg(feature = "sqlite")]
pub use sqlite::{DEFAULT_BUSY_TIMEOUT, SqliteStore};

/// The table where this crate's migrations are recorded, apart from the host's.
pub(crate) const MIGRATIONS_TABLE: &str = "_invite_store_migrations";
