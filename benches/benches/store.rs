//! Benchmarks of `invite-store-sqlx` (see docs/BENCHMARKS.md, "Store").
//!
//! 1. `send` and `accept` through the store against the same SQL written by hand with
//!    sqlx, on SQLite and (when `INVITE_TEST_POSTGRES_URL` is set) PostgreSQL, for two
//!    layouts: the self-contained one (the library's `enterprises`/`users`/`members`,
//!    UUID keys) and a host-shaped schema read and written through a `TableMapping`
//!    (`accounts`/`organizations`/`org_memberships`, integer keys, the host's role names,
//!    a `joined_at` column): the cost of the library's mapping and abstractions.
//! 2. A token lookup and a records page (first, deep, filtered) at 1k and at 1M
//!    invitations in one enterprise (self-contained layout): the indexes make them cost
//!    the same.
//!
//! Run: `cargo bench -p invite-benches --bench store` (add `INVITE_TEST_POSTGRES_URL=…`
//! for PostgreSQL; `INVITE_BENCH_SCALE_ROWS` overrides the 1M, e.g. `1000` to keep the
//! set-up short when only the library/hand-written pairs are wanted;
//! `INVITE_BENCH_HAND_FIRST=1` measures the hand-written side of each pair first;
//! `INVITE_BENCH_PAIRED=<seconds>` adds the interleaved measurement of the pairs, printed
//! as text; `INVITE_BENCH_SCALE_PAIRED=<seconds>` the same for 1k against 1M, per probe).
//! Commands and figures: docs/BENCHMARKS.md.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use invite_benches::{host_role, micros, quantile};
use invite_core::testing::seed::{self, World};
use invite_core::testing::{AccountsFixture, HostFixture};
use invite_core::{
    Answer, Contact, ContactPolicy, Cursor, Enterprise, EnterpriseId, Invitation, InvitationId,
    InvitationStatus, InvitationStore, InviteToken, Inviter, Key, ListQuery, NewInvitation, Role, StoreError,
    Target, TokenDigest, User, UserId,
};
use invite_store_sqlx::{PgStore, SqliteStore, TableMapping, sqlite_pool};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use tokio::runtime::Runtime;
use uuid::Uuid;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn now() -> DateTime<Utc> {
    invite_core::ports::to_storage_precision(Utc::now())
}

fn new_invitation(world: &World, at: DateTime<Utc>) -> (NewInvitation, InviteToken) {
    let token = InviteToken::generate();
    let contact = format!("bench{}@example.com", next());
    let new = NewInvitation {
        id: InvitationId::new(),
        enterprise_id: world.acme.id.clone(),
        contact: ContactPolicy::default().parse(&contact).unwrap(),
        role: Role::Member,
        invited_by: Inviter {
            user_id: world.alice.id.clone(),
            name: world.alice.name.clone(),
        },
        token_digest: token.digest(),
        sent_at: at,
        expires_at: at + TimeDelta::days(7),
    };
    (new, token)
}

// --- the layouts -----------------------------------------------------------------------

/// Where the host's organizations, accounts and memberships live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// The library's own `enterprises`, `users`, `members` (UUID keys).
    SelfContained,
    /// The host's `organizations`, `accounts`, `org_memberships` (integer keys), through
    /// a `TableMapping`.
    HostSchema,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::SelfContained => "self-contained",
            Layout::HostSchema => "host-schema",
        }
    }
}

/// The host's schema on SQLite: `embed-host-schema`'s own migration, the one definition.
const HOST_SCHEMA_SQLITE: &str =
    include_str!("../../examples/embed-host-schema/migrations/sqlite/20261201000001_host_schema.sql");

/// The host's schema on PostgreSQL: `embed-host-schema`'s own migration.
const HOST_SCHEMA_POSTGRES: &str =
    include_str!("../../examples/embed-host-schema/migrations/postgres/20261201000001_host_schema.sql");

/// The mapping of the host's schema: `examples/embed-host-schema`'s own.
fn host_mapping() -> TableMapping {
    embed_host_schema::mapping().unwrap()
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The host's side of the host schema: plain inserts, as its own code would do them.
struct HostTables {
    pool: Pool,
    next: AtomicI64,
}

impl HostTables {
    fn new(pool: Pool) -> Self {
        Self {
            pool,
            next: AtomicI64::new(1000),
        }
    }

    fn next(&self) -> i64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn now_sql(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "CURRENT_TIMESTAMP",
            Pool::Pg(_) => "now()",
        }
    }
}

#[async_trait]
impl HostFixture for HostTables {
    async fn create_enterprise(&self, name: &str, certified: bool) -> Result<Enterprise, StoreError> {
        let id = self.next();
        self.pool
            .exec(format!(
                "INSERT INTO organizations (id, title, verified) VALUES ({id}, {}, {certified})",
                quote(name)
            ))
            .await;
        Ok(Enterprise {
            id: EnterpriseId::from(id),
            name: name.to_owned(),
            certified,
        })
    }

