//! The decisions of the product, send and accept, through the service (`Invitations`)
//! against the floor of the same work; and accept throughput on PostgreSQL under
//! concurrency (issue #11; see docs/BENCHMARKS.md). Everything runs in one process, so
//! every ratio printed is a same-run ratio.
//!
//! # 1. SQLite, in process, one operation at a time
//!
//! One WAL file per layout in a temp dir, opened as the library opens it
//! (`invite_store_sqlx::sqlite_pool`: WAL, `synchronous = NORMAL`, foreign keys on,
//! `secure_delete = ON`, busy timeout 10 s); the pragmas each side really runs with are
//! printed once. Layouts: **self-contained** (`SqliteStore::connect`, the library's
//! `enterprises`/`users`/`members`, UUID keys, seeded with `seed::demo_accounts`) and
//! **host-schema** (`examples/embed-host-schema`'s tables and `TableMapping`: integer
//! keys, the host's role names, `joined_at`; seeded with plain inserts). Per layout, one
//! criterion group `decisions/sqlite/<layout>`:
//!
//! - `library/send`: `Invitations::send` (Alice, super admin of a certified enterprise
//!   that has no other member, invites a contact never used before as `member`) with the
//!   builder's defaults: no notifier, no outbox. The link is returned; with no notifier
//!   the service counts the delivery as failed ("no notifier configured", logged through
//!   `tracing`, no subscriber here) and records `failed` with a second write after the
//!   send's transaction (`InvitationStore::set_delivery`), as it would for any inline
//!   delivery;
//! - `library/send-big`: the same into an enterprise with `INVITE_BENCH_BIG_MEMBERS`
//!   (10000) members: the send's member check must stay two index lookups however many
//!   members there are. It did not while it was a join (`members m JOIN users u … WHERE
//!   m.enterprise_id = $1 AND u.email_normalized = $2`): with no planner statistics
//!   (the store runs no `ANALYZE`), SQLite walked the enterprise's members, ≈ 4.5 ms per
//!   send at 10k. It is now `… user_id IN (SELECT id FROM users WHERE …)`;
//! - `library-outbox/send`: the same with the outbox on (rule D1: the sealed delivery
//!   request is written in the send's transaction, and nothing after it) and a no-op
//!   notifier; no worker runs;
//! - `library/accept`: `Invitations::accept(token, user)` of a fresh pending invitation by
//!   its invitee (a user whose verified email is the invited contact and who is not a
//!   member: in the self-contained layout a new user the accept saves, in the host schema
//!   an `accounts` row made before the clock);
//! - `sqlx-hand/accept`: the accept transaction written by hand with sqlx on the store's
//!   pool: `BEGIN IMMEDIATE`; the conditional
//!   `UPDATE invite_rs_invitations … WHERE token_digest = $1 AND status = 'pending' AND
//!   expires_at > $2 RETURNING` the 19 columns (decoded into a plain struct); the
//!   enterprise's certified flag (`SELECT "name", "certified" FROM "enterprises" …`, host
//!   schema `SELECT "title", "verified" FROM "organizations" …`); self-contained only, the
//!   user upsert the layout does; the membership `INSERT … SELECT … WHERE NOT EXISTS`;
//!   `COMMIT`. The `accepted` event is written by the UPDATE's trigger (migration
//!   `decision_events`), on these sides as on the library's (after the warm-up the bench
//!   checks one event per accepted invitation). The statements are those of `invite-store-sqlx`
//!   (`sql.rs`, `self_contained.rs`, `TableMapping`), byte for byte; at set-up the bench
//!   checks that the mapping still builds the directory ones and says so if not;
//! - `rusqlite-hand/accept`: the very same statements and transaction
//!   (`TransactionBehavior::Immediate`) through `rusqlite` 0.39 (the same
//!   `libsqlite3-sys` 0.37, hence the same SQLite, as sqlx), on its own connection to the
//!   same file with the same pragmas, statements prepared once (`prepare_cached`), called
//!   directly on the bench's thread: no async runtime, no pool, no channel to a worker
//!   thread. It is the floor. The only textual difference: placeholders are written `?N`
//!   instead of `$N` (the same numbered parameters; rusqlite binds by position).
//!
//! All three accepts run on the same file, in turns, on invitations made by
//! `Invitations::send` before the clock starts, in enterprises of their own (a new one
//! every 500 invitations, so that neither making them nor `library/send` slows down as the
//! accepted invitees pile up as members). Before anything is measured every operation
//! runs 200 times unmeasured.
//!
//! Then, in the same process, the **paired** measurement (criterion-independent): the
//! six operations above take turns op by op (the order rotates every round) for
//! `INVITE_BENCH_PAIRED_SECS` per layout, each op timed alone. Printed (stderr), per
//! layout: per op the count, median, p25/p75, p99 (µs) and throughput (ops/s = 1 / median
//! and count / summed time); then one line per ratio of medians:
//! library/accept ÷ rusqlite-hand/accept, library/accept ÷ sqlx-hand/accept,
//! sqlx-hand/accept ÷ rusqlite-hand/accept, library-outbox/send ÷ library/send,
//! library/send-big ÷ library/send; and the library's throughput of send and accept.
//!
//! # 2. PostgreSQL, accepts under concurrency
//!
//! Only with `INVITE_TEST_POSTGRES_URL` (otherwise one line says it was not measured): a
//! fresh database `invite_bench_decisions`, self-contained layout, `PgStore::new` over a
//! pool of `clients + 4` connections, `INVITE_BENCH_PG_CLIENTS` (16) certified
//! enterprises, each with its own super admin. Accept throughput through
//! `Invitations::accept` on a multi-threaded tokio runtime, clients being tokio tasks, each
//! accepting its own fresh invitations (made by `Invitations::send` before the window) one
//! after the other:
//!
//! - `1 client`: one task, one enterprise;
//! - `16 clients / 16 enterprises`: each task on its own enterprise;
//! - `16 clients / 1 enterprise`: all tasks on one enterprise (the store serializes the
//!   accepts of one enterprise with `pg_advisory_xact_lock`, so this cannot scale);
//! - `1 client (again)`: the first case once more, to show drift over the run.
//!
//! The server's `autovacuum` setting is printed; the bench runs `VACUUM ANALYZE` before
//! each warm-up and each window (outside them), as autovacuum would now and then (without
//! statistics a send's member check walks the enterprise's members here too).
//! First 100 accepts per enterprise, unmeasured (a new database's first accepts are
//! slower). Each case: a warm-up of 50 accepts per client (200 for one client), whose
//! rate sizes the invitations made for the window (twice what that rate would use, plus
//! 50 per client); then `INVITE_BENCH_PG_SECS` of accepts. Printed: accepts/s (accepts ÷ time from the
//! start to the last accept's end), latency p50/p99 (ms), and the ratios of each case to
//! the first: 16/16 ÷ 1 client (goal ≥ 4×), 16/1 ÷ 1 client, 1 client again ÷ 1 client;
//! and 16/16 and 16/1 ÷ the mean of the two 1-client windows (one client waits for each
//! commit's WAL flush alone, so its rate swings most with the disk).
//! A client that runs out of invitations stops early; the window is then run again with
//! more (at most three windows), and the line says so. Failed accepts are counted and the
//! first error printed.
//!
//! # Reproduce
//!
//! ```sh
//! # SQLite only (PostgreSQL reported as not measured)
//! nice cargo bench -p invite-benches --bench decisions
//! # SQLite and PostgreSQL
//! INVITE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   nice cargo bench -p invite-benches --bench decisions
//! # only the printed measurements (criterion's groups filtered away)
//! INVITE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   nice cargo bench -p invite-benches --bench decisions -- '^nothing$'
//! ```
//!
//! Settings (environment): `INVITE_BENCH_LAYOUTS` (`self-contained,host-schema`),
//! `INVITE_BENCH_PAIRED_SECS` (10 per layout; 0 skips the paired measurement),
//! `INVITE_BENCH_PG_SECS` (5 per case; 0 skips PostgreSQL), `INVITE_BENCH_PG_CLIENTS`
//! (16), `INVITE_BENCH_PG_MAX_INVITES` (60000, invitations made per case at most),
//! `INVITE_BENCH_BIG_MEMBERS` (10000).
//! Criterion's own options (`--measurement-time`, `--sample-size`, a filter) apply to its
//! groups; the defaults here are 10 samples, 0.5 s warm-up, 2 s measurement. HTML reports:
//! `target/criterion/report/index.html`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use invite_benches::{host_role, micros, quantile};
use invite_core::testing::seed;
use invite_core::{
    Accounts, Contact, ContactPolicy, Delivery, Enterprise, EnterpriseId, Invitations, Notifier, NotifyError,
    OutboxKey, Role, SendInvitation, User, UserId,
};
use invite_store_sqlx::{PgStore, SelfContained, SqliteStore, TableMapping, sqlite_pool};
use rusqlite::TransactionBehavior;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use tokio::runtime::Runtime;
use uuid::Uuid;

