//! # invite-store-sqlx
//!
//! Storage for invite-rs through sqlx, on **SQLite** (feature `sqlite`, the embedded
//! default: one file, created if missing) and **PostgreSQL** (feature `postgres`, for
//! several server processes sharing a database): the
//! [`InvitationStore`](invite_core::InvitationStore) and
//! [`Directory`](invite_core::Directory) ports of `invite-core` as one generic store, [`SqlStore`], over the
//! host's own tables.
//!
//! ## Your tables stay yours
//!
//! The library owns only `invite_rs_invitations` and `invite_rs_events` (rule H5), with
//! migrations recorded in `_invite_store_migrations` ([`SqlStore::migrator`] for hosts
//! that run migrations in their own pipeline). Organizations, accounts and memberships are
//! the host's (rule H1): describe them with a [`TableMapping`] (table and column names,
//! role names, key kinds, extra columns of the membership table), or implement
//! [`HostDirectory`] by hand. Either way the member check of a send and the membership
//! insert of an accept run on the connection of the library's transaction (rule H2), so
//! a send and an accept of one contact, or two accepts of one link, cannot both win —
//! also across processes. Keys are the host's: integers, UUIDs or strings (rule H3).
//!
//! ```no_run
//! use std::sync::Arc;
//! use invite_core::{Invitations, KeyKind, KeyKinds, Role};
//! use invite_store_sqlx::{MemberValue, SqlStore, TableMapping, sqlite_pool};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mapping = TableMapping::builder()
//!     .keys(KeyKinds::both(KeyKind::Int))
//!     .enterprises("organizations", "id", "title", "verified")
//!     .users("accounts", "id")
//!     .email("email")
//!     .phone("phone")
//!     .memberships("org_memberships", "org_id", "account_id", "role")
//!     .role(Role::SuperAdmin, "owner")
//!     .role(Role::FinanceAdmin, "billing")
//!     .role(Role::DevAdmin, "developer")
//!     .role(Role::Member, "member")
//!     .member_value("joined_at", MemberValue::Now)
//!     .build()?;
//! let store = SqlStore::new(sqlite_pool("sqlite://app.db?mode=rwc").await?, mapping);
//! store.migrate().await?; // creates invite_rs_* only
//! let invitations = Invitations::builder(Arc::new(store)).base_url("https://app.example").build();
//! # Ok(()) }
//! ```
//!
//! | type | what it is |
//! |---|---|
//! | [`SqlStore`] | the store, generic over the [`Backend`] and the directory |
//! | [`SqliteStore`], [`PgStore`] | `SqlStore` on SQLite / PostgreSQL (default: the self-contained layout) |
//! | [`TableMapping`] | the host's directory, described |
//! | [`HostDirectory`] | the host's directory, programmed; gets the transaction's connection |
//! | [`SelfContained`] | the library's own `enterprises`/`users`/`members` (rule H6), with [`Accounts`](invite_core::Accounts) |
//! | [`AnyStore`] | either backend, picked from the URL scheme at run time ([`connect`]) |
//!
//! ## Guarantees
//!
//! - Every decision is one transaction (rules S7, A5, A6, R2, R3): two processes sending
//!   to one contact at the same instant make one pending invitation (a partial unique
//!   index; pending rows past their expiry are written down `expired` first, so they
//!   never block); of any number of concurrent accepts of one token exactly one wins and
//!   makes exactly one membership, in the host's table.
//! - Each change writes its event in the same transaction (rule X5); a failure between
//!   two steps — the host's membership insert included — rolls everything back (rule X7).
//! - `expired` is derived on every read path.
//! - Tokens are stored only as SHA-256 digests, looked up through a unique index; the
//!   records table is keyset-paginated over `(sent_at, id)`.
//! - Queries are built at run time: nothing needs a database to compile. A row that does
//!   not decode is a [`StoreError::Backend`](invite_core::StoreError::Backend), never a
//!   panic.
//!
//! ## The self-contained layout
//!
//! ```
//! use std::sync::Arc;
//! use invite_core::{Accounts, Directory, Enterprise, EnterpriseId, Invitations};
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
//! assert_eq!(invitations.directory().enterprise(&acme.id).await?, Some(acme));
//! # Ok(())
//! # }
//! ```
//!
//! SQLite keeps times as INTEGER unix microseconds and invitation ids as 16-byte BLOBs;
//! PostgreSQL uses `timestamptz` and `uuid`; host keys are kept as their canonical text.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("invite-store-sqlx needs at least one of the features `sqlite` and `postgres`");

#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod any;
mod backend;
mod error;
mod host;
mod mapping;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
mod self_contained;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

#[cfg(all(feature = "sqlite", feature = "postgres"))]
pub use any::{AnyStore, connect};
pub use backend::Backend;
pub use error::Error;
pub use host::{HostDirectory, KeyValue, MemberInsert};
pub use mapping::{MappingError, MemberValue, TableMapping, TableMappingBuilder};
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use row::RowError;
pub use self_contained::SelfContained;
#[cfg(feature = "sqlite")]
pub use sqlite::{DEFAULT_BUSY_TIMEOUT, SqliteStore, sqlite_pool};
pub use store::SqlStore;

/// The table where this crate's migrations are recorded, apart from the host's.
pub(crate) const MIGRATIONS_TABLE: &str = "_invite_store_migrations";