    async fn create_user(&self, name: &str, contact: &Contact) -> Result<User, StoreError> {
        let id = self.next();
        // Emails as entered; phones in E.164, as this host keeps them.
        let (email, phone) = match contact {
            Contact::Email(email) => (quote(email.entered()), "NULL".to_owned()),
            Contact::Phone(phone) => ("NULL".to_owned(), quote(phone.normalized())),
        };
        self.pool
            .exec(format!(
                "INSERT INTO accounts (id, display_name, email, phone) VALUES ({id}, {}, {email}, {phone})",
                quote(name)
            ))
            .await;
        Ok(invite_core::testing::host::user_with(
            UserId::from(id),
            name,
            contact,
        ))
    }

    async fn insert_member(
        &self,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
    ) -> Result<(), StoreError> {
        self.pool
            .exec(format!(
                "INSERT INTO org_memberships (org_id, account_id, role, joined_at) VALUES ({enterprise}, {}, {}, {})",
                user.id,
                quote(host_role(role.as_str())),
                self.now_sql()
            ))
            .await;
        Ok(())
    }

    async fn set_certified(&self, enterprise: &EnterpriseId, certified: bool) -> Result<(), StoreError> {
        self.pool
            .exec(format!(
                "UPDATE organizations SET verified = {certified} WHERE id = {enterprise}"
            ))
            .await;
        Ok(())
    }

    async fn fail_member_inserts(&self, _fail: bool) -> Result<(), StoreError> {
        unimplemented!("not needed by the benchmarks")
    }
}

// --- the same SQL, by hand ------------------------------------------------------------

/// The statements the store runs for send and accept, as `invite-store-sqlx` builds them
/// (`sql.rs` for the library's tables, `TableMapping` for the directory, `self_contained.rs`
/// for the user upsert), byte for byte.
mod statements {
    /// `Backend::LOCK_ENTERPRISE` on PostgreSQL.
    pub const LOCK_ENTERPRISE_PG: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
    /// `Backend::LOCK_ENTERPRISE_OF` on PostgreSQL.
    pub const LOCK_ENTERPRISE_OF_PG: &str = "SELECT pg_advisory_xact_lock(hashtextextended(enterprise_id, 0)) \
         FROM invite_rs_invitations WHERE token_digest = $1";

    /// `TableMapping`'s member check of the self-contained layout (`email_normalized`).
    pub const MEMBER_WITH_EMAIL_SELF_CONTAINED: &str = "SELECT 1 FROM \"members\" WHERE \"enterprise_id\" = $1 \
         AND \"user_id\" IN (SELECT \"id\" FROM \"users\" WHERE \"email_normalized\" = $2) LIMIT 1";
    /// `TableMapping`'s member check of the host schema (`email`, compared lowercased).
    pub const MEMBER_WITH_EMAIL_HOST: &str = "SELECT 1 FROM \"org_memberships\" WHERE \"org_id\" = $1 \
         AND \"account_id\" IN (SELECT \"id\" FROM \"accounts\" WHERE lower(\"email\") = $2) LIMIT 1";

    /// `sql::EXPIRE_STALE_FOR_CONTACT`.
    pub const EXPIRE_STALE_FOR_CONTACT: &str = "UPDATE invite_rs_invitations SET status = 'expired' \
         WHERE enterprise_id = $1 AND contact_normalized = $2 AND status = 'pending' \
         AND expires_at <= $3 AND id <> $4 RETURNING id, enterprise_id";

    /// `sql::INSERT_INVITATION`.
    pub const INSERT_INVITATION: &str = "INSERT INTO invite_rs_invitations (id, enterprise_id, contact_kind, \
         contact_entered, contact_normalized, role, status, invited_by, invited_by_name, sent_at, \
         last_sent_at, expires_at, responded_at, responded_by, revoked_at, revoked_by, delivery, \
         token_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
         ON CONFLICT (enterprise_id, contact_normalized) WHERE status = 'pending' DO NOTHING";

    /// `sql::INSERT_EVENT`.
    pub const INSERT_EVENT: &str = "INSERT INTO invite_rs_events \
         (invitation_id, enterprise_id, kind, actor, at) VALUES ($1, $2, $3, $4, $5)";

    /// `sql::ACCEPT`.
    pub const ACCEPT: &str = "UPDATE invite_rs_invitations SET status = 'accepted', responded_at = $2, \
         responded_by = $3 WHERE token_digest = $1 AND status = 'pending' AND expires_at > $2 RETURNING \
         id, enterprise_id, contact_kind, contact_entered, contact_normalized, role, status, \
         invited_by, invited_by_name, sent_at, last_sent_at, expires_at, responded_at, \
         responded_by, revoked_at, revoked_by, delivery, token_digest";

    /// `self_contained::UPSERT_USER`.
    pub const UPSERT_USER: &str = "INSERT INTO users \
         (id, name, email, email_normalized, phone, phone_normalized) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, \
         email_normalized = excluded.email_normalized, phone = excluded.phone, \
         phone_normalized = excluded.phone_normalized";

