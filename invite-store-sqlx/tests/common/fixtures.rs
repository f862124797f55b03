//! The subjects of the suites: each backend (SQLite, PostgreSQL) with each layout (the
//! self-contained one, and a host-shaped schema: integer keys, the host's role names, an
//! extra NOT NULL column in its membership table, and a table of its own named
//! `invitations` that the library must never touch). Every subject is a fresh database,
//! with two stores (two pools) on it and the host's side as a [`HostFixture`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use invite_core::testing::{AccountsFixture, HostFixture, Subject};
use invite_core::{Contact, Enterprise, EnterpriseId, KeyKind, KeyKinds, Role, StoreError, User, UserId};
use invite_store_sqlx::{MemberValue, PgStore, SqliteStore, TableMapping, sqlite_pool};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use tokio::sync::oneshot;

/// Raw SQL on the subject's database: to plant faults and to look behind the store.
#[async_trait]
pub trait Raw: Send + Sync + 'static {
    /// Runs `sql` (one or more statements).
    async fn exec(&self, sql: String) -> Result<(), sqlx::Error>;
    /// Makes every insert into `table` fail, from now on.
    async fn fail_inserts_into(&self, table: &str);
    /// Undoes [`Raw::fail_inserts_into`].
    async fn heal(&self, table: &str);
    /// The number of rows `sql` (a `SELECT count(*) …`) counts.
    async fn count(&self, sql: &str) -> i64;
    /// Takes, on a connection of its own, the lock a decision of `enterprise` (the key's
    /// canonical text) waits for — SQLite's write lock, PostgreSQL's per-enterprise
    /// advisory lock — and holds it until the returned sender is used or dropped.
    async fn hold_decision_lock(&self, enterprise: &str) -> oneshot::Sender<()>;
}

/// Opens a transaction with `begin` on a connection of `pool` in a task, runs `take` with
/// `key` when given, answers once the lock is held, and runs `ROLLBACK` when the returned
/// sender is used or dropped.
async fn hold<DB: sqlx::Database>(
    pool: sqlx::Pool<DB>,
    begin: &'static str,
    take: Option<(&'static str, String)>,
) -> oneshot::Sender<()>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let (held_tx, held_rx) = oneshot::channel();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut conn = pool.acquire().await.expect("a connection for the lock");
        sqlx::raw_sql(AssertSqlSafe(begin))
            .execute(&mut *conn)
            .await
            .expect("BEGIN");
        if let Some((take, key)) = take {
            sqlx::query(AssertSqlSafe(take))
                .bind(key)
                .execute(&mut *conn)
                .await
                .expect("take the lock");
        }
        let _ = held_tx.send(());
        let _ = release_rx.await;
        sqlx::raw_sql(AssertSqlSafe("ROLLBACK"))
            .execute(&mut *conn)
            .await
            .expect("ROLLBACK");
    });
    held_rx.await.expect("the lock was taken");
    release_tx
}

#[async_trait]
impl Raw for SqlitePool {
    async fn exec(&self, sql: String) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(self).await.map(|_| ())
    }

    async fn fail_inserts_into(&self, table: &str) {
        self.exec(format!(
            "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
        ))
        .await
        .expect("create trigger");
    }

    async fn heal(&self, table: &str) {
        self.exec(format!("DROP TRIGGER fail_{table}"))
            .await
            .expect("drop trigger");
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .fetch_one(self)
            .await
            .expect("count")
    }

    async fn hold_decision_lock(&self, _enterprise: &str) -> oneshot::Sender<()> {
        hold(self.clone(), "BEGIN IMMEDIATE", None).await
    }
}

#[async_trait]
impl Raw for PgPool {
    async fn exec(&self, sql: String) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(self).await.map(|_| ())
    }

    async fn fail_inserts_into(&self, table: &str) {
        self.exec(format!(
            "CREATE OR REPLACE FUNCTION invite_test_fail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$; \
             CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} \
             FOR EACH ROW EXECUTE FUNCTION invite_test_fail();"
        ))
        .await
        .expect("create trigger");
    }

    async fn heal(&self, table: &str) {
        self.exec(format!("DROP TRIGGER fail_{table} ON {table}"))
            .await
            .expect("drop trigger");
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .fetch_one(self)
            .await
            .expect("count")
    }

    async fn hold_decision_lock(&self, enterprise: &str) -> oneshot::Sender<()> {
        let take = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
        hold(self.clone(), "BEGIN", Some((take, enterprise.to_owned()))).await
    }
}