// --- settings ---------------------------------------------------------------------------

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn layouts() -> Vec<Layout> {
    let wanted =
        std::env::var("INVITE_BENCH_LAYOUTS").unwrap_or_else(|_| "self-contained,host-schema".into());
    [Layout::SelfContained, Layout::HostSchema]
        .into_iter()
        .filter(|l| wanted.split(',').any(|w| w.trim() == l.name()))
        .collect()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A contact never used before in this process.
fn next_contact() -> String {
    format!("dec{}@example.com", COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn now() -> DateTime<Utc> {
    invite_core::ports::to_storage_precision(Utc::now())
}

/// A notifier that takes every message at once; with the outbox on and no worker it is
/// never called, the builder wants one.
struct Nothing;

#[async_trait]
impl Notifier for Nothing {
    async fn deliver(&self, _: &Delivery) -> Result<(), NotifyError> {
        Ok(())
    }
}

// --- the statements -----------------------------------------------------------------------

/// The statements of the accept transaction as `invite-store-sqlx` builds them, byte for
/// byte (`sql::ACCEPT`, `self_contained::UPSERT_USER`, and the
/// `TableMapping`'s enterprise read and membership insert of each layout).
mod statements {
    pub const ACCEPT: &str = "UPDATE invite_rs_invitations SET status = 'accepted', responded_at = $2, \
         responded_by = $3 WHERE token_digest = $1 AND status = 'pending' AND expires_at > $2 RETURNING \
         id, enterprise_id, contact_kind, contact_entered, contact_normalized, role, status, \
         invited_by, invited_by_name, sent_at, last_sent_at, expires_at, responded_at, \
         responded_by, revoked_at, revoked_by, delivery, token_digest, delivery_attempts";

    pub const UPSERT_USER: &str = "INSERT INTO users \
         (id, name, email, email_normalized, phone, phone_normalized) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, \
         email_normalized = excluded.email_normalized, phone = excluded.phone, \
         phone_normalized = excluded.phone_normalized";

    pub const ENTERPRISE_SELF_CONTAINED: &str =
        "SELECT \"name\", \"certified\" FROM \"enterprises\" WHERE \"id\" = $1";
    pub const ENTERPRISE_HOST: &str =
        "SELECT \"title\", \"verified\" FROM \"organizations\" WHERE \"id\" = $1";

    pub const INSERT_MEMBER_SELF_CONTAINED: &str = "INSERT INTO \"members\" (\"enterprise_id\", \"user_id\", \
         \"role\") SELECT $1, $2, $3 WHERE NOT EXISTS \
         (SELECT 1 FROM \"members\" WHERE \"enterprise_id\" = $1 AND \"user_id\" = $2)";
    pub const INSERT_MEMBER_HOST: &str = "INSERT INTO \"org_memberships\" (\"org_id\", \"account_id\", \
         \"role\", \"joined_at\") SELECT $1, $2, $3, $4 WHERE NOT EXISTS \
         (SELECT 1 FROM \"org_memberships\" WHERE \"org_id\" = $1 AND \"account_id\" = $2)";
}

/// Says so (once, at set-up) when the mapping no longer builds the directory statements
/// the hand-written sides run: their text is private to the mapping, its `Debug` shows it.
fn check_statements(layout: Layout, directory: &impl std::fmt::Debug) {
    let shown = format!("{directory:?}");
    for statement in layout.directory_statements() {
        if !shown.contains(&format!("{statement:?}")) {
            eprintln!(
                "decisions: WARNING: the {} mapping no longer builds `{statement}`; \
                 the hand-written sides run it anyway",
                layout.name()
            );
        }
    }
}

// --- layouts ----------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    SelfContained,
    HostSchema,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::SelfContained => "self-contained",
            Layout::HostSchema => "host-schema",
        }
    }

    fn directory_statements(self) -> [&'static str; 2] {
        match self {
            Layout::SelfContained => [
                statements::ENTERPRISE_SELF_CONTAINED,
                statements::INSERT_MEMBER_SELF_CONTAINED,
            ],
            Layout::HostSchema => [statements::ENTERPRISE_HOST, statements::INSERT_MEMBER_HOST],
        }
    }
}