    /// `TableMapping`'s membership insert of the self-contained layout.
    pub const INSERT_MEMBER_SELF_CONTAINED: &str = "INSERT INTO \"members\" (\"enterprise_id\", \"user_id\", \
         \"role\") SELECT $1, $2, $3 WHERE NOT EXISTS \
         (SELECT 1 FROM \"members\" WHERE \"enterprise_id\" = $1 AND \"user_id\" = $2)";
    /// `TableMapping`'s membership insert of the host schema (`joined_at` = the accept's now).
    pub const INSERT_MEMBER_HOST: &str = "INSERT INTO \"org_memberships\" (\"org_id\", \"account_id\", \
         \"role\", \"joined_at\") SELECT $1, $2, $3, $4 WHERE NOT EXISTS \
         (SELECT 1 FROM \"org_memberships\" WHERE \"org_id\" = $1 AND \"account_id\" = $2)";
}

/// Checks that the hand-written side runs the directory statements the mapping built:
/// their text is private to the mapping, its `Debug` shows it.
fn assert_same_statements(directory: &impl std::fmt::Debug, statements: &[&str]) {
    let shown = format!("{directory:?}");
    for statement in statements {
        assert!(
            shown.contains(&format!("{statement:?}")),
            "the mapping no longer builds `{statement}`: update the hand-written side"
        );
    }
}

/// The directory statements of the self-contained layout.
const SELF_CONTAINED_STATEMENTS: &[&str] = &[
    statements::MEMBER_WITH_EMAIL_SELF_CONTAINED,
    statements::INSERT_MEMBER_SELF_CONTAINED,
];
/// The directory statements of the host schema.
const HOST_STATEMENTS: &[&str] = &[statements::MEMBER_WITH_EMAIL_HOST, statements::INSERT_MEMBER_HOST];

