//! Bulk invite (rule B2) against single sends (see docs/BENCHMARKS.md, "Bulk invite (rule
//! B2)").
//!
//! In one criterion group per backend, so that both sides of each pair run in the same
//! process, on the same database, one after the other:
//!
//! - `service/send_many`: one `Invitations::send_many` of 100 new contacts;
//! - `service/send_x100`: 100 `Invitations::send` of 100 new contacts;
//! - `router/bulk`: one `POST /enterprises/{id}/invitations/bulk` with 100 rows through the
//!   `invite-axum` router, in process (`tower::ServiceExt::oneshot`), body read;
//! - `router/post_x100`: 100 `POST /enterprises/{id}/invitations`, one row each.
//!
//! The service delivers through the outbox (rule D1), as the product does: every created
//! invitation writes its sealed delivery request in its own transaction; no worker runs, so
//! the notifier is never called. Backends: SQLite (a WAL file in a temp dir) and, when
//! `INVITE_TEST_POSTGRES_URL` is set, PostgreSQL (a new database `invite_bench_bulk` on
//! that server), self-contained layout, seeded with `seed::demo_accounts`.
//!
//! Every iteration sends to 100 contacts never used before (a counter), so no row meets
//! `duplicate_pending`; every measured row is checked to have been created. The
//! invitations, events and deliveries are deleted before each sample (outside the timer),
//! so a sample starts on the same tables whichever side runs it; the largest number of
//! invitations in the tables during a case is printed at its end.
//!
//! Time per iteration = 100 invitations (criterion also reports invitations/s). The
//! ratio to read is single / bulk from the same run. `INVITE_BENCH_SINGLE_FIRST=1`
//! measures the single sends of each pair first. Criterion's measurement time is 5 s a
//! case on SQLite and 20 s on PostgreSQL (where an iteration takes ≈ 0.5 s).
//! `INVITE_BENCH_PAIRED=<seconds>` adds an interleaved measurement of each pair, round by
//! round, printed as text (see [`paired`]).
//!
//! Run: `cargo bench -p invite-benches --bench bulk` (add
//! `INVITE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test` for PostgreSQL).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use invite_axum::{Identify, IdentityError};
use invite_benches::quantile;
use invite_core::testing::{World, seed};
use invite_core::{
    Delivery, Directory, InvitationStore, Invitations, Notifier, NotifyError, OutboxKey, SendInvitation, User,
};
use invite_store_sqlx::{PgStore, SqliteStore};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

