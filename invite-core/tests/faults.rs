//! Faults at the k-th call on the in-memory store (rule X7): every use case with the
//! store's and the notifier's k-th call failing (an error before or after the store did
//! the work, a panic inside the use case's task before or after; a transient, a permanent
//! or a lost-acknowledgement notifier failure, a panic in the worker), then the invariants
//! and a retry: see `invite_core::testing::faults::sweep`.
//!
//! By default each sweep tries the calls of each decision (the first and last call where
//! the layer sees none); with `INVITE_FAULTS_FULL=1`, every call. Figures:
//! docs/RELIABILITY.md, "Faults (k-th call)".

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed step fails the test

use std::io::Write as _;
use std::sync::Arc;

use async_trait::async_trait;
use invite_core::testing::MemoryStore;
use invite_core::testing::faults::Fault;
use invite_core::testing::faults::sweep::{Arena, Depth, FaultBackend, Layer, Scenario, SweepReport, sweep};

/// A fresh in-memory store for every run.
struct Memory;

#[async_trait]
impl FaultBackend for Memory {
    type Store = MemoryStore;

    async fn arena(&self) -> Arena<MemoryStore> {
        let store = Arc::new(MemoryStore::default());
        Arena {
            store: store.clone(),
            host: store,
            host_plan: None,
        }
    }
}

/// Sweeps `scenario` on the store and the notifier; prints each report past the test
/// harness's capture (so a passing run still shows its figures) and fails on any finding.
async fn sweep_all(scenario: Scenario) {
    let depth = Depth::from_env();
    let mut reports: Vec<SweepReport> = Vec::new();
    reports.push(sweep(&Memory, scenario, Layer::Store, &Fault::STORE, depth).await);
    reports.push(sweep(&Memory, scenario, Layer::Notifier, &Fault::NOTIFIER, depth).await);
    let mut stderr = std::io::stderr();
    for report in &reports {
        let _ = writeln!(stderr, "faults: memory {depth:?} {report}");
    }
    let failures: Vec<&String> = reports.iter().flat_map(|r| &r.failures).collect();
    assert!(
        failures.is_empty(),
        "{} findings:\n{}",
        failures.len(),
        failures.iter().map(|f| f.as_str()).collect::<Vec<_>>().join("\n")
    );
    // The sweep did fault something: a store call in every use case.
    assert!(reports[0].total_injected() > 0, "no store fault was injected");
}

macro_rules! scenarios {
    ($($name:ident => $scenario:expr),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                sweep_all($scenario).await;
            }
        )*
    };
}

scenarios! {
    send => Scenario::Send,
    send_many => Scenario::SendMany,
    resend => Scenario::Resend,
    revoke => Scenario::Revoke,
    accept => Scenario::Accept,
    reject => Scenario::Reject,
    accept_mine => Scenario::AcceptMine,
    reject_mine => Scenario::RejectMine,
    drain => Scenario::Drain,
}

