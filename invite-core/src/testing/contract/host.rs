//! The host's directory (rules H1, H2, H4, H7): reads, a failing membership insert, a
//! membership the host inserts itself, and the races over two stores on one database.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The directory port reads the host's data: enterprises with their certified flag and
/// roles by (enterprise, user), the library's role names whatever the host calls them
/// (rules H1, H4).
pub async fn directory_reads_the_host<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let w = &f.world;
    assert_eq!(
        f.store.enterprise(&w.unverified.id).await.expect("enterprise"),
        Some(w.unverified.clone())
    );
    assert_eq!(
        f.store.role_of(&w.acme.id, &w.alice.id).await.expect("role"),
        Some(Role::SuperAdmin)
    );
    assert_eq!(
        f.store.role_of(&w.globex.id, &w.alice.id).await.expect("role"),
        None
    );
    f.host
        .insert_member(&w.acme.id, &w.carol, Role::FinanceAdmin)
        .await
        .expect("insert carol");
    assert_eq!(
        f.store.role_of(&w.acme.id, &w.carol.id).await.expect("role"),
        Some(Role::FinanceAdmin)
    );
    f.host
        .set_certified(&w.acme.id, false)
        .await
        .expect("set certified");
    let acme = f.store.enterprise(&w.acme.id).await.expect("enterprise");
    assert_eq!(acme.map(|e| e.certified), Some(false));
}

/// Rules H2, X7: when the host's membership insert fails, the accept fails as a whole:
/// the invitation stays pending, no membership and no `accepted` event are written, and
/// the same link works once the fault is gone.
pub async fn failing_member_insert_leaves_the_invitation_pending<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    f.host.fail_member_inserts(true).await.expect("break the insert");
    let failed = f.store.accept_token(&token.digest(), &f.world.bob, &f.now).await;
    assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.status, InvitationStatus::Pending);
    assert_eq!(stored.responded_at, None);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 0);
    let kinds: Vec<EventKind> = f
        .store
        .events(&f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent]);
    f.host.fail_member_inserts(false).await.expect("mend the insert");
    f.store
        .accept_token(&token.digest(), &f.world.bob, &f.now)
        .await
        .expect("the same link works after the fault");
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(Role::DevAdmin)
    );
}

/// Rule H7: a membership the host inserts by itself while an invitation is pending makes
/// the accept `already_member` and leaves the invitation pending and the host's role
/// unchanged.
pub async fn host_inserted_member_makes_accept_already_member<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    f.host
        .insert_member(&f.world.acme.id, &f.world.bob, Role::Member)
        .await
        .expect("host inserts bob");
    let answer = f.store.accept_token(&token.digest(), &f.world.bob, &f.now).await;
    assert!(matches!(answer, Err(StoreError::AlreadyMember)), "{answer:?}");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.status, InvitationStatus::Pending);
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(Role::Member)
    );
}

pub(crate) fn pending_query() -> ListQuery {
    ListQuery {
        status: Some(InvitationStatus::Pending),
        limit: 100,
        after: None,
    }
}

/// Rules A5, A6, H2 across processes: 32 accepts of one token spread over two stores on one
/// database (two pools, as two server processes have): exactly one wins, exactly one
/// membership and one `accepted` event exist.
pub async fn two_stores_accept_one_winner<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let stores = [f.store.clone(), f.peer.clone()];
    let wins = race_accepts(&stores, token.digest(), &f.world.bob, f.now, 32).await;
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

/// Rule S7 across processes: 16 sends to one contact (spelled two ways) spread over two
/// stores on one database make exactly one pending invitation.
pub async fn two_stores_send_one_pending<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let stores = [f.store.clone(), f.peer.clone()];
    let contacts = ["carol@example.com", "Carol@EXAMPLE.com"];
    let created = race_sends(&f, &stores, &contacts, 16).await;
    assert_eq!(created, 1);
    let pending = f
        .peer
        .list(&f.world.acme.id, &pending_query(), f.now)
        .await
        .expect("list");
    assert_eq!(pending.len(), 1);
}

/// Rules S7, H2: a send racing an accept of the same contact (on the other store) never
/// leaves a pending invitation to a member: the member check reads the host's table in
/// the send's own transaction, under the enterprise's lock.
pub async fn send_racing_accept_never_invites_a_member<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    for round in 0..8 {
        let contact = format!("racer{round}@example.com");
        let parsed = crate::testing::host::contact(&contact).expect("contact");
        let user = f
            .host
            .create_user(&format!("Racer {round}"), &parsed)
            .await
            .expect("user");
        let (first, token) = f.send(&contact, f.now).await;
        let accept = {
            let store = f.store.clone();
            let user = user.clone();
            let digest = token.digest();
            let now = f.now;
            tokio::spawn(async move { store.accept_token(&digest, &user, &now).await })
        };
        let send = {
            let (new, _) = f.invitation(&contact, Role::Member, f.now);
            let store = f.peer.clone();
            tokio::spawn(async move { store.create(new).await })
        };
        let accepted = accept.await.expect("task");
        let sent = send.await.expect("task");
        assert!(accepted.is_ok(), "accept: {accepted:?}");
        match sent {
            // The pending first invitation was still there, or the member already was.
            Err(StoreError::DuplicatePending | StoreError::AlreadyMember) => {}
            Ok(second) => panic!(
                "a second pending invitation {:?} was made beside {:?} for a contact that joined",
                second.id, first.id
            ),
            Err(other) => panic!("unexpected outcome of the send: {other:?}"),
        }
        let pending = f
            .peer
            .list(&f.world.acme.id, &pending_query(), f.now)
            .await
            .expect("list");
        assert!(
            pending.iter().all(|i| i.contact.normalized() != contact),
            "a pending invitation to a member"
        );
    }
}
