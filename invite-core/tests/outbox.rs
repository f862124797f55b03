//! The service through the outbox and its worker, on the in-memory store with a clock moved
//! by hand (rules D1–D4): queued in the send, delivered by the worker, retried with backoff,
//! failed after the last attempt, never delivered once stale, no link in logs or events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;
use invite_core::testing::faults::{Fault, FaultPlan, FaultyStore};
use invite_core::testing::{ManualClock, MemoryStore, RecordingNotifier, World, seed};
use invite_core::{
    Delivery, DeliveryStatus, DeliveryWorker, EventKind, EventSink, InvitationEvent, InvitationStore,
    Invitations, Notifier, NotifyError, OutboxKey, RetryPolicy, SendInvitation, WorkerConfig,
};

/// Fails the first `failures` deliveries with `kind`, then records.
#[derive(Default)]
struct Flaky {
    failures: AtomicUsize,
    permanent: bool,
    calls: AtomicUsize,
    delivered: Mutex<Vec<Delivery>>,
}

#[async_trait]
impl Notifier for Flaky {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            // A provider's error that quotes the message, link included (rule D4).
            let text = format!("450 mailbox busy; message was: {}", delivery.link.expose_secret());
            return Err(if self.permanent {
                NotifyError::permanent(text)
            } else {
                NotifyError::transient(text)
            });
        }
        self.delivered.lock().unwrap().push(delivery.clone());
        Ok(())
    }
}

#[derive(Default)]
struct Sink(Mutex<Vec<InvitationEvent>>);

#[async_trait]
impl EventSink for Sink {
    async fn publish(&self, event: &InvitationEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

struct App {
    store: Arc<MemoryStore>,
    world: World,
    clock: ManualClock,
    invitations: Invitations,
    worker: DeliveryWorker,
    sink: Arc<Sink>,
}

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base: Duration::from_secs(10),
    max: Duration::from_secs(60),
};

async fn app(notifier: Arc<dyn Notifier>) -> App {
    app_over(notifier, None).await
}

/// The app with its service and worker over a [`FaultyStore`] of the same memory store,
/// whose plan counts (or fails) the calls they make.
async fn faulted_app(notifier: Arc<dyn Notifier>) -> (App, Arc<FaultPlan>) {
    let plan = FaultPlan::new();
    (app_over(notifier, Some(plan.clone())).await, plan)
}

async fn app_over(notifier: Arc<dyn Notifier>, plan: Option<Arc<FaultPlan>>) -> App {
    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.unwrap();
    let clock = ManualClock::default();
    let sink = Arc::new(Sink::default());
    let builder = match plan {
        Some(plan) => Invitations::builder(Arc::new(FaultyStore::new(store.clone(), plan))),
        None => Invitations::builder(store.clone()),
    };
    let invitations = builder
        .base_url("https://app.example")
        .clock(Arc::new(clock.clone()))
        .events(sink.clone())
        .notifier(notifier)
        .outbox(OutboxKey::generate())
        .build();
    let worker = invitations.delivery_worker().unwrap().config(WorkerConfig {
        retry: POLICY,
        ..WorkerConfig::default()
    });
    App {
        store,
        world,
        clock,
        invitations,
        worker,
        sink,
    }
}

impl App {
    async fn send(&self, contact: &str) -> invite_core::SentInvitation {
        self.invitations
            .send(
                &self.world.alice,
                &self.world.acme.id,
                SendInvitation::new(contact, "member"),
            )
            .await
            .unwrap()
    }

    async fn kinds(&self, id: invite_core::InvitationId) -> Vec<EventKind> {
        self.store
            .events(&self.world.acme.id, id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    async fn delivery(&self, id: invite_core::InvitationId) -> (DeliveryStatus, u32) {
        let stored = self.store.get(&self.world.acme.id, id).await.unwrap().unwrap();
        (stored.delivery, stored.delivery_attempts)
    }
}

#[tokio::test]
async fn send_queues_and_the_worker_delivers_the_same_link_once() {
    // rule D1, rule S5
    let notifier = Arc::new(RecordingNotifier::default());
    let app = app(notifier.clone()).await;
    let sent = app.send("bob@example.com").await;
    assert_eq!(sent.invitation.delivery, DeliveryStatus::Queued);
    assert!(
        notifier.deliveries().is_empty(),
        "nothing is delivered inside send"
    );
    let report = app.worker.drain_once().await.unwrap();
    assert_eq!((report.claimed, report.delivered), (1, 1));
    let delivered = notifier.deliveries();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].link, sent.link);
    assert_eq!(delivered[0].enterprise_name, "Acme Robotics");
    assert_eq!(delivered[0].inviter_name, "Alice Admin");
    assert_eq!(
        delivered[0].idempotency_key,
        Delivery::idempotency_key_for(sent.invitation.id, &sent.invitation.token_digest)
    );
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Delivered, 1)
    );
    assert_eq!(
        app.kinds(sent.invitation.id).await,
        [EventKind::Sent, EventKind::Delivered]
    );
    let published: Vec<EventKind> = app.sink.0.lock().unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(published, [EventKind::Sent, EventKind::Delivered]);
    assert_eq!(app.worker.drain_once().await.unwrap().claimed, 0);
}