/// The statements the store runs for send and accept, written out with sqlx for one
/// backend: `$begin` starts the write transaction, `$lock`/`$lock_of` are the
/// per-enterprise lock statements (or `None`), `$at` turns a time into the stored form.
macro_rules! hand_written {
    ($module:ident, $pool:ty, $time:ty, $begin:expr, $lock:expr, $lock_of:expr, $at:expr) => {
        mod $module {
            use super::statements::*;
            use super::*;

            #[derive(sqlx::FromRow)]
            #[allow(dead_code)]
            pub struct Row {
                pub id: Uuid,
                pub enterprise_id: String,
                pub contact_kind: String,
                pub contact_entered: String,
                pub contact_normalized: String,
                pub role: String,
                pub status: String,
                pub invited_by: String,
                pub invited_by_name: String,
                pub sent_at: $time,
                pub last_sent_at: $time,
                pub expires_at: $time,
                pub responded_at: Option<$time>,
                pub responded_by: Option<String>,
                pub revoked_at: Option<$time>,
                pub revoked_by: Option<String>,
                pub delivery: String,
                pub token_digest: Vec<u8>,
            }

            pub async fn send(pool: &$pool, layout: Layout, new: &NewInvitation) {
                let at = $at;
                let enterprise = new.enterprise_id.key().canonical();
                let inviter = new.invited_by.user_id.key().canonical();
                let mut tx = pool.begin_with($begin).await.unwrap();
                if let Some(lock) = $lock {
                    sqlx::query(lock)
                        .bind(&*enterprise)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                let member = match (layout, new.enterprise_id.key()) {
                    (Layout::SelfContained, Key::Uuid(id)) => {
                        sqlx::query_scalar::<_, i32>(MEMBER_WITH_EMAIL_SELF_CONTAINED).bind(*id)
                    }
                    (Layout::HostSchema, Key::Int(id)) => {
                        sqlx::query_scalar::<_, i32>(MEMBER_WITH_EMAIL_HOST).bind(*id)
                    }
                    other => panic!("unexpected key for the layout: {other:?}"),
                }
                .bind(new.contact.normalized())
                .fetch_optional(&mut *tx)
                .await
                .unwrap();
                assert!(member.is_none());
                let stale: Vec<(Uuid, String)> = sqlx::query_as(EXPIRE_STALE_FOR_CONTACT)
                    .bind(&*enterprise)
                    .bind(new.contact.normalized())
                    .bind(at(new.sent_at))
                    .bind(new.id.as_uuid())
                    .fetch_all(&mut *tx)
                    .await
                    .unwrap();
                assert!(stale.is_empty());
                sqlx::query(INSERT_INVITATION)
                    .bind(new.id.as_uuid())
                    .bind(&*enterprise)
                    .bind(new.contact.kind().as_str())
                    .bind(new.contact.entered())
                    .bind(new.contact.normalized())
                    .bind(new.role.as_str())
                    .bind("pending")
                    .bind(&*inviter)
                    .bind(new.invited_by.name.as_str())
                    .bind(at(new.sent_at))
                    .bind(at(new.sent_at))
                    .bind(at(new.expires_at))
                    .bind(None::<$time>)
                    .bind(None::<&str>)
                    .bind(None::<$time>)
                    .bind(None::<&str>)
                    .bind("queued")
                    .bind(new.token_digest.as_bytes().as_slice())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query(INSERT_EVENT)
                    .bind(new.id.as_uuid())
                    .bind(&*enterprise)
                    .bind("sent")
                    .bind(Some(&*inviter))
                    .bind(at(new.sent_at))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }

            pub async fn accept(
                pool: &$pool,
                layout: Layout,
                digest: &[u8],
                user: &User,
                now: DateTime<Utc>,
            ) {
                let at = $at;
                let by = user.id.key().canonical();
                let mut tx = pool.begin_with($begin).await.unwrap();
                if let Some(lock) = $lock_of {
                    sqlx::query(lock)
                        .bind(digest)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                let row: Row = sqlx::query_as(ACCEPT)
                    .bind(digest)
                    .bind(at(now))
                    .bind(&*by)
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                let added = match (layout, user.id.key()) {
                    (Layout::SelfContained, Key::Uuid(id)) => {
                        sqlx::query(UPSERT_USER)
                            .bind(*id)
                            .bind(user.name.as_str())
                            .bind(user.email.as_ref().map(|e| e.entered()))
                            .bind(user.email.as_ref().map(|e| e.normalized()))
                            .bind(user.phone.as_ref().map(|p| p.entered()))
                            .bind(user.phone.as_ref().map(|p| p.normalized()))
                            .execute(&mut *tx)
                            .await
                            .unwrap();
                        let enterprise = Uuid::parse_str(&row.enterprise_id).unwrap();
                        sqlx::query(INSERT_MEMBER_SELF_CONTAINED)
                            .bind(enterprise)
                            .bind(*id)
                            .bind(row.role.as_str())
                            .execute(&mut *tx)
                            .await
                            .unwrap()
                    }
                    (Layout::HostSchema, Key::Int(id)) => {
                        let enterprise: i64 = row.enterprise_id.parse().unwrap();
                        sqlx::query(INSERT_MEMBER_HOST)
                            .bind(enterprise)
                            .bind(*id)
                            .bind(host_role(&row.role))
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .unwrap()
                    }
                    other => panic!("unexpected key for the layout: {other:?}"),
                };
                assert_eq!(added.rows_affected(), 1);
                // The `accepted` event: written by the UPDATE's trigger (migration
                // `decision_events`), on this side as on the library's.
                tx.commit().await.unwrap();
            }
        }
    };
}

hand_written!(
    hand_sqlite,
    SqlitePool,
    i64,
    "BEGIN IMMEDIATE",
    None::<&'static str>,
    None::<&'static str>,
    |t: DateTime<Utc>| t.timestamp_micros()
);
hand_written!(
    hand_pg,
    PgPool,
    DateTime<Utc>,
    "BEGIN",
    Some(LOCK_ENTERPRISE_PG),
    Some(LOCK_ENTERPRISE_OF_PG),
    |t: DateTime<Utc>| t
);

// --- backends -------------------------------------------------------------------------

/// The database under a store, for the hand-written side and the set-up.
#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl Pool {
    fn name(&self) -> &'static str {
        match self {
            Pool::Sqlite(_) => "sqlite",
            Pool::Pg(_) => "postgres",
        }
    }

    async fn exec(&self, sql: String) {
        match self {
            Pool::Sqlite(p) => sqlx::raw_sql(AssertSqlSafe(sql)).execute(p).await.map(|_| ()),
            Pool::Pg(p) => sqlx::raw_sql(AssertSqlSafe(sql)).execute(p).await.map(|_| ()),
        }
        .unwrap();
    }

    async fn hand_send(&self, layout: Layout, new: &NewInvitation) {
        match self {
            Pool::Sqlite(p) => hand_sqlite::send(p, layout, new).await,
            Pool::Pg(p) => hand_pg::send(p, layout, new).await,
        }
    }

    async fn hand_accept(&self, layout: Layout, digest: &[u8], user: &User, now: DateTime<Utc>) {
        match self {
            Pool::Sqlite(p) => hand_sqlite::accept(p, layout, digest, user, now).await,
            Pool::Pg(p) => hand_pg::accept(p, layout, digest, user, now).await,
        }
    }

    /// Inserts `rows` invitations into `world.acme` in one statement, one per second
    /// before `base`, a quarter of them pending.
    async fn bulk_insert(&self, world: &World, rows: u64, base: DateTime<Utc>) {
        let ent = world.acme.id.key().canonical().into_owned();
        let alice = world.alice.id.key().canonical().into_owned();
        let base = base.timestamp_micros() - i64::try_from(rows).unwrap() * 1_000_000;
        match self {
            Pool::Sqlite(p) => {
                sqlx::query(
                    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
                     INSERT INTO invite_rs_invitations (id, enterprise_id, contact_kind, contact_entered, \
                     contact_normalized, role, status, invited_by, invited_by_name, sent_at, \
                     last_sent_at, expires_at, delivery, token_digest) \
                     SELECT randomblob(16), $2, 'email', 'bulk' || i || '@example.com', \
                     'bulk' || i || '@example.com', 'member', \
                     CASE WHEN i % 4 = 0 THEN 'pending' ELSE 'accepted' END, $3, 'Alice Admin', \
                     $4 + i * 1000000, $4 + i * 1000000, $4 + i * 1000000 + 604800000000, \
                     'delivered', randomblob(32) FROM n",
                )
                .bind(i64::try_from(rows).unwrap())
                .bind(ent)
                .bind(alice)
                .bind(base)
                .execute(p)
                .await
                .unwrap();
            }
            Pool::Pg(p) => {
                sqlx::query(
                    "INSERT INTO invite_rs_invitations (id, enterprise_id, contact_kind, contact_entered, \
                     contact_normalized, role, status, invited_by, invited_by_name, sent_at, \
                     last_sent_at, expires_at, delivery, token_digest) \
                     SELECT gen_random_uuid(), $2, 'email', 'bulk' || i || '@example.com', \
                     'bulk' || i || '@example.com', 'member', \
                     CASE WHEN i % 4 = 0 THEN 'pending' ELSE 'accepted' END, $3, 'Alice Admin', \
                     to_timestamp(($4 + i * 1000000)::double precision / 1e6), \
                     to_timestamp(($4 + i * 1000000)::double precision / 1e6), \
                     to_timestamp(($4 + i * 1000000 + 604800000000)::double precision / 1e6), \
                     'delivered', sha256(int8send(i) || uuid_send(gen_random_uuid())) \
                     FROM generate_series(0::bigint, $1 - 1) AS i",
                )
                .bind(i64::try_from(rows).unwrap())
                .bind(ent)
                .bind(alice)
                .bind(base)
                .execute(p)
                .await
                .unwrap();
            }
        }
        self.analyze().await;
    }

    /// Refreshes the planner's statistics (and, on PostgreSQL, the visibility map) after
    /// a bulk change, as autovacuum or a host's maintenance would.
    async fn analyze(&self) {
        match self {
            Pool::Sqlite(p) => {
                sqlx::query("ANALYZE").execute(p).await.unwrap();
            }
            Pool::Pg(p) => {
                sqlx::query("VACUUM ANALYZE invite_rs_invitations")
                    .execute(p)
                    .await
                    .unwrap();
            }
        }
    }
}

