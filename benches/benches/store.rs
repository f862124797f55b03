//! Benchmarks of `invite-store-sqlx` (see docs/BENCHMARKS.md, "Store").
//!
//! 1. `send` and `accept` through the store against the same SQL written by hand with
//!    sqlx, on SQLite and (when `INVITE_TEST_POSTGRES_URL` is set) PostgreSQL: the cost of
//!    the library's mapping and abstractions.
//! 2. A token lookup and a records page (first, deep, filtered) at 1k and at 1M
//!    invitations in one enterprise: the indexes make them cost the same.
//!
//! Run: `cargo bench -p invite-benches --bench store` (add `INVITE_TEST_POSTGRES_URL=…`
//! for PostgreSQL; `INVITE_BENCH_SCALE_ROWS` overrides the 1M).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use invite_core::testing::seed::{self, World};
use invite_core::{
    ContactPolicy, Cursor, Directory, Invitation, InvitationId, InvitationStatus, InvitationStore,
    InviteToken, Inviter, ListQuery, NewInvitation, Role, User, UserId,
};
use invite_store_sqlx::{PgStore, SqliteStore};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, SqlitePool};
use tokio::runtime::Runtime;
use uuid::Uuid;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn now() -> DateTime<Utc> {
    invite_core::clock::to_storage_precision(Utc::now())
}

fn new_invitation(world: &World, at: DateTime<Utc>) -> (NewInvitation, InviteToken) {
    let token = InviteToken::generate();
    let contact = format!("bench{}@example.com", next());
    let new = NewInvitation {
        id: InvitationId::new(),
        enterprise_id: world.acme.id,
        contact: ContactPolicy::default().parse(&contact).unwrap(),
        role: Role::Member,
        invited_by: Inviter {
            user_id: world.alice.id,
            name: world.alice.name.clone(),
        },
        token_digest: token.digest(),
        sent_at: at,
        expires_at: at + TimeDelta::days(7),
    };
    (new, token)
}