#[tokio::test]
async fn a_transient_failure_is_retried_after_the_backoff_and_delivered_once() {
    // rule D1: exponential backoff with jitter: the 2nd attempt within [5 s, 10 s]
    let notifier = Arc::new(Flaky {
        failures: AtomicUsize::new(1),
        ..Flaky::default()
    });
    let app = app(notifier.clone()).await;
    let sent = app.send("bob@example.com").await;
    let report = app.worker.drain_once().await.unwrap();
    assert_eq!(report.retried, 1);
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Retrying, 1)
    );
    app.clock
        .advance(TimeDelta::seconds(5) - TimeDelta::milliseconds(1));
    assert_eq!(
        app.worker.drain_once().await.unwrap().claimed,
        0,
        "not before half the backoff"
    );
    app.clock
        .advance(TimeDelta::seconds(5) + TimeDelta::milliseconds(1));
    assert_eq!(app.worker.drain_once().await.unwrap().delivered, 1);
    assert_eq!(notifier.calls.load(Ordering::SeqCst), 2);
    assert_eq!(notifier.delivered.lock().unwrap().len(), 1);
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Delivered, 2)
    );
    assert_eq!(
        app.kinds(sent.invitation.id).await,
        [EventKind::Sent, EventKind::DeliveryDeferred, EventKind::Delivered]
    );
    app.clock.advance(TimeDelta::hours(1));
    assert_eq!(app.worker.drain_once().await.unwrap().claimed, 0);
}

#[tokio::test]
async fn the_last_failed_attempt_fails_the_delivery_and_a_resend_starts_over() {
    // rule D1: bounded attempts, then `failed`, which a resend fixes
    let notifier = Arc::new(Flaky {
        failures: AtomicUsize::new(3),
        ..Flaky::default()
    });
    let app = app(notifier.clone()).await;
    let sent = app.send("bob@example.com").await;
    for _ in 0..3 {
        app.worker.drain_once().await.unwrap();
        app.clock.advance(TimeDelta::seconds(60));
    }
    assert_eq!(notifier.calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Failed, 3)
    );
    assert_eq!(
        app.kinds(sent.invitation.id).await,
        [
            EventKind::Sent,
            EventKind::DeliveryDeferred,
            EventKind::DeliveryDeferred,
            EventKind::DeliveryFailed
        ]
    );
    app.clock.advance(TimeDelta::hours(1));
    assert_eq!(app.worker.drain_once().await.unwrap().claimed, 0);
    let resent = app
        .invitations
        .resend(&app.world.alice, &app.world.acme.id, sent.invitation.id)
        .await
        .unwrap();
    assert_eq!(
        (resent.invitation.delivery, resent.invitation.delivery_attempts),
        (DeliveryStatus::Queued, 0)
    );
    assert_eq!(app.worker.drain_once().await.unwrap().delivered, 1);
    assert_eq!(notifier.delivered.lock().unwrap()[0].link, resent.link);
}