/// One store under test: the library's side, the database for the hand-written side, the
/// host's side for new accounts, and the demo data.
#[derive(Clone)]
struct Subject {
    layout: Layout,
    store: Arc<dyn InvitationStore>,
    pool: Pool,
    host: Arc<dyn HostFixture>,
    world: World,
}

impl Subject {
    /// An invitee for `new`, made before the clock starts. The self-contained layout saves
    /// the user on accept (an upsert, part of the measured work); a host has its accounts
    /// already, so the host schema gets one in `accounts` first.
    async fn invitee(&self, new: &NewInvitation) -> User {
        match self.layout {
            Layout::SelfContained => {
                let email = ContactPolicy::default()
                    .parse_email(new.contact.entered())
                    .unwrap();
                User {
                    id: UserId::new(),
                    name: "Bench User".into(),
                    email: Some(email),
                    phone: None,
                }
            }
            Layout::HostSchema => self.host.create_user("Bench User", &new.contact).await.unwrap(),
        }
    }
}

fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join(name).display())
}

async fn sqlite_subject(dir: &tempfile::TempDir, name: &str, layout: Layout) -> Subject {
    let url = sqlite_url(dir, name);
    match layout {
        Layout::SelfContained => {
            let store = SqliteStore::connect(&url).await.unwrap();
            store.migrate().await.unwrap();
            assert_same_statements(store.directory(), SELF_CONTAINED_STATEMENTS);
            let pool = Pool::Sqlite(store.pool().clone());
            let store = Arc::new(store);
            let world = seed::demo_accounts(store.clone()).await.unwrap();
            Subject {
                layout,
                host: Arc::new(AccountsFixture::new(store.clone())),
                store,
                pool,
                world,
            }
        }
        Layout::HostSchema => {
            let sqlite = sqlite_pool(&url).await.unwrap();
            let pool = Pool::Sqlite(sqlite.clone());
            pool.exec(HOST_SCHEMA_SQLITE.to_owned()).await;
            let store = SqliteStore::new(sqlite, host_mapping());
            assert_same_statements(store.directory(), HOST_STATEMENTS);
            store.migrate().await.unwrap();
            let host = Arc::new(HostTables::new(pool.clone()));
            let world = seed::demo(&*host).await.unwrap();
            Subject {
                layout,
                store: Arc::new(store),
                pool,
                host,
                world,
            }
        }
    }
}