/// A subject and raw access to its database.
pub struct Case<S> {
    /// The store, its peer and the host's side.
    pub subject: Subject<S>,
    /// The database behind them.
    pub raw: Arc<dyn Raw>,
    /// The host's membership table (where a fault is planted for rule X7).
    pub members_table: &'static str,
}

// --- the host-shaped schema ----------------------------------------------------------

/// The host's schema on SQLite: `embed-host-schema`'s own migration (one definition of
/// the host-shaped schema for the example, these tests and the benches), and two rows of
/// the host's own `invitations` table.
pub const HOST_SCHEMA_SQLITE: &str = concat!(
    include_str!("../../../examples/embed-host-schema/migrations/sqlite/20261201000001_host_schema.sql"),
    "INSERT INTO invitations VALUES (1, 'Team offsite'), (2, 'Quarterly review');"
);

/// The host's schema on PostgreSQL: `embed-host-schema`'s own migration, and two rows
/// of the host's own `invitations` table.
pub const HOST_SCHEMA_POSTGRES: &str = concat!(
    include_str!("../../../examples/embed-host-schema/migrations/postgres/20261201000001_host_schema.sql"),
    "INSERT INTO invitations VALUES (1, 'Team offsite'), (2, 'Quarterly review');"
);

/// The host's role names (rule H4).
fn host_role(role: Role) -> &'static str {
    match role {
        Role::SuperAdmin => "owner",
        Role::FinanceAdmin => "billing",
        Role::DevAdmin => "developer",
        _ => "member",
    }
}

/// The mapping of the host-shaped schema.
pub fn host_mapping() -> TableMapping {
    let mut builder = TableMapping::builder()
        .keys(KeyKinds::both(KeyKind::Int))
        .enterprises("organizations", "id", "title", "verified")
        .users("accounts", "id")
        .email("email")
        .phone("phone")
        .memberships("org_memberships", "org_id", "account_id", "role")
        .member_value("joined_at", MemberValue::Now);
    for role in Role::ALL {
        builder = builder.role(role, host_role(role));
    }
    builder.build().expect("valid mapping")
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The host's side of the host-shaped schema: plain inserts, as its own code would do.
pub struct HostTables {
    raw: Arc<dyn Raw>,
    next: AtomicI64,
    now_sql: &'static str,
}

impl HostTables {
    fn new(raw: Arc<dyn Raw>, now_sql: &'static str) -> Self {
        Self {
            raw,
            next: AtomicI64::new(1000),
            now_sql,
        }
    }

    fn next(&self) -> i64 {
        self.next.fetch_add(1, Ordering::SeqCst)
    }
}

#[async_trait]
impl HostFixture for HostTables {
    async fn create_enterprise(&self, name: &str, certified: bool) -> Result<Enterprise, StoreError> {
        let id = self.next();
        self.raw
            .exec(format!(
                "INSERT INTO organizations (id, title, verified) VALUES ({id}, {}, {certified})",
                quote(name)
            ))
            .await
            .map_err(StoreError::backend)?;
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
        self.raw
            .exec(format!(
                "INSERT INTO accounts (id, display_name, email, phone) VALUES ({id}, {}, {email}, {phone})",
                quote(name)
            ))
            .await
            .map_err(StoreError::backend)?;
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
        self.raw
            .exec(format!(
                "INSERT INTO org_memberships (org_id, account_id, role, joined_at) VALUES ({}, {}, {}, {})",
                enterprise,
                user.id,
                quote(host_role(role)),
                self.now_sql
            ))
            .await
            .map_err(StoreError::backend)
    }

    async fn set_certified(&self, enterprise: &EnterpriseId, certified: bool) -> Result<(), StoreError> {
        self.raw
            .exec(format!(
                "UPDATE organizations SET verified = {certified} WHERE id = {enterprise}"
            ))
            .await
            .map_err(StoreError::backend)
    }

    async fn fail_member_inserts(&self, fail: bool) -> Result<(), StoreError> {
        if fail {
            self.raw.fail_inserts_into("org_memberships").await;
        } else {
            self.raw.heal("org_memberships").await;
        }
        Ok(())
    }
}

/// The host's side of the self-contained layout: its `Accounts`, and a trigger on
/// `members` for the fault case.
pub struct SelfContainedHost<A: invite_core::Accounts> {
    accounts: AccountsFixture<A>,
    raw: Arc<dyn Raw>,
}

#[async_trait]
impl<A: invite_core::Accounts> HostFixture for SelfContainedHost<A> {
    async fn create_enterprise(&self, name: &str, certified: bool) -> Result<Enterprise, StoreError> {
        self.accounts.create_enterprise(name, certified).await
    }

    async fn create_user(&self, name: &str, contact: &Contact) -> Result<User, StoreError> {
        self.accounts.create_user(name, contact).await
    }

    async fn insert_member(
        &self,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
    ) -> Result<(), StoreError> {
        self.accounts.insert_member(enterprise, user, role).await
    }

    async fn set_certified(&self, enterprise: &EnterpriseId, certified: bool) -> Result<(), StoreError> {
        self.accounts.set_certified(enterprise, certified).await
    }

    async fn fail_member_inserts(&self, fail: bool) -> Result<(), StoreError> {
        if fail {
            self.raw.fail_inserts_into("members").await;
        } else {
            self.raw.heal("members").await;
        }
        Ok(())
    }
}

// --- SQLite ----------------------------------------------------------------------------

/// The self-contained layout on a new SQLite file, two stores on it.
pub async fn sqlite_self_contained() -> Case<SqliteStore> {
    let url = super::sqlite_url();
    let store = SqliteStore::connect(&url).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    let peer = SqliteStore::connect(&url).await.expect("open sqlite again");
    peer.migrate().await.expect("migrate sqlite (no-op)");
    let raw: Arc<dyn Raw> = Arc::new(store.pool().clone());
    let store = Arc::new(store);
    let host = Arc::new(SelfContainedHost {
        accounts: AccountsFixture::new(store.clone()),
        raw: raw.clone(),
    });
    Case {
        subject: Subject {
            store,
            peer: Arc::new(peer),
            host,
        },
        raw,
        members_table: "members",
    }
}

/// The host-shaped schema on a new SQLite file, two stores on it.
pub async fn sqlite_host_shaped() -> Case<SqliteStore<TableMapping>> {
    let url = super::sqlite_url();
    let pool = sqlite_pool(&url).await.expect("open sqlite");
    pool.exec(HOST_SCHEMA_SQLITE.to_owned())
        .await
        .expect("host schema");
    let store = SqliteStore::new(pool.clone(), host_mapping());
    store.migrate().await.expect("migrate sqlite");
    let peer = SqliteStore::new(sqlite_pool(&url).await.expect("open again"), host_mapping());
    let raw: Arc<dyn Raw> = Arc::new(pool);
    Case {
        subject: Subject {
            store: Arc::new(store),
            peer: Arc::new(peer),
            host: Arc::new(HostTables::new(raw.clone(), "CURRENT_TIMESTAMP")),
        },
        raw,
        members_table: "org_memberships",
    }
}

// --- PostgreSQL ------------------------------------------------------------------------

async fn pg_pool(options: &sqlx::postgres::PgConnectOptions) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .connect_with(options.clone())
        .await
        .expect("connect to the test database")
}

