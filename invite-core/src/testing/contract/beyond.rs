//! Beyond the guide: the invitee's own pending invitations, and answers by id (rule B1);
//! the rows of a bulk send (rule B2).

#[allow(clippy::wildcard_imports)]
use super::*;

impl<S: InvitationStore + Directory> Fixture<S> {
    /// An invitation as [`Fixture::invitation`], but from `enterprise`'s super admin.
    fn invitation_from(
        &self,
        enterprise: &crate::account::Enterprise,
        inviter: &User,
        contact: &str,
        at: DateTime<Utc>,
    ) -> (NewInvitation, InviteToken) {
        let (mut new, token) = self.invitation(contact, Role::Member, at);
        new.enterprise_id = enterprise.id.clone();
        new.invited_by = Inviter {
            user_id: inviter.id.clone(),
            name: inviter.name.clone(),
        };
        (new, token)
    }
}

/// Rule B1: `pending_for` answers the pending, unexpired invitations to the given contacts
/// (compared normalized, any spelling), across enterprises, soonest expiry first — and
/// nothing else: not another contact's, not an expired, answered or revoked one.
pub async fn pending_for_reads_the_contacts_pending_invitations<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let w = &f.world;
    // Globex's, sent later, expires later.
    let later = f.now + TimeDelta::minutes(5);
    let (globex_new, _) = f.invitation_from(&w.globex, &w.grace, "BOB@example.com", later);
    let globex = f.store.create(globex_new).await.expect("globex");
    let (acme, _) = f.send(" Bob@Example.com ", f.now).await;
    // Not Bob's, or not pending at `now`.
    f.send("mallory@example.com", f.now).await;
    let (old_new, _) = f.invitation_from(
        &w.unverified,
        &w.uma,
        "bob@example.com",
        f.now - TimeDelta::days(2),
    );
    f.store.create(old_new).await.expect("expired one");
    let (_, phone_token) = f.send("+1 415 555 0100", f.now).await;
    let contacts = w.bob.verified_contacts();
    let mine = f.store.pending_for(&contacts, f.now).await.expect("pending_for");
    let ids: Vec<InvitationId> = mine.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![acme.id, globex.id], "soonest expiry first");
    assert_eq!(mine[1].enterprise_id, w.globex.id);
    assert_eq!(mine[1].invited_by.name, w.grace.name);
    // Carol's phone, in any spelling; answered invitations drop out.
    let carol = f
        .store
        .pending_for(&w.carol.verified_contacts(), f.now)
        .await
        .expect("pending_for");
    assert_eq!(carol.len(), 1);
    f.store
        .reject_token(&phone_token.digest(), &w.carol, &f.now)
        .await
        .expect("reject");
    let carol = f
        .store
        .pending_for(&w.carol.verified_contacts(), f.now)
        .await
        .expect("pending_for");
    assert!(carol.is_empty());
    // At Acme's expiry only Globex's is left; no contacts, nothing.
    let at_expiry = f
        .store
        .pending_for(&contacts, acme.expires_at)
        .await
        .expect("pending_for");
    assert_eq!(
        at_expiry.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![globex.id]
    );
    f.store
        .revoke(&w.globex.id, globex.id, &w.grace.id, &f.now)
        .await
        .expect("revoke");
    let after_revoke = f.store.pending_for(&contacts, f.now).await.expect("pending_for");
    assert_eq!(
        after_revoke.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![acme.id]
    );
    assert!(
        f.store
            .pending_for(&[], f.now)
            .await
            .expect("pending_for")
            .is_empty()
    );
    // `find_by_id` reads any enterprise's invitation.
    let found = f.store.find_by_id(globex.id).await.expect("find_by_id");
    assert_eq!(found.map(|i| i.enterprise_id), Some(w.globex.id.clone()));
    assert_eq!(
        f.store.find_by_id(InvitationId::new()).await.expect("find_by_id"),
        None
    );
}