/// Rule S8 without the outbox (inline delivery, the notifier called by `send` after the
/// commit): a notifier that fails transiently, for good or after the message went out
/// leaves the invitation stored, answered 201 with delivery `failed`, and a resend
/// delivers it; a notifier that panics unwinds the send after the commit, leaving the
/// invitation `queued` with nothing to deliver it (no outbox: the documented limit of
/// inline delivery), and the retried send is `duplicate_pending` while a resend delivers.
#[tokio::test]
async fn inline_delivery_survives_every_notifier_fault() {
    use invite_core::testing::faults::{FaultPlan, FaultyNotifier};
    use invite_core::testing::{RecordingNotifier, seed};
    use invite_core::{DeliveryStatus, InvitationStore, Invitations, InviteError, SendInvitation};

    for fault in Fault::NOTIFIER {
        let store = Arc::new(MemoryStore::default());
        let world = seed::demo(&*store).await.expect("seed");
        let recorder = Arc::new(RecordingNotifier::default());
        let plan = FaultPlan::new();
        let invitations = Invitations::builder(store.clone())
            .notifier(Arc::new(FaultyNotifier::new(recorder.clone(), plan.clone())))
            .build();
        let request = || SendInvitation::new("bob@example.com", "member");
        plan.arm(1, fault);
        let task = {
            let (invitations, alice, acme) =
                (invitations.clone(), world.alice.clone(), world.acme.id.clone());
            tokio::spawn(async move { invitations.send(&alice, &acme, request()).await })
        };
        let sent = task.await;
        assert_eq!(plan.stop(), ["deliver"], "{fault}");
        let stored = store
            .list(
                &world.acme.id,
                &invite_core::ListQuery {
                    status: None,
                    limit: 10,
                    after: None,
                },
                invitations.now(),
            )
            .await
            .expect("list");
        assert_eq!(
            stored.len(),
            1,
            "{fault}: the invitation is stored whatever the notifier did"
        );
        let id = stored[0].id;
        if fault.panics() {
            assert!(sent.expect_err("the send's task panics").is_panic(), "{fault}");
            assert_eq!(stored[0].delivery, DeliveryStatus::Queued, "{fault}");
            assert!(recorder.deliveries().is_empty(), "{fault}");
        } else {
            let sent = sent
                .expect("no panic")
                .expect("rule S8: a notifier failure is not fatal");
            assert_eq!(sent.invitation.delivery, DeliveryStatus::Failed, "{fault}");
            assert_eq!(stored[0].delivery, DeliveryStatus::Failed, "{fault}");
            let went_out = usize::from(fault == Fault::TransientAfterDelivery);
            assert_eq!(recorder.deliveries().len(), went_out, "{fault}");
        }
        // The retry: the send finds what committed; a resend delivers a new link.
        let again = invitations.send(&world.alice, &world.acme.id, request()).await;
        assert!(
            matches!(again, Err(InviteError::DuplicatePending)),
            "{fault}: {again:?}"
        );
        let resent = invitations
            .resend(&world.alice, &world.acme.id, id)
            .await
            .expect("resend");
        assert_eq!(resent.invitation.delivery, DeliveryStatus::Delivered, "{fault}");
        assert_eq!(
            recorder.last_token().as_deref(),
            Some(resent.link.token()),
            "{fault}"
        );
    }
}

/// Rule S8, X7 without the outbox: when the delivery's outcome cannot be written after the
/// notifier was called, `send` answers what is stored — delivery `queued`, no attempt
/// counted — and not the outcome it could not record.
#[tokio::test]
async fn inline_delivery_whose_outcome_is_not_written_answers_what_is_stored() {
    use invite_core::testing::faults::{FaultPlan, FaultyStore};
    use invite_core::testing::{RecordingNotifier, seed};
    use invite_core::{DeliveryStatus, InvitationStore, Invitations, SendInvitation};

    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.expect("seed");
    let notifier = Arc::new(RecordingNotifier::default());
    let plan = FaultPlan::new();
    let invitations = Invitations::builder(Arc::new(FaultyStore::new(store.clone(), plan.clone())))
        .notifier(notifier.clone())
        .build();
    let send = |contact: &str| {
        invitations.send(
            &world.alice,
            &world.acme.id,
            SendInvitation::new(contact, "member"),
        )
    };
    // Which call of a send writes the delivery's outcome.
    plan.count();
    let first = send("carol@example.com").await.expect("send");
    let calls = plan.stop();
    assert_eq!(
        (first.invitation.delivery, first.invitation.delivery_attempts),
        (DeliveryStatus::Delivered, 1)
    );
    let k = calls
        .iter()
        .position(|c| *c == "set_delivery")
        .expect("set_delivery")
        + 1;
    plan.arm(k, Fault::Error);
    let sent = send("bob@example.com").await.expect("rule S8: the send succeeds");
    assert_eq!(plan.hit().map(|hit| hit.name), Some("set_delivery"));
    plan.stop();
    assert_eq!(notifier.deliveries().len(), 2, "the notifier took it");
    assert_eq!(
        (sent.invitation.delivery, sent.invitation.delivery_attempts),
        (DeliveryStatus::Queued, 0)
    );
    let stored = store
        .get(&world.acme.id, sent.invitation.id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (sent.invitation.delivery, sent.invitation.delivery_attempts)
    );
}