fn invitee(new: &NewInvitation) -> User {
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

// --- the same SQL, by hand ------------------------------------------------------------

/// The statements the store runs for send and accept, written out with sqlx for one
/// backend: `$begin` starts the write transaction, `$lock` is the per-enterprise lock
/// statement (or `None`), `$at` turns a time into the stored form.
macro_rules! hand_written {
    ($module:ident, $pool:ty, $time:ty, $begin:expr, $lock:expr, $lock_of:expr, $at:expr) => {
        mod $module {
            use super::*;

            #[derive(sqlx::FromRow)]
            #[allow(dead_code)]
            pub struct Row {
                pub id: Uuid,
                pub enterprise_id: Uuid,
                pub contact_kind: String,
                pub contact_entered: String,
                pub contact_normalized: String,
                pub role: String,
                pub status: String,
                pub invited_by: Uuid,
                pub invited_by_name: String,
                pub sent_at: $time,
                pub last_sent_at: $time,
                pub expires_at: $time,
                pub responded_at: Option<$time>,
                pub responded_by: Option<Uuid>,
                pub revoked_at: Option<$time>,
                pub revoked_by: Option<Uuid>,
                pub delivery: String,
                pub token_digest: Vec<u8>,
            }

            pub async fn send(pool: &$pool, new: &NewInvitation) {
                let at = $at;
                let mut tx = pool.begin_with($begin).await.unwrap();
                if let Some(lock) = $lock {
                    sqlx::query(lock).bind(new.enterprise_id.as_uuid()).execute(&mut *tx).await.unwrap();
                }
                let member: Option<Uuid> = sqlx::query_scalar(
                    "SELECT u.id FROM users u JOIN members m ON m.user_id = u.id AND m.enterprise_id = $1 \
                     WHERE u.email_normalized = $2 OR u.phone_normalized = $2 LIMIT 1",
                )
                .bind(new.enterprise_id.as_uuid())
                .bind(new.contact.normalized())
                .fetch_optional(&mut *tx)
                .await
                .unwrap();
                assert!(member.is_none());
                let stale: Vec<Uuid> = sqlx::query_scalar(
                    "UPDATE invitations SET status = 'expired' WHERE enterprise_id = $1 \
                     AND contact_normalized = $2 AND status = 'pending' AND expires_at <= $3 \
                     AND id <> $4 RETURNING id",
                )
                .bind(new.enterprise_id.as_uuid())
                .bind(new.contact.normalized())
                .bind(at(new.sent_at))
                .bind(new.id.as_uuid())
                .fetch_all(&mut *tx)
                .await
                .unwrap();
                assert!(stale.is_empty());
                sqlx::query(
                    "INSERT INTO invitations (id, enterprise_id, contact_kind, contact_entered, \
                     contact_normalized, role, status, invited_by, invited_by_name, sent_at, \
                     last_sent_at, expires_at, responded_at, responded_by, revoked_at, revoked_by, \
                     delivery, token_digest) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, \
                     $9, $10, NULL, NULL, NULL, NULL, 'queued', $11)",
                )
                .bind(new.id.as_uuid())
                .bind(new.enterprise_id.as_uuid())
                .bind(new.contact.kind().as_str())
                .bind(new.contact.entered())
                .bind(new.contact.normalized())
                .bind(new.role.as_str())
                .bind(new.invited_by.user_id.as_uuid())
                .bind(new.invited_by.name.as_str())
                .bind(at(new.sent_at))
                .bind(at(new.expires_at))
                .bind(new.token_digest.as_bytes().as_slice())
                .execute(&mut *tx)
                .await
                .unwrap();
                sqlx::query(
                    "INSERT INTO invitation_events (invitation_id, enterprise_id, kind, actor, at) \
                     VALUES ($1, $2, 'sent', $3, $4)",
                )
                .bind(new.id.as_uuid())
                .bind(new.enterprise_id.as_uuid())
                .bind(new.invited_by.user_id.as_uuid())
                .bind(at(new.sent_at))
                .execute(&mut *tx)
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }

            pub async fn accept(pool: &$pool, digest: &[u8], user: &User, now: DateTime<Utc>) {
                let at = $at;
                let mut tx = pool.begin_with($begin).await.unwrap();
                if let Some(lock) = $lock_of {
                    sqlx::query(lock).bind(digest).execute(&mut *tx).await.unwrap();
                }
                let row: Row = sqlx::query_as(
                    "UPDATE invitations SET status = 'accepted', responded_at = $2, responded_by = $3 \
                     WHERE token_digest = $1 AND status = 'pending' AND expires_at > $2 RETURNING \
                     id, enterprise_id, contact_kind, contact_entered, contact_normalized, role, \
                     status, invited_by, invited_by_name, sent_at, last_sent_at, expires_at, \
                     responded_at, responded_by, revoked_at, revoked_by, delivery, token_digest",
                )
                .bind(digest)
                .bind(at(now))
                .bind(user.id.as_uuid())
                .fetch_one(&mut *tx)
                .await
                .unwrap();
                sqlx::query(
                    "INSERT INTO users (id, name, email, email_normalized, phone, phone_normalized) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                     email = excluded.email, email_normalized = excluded.email_normalized, \
                     phone = excluded.phone, phone_normalized = excluded.phone_normalized",
                )
                .bind(user.id.as_uuid())
                .bind(user.name.as_str())
                .bind(user.email.as_ref().map(|e| e.entered()))
                .bind(user.email.as_ref().map(|e| e.normalized()))
                .bind(user.phone.as_ref().map(|p| p.entered()))
                .bind(user.phone.as_ref().map(|p| p.normalized()))
                .execute(&mut *tx)
                .await
                .unwrap();
                let added = sqlx::query(
                    "INSERT INTO members (enterprise_id, user_id, role) VALUES ($1, $2, $3) \
                     ON CONFLICT (enterprise_id, user_id) DO NOTHING",
                )
                .bind(row.enterprise_id)
                .bind(user.id.as_uuid())
                .bind(row.role.as_str())
                .execute(&mut *tx)
                .await
                .unwrap();
                assert_eq!(added.rows_affected(), 1);
                sqlx::query(
                    "INSERT INTO invitation_events (invitation_id, enterprise_id, kind, actor, at) \
                     VALUES ($1, $2, 'accepted', $3, $4)",
                )
                .bind(row.id)
                .bind(row.enterprise_id)
                .bind(user.id.as_uuid())
                .bind(at(now))
                .execute(&mut *tx)
                .await
                .unwrap();
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
    Some("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))"),
    Some(
        "SELECT pg_advisory_xact_lock(hashtextextended(enterprise_id::text, 0)) \
         FROM invitations WHERE token_digest = $1"
    ),
    |t: DateTime<Utc>| t
);

// --- backends -------------------------------------------------------------------------

/// One backend under test: the store and, for the hand-written side, its pool.
#[derive(Clone)]
enum Backend {
    Sqlite(Arc<SqliteStore>),
    Pg(Arc<PgStore>),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Pg(_) => "postgres",
        }
    }

    fn store(&self) -> Arc<dyn StoreAndDirectory> {
        match self {
            Backend::Sqlite(s) => s.clone(),
            Backend::Pg(s) => s.clone(),
        }
    }

    async fn hand_send(&self, new: &NewInvitation) {
        match self {
            Backend::Sqlite(s) => hand_sqlite::send(s.pool(), new).await,
            Backend::Pg(s) => hand_pg::send(s.pool(), new).await,
        }
    }

    async fn hand_accept(&self, digest: &[u8], user: &User, now: DateTime<Utc>) {
        match self {
            Backend::Sqlite(s) => hand_sqlite::accept(s.pool(), digest, user, now).await,
            Backend::Pg(s) => hand_pg::accept(s.pool(), digest, user, now).await,
        }
    }

    /// Inserts `rows` invitations into `world.acme` in one statement, one per second
    /// before `base`, a quarter of them pending.
    async fn bulk_insert(&self, world: &World, rows: u64, base: DateTime<Utc>) {
        let ent = world.acme.id.as_uuid();
        let alice = world.alice.id.as_uuid();
        let base = base.timestamp_micros() - i64::try_from(rows).unwrap() * 1_000_000;
        match self {
            Backend::Sqlite(s) => {
                sqlx::query(
                    "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
                     INSERT INTO invitations (id, enterprise_id, contact_kind, contact_entered, \
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
                .execute(s.pool())
                .await
                .unwrap();
            }
            Backend::Pg(s) => {
                sqlx::query(
                    "INSERT INTO invitations (id, enterprise_id, contact_kind, contact_entered, \
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
                .execute(s.pool())
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
            Backend::Sqlite(s) => {
                sqlx::query("ANALYZE").execute(s.pool()).await.unwrap();
            }
            Backend::Pg(s) => {
                sqlx::query("VACUUM ANALYZE invitations")
                    .execute(s.pool())
                    .await
                    .unwrap();
            }
        }
    }
}

trait StoreAndDirectory: InvitationStore + Directory {}
impl<T: InvitationStore + Directory> StoreAndDirectory for T {}

async fn sqlite_backend(dir: &tempfile::TempDir, name: &str) -> Backend {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    Backend::Sqlite(Arc::new(store))
}

/// A new database on the server of `INVITE_TEST_POSTGRES_URL`, if set.
async fn pg_backend(tag: &str) -> Option<Backend> {
    let url = std::env::var("INVITE_TEST_POSTGRES_URL").ok()?;
    let options = PgConnectOptions::from_str(&url).unwrap();
    let mut admin = PgConnection::connect_with(&options).await.unwrap();
    let name = format!("invite_bench_{tag}");
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let store = PgStore::connect_with(options.database(&name)).await.unwrap();
    store.migrate().await.unwrap();
    Some(Backend::Pg(Arc::new(store)))
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

// --- 1. library vs hand-written -------------------------------------------------------

fn library_vs_hand(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec![rt.block_on(sqlite_backend(&dir, "ops.db"))];
    if let Some(pg) = rt.block_on(pg_backend("ops")) {
        backends.push(pg);
    }
    for backend in backends {
        let store = backend.store();
        let world = rt.block_on(seed::demo(&*store)).unwrap();
        let mut group = c.benchmark_group(format!("store/{}", backend.name()));

        group.bench_function(BenchmarkId::new("send", "library"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (store, world) = (store.clone(), world.clone());
                async move {
                    let news: Vec<_> = (0..iters).map(|_| new_invitation(&world, now()).0).collect();
                    let start = Instant::now();
                    for new in news {
                        store.create(new).await.unwrap();
                    }
                    start.elapsed()
                }
            });
        });
        group.bench_function(BenchmarkId::new("send", "hand-written"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (backend, world) = (backend.clone(), world.clone());
                async move {
                    let news: Vec<_> = (0..iters).map(|_| new_invitation(&world, now()).0).collect();
                    let start = Instant::now();
                    for new in &news {
                        backend.hand_send(new).await;
                    }
                    start.elapsed()
                }
            });
        });

        // Each accept needs its own pending invitation and invitee: made before the clock.
        let prepare = |store: Arc<dyn StoreAndDirectory>, world: World, iters: u64| async move {
            let mut todo = Vec::new();
            for _ in 0..iters {
                let (new, token) = new_invitation(&world, now());
                let user = invitee(&new);
                let _: Invitation = store.create(new).await.unwrap();
                todo.push((token.digest(), user));
            }
            todo
        };
        group.bench_function(BenchmarkId::new("accept", "library"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (store, world) = (store.clone(), world.clone());
                async move {
                    let todo = prepare(store.clone(), world, iters).await;
                    let at = now();
                    let start = Instant::now();
                    for (digest, user) in &todo {
                        store.accept(digest, user, at).await.unwrap();
                    }
                    start.elapsed()
                }
            });
        });
        group.bench_function(BenchmarkId::new("accept", "hand-written"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (store, world, backend) = (store.clone(), world.clone(), backend.clone());
                async move {
                    let todo = prepare(store, world, iters).await;
                    let at = now();
                    let start = Instant::now();
                    for (digest, user) in &todo {
                        backend.hand_accept(digest.as_bytes(), user, at).await;
                    }
                    start.elapsed()
                }
            });
        });
        group.finish();
    }
}

