//! Accepting and rejecting (rules A5–A8), races, events (rule X5), the sweep, delivery status.

#[allow(clippy::wildcard_imports)]
use super::*;

/// rule A5, A6: accept makes the member with the invited role, once.
pub async fn accept_makes_a_member_once<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let accepted = f
        .store
        .accept_token(&token.digest(), &f.world.bob, &f.now)
        .await
        .expect("accept");
    assert_eq!(accepted.invitation.status, InvitationStatus::Accepted);
    assert_eq!(accepted.invitation.responded_by.as_ref(), Some(&f.world.bob.id));
    assert_eq!(accepted.invitation.responded_at, Some(f.now));
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(inv.role)
    );
    let twice = f.store.accept_token(&token.digest(), &f.world.bob, &f.now).await;
    assert!(matches!(
        twice,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    let reject = f.store.reject_token(&token.digest(), &f.world.bob, &f.now).await;
    assert!(matches!(
        reject,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
}

/// rule A1, A6: expired, revoked and unknown tokens are all `invalid_or_expired`.
pub async fn accept_refuses_expired_and_revoked<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let at_expiry = f
        .store
        .accept_token(&token.digest(), &f.world.bob, &inv.expires_at)
        .await;
    assert!(matches!(
        at_expiry,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    let reject = f
        .store
        .reject_token(&token.digest(), &f.world.bob, &inv.expires_at)
        .await;
    assert!(matches!(
        reject,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    let unknown = f
        .store
        .accept_token(&InviteToken::generate().digest(), &f.world.bob, &f.now)
        .await;
    assert!(matches!(
        unknown,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    assert_eq!(f.membership_count(&f.world.bob.id).await, 0);
    let still = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        still.status,
        InvitationStatus::Pending,
        "a refused accept changes nothing"
    );
}

/// rule A8: accepting when already a member leaves role and invitation unchanged.
pub async fn accept_by_a_member_changes_nothing<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    f.host
        .insert_member(&f.world.acme.id, &f.world.bob, Role::Member)
        .await
        .expect("join by another path");
    let accept = f.store.accept_token(&token.digest(), &f.world.bob, &f.now).await;
    assert!(matches!(accept, Err(StoreError::AlreadyMember)));
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(Role::Member)
    );
    let still = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(still.status, InvitationStatus::Pending);
    let events = f.store.events(&f.world.acme.id, inv.id).await.expect("events");
    assert!(events.iter().all(|e| e.kind != EventKind::Accepted));
}

/// rule A7: reject marks the invitation rejected and makes no member.
pub async fn reject_makes_no_member<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (_, token) = f.send("bob@example.com", f.now).await;
    let rejected = f
        .store
        .reject_token(&token.digest(), &f.world.bob, &f.now)
        .await
        .expect("reject");
    assert_eq!(rejected.status, InvitationStatus::Rejected);
    assert_eq!(rejected.responded_by.as_ref(), Some(&f.world.bob.id));
    assert_eq!(f.membership_count(&f.world.bob.id).await, 0);
    let accept = f.store.accept_token(&token.digest(), &f.world.bob, &f.now).await;
    assert!(matches!(
        accept,
        Err(StoreError::Transition(TransitionError::AlreadyRejected))
    ));
}

/// rule A6: of 32 concurrent accepts of one token exactly one succeeds, and exactly one
/// membership exists.
pub async fn concurrent_accepts_have_one_winner<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (_, token) = f.send("bob@example.com", f.now).await;
    let wins = race_accepts(
        std::slice::from_ref(&f.store),
        token.digest(),
        &f.world.bob,
        f.now,
        32,
    )
    .await;
    assert_eq!(wins, 1);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
}

/// rule S7: of 16 concurrent sends to one contact exactly one makes a pending invitation.
pub async fn concurrent_sends_make_one_pending<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let created = race_sends(
        &f,
        std::slice::from_ref(&f.store),
        &["bob@example.com", "BOB@example.COM"],
        16,
    )
    .await;
    assert_eq!(created, 1);
    let query = ListQuery {
        status: Some(InvitationStatus::Pending),
        limit: 100,
        after: None,
    };
    assert_eq!(
        f.store
            .list(&f.world.acme.id, &query, f.now)
            .await
            .expect("list")
            .len(),
        1
    );
}

/// rule X5: every state change is an event with actor and time, in order.
pub async fn events_record_every_change<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let (inv, _) = f.send("bob@example.com", f.now).await;
    let t1 = f.now + TimeDelta::seconds(1);
    let token = InviteToken::generate();
    f.store
        .resend(
            acme,
            inv.id,
            &f.world.alice.id,
            token.digest(),
            t1 + TimeDelta::days(1),
            t1,
        )
        .await
        .expect("resend");
    let t2 = f.now + TimeDelta::seconds(2);
    f.store
        .accept_token(&token.digest(), &f.world.bob, &t2)
        .await
        .expect("accept");
    let (other, _) = f.send("carol@example.com", f.now).await;
    f.store
        .revoke(acme, other.id, &f.world.alice.id, &t2)
        .await
        .expect("revoke");
    let (rej, rej_token) = f.send("mallory@example.com", f.now).await;
    f.store
        .reject_token(&rej_token.digest(), &f.world.mallory, &t2)
        .await
        .expect("reject");

    let kinds = |events: Vec<crate::event::InvitationEvent>| {
        events
            .into_iter()
            .map(|e| (e.kind, e.actor, e.at))
            .collect::<Vec<_>>()
    };
    let alice = Some(f.world.alice.id.clone());
    assert_eq!(
        kinds(f.store.events(acme, inv.id).await.expect("events")),
        vec![
            (EventKind::Sent, alice.clone(), f.now),
            (EventKind::Resent, alice.clone(), t1),
            (EventKind::Accepted, Some(f.world.bob.id.clone()), t2)
        ]
    );
    assert_eq!(
        kinds(f.store.events(acme, other.id).await.expect("events")),
        vec![
            (EventKind::Sent, alice.clone(), f.now),
            (EventKind::Revoked, alice.clone(), t2)
        ]
    );
    assert_eq!(
        kinds(f.store.events(acme, rej.id).await.expect("events")),
        vec![
            (EventKind::Sent, alice, f.now),
            (EventKind::Rejected, Some(f.world.mallory.id.clone()), t2)
        ]
    );
}

/// rules §1, X5: a sweep writes `expired` down in batches, with an event, and touches
/// nothing else.
pub async fn sweep_writes_expired_down<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let mut old = Vec::new();
    for i in 0..3 {
        old.push(
            f.send(&format!("old{i}@example.com"), f.now - TimeDelta::days(2))
                .await
                .0,
        );
    }
    let (live, _) = f.send("live@example.com", f.now).await;
    assert_eq!(f.store.sweep_expired(f.now, 2).await.expect("sweep"), 2);
    assert_eq!(f.store.sweep_expired(f.now, 2).await.expect("sweep"), 1);
    assert_eq!(f.store.sweep_expired(f.now, 2).await.expect("sweep"), 0);
    for inv in &old {
        let stored = f
            .store
            .get(&f.world.acme.id, inv.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(stored.status, InvitationStatus::Expired);
        let events = f.store.events(&f.world.acme.id, inv.id).await.expect("events");
        assert_eq!(
            events.last().map(|e| (e.kind, e.actor.clone())),
            Some((EventKind::Expired, None))
        );
    }
    let live = f
        .store
        .get(&f.world.acme.id, live.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(live.status, InvitationStatus::Pending);
}

/// rule S8: the delivery status is stored and read back.
pub async fn delivery_status_is_recorded<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, _) = f.send("bob@example.com", f.now).await;
    assert_eq!(inv.delivery, DeliveryStatus::Queued);
    f.store
        .set_delivery(inv.id, DeliveryStatus::Failed)
        .await
        .expect("set");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.delivery, DeliveryStatus::Failed);
    f.store
        .set_delivery(inv.id, DeliveryStatus::Delivered)
        .await
        .expect("set");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.delivery, DeliveryStatus::Delivered);
}

