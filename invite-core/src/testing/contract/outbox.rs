//! The delivery outbox (rules D1–D4): queued in the send's transaction, leases, retries,
//! staleness, erasure, pruning.

#[allow(clippy::wildcard_imports)]
use super::*;

const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

fn lease() -> TimeDelta {
    TimeDelta::seconds(60)
}

/// Rule D1: a send through the outbox writes the invitation and its delivery request
/// together; the request is queued, due at once, its link sealed and readable with the key.
pub async fn outbox_send_queues_in_the_same_transaction<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token, delivery) = f.send_queued("bob@example.com", f.now).await;
    assert_eq!(inv.delivery, DeliveryStatus::Queued);
    assert_eq!(inv.delivery_attempts, 0);
    let entry = f
        .store
        .delivery(delivery.id)
        .await
        .expect("delivery")
        .expect("queued");
    assert_eq!(entry.state, OutboxState::Queued);
    assert_eq!(entry.invitation_id, inv.id);
    assert_eq!(entry.enterprise_id, f.world.acme.id);
    assert_eq!(entry.token_digest, token.digest());
    assert_eq!(entry.attempts, 0);
    assert_eq!(entry.due_at, f.now);
    assert_eq!(entry.finished_at, None);
    let sealed = entry
        .sealed_link
        .expect("the sealed link is kept until delivered");
    let link = Fixture::<S>::outbox_key()
        .open(&sealed, inv.id, &token.digest())
        .expect("opens");
    assert_eq!(link.token(), token.expose_secret());
    let stored = f.store.get(&f.world.acme.id, inv.id).await.expect("get");
    assert_eq!(stored.as_ref(), Some(&inv));
}

/// Rule D1, X7: a refused send (duplicate, member) queues nothing.
pub async fn outbox_refused_send_queues_nothing<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    f.send_queued("bob@example.com", f.now).await;
    let (again, token) = f.invitation("BOB@example.com", Role::Member, f.now);
    let refused = Fixture::<S>::delivery_of(&again, &token);
    assert!(matches!(
        f.store.create_queued(again, refused.clone()).await,
        Err(StoreError::DuplicatePending)
    ));
    let (member, token) = f.invitation("alice@example.com", Role::Member, f.now);
    let refused_member = Fixture::<S>::delivery_of(&member, &token);
    assert!(matches!(
        f.store.create_queued(member, refused_member.clone()).await,
        Err(StoreError::AlreadyMember)
    ));
    for id in [refused.id, refused_member.id] {
        assert_eq!(f.store.delivery(id).await.expect("delivery"), None);
    }
    let claimed = f.store.claim_deliveries(f.now, LEASE, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
}

/// Rules D1, D3: a claim leases a due row (counting an attempt) and a second claim skips
/// it while the lease lasts; once it runs out (a crash mid-delivery) the row is claimed
/// again — at least once — and the first lease can no longer record anything.
pub async fn outbox_claim_leases_each_row_once<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, _, delivery) = f.send_queued("bob@example.com", f.now).await;
    assert!(
        f.store
            .claim_deliveries(f.now - TimeDelta::seconds(1), LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "not due before it was queued"
    );
    let first = f.store.claim_deliveries(f.now, LEASE, 10).await.expect("claim");
    assert_eq!(first.len(), 1);
    let first = &first[0];
    assert_eq!(
        (first.id, first.invitation_id, first.attempt),
        (delivery.id, inv.id, 1)
    );
    assert_eq!(first.invitation.as_ref(), Some(&inv));
    assert_eq!(first.sealed_link, delivery.sealed_link);
    assert!(
        f.store
            .claim_deliveries(f.now + lease() - TimeDelta::seconds(1), LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    let later = f.now + lease();
    let second = f.store.claim_deliveries(later, LEASE, 10).await.expect("claim");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempt, 2);
    assert_ne!(second[0].claim, first.claim);
    assert_eq!(
        f.store
            .finish_delivery(first, DeliveryOutcome::Delivered, later)
            .await
            .expect("finish"),
        Finished::LeaseLost
    );
    let entry = f
        .store
        .delivery(delivery.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!((entry.state, entry.attempts), (OutboxState::Queued, 2));
    assert!(matches!(
        f.store
            .finish_delivery(&second[0], DeliveryOutcome::Delivered, later)
            .await
            .expect("finish"),
        Finished::Recorded(Some(_))
    ));
}

/// Rule D3 across processes: two stores on one database claiming at once get disjoint
/// rows, and every row once.
pub async fn outbox_two_stores_claim_each_row_once<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let mut queued = std::collections::BTreeSet::new();
    for i in 0..24 {
        let (_, _, delivery) = f.send_queued(&format!("user{i}@example.com"), f.now).await;
        queued.insert(delivery.id);
    }
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 {
                f.store.clone()
            } else {
                f.peer.clone()
            };
            let now = f.now;
            tokio::spawn(async move { store.claim_deliveries(now, LEASE, 5).await })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        let batch = task.await.expect("task").expect("claim");
        assert!(
            batch.len() <= 5,
            "a claim leased {} rows, more than asked",
            batch.len()
        );
        claimed.extend(batch.into_iter().map(|c| c.id));
    }
    // Rows locked by a concurrent claim are skipped, not waited for (PostgreSQL): a later
    // claim takes what the race left.
    loop {
        let rest = f.peer.claim_deliveries(f.now, LEASE, 5).await.expect("claim");
        if rest.is_empty() {
            break;
        }
        claimed.extend(rest.into_iter().map(|c| c.id));
    }
    let unique: std::collections::BTreeSet<_> = claimed.iter().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "a row was claimed twice");
    assert_eq!(unique, queued);
}