#[tokio::test]
async fn a_permanent_failure_is_not_retried() {
    // rule D1: transient and permanent told apart
    let notifier = Arc::new(Flaky {
        failures: AtomicUsize::new(1),
        permanent: true,
        ..Flaky::default()
    });
    let app = app(notifier.clone()).await;
    let sent = app.send("bob@example.com").await;
    assert_eq!(app.worker.drain_once().await.unwrap().failed, 1);
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Failed, 1)
    );
    app.clock.advance(TimeDelta::days(1));
    assert_eq!(app.worker.drain_once().await.unwrap().claimed, 0);
    assert_eq!(notifier.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn revoked_resent_and_expired_rows_are_dropped_not_delivered() {
    // rule D2
    let notifier = Arc::new(Flaky {
        failures: AtomicUsize::new(3),
        ..Flaky::default()
    });
    let app = app(notifier.clone()).await;
    let acme = &app.world.acme.id;
    let revoked = app.send("bob@example.com").await;
    let resent = app.send("carol@example.com").await;
    let expiring = app
        .invitations
        .send(
            &app.world.alice,
            acme,
            SendInvitation::new("dave@example.com", "member").expires_in(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    // Each fails once, so a retry is scheduled.
    assert_eq!(app.worker.drain_once().await.unwrap().retried, 3);
    app.invitations
        .revoke(&app.world.alice, acme, revoked.invitation.id)
        .await
        .unwrap();
    let new_link = app
        .invitations
        .resend(&app.world.alice, acme, resent.invitation.id)
        .await
        .unwrap();
    app.clock.advance(TimeDelta::seconds(61));
    let report = app.worker.drain_once().await.unwrap();
    // The revoked and the expired rows are dropped; the old link of the resent one was
    // dropped by the resend itself; only the new link goes out.
    assert_eq!((report.claimed, report.dropped, report.delivered), (3, 2, 1));
    let delivered = notifier.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].link, new_link.link);
    assert_eq!(notifier.calls.load(Ordering::SeqCst), 4);
    assert_eq!(
        app.kinds(revoked.invitation.id).await,
        [EventKind::Sent, EventKind::DeliveryDeferred, EventKind::Revoked]
    );
    assert_eq!(
        app.delivery(expiring.invitation.id).await,
        (DeliveryStatus::Retrying, 1)
    );
}

#[tokio::test]
async fn without_an_outbox_the_service_delivers_inline_as_before() {
    // the builder option for the old behaviour
    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.unwrap();
    let notifier = Arc::new(RecordingNotifier::default());
    let invitations = Invitations::builder(store).notifier(notifier.clone()).build();
    assert!(invitations.delivery_worker().is_none());
    let sent = invitations
        .send(
            &world.alice,
            &world.acme.id,
            SendInvitation::new("bob@example.com", "member"),
        )
        .await
        .unwrap();
    assert_eq!(
        (sent.invitation.delivery, sent.invitation.delivery_attempts),
        (DeliveryStatus::Delivered, 1)
    );
    assert_eq!(notifier.deliveries().len(), 1);
}

/// Runs `test` on a runtime of two worker threads that is shut down without waiting for a
/// task that never yields: a `run` stuck in a loop fails its test instead of hanging the
/// suite (a mutant of `prune`'s loop, say).
fn on_two_threads<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(test())));
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn run_wakes_on_a_send_and_stops_gracefully() {
    on_two_threads(|| async {
        // rule D1: the worker the host spawns; a new delivery goes out without waiting a poll
        let notifier = Arc::new(RecordingNotifier::default());
        let app = app(notifier.clone()).await;
        let worker = app.worker.clone().config(WorkerConfig {
            poll_interval: Duration::from_secs(3600),
            ..*app.worker.settings()
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        app.send("bob@example.com").await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while notifier.deliveries().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "not delivered after a wake-up"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("run returns on shutdown")
            .unwrap();
    });
}

/// Resends the invitation it is handed while it delivers the first link: the resend drops
/// the row being attempted, so the attempt's lease is gone when its outcome comes back.
#[derive(Default)]
struct ResendsMeanwhile {
    service: Mutex<Option<(Invitations, invite_core::User, invite_core::EnterpriseId)>>,
    inner: RecordingNotifier,
}

#[async_trait]
impl Notifier for ResendsMeanwhile {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        let service = self.service.lock().unwrap().take();
        if let Some((invitations, alice, acme)) = service {
            invitations
                .resend(&alice, &acme, delivery.invitation_id)
                .await
                .unwrap();
        }
        self.inner.deliver(delivery).await
    }
}

#[tokio::test]
async fn an_outcome_after_a_resend_dropped_the_row_is_counted_lost_and_changes_nothing() {
    // rule D2, D3: the old attempt's outcome is not recorded; the new link goes out.
    let notifier = Arc::new(ResendsMeanwhile::default());
    let app = app(notifier.clone()).await;
    let sent = app.send("bob@example.com").await;
    *notifier.service.lock().unwrap() = Some((
        app.invitations.clone(),
        app.world.alice.clone(),
        app.world.acme.id.clone(),
    ));
    let report = app.worker.drain_once().await.unwrap();
    assert_eq!(
        report,
        invite_core::DrainReport {
            claimed: 1,
            lost: 1,
            ..invite_core::DrainReport::default()
        }
    );
    assert_eq!(
        app.kinds(sent.invitation.id).await,
        [EventKind::Sent, EventKind::Resent]
    );
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Queued, 0)
    );
    let report = app.worker.drain_once().await.unwrap();
    assert_eq!((report.claimed, report.delivered, report.lost), (1, 1, 0));
    let deliveries = notifier.inner.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert_ne!(deliveries[1].link, sent.link, "the resend's link goes out");
}