/// The host's schema on SQLite: `embed-host-schema`'s own migration.
const HOST_SCHEMA_SQLITE: &str =
    include_str!("../../examples/embed-host-schema/migrations/sqlite/20261201000001_host_schema.sql");

/// The mapping of the host's schema: `examples/embed-host-schema`'s own.
fn host_mapping() -> TableMapping {
    embed_host_schema::mapping().unwrap()
}

fn email(raw: &str) -> Contact {
    ContactPolicy::default().parse(raw).unwrap()
}

// --- the SQLite subject -------------------------------------------------------------------

/// One SQLite file under test: the services, the store's pool (for the sqlx side), the
/// rusqlite connection (the floor) and the inviter.
struct Subject {
    layout: Layout,
    invitations: Invitations,
    outbox: Invitations,
    pool: SqlitePool,
    floor: Mutex<Floor>,
    /// Where `library/send` sends: the inviter is its only member.
    enterprise: EnterpriseId,
    /// Where `library/send-big` sends: [`big_members`] members more.
    big: EnterpriseId,
    /// Where the invitations to accept come from, and how many it has had: a new one
    /// every [`ACCEPTS_PER_ENTERPRISE`], see [`Subject::prepare`].
    accepting: Mutex<(EnterpriseId, u64)>,
    inviter: User,
    next_account: AtomicI64,
    next_org: AtomicI64,
}

/// Accepts per enterprise before [`Subject::prepare`] moves to a new one. A send checks
/// that the contact is no member yet, and without planner statistics (the store never
/// runs `ANALYZE`) SQLite walks the enterprise's members for it: sends into an enterprise
/// grow slower with its members (see `library/send-big`). So that the invitations to
/// accept cost the same to make all run long, and `library/send` measures a small
/// enterprise however many accepts ran before, accepts go to enterprises of their own.
const ACCEPTS_PER_ENTERPRISE: u64 = 500;

/// The members of the enterprise `library/send-big` sends into
/// (`INVITE_BENCH_BIG_MEMBERS`, 10000).
fn big_members() -> u64 {
    env_or("INVITE_BENCH_BIG_MEMBERS", 10_000)
}

/// A pending invitation and its invitee, made before the clock starts.
struct Pending {
    token: String,
    digest: [u8; 32],
    user: User,
}

fn service(invitations: invite_core::InvitationsBuilder) -> Invitations {
    invitations.base_url("https://app.example").build()
}

