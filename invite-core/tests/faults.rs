//! Faults at the k-th call on the in-memory store (rule X7): every use case with the
//! store's and the notifier's k-th call failing (an error before or after the store did
//! the work, a panic inside the use case's task before or after; a transient, a permanent
//! or a lost-acknowledgement notifier failure, a panic in the worker), then the invariants
//! and a retry: see `invite_core::testing::faults::sweep`.
//!
//! By default each sweep tries the first and last call and each decision's calls; with
//! `INVITE_FAULTS_FULL=1`, every call. Figures: docs/RELIABILITY.md, "Faults (k-th call)".

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