#[tokio::test]
async fn an_outcome_the_store_could_not_record_is_counted_and_attempted_again_after_the_lease() {
    // rule D3: at least once
    let notifier = Arc::new(RecordingNotifier::default());
    let (app, plan) = faulted_app(notifier.clone()).await;
    // Which call of a drain records the outcome.
    app.send("carol@example.com").await;
    plan.count();
    assert_eq!(app.worker.drain_once().await.unwrap().delivered, 1);
    let calls = plan.stop();
    let finish = calls.iter().position(|c| *c == "finish_delivery").unwrap() + 1;
    let sent = app.send("bob@example.com").await;
    plan.arm(finish, Fault::Error);
    let report = app.worker.drain_once().await.unwrap();
    assert_eq!(plan.stop(), calls, "the same calls");
    assert_eq!(
        report,
        invite_core::DrainReport {
            claimed: 1,
            unrecorded: 1,
            ..invite_core::DrainReport::default()
        }
    );
    assert_eq!(notifier.deliveries().len(), 2);
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Queued, 0)
    );
    assert_eq!(app.worker.drain_once().await.unwrap().claimed, 0, "leased");
    app.clock.advance(TimeDelta::minutes(5) + TimeDelta::seconds(1));
    let report = app.worker.drain_once().await.unwrap();
    assert_eq!((report.claimed, report.delivered, report.unrecorded), (1, 1, 0));
    assert_eq!(notifier.deliveries().len(), 3);
    assert_eq!(notifier.deliveries()[2].link, sent.link);
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Delivered, 2)
    );
}

/// `worker.prune()` on a thread of its own, answered within 10 s: a prune whose loop never
/// ends fails the test instead of hanging the suite.
fn prune_within_10s(worker: &DeliveryWorker) -> usize {
    let worker = worker.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let _ = tx.send(runtime.block_on(worker.prune()));
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("prune returned within 10 s")
        .unwrap()
}

#[tokio::test]
async fn prune_deletes_every_finished_row_past_the_retention_32_batches_at_a_time() {
    // rule D4 (finished rows, their links erased, are kept for the retention only)
    let notifier = Arc::new(RecordingNotifier::default());
    let (app, plan) = faulted_app(notifier.clone()).await;
    for i in 0..64 {
        app.send(&format!("user{i}@example.com")).await;
    }
    let worker = app.worker.clone().config(WorkerConfig {
        batch: 64,
        retention: Duration::from_secs(3600),
        ..*app.worker.settings()
    });
    assert_eq!(worker.drain_once().await.unwrap().delivered, 64);
    app.clock.advance(TimeDelta::hours(1));
    // A row finished within the retention is kept.
    app.send("recent@example.com").await;
    assert_eq!(worker.drain_once().await.unwrap().delivered, 1);
    let worker = worker.clone().config(WorkerConfig {
        batch: 1,
        ..*worker.settings()
    });
    plan.count();
    assert_eq!(prune_within_10s(&worker), 64);
    assert_eq!(
        plan.stop(),
        ["prune_deliveries"; 3],
        "32 rows a call (32 per row of a claim batch), until a call finds fewer"
    );
    assert_eq!(prune_within_10s(&worker), 0);
    app.clock.advance(TimeDelta::hours(1));
    assert_eq!(prune_within_10s(&worker), 1);
    assert_eq!(notifier.deliveries().len(), 65);
}

/// Waits up to 5 s for `n` deliveries.
async fn delivered(notifier: &RecordingNotifier, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while notifier.deliveries().len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} delivered after 5 s",
            notifier.deliveries().len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn run_drains_full_batches_back_to_back_without_waiting_for_a_poll() {
    on_two_threads(|| async {
        // rule D1: a backlog goes out at once, a batch after the other
        let notifier = Arc::new(RecordingNotifier::default());
        let app = app(notifier.clone()).await;
        for i in 0..5 {
            app.send(&format!("user{i}@example.com")).await;
        }
        let worker = app.worker.clone().config(WorkerConfig {
            batch: 1,
            poll_interval: Duration::from_secs(3600),
            ..*app.worker.settings()
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        delivered(&notifier, 5).await;
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("run returns on shutdown")
            .unwrap();
    });
}

#[test]
fn run_prunes_when_it_starts_and_then_once_every_prune_every() {
    on_two_threads(|| async {
        // rule D4: finished rows are pruned on a schedule, not at every wake-up
        let notifier = Arc::new(RecordingNotifier::default());
        let (app, plan) = faulted_app(notifier.clone()).await;
        let worker = app.worker.clone().config(WorkerConfig {
            poll_interval: Duration::from_secs(3600),
            prune_every: Duration::from_secs(3600),
            ..*app.worker.settings()
        });
        plan.count();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        // Each send wakes the worker for a round of its own; the round after the first
        // send ends (and would prune) before the second send's round starts.
        app.send("bob@example.com").await;
        delivered(&notifier, 1).await;
        app.send("carol@example.com").await;
        delivered(&notifier, 2).await;
        let prunes = plan
            .stop()
            .into_iter()
            .filter(|call| *call == "prune_deliveries")
            .count();
        assert_eq!(prunes, 1, "one prune, when run started");
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("run returns on shutdown")
            .unwrap();
    });
}