async fn sqlite_subject(dir: &Path, layout: Layout) -> Subject {
    let path = dir.join(format!("decisions-{}.db", layout.name()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let (builder, outbox_builder, pool, enterprise, inviter) = match layout {
        Layout::SelfContained => {
            let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
            store.migrate().await.unwrap();
            check_statements(layout, store.directory());
            let world = seed::demo_accounts(store.clone()).await.unwrap();
            (
                Invitations::builder(store.clone()),
                Invitations::builder(store.clone()),
                store.pool().clone(),
                world.acme.id,
                world.alice,
            )
        }
        Layout::HostSchema => {
            let pool = sqlite_pool(&url).await.unwrap();
            sqlx::raw_sql(HOST_SCHEMA_SQLITE).execute(&pool).await.unwrap();
            // The host's own rows: a certified organization, its owner.
            sqlx::raw_sql(
                "INSERT INTO organizations (id, title, verified) VALUES (1, 'Acme Robotics', TRUE); \
                 INSERT INTO accounts (id, display_name, email) VALUES (1, 'Alice Admin', 'alice@example.com'); \
                 INSERT INTO org_memberships (org_id, account_id, role, joined_at) \
                 VALUES (1, 1, 'owner', CURRENT_TIMESTAMP);",
            )
            .execute(&pool)
            .await
            .unwrap();
            let store = Arc::new(SqliteStore::new(pool.clone(), host_mapping()));
            check_statements(layout, store.directory());
            store.migrate().await.unwrap();
            let alice = invite_core::testing::host::user_with(
                UserId::from(1_i64),
                "Alice Admin",
                &email("alice@example.com"),
            );
            (
                Invitations::builder(store.clone()),
                Invitations::builder(store),
                pool,
                EnterpriseId::from(1_i64),
                alice,
            )
        }
    };
    let floor = Floor::open(&path, layout);
    let mut subject = Subject {
        layout,
        invitations: service(builder),
        outbox: service(
            outbox_builder
                .notifier(Arc::new(Nothing))
                .outbox(OutboxKey::generate()),
        ),
        pool,
        floor: Mutex::new(floor),
        big: enterprise.clone(),
        accepting: Mutex::new((enterprise.clone(), 0)),
        enterprise,
        inviter,
        next_account: AtomicI64::new(1000),
        next_org: AtomicI64::new(1000),
    };
    subject.big = subject.new_enterprise(big_members()).await;
    subject.accepting = Mutex::new((subject.new_enterprise(0).await, 0));
    subject
}

impl Subject {
    /// A new certified enterprise whose super admin is the inviter, with `members` more
    /// members (new users whose emails no invitation uses), made with plain inserts into
    /// the layout's tables, as a host's own code would.
    async fn new_enterprise(&self, members: u64) -> EnterpriseId {
        let members = i64::try_from(members).unwrap();
        let first = self.next_account.fetch_add(members, Ordering::Relaxed);
        let statements: [&str; 4] = match self.layout {
            Layout::SelfContained => [
                "INSERT INTO enterprises (id, name, certified) VALUES ($1, 'Bench Enterprise', TRUE)",
                "INSERT INTO members (enterprise_id, user_id, role) VALUES ($1, $2, 'super_admin')",
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2) \
                 INSERT INTO users (id, name, email, email_normalized) SELECT randomblob(16), \
                 'Member ' || ($3 + i), 'm' || ($3 + i) || '@big.example', 'm' || ($3 + i) || '@big.example' \
                 FROM n WHERE $2 > 0",
                "INSERT INTO members (enterprise_id, user_id, role) SELECT $1, id, 'member' FROM users \
                 WHERE name GLOB 'Member *' AND CAST(substr(name, 8) AS INTEGER) BETWEEN $3 AND $3 + $2 - 1",
            ],
            Layout::HostSchema => [
                "INSERT INTO organizations (id, title, verified) VALUES ($1, 'Bench Org', TRUE)",
                "INSERT INTO org_memberships (org_id, account_id, role, joined_at) \
                 VALUES ($1, $2, 'owner', CURRENT_TIMESTAMP)",
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $2) \
                 INSERT INTO accounts (id, display_name, email) SELECT $3 + i, 'Member', \
                 'm' || ($3 + i) || '@big.example' FROM n WHERE $2 > 0",
                "INSERT INTO org_memberships (org_id, account_id, role, joined_at) \
                 SELECT $1, id, 'member', CURRENT_TIMESTAMP FROM accounts WHERE id BETWEEN $3 AND $3 + $2 - 1",
            ],
        };
        let (id, inviter) = match self.layout {
            Layout::SelfContained => (
                EnterpriseId::new(),
                self.inviter.id.key().canonical().into_owned(),
            ),
            Layout::HostSchema => (
                EnterpriseId::from(self.next_org.fetch_add(1, Ordering::Relaxed)),
                self.inviter.id.key().canonical().into_owned(),
            ),
        };
        let mut tx = self.pool.begin().await.unwrap();
        for (i, statement) in statements.into_iter().enumerate() {
            if members == 0 && i >= 2 {
                break;
            }
            let query = sqlx::query(statement);
            let query = match self.layout {
                Layout::SelfContained => {
                    let ent = Uuid::parse_str(&id.key().canonical()).unwrap();
                    match i {
                        0 => query.bind(ent),
                        1 => query.bind(ent).bind(Uuid::parse_str(&inviter).unwrap()),
                        _ => query.bind(ent).bind(members).bind(first),
                    }
                }
                Layout::HostSchema => {
                    let ent: i64 = id.key().canonical().parse().unwrap();
                    match i {
                        0 => query.bind(ent),
                        1 => query.bind(ent).bind(inviter.parse::<i64>().unwrap()),
                        _ => query.bind(ent).bind(members).bind(first),
                    }
                }
            };
            query.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        id
    }

    /// The invitee of `contact`: a new user with that verified email who is no member; in
    /// the host schema also a row in the host's `accounts` (a host has its accounts).
    async fn invitee(&self, contact: &str) -> User {
        match self.layout {
            Layout::SelfContained => User {
                id: UserId::new(),
                name: "Bench User".into(),
                email: Some(ContactPolicy::default().parse_email(contact).unwrap()),
                phone: None,
            },
            Layout::HostSchema => {
                let id = self.next_account.fetch_add(1, Ordering::Relaxed);
                sqlx::query("INSERT INTO accounts (id, display_name, email) VALUES ($1, 'Bench User', $2)")
                    .bind(id)
                    .bind(contact)
                    .execute(&self.pool)
                    .await
                    .unwrap();
                invite_core::testing::host::user_with(UserId::from(id), "Bench User", &email(contact))
            }
        }
    }

    async fn send(
        &self,
        invitations: &Invitations,
        enterprise: &EnterpriseId,
        contact: String,
    ) -> invite_core::SentInvitation {
        invitations
            .send(&self.inviter, enterprise, SendInvitation::new(contact, "member"))
            .await
            .unwrap()
    }

    /// `n` pending invitations and their invitees, made through the service, in
    /// enterprises of [`ACCEPTS_PER_ENTERPRISE`] invitations each.
    async fn prepare(&self, n: u64) -> Vec<Pending> {
        let mut todo = Vec::new();
        for _ in 0..n {
            let full = {
                let accepting = self.accepting.lock().unwrap();
                accepting.1 >= ACCEPTS_PER_ENTERPRISE
            };
            if full {
                let fresh = self.new_enterprise(0).await;
                *self.accepting.lock().unwrap() = (fresh, 0);
            }
            let enterprise = {
                let mut accepting = self.accepting.lock().unwrap();
                accepting.1 += 1;
                accepting.0.clone()
            };
            let contact = next_contact();
            let user = self.invitee(&contact).await;
            let sent = self.send(&self.invitations, &enterprise, contact).await;
            todo.push(Pending {
                token: sent.link.token().to_owned(),
                digest: *sent.invitation.token_digest.as_bytes(),
                user,
            });
        }
        todo
    }

    async fn run(&self, op: Op, pending: Option<&Pending>) {
        match op {
            Op::Send => {
                self.send(&self.invitations, &self.enterprise, next_contact())
                    .await;
            }
            Op::SendBig => {
                self.send(&self.invitations, &self.big, next_contact()).await;
            }
            Op::SendOutbox => {
                self.send(&self.outbox, &self.enterprise, next_contact()).await;
            }
            Op::LibraryAccept => {
                let p = pending.unwrap();
                self.invitations.accept(&p.token, &p.user).await.unwrap();
            }
            Op::SqlxAccept => {
                let p = pending.unwrap();
                sqlx_accept(&self.pool, self.layout, &p.digest, &p.user).await;
            }
            Op::RusqliteAccept => {
                let p = pending.unwrap();
                self.floor.lock().unwrap().accept(&p.digest, &p.user);
            }
        }
    }
}

// --- the accept by hand, sqlx -------------------------------------------------------------

/// The `RETURNING` row, decoded as a hand-written program would.
#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct Row {
    id: Uuid,
    enterprise_id: String,
    contact_kind: String,
    contact_entered: String,
    contact_normalized: String,
    role: String,
    status: String,
    invited_by: String,
    invited_by_name: String,
    sent_at: i64,
    last_sent_at: i64,
    expires_at: i64,
    responded_at: Option<i64>,
    responded_by: Option<String>,
    revoked_at: Option<i64>,
    revoked_by: Option<String>,
    delivery: String,
    token_digest: Vec<u8>,
    delivery_attempts: i64,
}

