//! Delivery benchmarks (see docs/BENCHMARKS.md, "Delivery").
//!
//! 1. `send` on SQLite (a WAL file in a temp dir), through the service, in the same run:
//!    inline (the notifier called after the commit, here one that does nothing, then the
//!    delivery status written) against the outbox (the sealed delivery request written in
//!    the send's transaction, rule D1); and the store calls alone (`create` against
//!    `create_queued`).
//! 2. The throughput of one `DeliveryWorker` draining the outbox into a local SMTP server
//!    (aiosmtpd, `invite-notify-lettre/tests/smtp_sink.py`): 200 queued invitations per
//!    iteration, drained with `drain_once` until empty. Runs when python3 has aiosmtpd.
//!
//! Run: `cargo bench -p invite-benches --bench outbox`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use invite_core::testing::contract::Fixture;
use invite_core::testing::{World, seed};
use invite_core::{
    ContactPolicy, Delivery, DeliveryOutbox, InvitationId, InvitationStore, Invitations, InviteToken,
    Inviter, NewInvitation, Notifier, NotifyError, OutboxKey, Role, SendInvitation, WorkerConfig,
};
use invite_notify_lettre::SmtpNotifier;
use invite_store_sqlx::SqliteStore;
use tokio::runtime::Runtime;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next_contact() -> String {
    format!("bench{}@example.com", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A notifier that takes every message at once: inline mode's cost without a provider.
struct Nothing;

#[async_trait]
impl Notifier for Nothing {
    async fn deliver(&self, _: &Delivery) -> Result<(), NotifyError> {
        Ok(())
    }
}

async fn sqlite(dir: &tempfile::TempDir, name: &str) -> (Arc<SqliteStore>, World) {
    let url = format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
    let store = Arc::new(SqliteStore::connect(&url).await.unwrap());
    store.migrate().await.unwrap();
    let world = seed::demo_accounts(store.clone()).await.unwrap();
    (store, world)
}

fn send(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (inline_store, inline_world) = rt.block_on(sqlite(&dir, "inline.db"));
    let (outbox_store, outbox_world) = rt.block_on(sqlite(&dir, "outbox.db"));
    let inline = Invitations::builder(inline_store.clone())
        .notifier(Arc::new(Nothing))
        .build();
    let outbox = Invitations::builder(outbox_store.clone())
        .notifier(Arc::new(Nothing))
        .outbox(OutboxKey::generate())
        .build();
    let mut group = c.benchmark_group("outbox/sqlite");
    group.bench_function("send/inline", |b| {
        b.to_async(&rt).iter(|| async {
            inline
                .send(
                    &inline_world.alice,
                    &inline_world.acme.id,
                    SendInvitation::new(next_contact(), "member"),
                )
                .await
                .unwrap()
        });
    });
    group.bench_function("send/outbox", |b| {
        b.to_async(&rt).iter(|| async {
            outbox
                .send(
                    &outbox_world.alice,
                    &outbox_world.acme.id,
                    SendInvitation::new(next_contact(), "member"),
                )
                .await
                .unwrap()
        });
    });
    let new = |world: &World| {
        let token = InviteToken::generate();
        let now = invite_core::ports::to_storage_precision(Utc::now());
        let new = NewInvitation {
            id: InvitationId::new(),
            enterprise_id: world.acme.id.clone(),
            contact: ContactPolicy::default().parse(&next_contact()).unwrap(),
            role: Role::Member,
            invited_by: Inviter {
                user_id: world.alice.id.clone(),
                name: world.alice.name.clone(),
            },
            token_digest: token.digest(),
            sent_at: now,
            expires_at: now + TimeDelta::days(7),
        };
        (new, token)
    };
    group.bench_function("store/create", |b| {
        b.to_async(&rt).iter(|| async {
            let (new, _) = new(&inline_world);
            inline_store.create(new).await.unwrap()
        });
    });
    group.bench_function("store/create_queued", |b| {
        b.to_async(&rt).iter(|| async {
            let (new, token) = new(&outbox_world);
            let delivery = Fixture::<SqliteStore>::delivery_of(&new, &token);
            outbox_store.create_queued(new, delivery).await.unwrap()
        });
    });
    group.finish();
}

/// aiosmtpd on a free port, writing messages into `dir`.
struct Sink(Child, u16);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sink(dir: &std::path::Path) -> Option<Sink> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../invite-notify-lettre/tests/smtp_sink.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(["--port", "0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take()?).read_line(&mut line).ok()?;
    match line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()) {
        Some(port) => Some(Sink(child, port)),
        None => {
            let _ = child.kill();
            None
        }
    }
}

fn worker_throughput(c: &mut Criterion) {
    const QUEUED: usize = 200;
    let rt = Runtime::new().unwrap();
    // The SMTP transport's pool must be dropped inside its runtime.
    let _runtime = rt.enter();
    let mail = tempfile::tempdir().unwrap();
    let Some(server) = sink(mail.path()) else {
        eprintln!("outbox bench: python3 with aiosmtpd not found: the worker throughput was NOT measured");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (store, world) = rt.block_on(sqlite(&dir, "worker.db"));
    let smtp = rt.block_on(async {
        SmtpNotifier::builder(format!("smtp://127.0.0.1:{}", server.1))
            .from("Bench <bench@bench.example>")
            .build()
            .unwrap()
    });
    let mut group = c.benchmark_group("outbox/worker");
    group.throughput(Throughput::Elements(QUEUED as u64));
    group.sample_size(10);
    // The same worker with a notifier that takes every message at once: the outbox's own
    // cost per delivery (claim, open, record with its event), without a mail server.
    let notifiers: [(&str, Arc<dyn Notifier>); 2] = [
        ("noop/200", Arc::new(Nothing)),
        ("smtp_aiosmtpd/200", Arc::new(smtp)),
    ];
    for (name, notifier) in notifiers {
        let invitations = Invitations::builder(store.clone())
            .notifier(notifier)
            .outbox(OutboxKey::generate())
            .build();
        let worker = invitations.delivery_worker().unwrap().config(WorkerConfig {
            poll_interval: Duration::from_secs(3600),
            ..WorkerConfig::default()
        });
        group.bench_function(name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (invitations, worker, world) = (&invitations, &worker, &world);
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        for _ in 0..QUEUED {
                            invitations
                                .send(
                                    &world.alice,
                                    &world.acme.id,
                                    SendInvitation::new(next_contact(), "member"),
                                )
                                .await
                                .unwrap();
                        }
                        let start = Instant::now();
                        let mut delivered = 0;
                        loop {
                            let report = worker.drain_once().await.unwrap();
                            delivered += report.delivered;
                            if report.claimed == 0 {
                                break;
                            }
                        }
                        total += start.elapsed();
                        assert_eq!(delivered, QUEUED);
                    }
                    total
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, send, worker_throughput);
criterion_main!(benches);