/// A notifier that panics on every message to one contact and hangs on every message to
/// another (a host's SMS client with an `unwrap`, a provider that never answers), and
/// delivers the rest through a [`RecordingNotifier`]; counts the calls for each.
struct Poisoned {
    panics_for: String,
    hangs_for: String,
    inner: Arc<invite_core::testing::RecordingNotifier>,
    panicked: std::sync::atomic::AtomicUsize,
    hung: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl invite_core::Notifier for Poisoned {
    async fn deliver(&self, delivery: &invite_core::Delivery) -> Result<(), invite_core::NotifyError> {
        use std::sync::atomic::Ordering::SeqCst;
        let to = delivery.contact.normalized();
        if to == self.panics_for {
            self.panicked.fetch_add(1, SeqCst);
            panic!("the notifier's own bug");
        }
        if to == self.hangs_for {
            self.hung.fetch_add(1, SeqCst);
            std::future::pending::<()>().await;
        }
        self.inner.deliver(delivery).await
    }
}

/// An outbox with Carol's link (the notifier panics on it, when `panics`) queued before
/// Bob's and Mallory's (the notifier hangs on hers, when `hangs`), with the default
/// worker settings.
async fn poisoned_outbox(
    panics: bool,
    hangs: bool,
) -> (
    Arc<MemoryStore>,
    invite_core::testing::World,
    invite_core::testing::ManualClock,
    Arc<Poisoned>,
    invite_core::Invitations,
) {
    use invite_core::testing::{ManualClock, RecordingNotifier, seed};
    use invite_core::{Invitations, OutboxKey, SendInvitation};
    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.expect("seed");
    let clock = ManualClock::default();
    let notifier = Arc::new(Poisoned {
        panics_for: if panics { "+14155550100" } else { "nobody" }.to_owned(),
        hangs_for: if hangs { "mallory@example.com" } else { "nobody" }.to_owned(),
        inner: Arc::new(RecordingNotifier::default()),
        panicked: Default::default(),
        hung: Default::default(),
    });
    let invitations = Invitations::builder(store.clone())
        .clock(Arc::new(clock.clone()))
        .notifier(notifier.clone())
        .outbox(OutboxKey::generate())
        .build();
    for contact in ["+14155550100", "bob@example.com", "mallory@example.com"] {
        invitations
            .send(
                &world.alice,
                &world.acme.id,
                SendInvitation::new(contact, "member"),
            )
            .await
            .expect("send");
        clock.advance(chrono::TimeDelta::seconds(1));
    }
    (store, world, clock, notifier, invitations)
}

/// The delivery status of the invitation to `contact`.
async fn delivery_of(
    store: &MemoryStore,
    world: &invite_core::testing::World,
    contact: &str,
) -> invite_core::DeliveryStatus {
    use invite_core::InvitationStore;
    let all = store
        .list(
            &world.acme.id,
            &invite_core::ListQuery {
                status: None,
                limit: 10,
                after: None,
            },
            chrono::DateTime::<chrono::Utc>::MAX_UTC,
        )
        .await
        .expect("list");
    all.iter()
        .find(|i| i.contact.normalized() == contact)
        .map(|i| i.delivery)
        .expect("the invitation")
}

/// Rules D1, X7: a notifier that panics on one message costs that message an attempt —
/// a transient failure, retried with backoff and `failed` after the last attempt — and
/// never the worker's round: the other rows of the round are delivered and recorded, and
/// the worker's task (`DeliveryWorker::run` in a host) lives on.
///
/// FAILS today: the panic unwinds `drain_once` (and with it `DeliveryWorker::run`, which
/// a host spawns once: every later delivery of the process stops), the rows claimed with
/// the poisoned one wait out their lease, and the poisoned row, claimed first again after
/// every lease, never reaches `failed`. Proposed fix (worker.rs, `deliver`): run
/// `notifier.deliver` under `AssertUnwindSafe(..).catch_unwind()` (futures-util's `std`
/// feature) and count a panic as `NotifyErrorKind::Transient`, logging no payload (it
/// may quote the link, rule D4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notifier_that_panics_on_one_message_fails_that_row_not_the_worker() {
    let (store, world, clock, notifier, invitations) = poisoned_outbox(true, false).await;
    let worker = invitations.delivery_worker().expect("outbox");
    let mut rounds = Vec::new();
    for _ in 0..16 {
        let round = {
            let worker = worker.clone();
            tokio::spawn(async move { worker.drain_once().await })
        };
        let round = tokio::time::timeout(std::time::Duration::from_millis(500), round).await;
        rounds.push(match round {
            Ok(Ok(report)) => format!(
                "{:?}",
                report.map(|r| (r.claimed, r.delivered, r.retried, r.failed))
            ),
            Ok(Err(err)) if err.is_panic() => "the round panicked".to_owned(),
            Ok(Err(err)) => format!("the round ended: {err}"),
            Err(_) => "the round hung (Mallory's notifier)".to_owned(),
        });
        // Past the lease (5 min) and the longest backoff (1 h).
        clock.advance(chrono::TimeDelta::minutes(70));
    }
    let panicked = rounds.iter().filter(|r| r.contains("panicked")).count();
    let bob = delivery_of(&store, &world, "bob@example.com").await;
    let carol = delivery_of(&store, &world, "+14155550100").await;
    let attempts = notifier.panicked.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        panicked == 0
            && bob == invite_core::DeliveryStatus::Delivered
            && carol == invite_core::DeliveryStatus::Failed
            && attempts == 12,
        "after {} rounds: {panicked} unwound by the notifier's panic; Bob's delivery {bob:?} \
         (expected delivered), Carol's {carol:?} (expected failed after the policy's 12 \
         attempts, made {attempts}); rounds: {rounds:?}",
        rounds.len()
    );
}