async fn sqlx_accept(pool: &SqlitePool, layout: Layout, digest: &[u8], user: &User) {
    use statements::*;
    let now = now();
    let at = now.timestamp_micros();
    let by = user.id.key().canonical();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let row: Row = sqlx::query_as(ACCEPT)
        .bind(digest)
        .bind(at)
        .bind(&*by)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let added = match layout {
        Layout::SelfContained => {
            let enterprise = Uuid::parse_str(&row.enterprise_id).unwrap();
            let (_, certified): (String, bool) = sqlx::query_as(ENTERPRISE_SELF_CONTAINED)
                .bind(enterprise)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            assert!(certified);
            let id = Uuid::parse_str(&by).unwrap();
            sqlx::query(UPSERT_USER)
                .bind(id)
                .bind(user.name.as_str())
                .bind(user.email.as_ref().map(|e| e.entered()))
                .bind(user.email.as_ref().map(|e| e.normalized()))
                .bind(user.phone.as_ref().map(|p| p.entered()))
                .bind(user.phone.as_ref().map(|p| p.normalized()))
                .execute(&mut *tx)
                .await
                .unwrap();
            sqlx::query(INSERT_MEMBER_SELF_CONTAINED)
                .bind(enterprise)
                .bind(id)
                .bind(row.role.as_str())
                .execute(&mut *tx)
                .await
                .unwrap()
        }
        Layout::HostSchema => {
            let enterprise: i64 = row.enterprise_id.parse().unwrap();
            let (_, certified): (String, bool) = sqlx::query_as(ENTERPRISE_HOST)
                .bind(enterprise)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            assert!(certified);
            let id: i64 = by.parse().unwrap();
            sqlx::query(INSERT_MEMBER_HOST)
                .bind(enterprise)
                .bind(id)
                .bind(host_role(&row.role))
                .bind(now)
                .execute(&mut *tx)
                .await
                .unwrap()
        }
    };
    assert_eq!(added.rows_affected(), 1);
    // The `accepted` event: written by the UPDATE's trigger (migration `decision_events`).
    tx.commit().await.unwrap();
}

// --- the accept by hand, rusqlite: the floor ------------------------------------------------

/// `sql` with its `$N` placeholders written `?N`: the same numbered parameters, which
/// rusqlite binds by position (`$N` is a *named* parameter to SQLite, numbered in order of
/// first appearance, so `$2` before `$1` would bind the wrong values).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// The statements of [`statements`], for rusqlite.
struct FloorSql {
    accept: String,
    enterprise: String,
    upsert_user: String,
    insert_member: String,
}

/// The rusqlite side: its own connection to the subject's file.
struct Floor {
    conn: rusqlite::Connection,
    layout: Layout,
    sql: FloorSql,
}

impl Floor {
    /// Opens `path` with the pragmas `invite_store_sqlx::sqlite_pool` sets.
    fn open(path: &Path, layout: Layout) -> Self {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.busy_timeout(invite_store_sqlx::DEFAULT_BUSY_TIMEOUT)
            .unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
             PRAGMA secure_delete = ON;",
        )
        .unwrap();
        let (enterprise, insert_member) = match layout {
            Layout::SelfContained => (
                statements::ENTERPRISE_SELF_CONTAINED,
                statements::INSERT_MEMBER_SELF_CONTAINED,
            ),
            Layout::HostSchema => (statements::ENTERPRISE_HOST, statements::INSERT_MEMBER_HOST),
        };
        Self {
            conn,
            layout,
            sql: FloorSql {
                accept: numbered(statements::ACCEPT),
                enterprise: numbered(enterprise),
                upsert_user: numbered(statements::UPSERT_USER),
                insert_member: numbered(insert_member),
            },
        }
    }

    fn pragmas(&self) -> String {
        let get = |name: &str| -> String {
            self.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        pragma_line(get)
    }

    fn accept(&mut self, digest: &[u8], user: &User) {
        use rusqlite::params;
        let now = now();
        let at = now.timestamp_micros();
        let by = user.id.key().canonical();
        let sql = &self.sql;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        let row = tx
            .prepare_cached(&sql.accept)
            .unwrap()
            .query_row(params![digest, at, &*by], |r| {
                Ok(Row {
                    id: Uuid::from_bytes(r.get::<_, [u8; 16]>(0)?),
                    enterprise_id: r.get(1)?,
                    contact_kind: r.get(2)?,
                    contact_entered: r.get(3)?,
                    contact_normalized: r.get(4)?,
                    role: r.get(5)?,
                    status: r.get(6)?,
                    invited_by: r.get(7)?,
                    invited_by_name: r.get(8)?,
                    sent_at: r.get(9)?,
                    last_sent_at: r.get(10)?,
                    expires_at: r.get(11)?,
                    responded_at: r.get(12)?,
                    responded_by: r.get(13)?,
                    revoked_at: r.get(14)?,
                    revoked_by: r.get(15)?,
                    delivery: r.get(16)?,
                    token_digest: r.get(17)?,
                    delivery_attempts: r.get(18)?,
                })
            })
            .unwrap();
        let added = match self.layout {
            Layout::SelfContained => {
                let enterprise = Uuid::parse_str(&row.enterprise_id).unwrap();
                let enterprise = enterprise.as_bytes().as_slice();
                let certified: bool = tx
                    .prepare_cached(&sql.enterprise)
                    .unwrap()
                    .query_row(params![enterprise], |r| {
                        let _: String = r.get(0)?;
                        r.get(1)
                    })
                    .unwrap();
                assert!(certified);
                let id = Uuid::parse_str(&by).unwrap();
                tx.prepare_cached(&sql.upsert_user)
                    .unwrap()
                    .execute(params![
                        id.as_bytes().as_slice(),
                        user.name.as_str(),
                        user.email.as_ref().map(|e| e.entered()),
                        user.email.as_ref().map(|e| e.normalized()),
                        user.phone.as_ref().map(|p| p.entered()),
                        user.phone.as_ref().map(|p| p.normalized()),
                    ])
                    .unwrap();
                tx.prepare_cached(&sql.insert_member)
                    .unwrap()
                    .execute(params![enterprise, id.as_bytes().as_slice(), row.role.as_str()])
                    .unwrap()
            }
            Layout::HostSchema => {
                let enterprise: i64 = row.enterprise_id.parse().unwrap();
                let certified: bool = tx
                    .prepare_cached(&sql.enterprise)
                    .unwrap()
                    .query_row(params![enterprise], |r| {
                        let _: String = r.get(0)?;
                        r.get(1)
                    })
                    .unwrap();
                assert!(certified);
                let id: i64 = by.parse().unwrap();
                // As sqlx encodes a `DateTime<Utc>` for SQLite.
                let joined_at = now.to_rfc3339_opts(SecondsFormat::AutoSi, false);
                tx.prepare_cached(&sql.insert_member)
                    .unwrap()
                    .execute(params![enterprise, id, host_role(&row.role), joined_at])
                    .unwrap()
            }
        };
        assert_eq!(added, 1);
        // The `accepted` event: written by the UPDATE's trigger, as on the other sides.
        tx.commit().unwrap();
    }
}