/// Rows per bulk request, and single sends on the other side: B2's maximum.
const ROWS: usize = 100;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next_contact() -> String {
    format!("bulk{}@example.com", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A notifier that takes every message at once. With the outbox on and no worker running,
/// it is never called; the builder wants one.
struct Nothing;

#[async_trait]
impl Notifier for Nothing {
    async fn deliver(&self, _: &Delivery) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// The benchmark host's session: an `x-user` header naming the inviter (as in `http.rs`).
#[derive(Clone)]
struct HeaderSession(Arc<World>);

impl Identify for HeaderSession {
    async fn current_user(&self, parts: &mut Parts, _: &Invitations) -> Result<Option<User>, IdentityError> {
        Ok(match parts.headers.get("x-user").and_then(|v| v.to_str().ok()) {
            Some("alice") => Some(self.0.alice.clone()),
            _ => None,
        })
    }
}

fn json(uri: &str, body: &serde_json::Value) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/json")
        .header("x-user", "alice")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// The pool under a subject's store, to empty and count its tables outside the timer.
enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl Db {
    /// Deletes every invitation, event and delivery (the directory's rows stay).
    async fn reset(&self) {
        match self {
            Db::Sqlite(pool) => {
                for table in ["invite_rs_outbox", "invite_rs_events", "invite_rs_invitations"] {
                    sqlx::raw_sql(AssertSqlSafe(format!("DELETE FROM {table}")))
                        .execute(pool)
                        .await
                        .unwrap();
                }
            }
            Db::Pg(pool) => {
                sqlx::raw_sql("TRUNCATE invite_rs_outbox, invite_rs_events, invite_rs_invitations")
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    /// (invitations, queued deliveries) now in the tables.
    async fn counts(&self) -> (i64, i64) {
        const INVITATIONS: &str = "SELECT COUNT(*) FROM invite_rs_invitations";
        const QUEUED: &str = "SELECT COUNT(*) FROM invite_rs_outbox WHERE state = 'queued'";
        match self {
            Db::Sqlite(pool) => (
                sqlx::query_scalar(INVITATIONS).fetch_one(pool).await.unwrap(),
                sqlx::query_scalar(QUEUED).fetch_one(pool).await.unwrap(),
            ),
            Db::Pg(pool) => (
                sqlx::query_scalar(INVITATIONS).fetch_one(pool).await.unwrap(),
                sqlx::query_scalar(QUEUED).fetch_one(pool).await.unwrap(),
            ),
        }
    }
}

/// One backend: its service (outbox on), router and seeded world.
struct Subject {
    name: &'static str,
    db: Db,
    invitations: Invitations,
    router: Router,
    world: Arc<World>,
}

fn subject(name: &'static str, db: Db, invitations: Invitations, world: World) -> Subject {
    let world = Arc::new(world);
    let router = invite_axum::router(invitations.clone(), HeaderSession(world.clone()));
    Subject {
        name,
        db,
        invitations,
        router,
        world,
    }
}

fn service<S: InvitationStore + Directory>(store: Arc<S>) -> Invitations {
    Invitations::builder(store)
        .base_url("https://app.example")
        .notifier(Arc::new(Nothing))
        .outbox(OutboxKey::generate())
        .build()
}

async fn sqlite_subject(dir: &tempfile::TempDir, file: &str) -> Subject {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join(file).display());
    let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
    store.migrate().await.unwrap();
    let world = seed::demo_accounts(store.clone()).await.unwrap();
    let db = Db::Sqlite(store.pool().clone());
    subject("sqlite", db, service(store), world)
}

/// A PostgreSQL subject on a fresh database `invite_bench_<tag>`, if
/// `INVITE_TEST_POSTGRES_URL` is set.
async fn pg_subject(tag: &str) -> Option<Subject> {
    let options = invite_benches::pg_database(tag).await?;
    let store = Arc::new(PgStore::connect_with(options).await.unwrap());
    store.migrate().await.unwrap();
    let world = seed::demo_accounts(store.clone()).await.unwrap();
    let db = Db::Pg(store.pool().clone());
    Some(subject("postgres", db, service(store), world))
}

/// The four ways to send 100 invitations.
#[derive(Clone, Copy)]
enum Case {
    ServiceBulk,
    ServiceSingles,
    RouterBulk,
    RouterSingles,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::ServiceBulk => "service/send_many",
            Case::ServiceSingles => "service/send_x100",
            Case::RouterBulk => "router/bulk",
            Case::RouterSingles => "router/post_x100",
        }
    }

    /// Sends 100 new invitations this case's way; returns the time of the sending alone
    /// (the requests are built before the clock starts, the answers checked after).
    async fn run(self, s: &Subject) -> Duration {
        let contacts: Vec<String> = (0..ROWS).map(|_| next_contact()).collect();
        let (alice, acme) = (&s.world.alice, &s.world.acme.id);
        match self {
            Case::ServiceBulk => {
                let rows = contacts
                    .into_iter()
                    .map(|c| Ok(SendInvitation::new(c, "member")))
                    .collect();
                let started = Instant::now();
                let results = s.invitations.send_many(alice, acme, rows).await.unwrap();
                let took = started.elapsed();
                assert_eq!(results.len(), ROWS);
                for result in results {
                    result.unwrap();
                }
                took
            }
            Case::ServiceSingles => {
                let requests: Vec<_> = contacts
                    .into_iter()
                    .map(|c| SendInvitation::new(c, "member"))
                    .collect();
                let mut sent = Vec::with_capacity(ROWS);
                let started = Instant::now();
                for request in requests {
                    sent.push(s.invitations.send(alice, acme, request).await);
                }
                let took = started.elapsed();
                for result in sent {
                    result.unwrap();
                }
                took
            }
            Case::RouterBulk => {
                let uri = format!("/enterprises/{acme}/invitations/bulk");
                let rows: Vec<_> = contacts
                    .iter()
                    .map(|c| serde_json::json!({ "contact": c, "role": "member" }))
                    .collect();
                let request = json(&uri, &serde_json::json!({ "invitations": rows }));
                let started = Instant::now();
                let response = s.router.clone().oneshot(request).await.unwrap();
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .unwrap();
                let took = started.elapsed();
                assert_eq!(status, StatusCode::OK);
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let results = body["results"].as_array().unwrap();
                assert_eq!(results.len(), ROWS);
                for result in results {
                    assert!(result["invite_url"].is_string(), "{result}");
                }
                took
            }
            Case::RouterSingles => {
                let uri = format!("/enterprises/{acme}/invitations");
                let requests: Vec<_> = contacts
                    .iter()
                    .map(|c| json(&uri, &serde_json::json!({ "contact": c, "role": "member" })))
                    .collect();
                let mut answers = Vec::with_capacity(ROWS);
                let started = Instant::now();
                for request in requests {
                    let response = s.router.clone().oneshot(request).await.unwrap();
                    let status = response.status();
                    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    answers.push((status, body));
                }
                let took = started.elapsed();
                for (status, body) in answers {
                    assert_eq!(status, StatusCode::CREATED, "{body:?}");
                }
                took
            }
        }
    }
}

/// SQLite, and PostgreSQL when configured (said so when not).
fn subjects(rt: &Runtime, dir: &tempfile::TempDir, tag: &str) -> Vec<Subject> {
    let mut subjects = vec![rt.block_on(sqlite_subject(dir, &format!("{tag}.db")))];
    match rt.block_on(pg_subject(tag)) {
        Some(pg) => subjects.push(pg),
        None => eprintln!("bulk bench: INVITE_TEST_POSTGRES_URL not set: PostgreSQL NOT measured"),
    }
    subjects
}

fn bulk(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let subjects = subjects(&rt, &dir, "bulk");
    let single_first = std::env::var_os("INVITE_BENCH_SINGLE_FIRST").is_some();
    let pairs = [
        [Case::ServiceBulk, Case::ServiceSingles],
        [Case::RouterBulk, Case::RouterSingles],
    ];
    for subject in &subjects {
        let mut group = c.benchmark_group(format!("bulk/{}", subject.name));
        group.throughput(Throughput::Elements(ROWS as u64));
        if subject.name == "postgres" {
            // ≈ 0.5 s an iteration here (100 commits): 20 s gives each sample a few.
            group.measurement_time(Duration::from_secs(20));
        }
        for pair in pairs {
            let order = if single_first { [pair[1], pair[0]] } else { pair };
            for case in order {
                let most = AtomicU64::new(0);
                group.bench_function(case.name(), |b| {
                    b.to_async(&rt).iter_custom(|iters| {
                        let most = &most;
                        async move {
                            // Each sample starts on empty invitation tables (not timed).
                            subject.db.reset().await;
                            let mut total = Duration::ZERO;
                            for _ in 0..iters {
                                total += case.run(subject).await;
                            }
                            most.fetch_max(iters * ROWS as u64, Ordering::Relaxed);
                            total
                        }
                    });
                });
                let most = most.load(Ordering::Relaxed);
                if most > 0 {
                    // Not when a filter skipped the case.
                    let (invitations, queued) = rt.block_on(subject.db.counts());
                    eprintln!(
                        "bulk/{}/{}: at most {most} invitations in the tables during a sample; \
                         at the end {invitations} invitations, {queued} deliveries queued",
                        subject.name,
                        case.name(),
                    );
                }
            }
        }
        group.finish();
    }
}

/// `INVITE_BENCH_PAIRED=<seconds>` (off by default): for each backend and level (service,
/// router), the bulk and the single sends alternate round by round for about that long
/// (bulk first in even rounds, singles first in odd ones; the tables emptied every 10
/// rounds, not timed), and the medians of both, and the median of the per-round ratio
/// singles / bulk, are printed. Both halves of a round run in the same moment on the same
/// tables, so a slow spell of the shared machine hits both alike, which criterion's cases
/// (one after the other) cannot promise. As in `store.rs`.
fn paired(_: &mut Criterion) {
    let Some(budget) = invite_benches::env_seconds("INVITE_BENCH_PAIRED") else {
        return;
    };
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for subject in subjects(&rt, &dir, "bulk_paired") {
        for [bulk, singles] in [
            [Case::ServiceBulk, Case::ServiceSingles],
            [Case::RouterBulk, Case::RouterSingles],
        ] {
            let (mut b, mut s) = (Vec::new(), Vec::new());
            let started = Instant::now();
            let mut round = 0usize;
            while started.elapsed() < budget {
                if round.is_multiple_of(10) {
                    rt.block_on(subject.db.reset());
                }
                let order = if round.is_multiple_of(2) {
                    [bulk, singles]
                } else {
                    [singles, bulk]
                };
                for case in order {
                    let took = rt.block_on(case.run(&subject)).as_secs_f64() * 1e3;
                    if matches!(case, Case::ServiceBulk | Case::RouterBulk) {
                        b.push(took);
                    } else {
                        s.push(took);
                    }
                }
                round += 1;
            }
            let ratios: Vec<f64> = s.iter().zip(&b).map(|(s, b)| s / b).collect();
            let (b50, s50) = (quantile(&b, 0.5), quantile(&s, 0.5));
            println!(
                "paired bulk/{}/{} vs {}: {} rounds; bulk median {b50:.1} ms (p25 {:.1}, p75 {:.1}); \
                 singles median {s50:.1} ms (p25 {:.1}, p75 {:.1}); ratio of medians {:.2}; \
                 singles / bulk per round: median {:.2} (p25 {:.2}, p75 {:.2})",
                subject.name,
                bulk.name(),
                singles.name(),
                b.len(),
                quantile(&b, 0.25),
                quantile(&b, 0.75),
                quantile(&s, 0.25),
                quantile(&s, 0.75),
                s50 / b50,
                quantile(&ratios, 0.5),
                quantile(&ratios, 0.25),
                quantile(&ratios, 0.75),
            );
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bulk, paired
}
criterion_main!(benches);