fn single(mut claimed: Vec<ClaimedDelivery>) -> ClaimedDelivery {
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    claimed.remove(0)
}

/// Rules D1, D4, X5: a delivered or failed row has its link erased; the invitation's
/// delivery status and attempts follow, with a `delivered` or `delivery_failed` event in
/// the same transaction.
pub async fn outbox_finish_erases_the_link_and_records_the_event<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let (ok, _, ok_delivery) = f.send_queued("bob@example.com", f.now).await;
    let claimed = single(f.store.claim_deliveries(f.now, LEASE, 1).await.expect("claim"));
    let t1 = f.now + TimeDelta::seconds(1);
    let finished = f
        .store
        .finish_delivery(&claimed, DeliveryOutcome::Delivered, t1)
        .await
        .expect("finish");
    let Finished::Recorded(Some(event)) = finished else {
        panic!("{finished:?}")
    };
    assert_eq!(
        (event.kind, event.actor, event.at),
        (EventKind::Delivered, None, t1)
    );
    let entry = f
        .store
        .delivery(ok_delivery.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!(entry.state, OutboxState::Delivered);
    assert_eq!(
        entry.sealed_link, None,
        "rule D4: the link is erased once delivered"
    );
    assert_eq!(entry.finished_at, Some(t1));
    let stored = f.store.get(acme, ok.id).await.expect("get").expect("exists");
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (DeliveryStatus::Delivered, 1)
    );
    let kinds: Vec<EventKind> = f
        .store
        .events(acme, ok.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent, EventKind::Delivered]);

    let (bad, _, bad_delivery) = f.send_queued("carol@example.com", t1).await;
    let claimed = single(f.store.claim_deliveries(t1, LEASE, 5).await.expect("claim"));
    let outcome = DeliveryOutcome::Failed {
        error: NotifyErrorKind::Permanent,
    };
    assert!(matches!(
        f.store
            .finish_delivery(&claimed, outcome, t1)
            .await
            .expect("finish"),
        Finished::Recorded(Some(_))
    ));
    let entry = f
        .store
        .delivery(bad_delivery.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!(entry.state, OutboxState::Failed);
    assert_eq!(entry.sealed_link, None, "rule D4: the link is erased once failed");
    assert_eq!(entry.last_error, Some(NotifyErrorKind::Permanent));
    let stored = f.store.get(acme, bad.id).await.expect("get").expect("exists");
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (DeliveryStatus::Failed, 1)
    );
    assert_eq!(
        f.store
            .events(acme, bad.id)
            .await
            .expect("events")
            .last()
            .map(|e| e.kind),
        Some(EventKind::DeliveryFailed)
    );
    assert!(
        f.store
            .claim_deliveries(t1 + TimeDelta::days(1), LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "finished rows are never claimed again"
    );
}