fn pragma_line(get: impl Fn(&str) -> String) -> String {
    [
        "journal_mode",
        "synchronous",
        "foreign_keys",
        "secure_delete",
        "busy_timeout",
    ]
    .into_iter()
    .map(|name| format!("{name}={}", get(name)))
    .collect::<Vec<_>>()
    .join(" ")
}

async fn sqlx_pragmas(pool: &SqlitePool) -> String {
    use sqlx::Row as _;
    let mut conn = pool.acquire().await.unwrap();
    let mut values = Vec::new();
    for name in [
        "journal_mode",
        "synchronous",
        "foreign_keys",
        "secure_delete",
        "busy_timeout",
    ] {
        let row = sqlx::query(AssertSqlSafe(format!("PRAGMA {name}")))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let value = row
            .try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|i| i.to_string()))
            .unwrap();
        values.push((name, value));
    }
    pragma_line(|name| values.iter().find(|(n, _)| *n == name).unwrap().1.clone())
}

// --- 1. SQLite: criterion's groups, then the paired measurement ---------------------------

/// The operations measured on SQLite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Send,
    SendBig,
    SendOutbox,
    LibraryAccept,
    SqlxAccept,
    RusqliteAccept,
}

impl Op {
    const ALL: [Op; 6] = [
        Op::Send,
        Op::SendBig,
        Op::SendOutbox,
        Op::LibraryAccept,
        Op::SqlxAccept,
        Op::RusqliteAccept,
    ];

    /// (side, action): criterion's `side/action`.
    fn id(self) -> (&'static str, &'static str) {
        match self {
            Op::Send => ("library", "send"),
            Op::SendBig => ("library", "send-big"),
            Op::SendOutbox => ("library-outbox", "send"),
            Op::LibraryAccept => ("library", "accept"),
            Op::SqlxAccept => ("sqlx-hand", "accept"),
            Op::RusqliteAccept => ("rusqlite-hand", "accept"),
        }
    }

    fn name(self) -> String {
        let (side, action) = self.id();
        format!("{side}/{action}")
    }

    fn accepts(self) -> bool {
        matches!(self, Op::LibraryAccept | Op::SqlxAccept | Op::RusqliteAccept)
    }

    fn index(self) -> usize {
        Op::ALL.iter().position(|o| *o == self).unwrap()
    }
}

/// Runs of each operation before anything is measured, so that the side measured first
/// does not also pay for the first growth of new tables and indexes.
const WARM_RUNS: u64 = 200;

async fn warm_up(subject: &Subject) {
    for op in Op::ALL {
        let todo = if op.accepts() {
            subject.prepare(WARM_RUNS).await
        } else {
            Vec::new()
        };
        for i in 0..WARM_RUNS {
            subject.run(op, todo.get(usize::try_from(i).unwrap())).await;
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

fn sqlite(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let paired_secs: f64 = env_or("INVITE_BENCH_PAIRED_SECS", 10.0);
    for layout in layouts() {
        let subject = rt.block_on(sqlite_subject(dir.path(), layout));
        let group_name = format!("decisions/sqlite/{}", layout.name());
        eprintln!(
            "{group_name}: pragmas sqlx (store pool): {}",
            rt.block_on(sqlx_pragmas(&subject.pool))
        );
        eprintln!(
            "{group_name}: pragmas rusqlite: {}",
            subject.floor.lock().unwrap().pragmas()
        );
        rt.block_on(warm_up(&subject));
        // Every side's accept wrote its one `accepted` event, no more, no less.
        let (events, accepted): (i64, i64) = rt
            .block_on(
                sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM invite_rs_events WHERE kind = 'accepted'), \
                     (SELECT COUNT(*) FROM invite_rs_invitations WHERE status = 'accepted')",
                )
                .fetch_one(&subject.pool),
            )
            .unwrap();
        assert_eq!(events, accepted, "one accepted event per accepted invitation");

        let mut group = c.benchmark_group(&group_name);
        for op in Op::ALL {
            let (side, action) = op.id();
            group.bench_function(criterion::BenchmarkId::new(side, action), |b| {
                b.iter_custom(|iters| {
                    let todo = if op.accepts() {
                        rt.block_on(subject.prepare(iters))
                    } else {
                        Vec::new()
                    };
                    if op == Op::RusqliteAccept {
                        // The floor: called directly, no runtime around it.
                        let mut floor = subject.floor.lock().unwrap();
                        let start = Instant::now();
                        for p in &todo {
                            floor.accept(&p.digest, &p.user);
                        }
                        return start.elapsed();
                    }
                    rt.block_on(async {
                        let start = Instant::now();
                        if op.accepts() {
                            for p in &todo {
                                subject.run(op, Some(p)).await;
                            }
                        } else {
                            for _ in 0..iters {
                                subject.run(op, None).await;
                            }
                        }
                        start.elapsed()
                    })
                });
            });
        }
        group.finish();

        if paired_secs > 0.0 {
            let budget = Duration::from_secs_f64(paired_secs);
            let times = rt.block_on(interleave(&subject, budget));
            report_paired(&group_name, paired_secs, &times);
        }
    }
}

/// The six operations in turns, op by op, the order rotating every round, for about
/// `budget`; each op timed alone. The floor's accept is called directly (it blocks the
/// runtime's thread for its duration, as a synchronous program would).
async fn interleave(subject: &Subject, budget: Duration) -> Vec<Vec<Duration>> {
    const CHUNK: usize = 20;
    let mut times = vec![Vec::new(); Op::ALL.len()];
    let mut round = 0usize;
    let started = Instant::now();
    while started.elapsed() < budget {
        let mut todo = subject.prepare(3 * CHUNK as u64).await.into_iter();
        for _ in 0..CHUNK {
            for k in 0..Op::ALL.len() {
                let op = Op::ALL[(round + k) % Op::ALL.len()];
                let pending = if op.accepts() { todo.next() } else { None };
                let start = Instant::now();
                subject.run(op, pending.as_ref()).await;
                times[op.index()].push(start.elapsed());
            }
            round += 1;
        }
    }
    times
}

fn report_paired(group: &str, secs: f64, times: &[Vec<Duration>]) {
    let mut medians = Vec::new();
    for op in Op::ALL {
        let us = micros(&times[op.index()]);
        let median = quantile(&us, 0.5);
        let sum: f64 = us.iter().sum();
        #[allow(clippy::cast_precision_loss)]
        let by_sum = us.len() as f64 / (sum / 1e6);
        eprintln!(
            "{group} paired ({secs} s): {:<22} n={:<6} median {median:>8.1} µs (p25 {:.1}, p75 {:.1}, p99 {:.1}); \
             {:.0} ops/s by median, {by_sum:.0} ops/s by n / summed time",
            op.name(),
            us.len(),
            quantile(&us, 0.25),
            quantile(&us, 0.75),
            quantile(&us, 0.99),
            1e6 / median,
        );
        medians.push(median);
    }
    let m = |op: Op| medians[op.index()];
    for (over, under) in [
        (Op::LibraryAccept, Op::RusqliteAccept),
        (Op::LibraryAccept, Op::SqlxAccept),
        (Op::SqlxAccept, Op::RusqliteAccept),
        (Op::SendOutbox, Op::Send),
        (Op::SendBig, Op::Send),
    ] {
        eprintln!(
            "{group} ratio {} ÷ {} = {:.2} (medians {:.1} µs / {:.1} µs)",
            over.name(),
            under.name(),
            m(over) / m(under),
            m(over),
            m(under),
        );
    }
    eprintln!(
        "{group} library throughput: send {:.0} ops/s, send with outbox {:.0} ops/s, accept {:.0} ops/s (1 / median)",
        1e6 / m(Op::Send),
        1e6 / m(Op::SendOutbox),
        1e6 / m(Op::LibraryAccept),
    );
}

// --- 2. PostgreSQL: accepts under concurrency ----------------------------------------------

/// An enterprise and its super admin.
#[derive(Clone)]
struct Tenant {
    enterprise: EnterpriseId,
    inviter: User,
}

/// An invitation's token and its invitee.
type Ticket = (String, User);

async fn pg_setup(clients: usize) -> Option<(Invitations, Vec<Tenant>, PgPool)> {
    let options = invite_benches::pg_database("decisions").await?;
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(clients).unwrap() + 4)
        .connect_with(options)
        .await
        .unwrap();
    let store = Arc::new(PgStore::new(pool.clone(), SelfContained::new()));
    store.migrate().await.unwrap();
    let mut tenants = Vec::new();
    for i in 0..clients {
        let enterprise = Enterprise {
            id: EnterpriseId::new(),
            name: format!("Enterprise {i}"),
            certified: true,
        };
        store.save_enterprise(&enterprise).await.unwrap();
        let inviter = seed::user(&format!("Admin {i}"), &format!("admin{i}@example.com")).unwrap();
        store.save_user(&inviter).await.unwrap();
        store
            .add_member(&enterprise.id, &inviter.id, Role::SuperAdmin)
            .await
            .unwrap();
        tenants.push(Tenant {
            enterprise: enterprise.id,
            inviter,
        });
    }
    Some((service(Invitations::builder(store)), tenants, pool))
}