/// Rule D1: attempts are bounded also when they never end — a notifier that hangs past
/// its lease, a process killed mid-delivery: each claim counts an attempt, and a row
/// claimed more often than the policy's `max_attempts` is `failed` without being handed
/// to the notifier again.
///
/// FAILS today: the claim counts the attempt, but only an attempt that returns can make
/// the row `failed` (`RetryPolicy::next_attempt`), so a row whose attempts never return is
/// claimed after every lease forever. Proposed fix (worker.rs, `attempt`): before
/// delivering, `if row.attempt > self.config.retry.max_attempts { return
/// self.finish(&row, DeliveryOutcome::Failed { error: NotifyErrorKind::Transient }).await }`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_that_never_ends_still_counts_toward_failed() {
    let (store, world, clock, notifier, invitations) = poisoned_outbox(false, true).await;
    let worker = invitations.delivery_worker().expect("outbox");
    for _ in 0..20 {
        // A round cut short: what a crash mid-delivery does to the attempt in flight.
        let mut round = {
            let worker = worker.clone();
            tokio::spawn(async move { worker.drain_once().await })
        };
        if tokio::time::timeout(std::time::Duration::from_millis(300), &mut round)
            .await
            .is_err()
        {
            round.abort();
        }
        clock.advance(chrono::TimeDelta::minutes(70));
    }
    let handed = notifier.hung.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        handed <= 12,
        "Mallory's link was handed to the notifier {handed} times; the retry policy allows 12"
    );
    assert_eq!(
        delivery_of(&store, &world, "mallory@example.com").await,
        invite_core::DeliveryStatus::Failed
    );
}