/// Rule A9 at the right depth: the accept reads the host's certified flag in its own
/// transaction, so an enterprise that lost its certification after the invitation was
/// sent gets `enterprise_not_certified`, the invitation stays pending and no membership
/// is made; once certified again, the same link works.
pub async fn accept_rechecks_certification_in_the_transaction<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    f.host
        .set_certified(&f.world.acme.id, false)
        .await
        .expect("decertify");
    let refused = f.store.accept_token(&token.digest(), &f.world.bob, &f.now).await;
    assert!(
        matches!(refused, Err(StoreError::EnterpriseNotCertified)),
        "{refused:?}"
    );
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.status, InvitationStatus::Pending);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 0);
    f.host
        .set_certified(&f.world.acme.id, true)
        .await
        .expect("certify again");
    f.store
        .accept_token(&token.digest(), &f.world.bob, &f.now)
        .await
        .expect("accept once certified");
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
}

/// Rules A4, A9, B1 decided inside the store's one transaction ([`Answer`]): an answer by
/// someone who is not the addressee (`account_mismatch` by token, `not_found` by id) and
/// an accept of a role the service no longer gives (`role_not_assignable`) change
/// nothing: the invitation stays pending, no membership, no event; then the addressee's
/// accept, with the role allowed again, goes through, judged and recorded at the clock's
/// one instant.
pub async fn refused_answers_leave_everything_as_it_was<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let w = &f.world;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let digest = token.digest();
    let mismatch = f.store.accept_token(&digest, &w.mallory, &f.now).await;
    assert!(
        matches!(mismatch, Err(StoreError::AccountMismatch)),
        "{mismatch:?}"
    );
    let mismatch = f.store.reject_token(&digest, &w.mallory, &f.now).await;
    assert!(
        matches!(mismatch, Err(StoreError::AccountMismatch)),
        "{mismatch:?}"
    );
    let not_theirs = f.store.accept_mine(inv.id, &w.mallory, &f.now).await;
    assert!(matches!(not_theirs, Err(StoreError::NotFound)), "{not_theirs:?}");
    let not_theirs = f.store.reject_mine(inv.id, &w.mallory, &f.now).await;
    assert!(matches!(not_theirs, Err(StoreError::NotFound)), "{not_theirs:?}");

    let members_only = RolePolicy::new([Role::Member]);
    for target in [Target::Token(&digest), Target::Mine(inv.id)] {
        let answer = Answer::new(target, &w.bob, &f.now).roles(&members_only);
        let refused = f.store.accept(&answer).await;
        assert!(
            matches!(refused, Err(StoreError::RoleNotAssignable)),
            "{refused:?}"
        );
    }

    let stored = f
        .store
        .get(&w.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored, inv, "a refused answer changes nothing");
    assert_eq!(f.membership_count(&w.bob.id).await, 0);
    assert_eq!(f.membership_count(&w.mallory.id).await, 0);
    let events = f.store.events(&w.acme.id, inv.id).await.expect("events");
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventKind::Sent]
    );

    let later = f.now + TimeDelta::seconds(5);
    let every_role = RolePolicy::new(Role::ALL);
    let answer = Answer::new(Target::Token(&digest), &w.bob, &later).roles(&every_role);
    let accepted = f.store.accept(&answer).await.expect("accept");
    assert_eq!(accepted.invitation.responded_at, Some(later));
    assert_eq!(accepted.enterprise, w.acme);
    assert_eq!(accepted.role, inv.role);
    assert_eq!(
        f.store.role_of(&w.acme.id, &w.bob.id).await.expect("role"),
        Some(inv.role)
    );
}