/// Rules B1, A5, A6, H2: accept by id makes the member with the invited role and an
/// `accepted` event, once; afterwards both answers by id (and by token) are refused.
pub async fn accept_by_id_makes_a_member_once<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let accepted = f
        .store
        .accept_mine(inv.id, &f.world.bob, &f.now)
        .await
        .expect("accept by id");
    assert_eq!(accepted.invitation.status, InvitationStatus::Accepted);
    assert_eq!(accepted.invitation.responded_by.as_ref(), Some(&f.world.bob.id));
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(inv.role)
    );
    let twice = f.store.accept_mine(inv.id, &f.world.bob, &f.now).await;
    assert!(matches!(
        twice,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    let reject = f.store.reject_mine(inv.id, &f.world.bob, &f.now).await;
    assert!(matches!(
        reject,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    let by_token = f.store.accept_token(&token.digest(), &f.world.bob, &f.now).await;
    assert!(matches!(
        by_token,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    let kinds: Vec<EventKind> = f
        .store
        .events(&f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent, EventKind::Accepted]);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
}

/// Rules B1, A1, A6, A8, H2, H7: by id, the same refusals as by token — expired and
/// revoked are `invalid_or_expired`, an existing member is `already_member` with nothing
/// changed, a failing membership insert rolls the accept back — and an unknown id is
/// `not_found`.
pub async fn answer_by_id_refuses_as_by_token<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let w = &f.world;
    let unknown = f.store.accept_mine(InvitationId::new(), &w.bob, &f.now).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    let unknown = f.store.reject_mine(InvitationId::new(), &w.bob, &f.now).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");

    let (inv, _) = f.send("bob@example.com", f.now).await;
    let at_expiry = f.store.accept_mine(inv.id, &w.bob, &inv.expires_at).await;
    assert!(matches!(
        at_expiry,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    let at_expiry = f.store.reject_mine(inv.id, &w.bob, &inv.expires_at).await;
    assert!(matches!(
        at_expiry,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));

    // A failing membership insert: nothing changes, and the id works once mended.
    f.host.fail_member_inserts(true).await.expect("break the insert");
    let failed = f.store.accept_mine(inv.id, &w.bob, &f.now).await;
    assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
    f.host.fail_member_inserts(false).await.expect("mend the insert");
    let stored = f.store.find_by_id(inv.id).await.expect("find").expect("exists");
    assert_eq!(stored.status, InvitationStatus::Pending);

    // A member already (the host inserted it): `already_member`, nothing changes.
    f.host
        .insert_member(&w.acme.id, &w.bob, Role::Member)
        .await
        .expect("host inserts bob");
    let member = f.store.accept_mine(inv.id, &w.bob, &f.now).await;
    assert!(matches!(member, Err(StoreError::AlreadyMember)), "{member:?}");
    let stored = f.store.find_by_id(inv.id).await.expect("find").expect("exists");
    assert_eq!(stored.status, InvitationStatus::Pending);
    assert_eq!(
        f.store.role_of(&w.acme.id, &w.bob.id).await.expect("role"),
        Some(Role::Member)
    );

    // Revoked: `invalid_or_expired`.
    let (carol_inv, _) = f.send("+14155550100", f.now).await;
    f.store
        .revoke(&w.acme.id, carol_inv.id, &w.alice.id, &f.now)
        .await
        .expect("revoke");
    let revoked = f.store.accept_mine(carol_inv.id, &w.carol, &f.now).await;
    assert!(matches!(
        revoked,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    assert_eq!(f.membership_count(&w.carol.id).await, 0);
}

/// Rules B1, A7: reject by id marks the invitation rejected with a `rejected` event and
/// makes no member; then accept (by id or token) is `already_rejected`.
pub async fn reject_by_id_makes_no_member<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let rejected = f
        .store
        .reject_mine(inv.id, &f.world.bob, &f.now)
        .await
        .expect("reject by id");
    assert_eq!(rejected.status, InvitationStatus::Rejected);
    assert_eq!(rejected.responded_at, Some(f.now));
    assert_eq!(f.membership_count(&f.world.bob.id).await, 0);
    for accept in [
        f.store.accept_mine(inv.id, &f.world.bob, &f.now).await,
        f.store.accept_token(&token.digest(), &f.world.bob, &f.now).await,
    ] {
        assert!(matches!(
            accept,
            Err(StoreError::Transition(TransitionError::AlreadyRejected))
        ));
    }
    let kinds: Vec<EventKind> = f
        .store
        .events(&f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent, EventKind::Rejected]);
}

/// Rules B1, A6, H2 across processes: 32 accepts of one invitation, half by id and half by
/// token, spread over two stores on one database: exactly one wins, one membership and one
/// `accepted` event exist.
pub async fn two_stores_accept_by_id_and_token_one_winner<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let digest = token.digest();
    let stores = [f.store.clone(), f.peer.clone()];
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = stores[i % 2].clone();
            let user = f.world.bob.clone();
            let (now, id) = (f.now, inv.id);
            tokio::spawn(async move {
                if i % 4 < 2 {
                    store.accept_mine(id, &user, &now).await
                } else {
                    store.accept_token(&digest, &user, &now).await
                }
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => wins += 1,
            Err(StoreError::Transition(TransitionError::AlreadyAccepted)) => {}
            Err(other) => panic!("unexpected outcome of a concurrent accept: {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
    let accepted = f
        .peer
        .events(&f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::Accepted)
        .count();
    assert_eq!(accepted, 1);
}

/// Rules B2, S7, D1: `create_many` decides each row in order as `create` would, with its
/// own answer: a member's contact, a contact with a pending invitation and the same
/// contact twice in one call are refused without writing anything of the row (no
/// invitation, no event, no delivery request) and without stopping the rows after them;
/// each stored row has its `sent` event and, when given, its queued delivery. Rows of
/// two enterprises in one call are fine.
pub async fn create_many_decides_each_row_in_order<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let w = &f.world;
    let (dave, _) = f.send("dave@example.com", f.now).await;
    let queued = |contact: &str| {
        let (invitation, token) = f.invitation(contact, Role::Member, f.now);
        let delivery = Some(Fixture::<S>::delivery_of(&invitation, &token));
        NewRow { invitation, delivery }
    };
    let inline = |contact: &str| NewRow {
        invitation: f.invitation(contact, Role::Member, f.now).0,
        delivery: None,
    };
    let (globex_new, globex_token) = f.invitation_from(&w.globex, &w.grace, "bob@example.com", f.now);
    let globex_delivery = Fixture::<S>::delivery_of(&globex_new, &globex_token);
    let rows = vec![
        queued("bob@example.com"),
        queued("alice@example.com"),
        queued("DAVE@example.com"),
        inline("erin@example.com"),
        queued(" Bob@Example.com "),
        NewRow {
            invitation: globex_new,
            delivery: Some(globex_delivery.clone()),
        },
    ];
    let sent: Vec<(InvitationId, Option<DeliveryId>)> = rows
        .iter()
        .map(|row| (row.invitation.id, row.delivery.as_ref().map(|d| d.id)))
        .collect();
    let results = f.store.create_many(rows).await.expect("create_many");
    let outcome: Vec<&str> = results
        .iter()
        .map(|r| match r {
            Ok(_) => "ok",
            Err(StoreError::AlreadyMember) => "already_member",
            Err(StoreError::DuplicatePending) => "duplicate_pending",
            Err(_) => "other",
        })
        .collect();
    assert_eq!(
        outcome,
        [
            "ok",
            "already_member",
            "duplicate_pending",
            "ok",
            "duplicate_pending",
            "ok"
        ]
    );
    for (result, (id, delivery)) in results.iter().zip(&sent) {
        let enterprise = match result {
            Ok(invitation) => &invitation.enterprise_id,
            Err(_) => &w.acme.id,
        };
        let stored = f.store.get(enterprise, *id).await.expect("get");
        let events = f.store.events(enterprise, *id).await.expect("events");
        let queued = match delivery {
            Some(delivery) => f.store.delivery(*delivery).await.expect("delivery"),
            None => None,
        };
        match result {
            Ok(invitation) => {
                assert_eq!(stored.as_ref(), Some(invitation), "stored as answered");
                assert_eq!(invitation.status, InvitationStatus::Pending);
                assert_eq!(
                    events.iter().map(|e| e.kind).collect::<Vec<_>>(),
                    [EventKind::Sent]
                );
                assert_eq!(queued.is_some(), delivery.is_some(), "queued with its row");
            }
            Err(_) => {
                assert_eq!(stored, None, "a refused row is not stored");
                assert!(events.is_empty(), "a refused row has no event");
                assert_eq!(queued, None, "a refused row queues nothing");
            }
        }
    }
    // The pending invitation that refused row 3 is untouched.
    let dave_now = f.store.get(&w.acme.id, dave.id).await.expect("get");
    assert_eq!(dave_now, Some(dave));
    // Two deliveries queued: Bob's at Acme and at Globex; Erin's was inline.
    let claimed = f
        .store
        .claim_deliveries(f.now, std::time::Duration::from_secs(60), 10)
        .await
        .expect("claim");
    let mut claimed: Vec<DeliveryId> = claimed.iter().map(|c| c.id).collect();
    let mut expected = vec![sent[0].1.expect("queued"), globex_delivery.id];
    claimed.sort_by_key(|id| id.as_uuid());
    expected.sort_by_key(|id| id.as_uuid());
    assert_eq!(claimed, expected);
    assert_eq!(f.store.create_many(Vec::new()).await.expect("no rows").len(), 0);
}

/// Rules B2, S7, H2: two bulk sends at once, on the two stores, over the same contacts of
/// two enterprises listed in opposite orders, never deadlock and leave one pending
/// invitation per contact: the store takes its enterprises' locks in one order whatever
/// the rows' order. Each contact is stored by exactly one of the two calls and refused
/// as `duplicate_pending` by the other.
pub async fn two_stores_bulk_sends_one_pending_each<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let w = &f.world;
    for round in 0..6 {
        let contacts = [
            (&w.acme, &w.alice, format!("a{round}@example.com")),
            (&w.globex, &w.grace, format!("g{round}@example.com")),
            (&w.acme, &w.alice, format!("b{round}@example.com")),
        ];
        let rows = |order: &[usize]| -> Vec<NewRow> {
            order
                .iter()
                .map(|&i| {
                    let (enterprise, inviter, contact) = &contacts[i];
                    NewRow {
                        invitation: f.invitation_from(enterprise, inviter, contact, f.now).0,
                        delivery: None,
                    }
                })
                .collect()
        };
        let (one, other) = (rows(&[0, 1, 2]), rows(&[1, 2, 0]));
        let (store, peer) = (f.store.clone(), f.peer.clone());
        let first = tokio::spawn(async move { store.create_many(one).await });
        let second = tokio::spawn(async move { peer.create_many(other).await });
        let deadline = std::time::Duration::from_secs(30);
        let first = tokio::time::timeout(deadline, first).await.expect("no deadlock");
        let second = tokio::time::timeout(deadline, second).await.expect("no deadlock");
        let first = first.expect("task").expect("first bulk");
        let second = second.expect("task").expect("second bulk");
        // Row i of `first` is contact i; row j of `second` is contact [1, 2, 0][j].
        let stored_by_second = |i: usize| match i {
            0 => &second[2],
            1 => &second[0],
            _ => &second[1],
        };
        for (i, (enterprise, _, contact)) in contacts.iter().enumerate() {
            let outcomes = [&first[i], stored_by_second(i)];
            let stored = outcomes.iter().filter(|r| r.is_ok()).count();
            let refused = outcomes
                .iter()
                .filter(|r| matches!(r, Err(StoreError::DuplicatePending)))
                .count();
            assert_eq!(
                (stored, refused),
                (1, 1),
                "round {round}, {contact}: {outcomes:?}"
            );
            let pending = f
                .store
                .list(&enterprise.id, &pending_query(), f.now)
                .await
                .expect("list");
            let to_contact = pending
                .iter()
                .filter(|inv| inv.contact.normalized() == contact.as_str())
                .count();
            assert_eq!(to_contact, 1, "round {round}, {contact}");
        }
    }
}