async fn pg_subject(tag: &str, layout: Layout) -> Option<Subject> {
    let options = invite_benches::pg_database(tag).await?;
    Some(match layout {
        Layout::SelfContained => {
            let store = PgStore::connect_with(options).await.unwrap();
            store.migrate().await.unwrap();
            assert_same_statements(store.directory(), SELF_CONTAINED_STATEMENTS);
            let pool = Pool::Pg(store.pool().clone());
            let store = Arc::new(store);
            let world = seed::demo_accounts(store.clone()).await.unwrap();
            Subject {
                layout,
                host: Arc::new(AccountsFixture::new(store.clone())),
                store,
                pool,
                world,
            }
        }
        Layout::HostSchema => {
            let pg = PgPoolOptions::new().connect_with(options).await.unwrap();
            let pool = Pool::Pg(pg.clone());
            pool.exec(HOST_SCHEMA_POSTGRES.to_owned()).await;
            let store = PgStore::new(pg, host_mapping());
            assert_same_statements(store.directory(), HOST_STATEMENTS);
            store.migrate().await.unwrap();
            let host = Arc::new(HostTables::new(pool.clone()));
            let world = seed::demo(&*host).await.unwrap();
            Subject {
                layout,
                store: Arc::new(store),
                pool,
                host,
                world,
            }
        }
    })
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

// --- 1. library vs hand-written -------------------------------------------------------

/// One side of a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Library,
    HandWritten,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Library => "library",
            Side::HandWritten => "hand-written",
        }
    }
}

impl Subject {
    async fn send(&self, side: Side, new: NewInvitation) {
        match side {
            Side::Library => {
                self.store.create(new).await.unwrap();
            }
            Side::HandWritten => self.pool.hand_send(self.layout, &new).await,
        }
    }

    async fn accept(&self, side: Side, digest: &TokenDigest, user: &User, at: DateTime<Utc>) {
        match side {
            Side::Library => {
                let answer = Answer::new(Target::Token(digest), user, &at);
                self.store.accept(&answer).await.unwrap();
            }
            Side::HandWritten => {
                self.pool
                    .hand_accept(self.layout, digest.as_bytes(), user, at)
                    .await;
            }
        }
    }

    /// Pending invitations and their invitees for `iters` accepts, made before the clock.
    async fn prepare_accepts(&self, iters: u64) -> Vec<(TokenDigest, User)> {
        let mut todo = Vec::new();
        for _ in 0..iters {
            let (new, token) = new_invitation(&self.world, now());
            let user = self.invitee(&new).await;
            let _: Invitation = self.store.create(new).await.unwrap();
            todo.push((token.digest(), user));
        }
        todo
    }
}

/// Sends and accepts per side before anything is measured (see [`warm_up`]).
const WARM_SENDS: u64 = 1000;
const WARM_ACCEPTS: u64 = 200;

/// Brings a new database to a steady state before the first measurement: both sides send
/// and accept, unmeasured, so that the side measured first does not also pay for the
/// first growth of new tables and indexes.
async fn warm_up(subject: &Subject) {
    for side in [Side::Library, Side::HandWritten] {
        for _ in 0..WARM_SENDS {
            subject.send(side, new_invitation(&subject.world, now()).0).await;
        }
        for (digest, user) in subject.prepare_accepts(WARM_ACCEPTS).await {
            subject.accept(side, &digest, &user, now()).await;
        }
    }
}

/// Both layouts on SQLite and, if configured, PostgreSQL: new databases named after
/// `prefix`, warmed up.
fn subjects(rt: &Runtime, dir: &tempfile::TempDir, prefix: &str) -> Vec<Subject> {
    let mut subjects = Vec::new();
    for layout in [Layout::SelfContained, Layout::HostSchema] {
        let file = format!("{prefix}-{}.db", layout.name());
        subjects.push(rt.block_on(sqlite_subject(dir, &file, layout)));
        let tag = format!("{prefix}_{}", layout.name().replace('-', "_"));
        if let Some(pg) = rt.block_on(pg_subject(&tag, layout)) {
            subjects.push(pg);
        }
    }
    for subject in &subjects {
        rt.block_on(warm_up(subject));
    }
    subjects
}

fn library_vs_hand(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let subjects = subjects(&rt, &dir, "ops");
    // Each side runs on the tables the side before it grew; `INVITE_BENCH_HAND_FIRST=1`
    // swaps the order, to tell that apart from the library's own cost.
    let sides = if std::env::var("INVITE_BENCH_HAND_FIRST").is_ok_and(|v| v == "1") {
        [Side::HandWritten, Side::Library]
    } else {
        [Side::Library, Side::HandWritten]
    };
    for subject in subjects {
        let name = format!("store/{}/{}", subject.pool.name(), subject.layout.name());
        let mut group = c.benchmark_group(name);
        for side in sides {
            group.bench_function(BenchmarkId::new("send", side.name()), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let subject = subject.clone();
                    async move {
                        let news: Vec<_> = (0..iters)
                            .map(|_| new_invitation(&subject.world, now()).0)
                            .collect();
                        let start = Instant::now();
                        for new in news {
                            subject.send(side, new).await;
                        }
                        start.elapsed()
                    }
                });
            });
        }
        for side in sides {
            group.bench_function(BenchmarkId::new("accept", side.name()), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let subject = subject.clone();
                    async move {
                        let todo = subject.prepare_accepts(iters).await;
                        let at = now();
                        let start = Instant::now();
                        for (digest, user) in &todo {
                            subject.accept(side, digest, user, at).await;
                        }
                        start.elapsed()
                    }
                });
            });
        }
        group.finish();
    }
}

