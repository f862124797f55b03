//! embed-host-schema: a host that already has its own `accounts`, `organizations` and
//! `org_memberships` tables — integer keys, its own role names, a `joined_at` column, and
//! an unrelated table of its own called `invitations` — adds "invite members to your
//! organization" **on those tables**. Nothing is copied into library tables: invite-rs
//! adds only `invite_rs_invitations` and `invite_rs_events`, reads organizations, roles
//! and members through a [`TableMapping`], and writes the new membership into
//! `org_memberships` in the same transaction as the invitation's `accepted`.
//!
//! The host identifies the caller by the header `x-account-id: <id>` (its stand-in for
//! sessions) and prints each invitation link (its stand-in for a mailer).
//!
//! The integration — everything between the two `integration` rulers below — is
//! 45 lines of code (no blanks, comments, attributes or `use` lines): the mapping, the
//! identity, the notifier, the delivery outbox and its worker (4 lines, rule D1) and the
//! mounting. The rest is the host as it was.

use std::sync::Arc;

use axum::Router;
use axum::http::request::Parts;
use invite_axum::{Identify, IdentityError, build_user};
use invite_core::{Delivery, Invitations, KeyKind, KeyKinds, Notifier, NotifyError, OutboxKey, Role, User};
use invite_store_sqlx::{AnyStore, MemberValue, TableMapping};
use sqlx::AnyPool;

/// What failed while starting the host.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

// ----- The host as it was: its schema, its data, its (header-based) sessions. --------------

/// Whether `url` names PostgreSQL (else SQLite).
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// Opens the host's own pool (sqlx's `Any` driver: the host runs on SQLite or PostgreSQL).
///
/// # Errors
/// If the database cannot be opened.
pub async fn host_pool(url: &str) -> Result<AnyPool, Error> {
    sqlx::any::install_default_drivers();
    Ok(sqlx::any::AnyPoolOptions::new().connect(url).await?)
}

/// The host's own migration: exactly its schema, recorded in sqlx's default table.
///
/// # Errors
/// If a migration fails.
pub async fn migrate_host(pool: &AnyPool, url: &str) -> Result<(), Error> {
    if is_postgres(url) {
        sqlx::migrate!("migrations/postgres").run(pool).await?;
    } else {
        sqlx::migrate!("migrations/sqlite").run(pool).await?;
    }
    Ok(())
}

/// The host's data, written when its tables are empty: five accounts, Initech (verified)
/// and Hooli (not), three memberships, and two calendar invitations of its own.
///
/// # Errors
/// If the database refuses a row.
pub async fn seed_host(pool: &AnyPool) -> Result<(), Error> {
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
        .fetch_one(pool)
        .await?;
    if accounts > 0 {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for statement in [
        "INSERT INTO accounts (id, display_name, email, phone) VALUES \
         (1, 'Peter Gibbons', 'peter@initech.example', NULL), \
         (2, 'Samir Nagheenanajar', 'samir@initech.example', NULL), \
         (3, 'Milton Waddams', 'milton@initech.example', NULL), \
         (4, 'Gavin Belson', 'gavin@hooli.example', NULL), \
         (5, 'Bill Lumbergh', NULL, '+14155550123')",
        "INSERT INTO organizations (id, title, verified) VALUES (1, 'Initech', TRUE), (2, 'Hooli', FALSE)",
        "INSERT INTO org_memberships (org_id, account_id, role, joined_at) VALUES \
         (1, 1, 'owner', CURRENT_TIMESTAMP), (1, 3, 'member', CURRENT_TIMESTAMP), \
         (2, 4, 'owner', CURRENT_TIMESTAMP)",
        "INSERT INTO invitations (id, event) VALUES (1, 'Team offsite'), (2, 'Quarterly review')",
    ] {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The host's sessions: the `x-account-id` header names the signed-in account.
#[derive(Clone)]
pub struct HeaderSessions {
    pool: AnyPool,
}

impl HeaderSessions {
    /// The account behind the request, from the host's own `accounts` table.
    async fn account(
        &self,
        parts: &Parts,
    ) -> Result<Option<(i64, String, Option<String>, Option<String>)>, sqlx::Error> {
        let header = parts.headers.get("x-account-id").and_then(|v| v.to_str().ok());
        let Some(id) = header.and_then(|id| id.parse::<i64>().ok()) else {
            return Ok(None);
        };
        let row: Option<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT display_name, email, phone FROM accounts WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(name, email, phone)| (id, name, email, phone)))
    }
}

// ----- integration: everything the host adds for invitations --------------------------------

/// How invite-rs sees the host's tables (rules H1, H3, H4).
///
/// # Errors
/// Never for these names; a mapping with a bad identifier is refused.
pub fn mapping() -> Result<TableMapping, invite_store_sqlx::MappingError> {
    TableMapping::builder()
        .keys(KeyKinds::both(KeyKind::Int))
        .enterprises("organizations", "id", "title", "verified")
        .users("accounts", "id")
        .email("email")
        .phone("phone")
        .memberships("org_memberships", "org_id", "account_id", "role")
        .role(Role::SuperAdmin, "owner")
        .role(Role::FinanceAdmin, "billing")
        .role(Role::DevAdmin, "developer")
        .role(Role::Member, "member")
        .member_value("joined_at", MemberValue::Now)
        .build()
}

impl Identify for HeaderSessions {
    async fn current_user(
        &self,
        parts: &mut Parts,
        invitations: &Invitations,
    ) -> Result<Option<User>, IdentityError> {
        let Some((id, name, email, phone)) = self.account(parts).await.map_err(IdentityError::new)? else {
            return Ok(None);
        };
        Ok(build_user(invitations, id, name, email.as_deref(), phone.as_deref()).ok())
    }
}

/// A development notifier: prints the link instead of mailing it.
struct PrintNotifier;

#[async_trait::async_trait]
impl Notifier for PrintNotifier {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        println!(
            "DEV NOTIFIER to {}: {}",
            delivery.contact,
            delivery.link.expose_secret()
        );
        Ok(())
    }
}

/// The invitation API on the host's database, to mount under `/api`.
///
/// # Errors
/// If the database cannot be opened or migrated.
pub async fn invitations_api(url: &str, base_url: &str, sessions: HeaderSessions) -> Result<Router, Error> {
    let store = AnyStore::connect_with_directory(url, mapping()?).await?;
    store.migrate().await?;
    let invitations = Invitations::builder(Arc::new(store))
        .base_url(base_url)
        .notifier(Arc::new(PrintNotifier))
        .outbox(OutboxKey::generate()) // rule D1; a real host loads its 32-byte key from its secrets
        .build();
    if let Some(worker) = invitations.delivery_worker() {
        tokio::spawn(worker.run(std::future::pending()));
    }
    Ok(invite_axum::router(invitations, sessions))
}

// ----- end of integration -------------------------------------------------------------------

/// The host's application: its home page, and the invitation API under `/api`.
///
/// # Errors
/// If the database cannot be opened, migrated or seeded.
pub async fn app(url: &str, base_url: &str) -> Result<Router, Error> {
    let pool = host_pool(url).await?;
    migrate_host(&pool, url).await?;
    seed_host(&pool).await?;
    let sessions = HeaderSessions { pool };
    Ok(Router::new()
        .route("/", axum::routing::get(|| async { "Initech's intranet" }))
        .nest("/api", invitations_api(url, base_url, sessions).await?))
}