/// The self-contained layout on a new PostgreSQL database, or `None` when
/// `INVITE_TEST_POSTGRES_URL` is not set.
pub async fn pg_self_contained() -> Option<Case<PgStore>> {
    let url = super::pg_url()?;
    let options = super::pg_fresh_database(&url).await;
    let store = PgStore::connect_with(options.clone()).await.expect("connect");
    store.migrate().await.expect("migrate postgres");
    let peer = PgStore::connect_with(options).await.expect("connect again");
    peer.migrate().await.expect("migrate postgres (no-op)");
    let raw: Arc<dyn Raw> = Arc::new(store.pool().clone());
    let store = Arc::new(store);
    let host = Arc::new(SelfContainedHost {
        accounts: AccountsFixture::new(store.clone()),
        raw: raw.clone(),
    });
    Some(Case {
        subject: Subject {
            store,
            peer: Arc::new(peer),
            host,
        },
        raw,
        members_table: "members",
    })
}

/// The host-shaped schema on a new PostgreSQL database, or `None` when
/// `INVITE_TEST_POSTGRES_URL` is not set.
pub async fn pg_host_shaped() -> Option<Case<PgStore<TableMapping>>> {
    let url = super::pg_url()?;
    let options = super::pg_fresh_database(&url).await;
    let pool = pg_pool(&options).await;
    pool.exec(HOST_SCHEMA_POSTGRES.to_owned())
        .await
        .expect("host schema");
    let store = PgStore::new(pool.clone(), host_mapping());
    store.migrate().await.expect("migrate postgres");
    let peer = PgStore::new(pg_pool(&options).await, host_mapping());
    let raw: Arc<dyn Raw> = Arc::new(pool);
    Some(Case {
        subject: Subject {
            store: Arc::new(store),
            peer: Arc::new(peer),
            host: Arc::new(HostTables::new(raw.clone(), "now()")),
        },
        raw,
        members_table: "org_memberships",
    })
}