// --- 1b. the same pairs, interleaved ----------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Send,
    Accept,
}

/// Times of the two sides, one pair per round.
#[derive(Default)]
struct Pairs {
    library: Vec<Duration>,
    hand: Vec<Duration>,
}

impl Pairs {
    fn push(&mut self, side: Side, took: Duration) {
        match side {
            Side::Library => self.library.push(took),
            Side::HandWritten => self.hand.push(took),
        }
    }
}

/// Runs `op` on both sides, alternating op by op (library first in even rounds,
/// hand-written first in odd ones) for about `budget`.
async fn interleave(subject: &Subject, op: Op, budget: Duration) -> Pairs {
    const CHUNK: usize = 50;
    let mut pairs = Pairs::default();
    let mut round = 0usize;
    let started = Instant::now();
    while started.elapsed() < budget {
        let todo = match op {
            Op::Send => Vec::new(),
            Op::Accept => subject.prepare_accepts(2 * CHUNK as u64).await,
        };
        let at = now();
        for i in 0..CHUNK {
            let order = if round.is_multiple_of(2) {
                [Side::Library, Side::HandWritten]
            } else {
                [Side::HandWritten, Side::Library]
            };
            for (j, side) in order.into_iter().enumerate() {
                let took = match op {
                    Op::Send => {
                        let new = new_invitation(&subject.world, now()).0;
                        let start = Instant::now();
                        subject.send(side, new).await;
                        start.elapsed()
                    }
                    Op::Accept => {
                        let (digest, user) = &todo[2 * i + j];
                        let start = Instant::now();
                        subject.accept(side, digest, user, at).await;
                        start.elapsed()
                    }
                };
                pairs.push(side, took);
            }
            round += 1;
        }
    }
    pairs
}

/// `INVITE_BENCH_PAIRED=<seconds>` (off by default): for each subject and op, the two
/// sides alternate op by op for about that long, and the medians, their ratio and the
/// median paired difference are printed. Both ops of a pair run in the same moment on the
/// same tables, so a slow spell of a shared machine or the tables' growth hits both
/// sides alike, which the criterion pairs above (one side after the other) cannot promise.
fn paired(_: &mut Criterion) {
    let Some(budget) = invite_benches::env_seconds("INVITE_BENCH_PAIRED") else {
        return;
    };
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for subject in subjects(&rt, &dir, "paired") {
        for op in [Op::Send, Op::Accept] {
            let pairs = rt.block_on(interleave(&subject, op, budget));
            let (library, hand) = (micros(&pairs.library), micros(&pairs.hand));
            let diff: Vec<f64> = library.iter().zip(&hand).map(|(l, h)| l - h).collect();
            let (l50, h50) = (quantile(&library, 0.5), quantile(&hand, 0.5));
            println!(
                "paired store/{}/{}/{}: {} pairs; library median {l50:.0} µs (p25 {:.0}, p75 {:.0}); \
                 hand-written median {h50:.0} µs (p25 {:.0}, p75 {:.0}); ratio {:.3}; \
                 library - hand-written per pair: median {:+.1} µs (p25 {:+.1}, p75 {:+.1})",
                subject.pool.name(),
                subject.layout.name(),
                match op {
                    Op::Send => "send",
                    Op::Accept => "accept",
                },
                library.len(),
                quantile(&library, 0.25),
                quantile(&library, 0.75),
                quantile(&hand, 0.25),
                quantile(&hand, 0.75),
                h50 / l50,
                quantile(&diff, 0.5),
                quantile(&diff, 0.25),
                quantile(&diff, 0.75),
            );
        }
    }
}

// --- 2. 1k vs 1M ----------------------------------------------------------------------

/// One size of the scale set-up: its store, demo data, token probes and a cursor in the
/// middle of its rows.
struct Scaled {
    label: &'static str,
    backend: &'static str,
    store: Arc<dyn InvitationStore>,
    world: World,
    probes: Vec<TokenDigest>,
    middle: Option<Cursor>,
}

/// The probes of the scale comparison, by name.
const SCALE_PROBES: [&str; 5] = [
    "token_lookup",
    "page_first",
    "page_deep",
    "page_pending",
    "page_expired",
];

impl Scaled {
    /// Runs probe `name` once (`i` picks the token of a lookup).
    async fn probe(&self, name: &str, i: usize) {
        let (status, after) = match name {
            "token_lookup" => {
                let digest = self.probes[i % self.probes.len()];
                let found = self.store.find_by_digest(&digest).await.unwrap();
                assert!(found.is_some());
                return;
            }
            "page_first" => (None, None),
            "page_deep" => (None, self.middle),
            "page_pending" => (Some(InvitationStatus::Pending), self.middle),
            "page_expired" => (Some(InvitationStatus::Expired), None),
            other => panic!("no probe {other}"),
        };
        let query = ListQuery {
            status,
            limit: 20,
            after,
        };
        let page = self.store.list(&self.world.acme.id, &query, now()).await.unwrap();
        std::hint::black_box(page);
    }
}