/// `n` pending invitations of `tenant` and their invitees (new users, not members).
async fn tickets(invitations: Invitations, tenant: Tenant, n: usize) -> Vec<Ticket> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let contact = next_contact();
        let user = User {
            id: UserId::new(),
            name: "Bench User".into(),
            email: Some(ContactPolicy::default().parse_email(&contact).unwrap()),
            phone: None,
        };
        let sent = invitations
            .send(
                &tenant.inviter,
                &tenant.enterprise,
                SendInvitation::new(contact, "member"),
            )
            .await
            .unwrap();
        out.push((sent.link.token().to_owned(), user));
    }
    out
}

/// `n` tickets for each client, made concurrently (one task per client).
async fn make_tickets(invitations: &Invitations, tenants: &[Tenant], n: usize) -> Vec<Vec<Ticket>> {
    let handles: Vec<_> = tenants
        .iter()
        .map(|t| tokio::spawn(tickets(invitations.clone(), t.clone(), n)))
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// What a run of accepts did.
struct Run {
    accepts: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    ran_dry: usize,
    errors: usize,
    first_error: Option<String>,
}

impl Run {
    fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let accepts = self.accepts as f64;
        accepts / self.elapsed.as_secs_f64()
    }
}

/// Each client (a task) accepts its tickets one after the other, until they run out or,
/// with a `budget`, until it is over. Elapsed: from the start to the last accept's end.
async fn accept_all(invitations: &Invitations, lists: Vec<Vec<Ticket>>, budget: Option<Duration>) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = lists
        .into_iter()
        .map(|list| {
            let (invitations, stop) = (invitations.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(list.len());
                let (mut errors, mut first_error) = (0, None);
                let mut last = start;
                let mut dry = true;
                for (token, user) in &list {
                    if stop.load(Ordering::Relaxed) {
                        dry = false;
                        break;
                    }
                    let t = Instant::now();
                    match invitations.accept(token, user).await {
                        Ok(_) => latencies.push(t.elapsed()),
                        Err(err) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("{err:?}"));
                        }
                    }
                    last = Instant::now();
                }
                (latencies, last, dry, errors, first_error)
            })
        })
        .collect();
    if let Some(budget) = budget {
        tokio::time::sleep(budget).await;
        stop.store(true, Ordering::Relaxed);
    }
    let mut run = Run {
        accepts: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        ran_dry: 0,
        errors: 0,
        first_error: None,
    };
    let mut last_end = start;
    for h in handles {
        let (latencies, last, dry, errors, first_error) = h.await.unwrap();
        run.accepts += latencies.len();
        run.latencies.extend(latencies);
        last_end = last_end.max(last);
        run.ran_dry += usize::from(dry && budget.is_some());
        run.errors += errors;
        if run.first_error.is_none() {
            run.first_error = first_error;
        }
    }
    run.elapsed = last_end - start;
    run
}