/// Rule D1: a transient failure puts the row back, link kept, due at the given time and
/// not before; the invitation reads `retrying` with its attempts and gets a
/// `delivery_deferred` event.
pub async fn outbox_retry_keeps_the_link_until_due<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, _, delivery) = f.send_queued("bob@example.com", f.now).await;
    let claimed = single(f.store.claim_deliveries(f.now, LEASE, 1).await.expect("claim"));
    let due = f.now + TimeDelta::seconds(10);
    let finished = f
        .store
        .finish_delivery(&claimed, DeliveryOutcome::Retry { at: due }, f.now)
        .await
        .expect("finish");
    assert!(matches!(finished, Finished::Recorded(Some(ref e)) if e.kind == EventKind::DeliveryDeferred));
    let entry = f
        .store
        .delivery(delivery.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!(
        (entry.state, entry.attempts, entry.due_at),
        (OutboxState::Queued, 1, due)
    );
    assert_eq!(entry.sealed_link, Some(delivery.sealed_link.clone()));
    assert_eq!(entry.last_error, Some(NotifyErrorKind::Transient));
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (DeliveryStatus::Retrying, 1)
    );
    assert!(
        f.store
            .claim_deliveries(due - TimeDelta::microseconds(1), LEASE, 1)
            .await
            .expect("claim")
            .is_empty()
    );
    let again = single(f.store.claim_deliveries(due, LEASE, 1).await.expect("claim"));
    assert_eq!(again.attempt, 2);
    f.store
        .finish_delivery(&again, DeliveryOutcome::Delivered, due)
        .await
        .expect("finish");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (DeliveryStatus::Delivered, 2)
    );
}

/// Rules D2, D4, R3: a resend through the outbox drops the old link's queued row (erasing
/// it) and queues the new link; the invitation's delivery starts again from `queued`, 0.
/// A worker still holding the old row's lease records nothing.
pub async fn outbox_resend_drops_the_old_link<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let (inv, _, old) = f.send_queued("bob@example.com", f.now).await;
    let in_flight = single(f.store.claim_deliveries(f.now, LEASE, 1).await.expect("claim"));
    let t1 = f.now + TimeDelta::seconds(5);
    let token = InviteToken::generate();
    let link = InviteLink::new("https://app.example", &token);
    let new = NewDelivery {
        id: DeliveryId::new(),
        token_digest: token.digest(),
        sealed_link: Fixture::<S>::outbox_key()
            .seal(&link, inv.id, &token.digest())
            .expect("seal"),
        queued_at: t1,
    };
    let resent = f
        .store
        .resend_queued(
            acme,
            inv.id,
            &f.world.alice.id,
            t1 + TimeDelta::days(1),
            new.clone(),
        )
        .await
        .expect("resend");
    assert_eq!(resent.token_digest, token.digest());
    assert_eq!(
        (resent.delivery, resent.delivery_attempts),
        (DeliveryStatus::Queued, 0)
    );
    let dropped = f.store.delivery(old.id).await.expect("delivery").expect("row");
    assert_eq!(dropped.state, OutboxState::Dropped);
    assert_eq!(dropped.sealed_link, None);
    assert_eq!(
        f.store
            .finish_delivery(&in_flight, DeliveryOutcome::Delivered, t1)
            .await
            .expect("finish"),
        Finished::LeaseLost
    );
    let claimed = single(f.store.claim_deliveries(t1, LEASE, 10).await.expect("claim"));
    assert_eq!((claimed.id, claimed.token_digest), (new.id, token.digest()));
    assert_eq!(claimed.stale_at(t1), None);
    // A refused resend queues nothing.
    f.store
        .revoke(acme, inv.id, &f.world.alice.id, &t1)
        .await
        .expect("revoke");
    let token = InviteToken::generate();
    let refused = NewDelivery {
        id: DeliveryId::new(),
        token_digest: token.digest(),
        sealed_link: new.sealed_link.clone(),
        queued_at: t1,
    };
    assert!(matches!(
        f.store
            .resend_queued(
                acme,
                inv.id,
                &f.world.alice.id,
                t1 + TimeDelta::days(1),
                refused.clone()
            )
            .await,
        Err(StoreError::Transition(TransitionError::NotPending(
            InvitationStatus::Revoked
        )))
    ));
    assert_eq!(f.store.delivery(refused.id).await.expect("delivery"), None);
}