/// Bulk-inserts `rows` invitations into `subject`, writes the overdue ones down, refreshes
/// the statistics and makes the probes.
fn scaled(rt: &Runtime, label: &'static str, rows: u64, subject: Subject) -> Scaled {
    let (store, world, pool) = (subject.store, subject.world, subject.pool);
    let base = now() - TimeDelta::days(1);
    let started = Instant::now();
    rt.block_on(pool.bulk_insert(&world, rows, base));
    eprintln!(
        "{}: inserted {rows} invitations in {:.1?}",
        pool.name(),
        started.elapsed()
    );
    // Probes with known tokens, newest of all.
    let probes: Vec<_> = rt.block_on(async {
        let mut probes = Vec::new();
        for _ in 0..64 {
            let (new, token) = new_invitation(&world, now());
            store.create(new).await.unwrap();
            probes.push(token.digest());
        }
        probes
    });
    // The first `expired` listing writes down every overdue pending row of the
    // enterprise (a quarter of the bulk rows past their 7 days); a one-time cost per
    // row, reported here and kept out of the per-page figures below.
    let started = Instant::now();
    let overdue = ListQuery {
        status: Some(InvitationStatus::Expired),
        limit: 1,
        after: None,
    };
    rt.block_on(store.list(&world.acme.id, &overdue, now())).unwrap();
    eprintln!(
        "{}: wrote down the overdue rows of {rows} in {:.1?}",
        pool.name(),
        started.elapsed()
    );
    rt.block_on(pool.analyze());
    // A cursor in the middle of the bulk rows (one per second, ending at `base`).
    let middle = Some(Cursor {
        sent_at: base - TimeDelta::seconds(i64::try_from(rows / 2).unwrap()),
        id: InvitationId::from_uuid(Uuid::max()),
    });
    Scaled {
        label,
        backend: pool.name(),
        store,
        world,
        probes,
        middle,
    }
}

fn scale(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let large: u64 = std::env::var("INVITE_BENCH_SCALE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut cases = Vec::new();
    for (label, rows) in [
        ("1k", 1_000_u64),
        (if large == 1_000_000 { "1M" } else { "large" }, large),
    ] {
        let file = format!("scale-{label}.db");
        let sqlite = rt.block_on(sqlite_subject(&dir, &file, Layout::SelfContained));
        cases.push(scaled(&rt, label, rows, sqlite));
        let tag = format!("scale_{}", label.to_lowercase());
        if let Some(pg) = rt.block_on(pg_subject(&tag, Layout::SelfContained)) {
            cases.push(scaled(&rt, label, rows, pg));
        }
    }
    for case in &cases {
        let mut group = c.benchmark_group(format!("store/{}/scale", case.backend));
        for name in SCALE_PROBES {
            let mut i = 0usize;
            group.bench_function(BenchmarkId::new(name, case.label), |b| {
                b.to_async(&rt).iter(|| {
                    i += 1;
                    case.probe(name, i)
                });
            });
        }
        group.finish();
    }
    scale_interleaved(&rt, &cases);
}

/// `INVITE_BENCH_SCALE_PAIRED=<seconds>` (off by default): per backend and probe, the 1k
/// and the large database take turns probe by probe for about that long, and the medians
/// and their ratio are printed. Criterion measures the 1k cases minutes before the large
/// ones, so a slow spell of a shared machine lands on one side only; here both sides
/// share every spell.
fn scale_interleaved(rt: &Runtime, cases: &[Scaled]) {
    let Some(budget) = invite_benches::env_seconds("INVITE_BENCH_SCALE_PAIRED") else {
        return;
    };
    for small in cases.iter().filter(|c| c.label == "1k") {
        let Some(large) = cases
            .iter()
            .find(|c| c.backend == small.backend && c.label != "1k")
        else {
            continue;
        };
        for name in SCALE_PROBES {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let started = Instant::now();
            let mut i = 0usize;
            while started.elapsed() < budget {
                i += 1;
                // Alternate which side goes first.
                let order = if i.is_multiple_of(2) {
                    [small, large]
                } else {
                    [large, small]
                };
                for case in order {
                    let t = Instant::now();
                    rt.block_on(case.probe(name, i));
                    if std::ptr::eq(case, small) {
                        a.push(t.elapsed());
                    } else {
                        b.push(t.elapsed());
                    }
                }
            }
            let (a, b) = (micros(&a), micros(&b));
            let (a50, b50) = (quantile(&a, 0.5), quantile(&b, 0.5));
            println!(
                "interleaved store/{}/scale/{name}: {} pairs; 1k median {a50:.0} µs (p25 {:.0}, p75 {:.0}); \
                 {} median {b50:.0} µs (p25 {:.0}, p75 {:.0}); {} / 1k = {:.2}",
                small.backend,
                a.len(),
                quantile(&a, 0.25),
                quantile(&a, 0.75),
                large.label,
                quantile(&b, 0.25),
                quantile(&b, 0.75),
                large.label,
                b50 / a50,
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = paired, library_vs_hand, scale
}
criterion_main!(benches);