/// `VACUUM ANALYZE`, outside the windows, as autovacuum would run it now and then (it is
/// off on the server these figures were taken on; the bench prints the setting). Without
/// statistics the planner walks all the members of an enterprise for a send's member check.
async fn maintain(pool: &PgPool) {
    sqlx::raw_sql("VACUUM ANALYZE").execute(pool).await.unwrap();
}

/// What a case measured, and how its invitations were made.
struct Case {
    run: Run,
    warm_rate: f64,
    made: usize,
    making: Duration,
    attempts: usize,
}

/// One case: a warm-up of 50 accepts per client (200 for one), whose rate sizes the invitations made
/// for the window (twice what the rate would use, plus 50 per client); then the window.
/// If a client still ran out of invitations, the window is run again (at most twice more)
/// with invitations sized by the rate just measured.
async fn pg_case(
    invitations: &Invitations,
    pool: &PgPool,
    clients: &[Tenant],
    budget: Duration,
    max_invites: usize,
) -> Case {
    // At least 200 in all: fewer give a rate too rough to size the window by.
    let warm_per_client = 50.max(200 / clients.len());
    maintain(pool).await;
    let warm = make_tickets(invitations, clients, warm_per_client).await;
    let warm_rate = accept_all(invitations, warm, None).await.rate();
    let cap = (max_invites / clients.len()).max(1);
    let mut rate = warm_rate;
    let mut attempts = 0;
    loop {
        attempts += 1;
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let per_client =
            ((rate * budget.as_secs_f64() * 2.0 / clients.len() as f64).ceil() as usize + 50).min(cap);
        let made_at = Instant::now();
        let lists = make_tickets(invitations, clients, per_client).await;
        let making = made_at.elapsed();
        maintain(pool).await;
        let run = accept_all(invitations, lists, Some(budget)).await;
        if run.ran_dry == 0 || attempts == 3 || per_client == cap {
            return Case {
                run,
                warm_rate,
                made: per_client * clients.len(),
                making,
                attempts,
            };
        }
        rate = run.rate().max(rate * 2.0);
    }
}

fn postgres(_: &mut Criterion) {
    let secs: f64 = env_or("INVITE_BENCH_PG_SECS", 5.0);
    if secs <= 0.0 {
        eprintln!("decisions/postgres: not measured (INVITE_BENCH_PG_SECS=0)");
        return;
    }
    if std::env::var(invite_benches::PG_ENV).is_err() {
        eprintln!(
            "decisions/postgres: not measured: {} is unset",
            invite_benches::PG_ENV
        );
        return;
    }
    let clients: usize = env_or("INVITE_BENCH_PG_CLIENTS", 16).max(1);
    let max_invites: usize = env_or("INVITE_BENCH_PG_MAX_INVITES", 60_000);
    let budget = Duration::from_secs_f64(secs);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (invitations, tenants, pool) = rt.block_on(pg_setup(clients)).unwrap();
    let (version, autovacuum, synchronous_commit): (String, String, String) = rt
        .block_on(
            sqlx::query_as(
                "SELECT current_setting('server_version'), current_setting('autovacuum'), \
                 current_setting('synchronous_commit')",
            )
            .fetch_one(&pool),
        )
        .unwrap();
    eprintln!(
        "decisions/postgres: server {version}, autovacuum {autovacuum}, synchronous_commit {synchronous_commit}; \
         the bench runs VACUUM ANALYZE before each warm-up and each window"
    );
    eprintln!(
        "decisions/postgres: {clients} enterprises, pool of {} connections, tokio multi-thread runtime on {} cores, {secs} s per case",
        clients + 4,
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
    );
    // The new database's first accepts are slower (caches, plans): 100 per enterprise,
    // unmeasured, before the first case.
    rt.block_on(async {
        let lists = make_tickets(&invitations, &tenants, 100).await;
        accept_all(&invitations, lists, None).await;
    });
    let one = std::slice::from_ref(&tenants[0]);
    let crowd = vec![tenants[0].clone(); clients];
    let cases: [(String, &[Tenant]); 4] = [
        ("1 client".to_owned(), one),
        (format!("{clients} clients / {clients} enterprises"), &tenants),
        (format!("{clients} clients / 1 enterprise"), &crowd),
        ("1 client (again)".to_owned(), one),
    ];
    let mut rates = Vec::new();
    for (name, on) in cases {
        let Case {
            run,
            warm_rate,
            made,
            making,
            attempts,
        } = rt.block_on(pg_case(&invitations, &pool, on, budget, max_invites));
        let ms = micros(&run.latencies)
            .into_iter()
            .map(|us| us / 1e3)
            .collect::<Vec<_>>();
        let (p50, p99) = if ms.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            (quantile(&ms, 0.5), quantile(&ms, 0.99))
        };
        eprintln!(
            "decisions/postgres/{name}: {} accepts in {:.2} s = {:.0} accepts/s; latency p50 {p50:.2} ms, p99 {p99:.2} ms \
             (warm-up {warm_rate:.0}/s; {made} invitations made in {:.1} s before the window{})",
            run.accepts,
            run.elapsed.as_secs_f64(),
            run.rate(),
            making.as_secs_f64(),
            if attempts > 1 {
                format!("; window run {attempts} times, the earlier ones ran out of invitations")
            } else {
                String::new()
            },
        );
        if run.ran_dry > 0 {
            eprintln!(
                "decisions/postgres/{name}: NOTE {} client(s) ran out of invitations before the window ended",
                run.ran_dry
            );
        }
        if run.errors > 0 {
            eprintln!(
                "decisions/postgres/{name}: {} accepts FAILED, first: {}",
                run.errors,
                run.first_error.as_deref().unwrap_or_default()
            );
        }
        rates.push((name, run.rate()));
    }
    let base = rates[0].1;
    for (name, rate) in &rates[1..] {
        eprintln!(
            "decisions/postgres ratio {name} ÷ 1 client = {:.2}×{}",
            rate / base,
            if name.contains("enterprises") {
                " (goal ≥ 4×)"
            } else {
                ""
            }
        );
    }
    // One client's rate swings most from window to window (it waits for every commit's
    // WAL flush alone); the mean of its two windows is the steadier base.
    let both = f64::midpoint(rates[0].1, rates[3].1);
    for (name, rate) in &rates[1..3] {
        eprintln!(
            "decisions/postgres ratio {name} ÷ mean of the two 1-client windows ({both:.0}/s) = {:.2}×",
            rate / both
        );
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = sqlite, postgres
}
criterion_main!(benches);