/// Rule D2: a claim carries the invitation as it is now, so a revoked, answered or expired
/// invitation — or one whose token a plain resend replaced — reads stale; dropping it
/// erases the link and changes neither the invitation nor its events.
pub async fn outbox_claim_sees_the_current_invitation<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let (revoked, _, revoked_row) = f.send_queued("bob@example.com", f.now).await;
    f.store
        .revoke(acme, revoked.id, &f.world.alice.id, &f.now)
        .await
        .expect("revoke");
    let (accepted, token, _) = f.send_queued("mallory@example.com", f.now).await;
    f.store
        .accept_token(&token.digest(), &f.world.mallory, &f.now)
        .await
        .expect("accept");
    let (resent, _, _) = f.send_queued("carol@example.com", f.now).await;
    f.store
        .resend(
            acme,
            resent.id,
            &f.world.alice.id,
            InviteToken::generate().digest(),
            f.now + TimeDelta::days(1),
            f.now,
        )
        .await
        .expect("plain resend");
    let (live, _, _) = f.send_queued("dave@example.com", f.now).await;
    let mut claimed = f.store.claim_deliveries(f.now, LEASE, 10).await.expect("claim");
    claimed.sort_by_key(|c| c.invitation.as_ref().map(|i| i.contact.normalized().to_owned()));
    let verdicts: Vec<(InvitationId, Option<Staleness>)> = claimed
        .iter()
        .map(|c| (c.invitation_id, c.stale_at(f.now)))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (revoked.id, Some(Staleness::NotPending(InvitationStatus::Revoked))),
            (resent.id, Some(Staleness::Superseded)),
            (live.id, None),
            (
                accepted.id,
                Some(Staleness::NotPending(InvitationStatus::Accepted))
            ),
        ]
    );
    let expired_at = live.expires_at;
    assert_eq!(
        claimed[2].stale_at(expired_at),
        Some(Staleness::NotPending(InvitationStatus::Expired))
    );
    assert_eq!(
        f.store
            .finish_delivery(&claimed[0], DeliveryOutcome::Dropped, f.now)
            .await
            .expect("finish"),
        Finished::Recorded(None)
    );
    let entry = f
        .store
        .delivery(revoked_row.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!((entry.state, entry.sealed_link), (OutboxState::Dropped, None));
    let stored = f.store.get(acme, revoked.id).await.expect("get").expect("exists");
    assert_eq!(stored, {
        let mut expected = revoked.clone();
        expected.status = InvitationStatus::Revoked;
        expected.revoked_at = Some(f.now);
        expected.revoked_by = Some(f.world.alice.id.clone());
        expected
    });
    let kinds: Vec<EventKind> = f
        .store
        .events(acme, revoked.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent, EventKind::Revoked]);
}

/// Finished rows are pruned after the host's retention, in batches; queued rows and rows
/// finished later are kept.
pub async fn outbox_prune_keeps_queued_and_recent_rows<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let mut finished = Vec::new();
    for i in 0..3 {
        let (_, _, delivery) = f.send_queued(&format!("old{i}@example.com"), f.now).await;
        finished.push(delivery.id);
    }
    for claimed in f.store.claim_deliveries(f.now, LEASE, 10).await.expect("claim") {
        f.store
            .finish_delivery(&claimed, DeliveryOutcome::Delivered, f.now)
            .await
            .expect("finish");
    }
    let later = f.now + TimeDelta::hours(1);
    let (_, _, recent) = f.send_queued("recent@example.com", later).await;
    let recent_claim = single(f.store.claim_deliveries(later, LEASE, 10).await.expect("claim"));
    f.store
        .finish_delivery(&recent_claim, DeliveryOutcome::Dropped, later)
        .await
        .expect("finish");
    let (_, _, queued) = f
        .send_queued("queued@example.com", f.now - TimeDelta::days(30))
        .await;
    assert_eq!(f.store.prune_deliveries(f.now, 2).await.expect("prune"), 2);
    assert_eq!(f.store.prune_deliveries(f.now, 2).await.expect("prune"), 1);
    assert_eq!(f.store.prune_deliveries(f.now, 2).await.expect("prune"), 0);
    for id in finished {
        assert_eq!(f.store.delivery(id).await.expect("delivery"), None);
    }
    assert!(f.store.delivery(recent.id).await.expect("delivery").is_some());
    assert!(f.store.delivery(queued.id).await.expect("delivery").is_some());
}

// --- the invitee's own invitations (rule B1) ---------------------------------------------
