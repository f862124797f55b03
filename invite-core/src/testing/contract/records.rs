//! The records table, revoke and resend (rules R1–R3).

#[allow(clippy::wildcard_imports)]
use super::*;

/// rule R1: newest first; pages continue exactly after the cursor, with ties on `sent_at`
/// broken by id.
pub async fn list_is_newest_first_with_keyset_pages<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let mut sent = Vec::new();
    for i in 0..7_i64 {
        // Two invitations share each second, to exercise the id tie-break.
        let (inv, _) = f
            .send(&format!("user{i}@example.com"), f.now + TimeDelta::seconds(i / 2))
            .await;
        sent.push(inv);
    }
    sent.sort_by_key(|i| std::cmp::Reverse((i.sent_at, i.id)));
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let query = ListQuery {
            status: None,
            limit: 3,
            after,
        };
        let page = f.store.list(&f.world.acme.id, &query, f.now).await.expect("list");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(Cursor::after(last));
        seen.extend(page);
    }
    assert_eq!(seen, sent);
}

/// rules §1, R1: the status filter reads the derived status, so an unswept pending row past
/// its expiry lists as `expired`, not `pending`.
pub async fn list_filters_by_derived_status<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (stale, _) = f.send("old@example.com", f.now - TimeDelta::days(2)).await;
    let (live, _) = f.send("new@example.com", f.now).await;
    let (gone, _) = f.send("gone@example.com", f.now).await;
    f.store
        .revoke(&f.world.acme.id, gone.id, &f.world.alice.id, &f.now)
        .await
        .expect("revoke");
    let ids = |status| {
        let store = f.store.clone();
        let acme = &f.world.acme.id;
        let now = f.now;
        async move {
            let query = ListQuery {
                status: Some(status),
                limit: 10,
                after: None,
            };
            store
                .list(acme, &query, now)
                .await
                .expect("list")
                .into_iter()
                .map(|i| i.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(InvitationStatus::Pending).await, vec![live.id]);
    assert_eq!(ids(InvitationStatus::Expired).await, vec![stale.id]);
    assert_eq!(ids(InvitationStatus::Revoked).await, vec![gone.id]);
    assert_eq!(ids(InvitationStatus::Accepted).await, Vec::<InvitationId>::new());
}

/// rule R2: revoke works on a pending invitation only, and the link dies at once.
pub async fn revoke_only_pending<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let alice = &f.world.alice.id;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let revoked = f.store.revoke(acme, inv.id, alice, &f.now).await.expect("revoke");
    assert_eq!(revoked.status, InvitationStatus::Revoked);
    assert_eq!(revoked.revoked_by.as_ref(), Some(alice));
    assert_eq!(revoked.revoked_at, Some(f.now));
    let again = f.store.revoke(acme, inv.id, alice, &f.now).await;
    assert!(matches!(
        again,
        Err(StoreError::Transition(TransitionError::NotPending(
            InvitationStatus::Revoked
        )))
    ));
    let accept = f.store.accept_token(&token.digest(), &f.world.bob, &f.now).await;
    assert!(matches!(
        accept,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    let (old, _) = f.send("carol@example.com", f.now).await;
    let expired = f.store.revoke(acme, old.id, alice, &old.expires_at).await;
    assert!(matches!(
        expired,
        Err(StoreError::Transition(TransitionError::NotPending(
            InvitationStatus::Expired
        )))
    ));
    let missing = f.store.revoke(acme, InvitationId::new(), alice, &f.now).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

/// rule R3: resend gives a pending or expired invitation a new token and expiry; the old
/// link stops working at once; answered invitations cannot be resent.
pub async fn resend_rotates_the_token<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let alice = &f.world.alice.id;
    let (inv, old_token) = f.send("bob@example.com", f.now).await;
    let later = inv.expires_at + TimeDelta::hours(1);
    let new_token = InviteToken::generate();
    let resent = f
        .store
        .resend(
            acme,
            inv.id,
            alice,
            new_token.digest(),
            later + TimeDelta::days(1),
            later,
        )
        .await
        .expect("resend an expired invitation");
    assert_eq!(resent.status_at(later), InvitationStatus::Pending);
    assert_eq!(resent.expires_at, later + TimeDelta::days(1));
    assert_eq!(resent.last_sent_at, later);
    assert_eq!(resent.sent_at, inv.sent_at);
    assert_eq!(resent.delivery, DeliveryStatus::Queued);
    assert_eq!(
        f.store.find_by_digest(&old_token.digest()).await.expect("find"),
        None
    );
    let found = f.store.find_by_digest(&new_token.digest()).await.expect("find");
    assert_eq!(found.map(|i| i.id), Some(inv.id));
    f.store
        .accept_token(&new_token.digest(), &f.world.bob, &later)
        .await
        .expect("accept with the new token");
    let after = f
        .store
        .resend(
            acme,
            inv.id,
            alice,
            InviteToken::generate().digest(),
            later,
            later,
        )
        .await;
    assert!(matches!(
        after,
        Err(StoreError::Transition(TransitionError::NotPending(
            InvitationStatus::Accepted
        )))
    ));
}

/// rule S7, R3: reviving an expired invitation must not make a second pending one.
pub async fn resend_refuses_a_second_pending<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (old, _) = f.send("bob@example.com", f.now).await;
    let later = old.expires_at;
    let (newer, _) = f.send("bob@example.com", later).await;
    let digest = InviteToken::generate().digest();
    let resent = f
        .store
        .resend(
            &f.world.acme.id,
            old.id,
            &f.world.alice.id,
            digest,
            later + TimeDelta::days(1),
            later,
        )
        .await;
    assert!(matches!(resent, Err(StoreError::DuplicatePending)));
    let kept = f
        .store
        .get(&f.world.acme.id, newer.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(kept.status_at(later), InvitationStatus::Pending);
}