// --- 2. 1k vs 1M ----------------------------------------------------------------------

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
        let sqlite = rt.block_on(sqlite_backend(&dir, &format!("scale-{label}.db")));
        cases.push((label, rows, sqlite));
        if let Some(pg) = rt.block_on(pg_backend(&format!("scale_{}", label.to_lowercase()))) {
            cases.push((label, rows, pg));
        }
    }
    for (label, rows, backend) in cases {
        let store = backend.store();
        let world = rt.block_on(seed::demo(&*store)).unwrap();
        let base = now() - TimeDelta::days(1);
        let started = Instant::now();
        rt.block_on(backend.bulk_insert(&world, rows, base));
        eprintln!(
            "{}: inserted {rows} invitations in {:.1?}",
            backend.name(),
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
        rt.block_on(store.list(world.acme.id, &overdue, now())).unwrap();
        eprintln!(
            "{}: wrote down the overdue rows of {rows} in {:.1?}",
            backend.name(),
            started.elapsed()
        );
        rt.block_on(backend.analyze());
        // A cursor in the middle of the bulk rows (one per second, ending at `base`).
        let middle = Some(Cursor {
            sent_at: base - TimeDelta::seconds(i64::try_from(rows / 2).unwrap()),
            id: InvitationId::from_uuid(Uuid::max()),
        });
        let group_name = format!("store/{}/scale", backend.name());
        let mut group = c.benchmark_group(group_name);
        let mut i = 0usize;
        group.bench_function(BenchmarkId::new("token_lookup", label), |b| {
            b.to_async(&rt).iter(|| {
                i = (i + 1) % probes.len();
                let (store, digest) = (store.clone(), probes[i]);
                async move {
                    let found = store.find_by_digest(&digest).await.unwrap();
                    assert!(found.is_some());
                }
            });
        });
        for (name, status, after) in [
            ("page_first", None, None),
            ("page_deep", None, middle),
            ("page_pending", Some(InvitationStatus::Pending), middle),
            ("page_expired", Some(InvitationStatus::Expired), None),
        ] {
            group.bench_function(BenchmarkId::new(name, label), |b| {
                b.to_async(&rt).iter(|| {
                    let (store, acme) = (store.clone(), world.acme.id);
                    async move {
                        let query = ListQuery {
                            status,
                            limit: 20,
                            after,
                        };
                        let page = store.list(acme, &query, now()).await.unwrap();
                        std::hint::black_box(page);
                    }
                });
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = library_vs_hand, scale
}
criterion_main!(benches);
