//! Sending (rules S1–S8) and tenant isolation (rule X3).

#[allow(clippy::wildcard_imports)]
use super::*;

/// What `create` writes is what `get` and `find_by_digest` read (rules §1, X1).
pub async fn create_round_trips<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (new, token) = f.invitation(" Bob@Example.com ", Role::FinanceAdmin, f.now);
    let created = f.store.create(new.clone()).await.expect("create");
    assert_eq!(created, new.into_invitation());
    let by_id = f.store.get(&f.world.acme.id, created.id).await.expect("get");
    assert_eq!(by_id.as_ref(), Some(&created));
    let by_digest = f.store.find_by_digest(&token.digest()).await.expect("find");
    assert_eq!(by_digest.as_ref(), Some(&created));
    assert_eq!(created.contact.entered(), "Bob@Example.com");
    assert_eq!(created.contact.normalized(), "bob@example.com");
    let unknown = f
        .store
        .find_by_digest(&InviteToken::generate().digest())
        .await
        .expect("find");
    assert_eq!(unknown, None);
}

/// rule S7: one pending invitation per (enterprise, contact), by normalized contact; other
/// enterprises are not affected.
pub async fn duplicate_pending_is_refused<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    f.send("bob@example.com", f.now).await;
    let (again, _) = f.invitation("BOB@EXAMPLE.COM", Role::Member, f.now + TimeDelta::seconds(1));
    assert!(matches!(
        f.store.create(again).await,
        Err(StoreError::DuplicatePending)
    ));
    let (mut globex, _) = f.invitation("bob@example.com", Role::Member, f.now);
    globex.enterprise_id = f.world.globex.id.clone();
    f.store
        .create(globex)
        .await
        .expect("another enterprise may invite the same contact");
}

/// rule S7, §1: a pending invitation past its expiry never blocks a new one, swept or not.
pub async fn expired_pending_never_blocks<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (old, _) = f.send("bob@example.com", f.now).await;
    let later = old.expires_at;
    let (new, _) = f.invitation("bob@example.com", Role::Member, later);
    let created = f.store.create(new).await.expect("expired pending does not block");
    let old_now = f
        .store
        .get(&f.world.acme.id, old.id)
        .await
        .expect("get")
        .expect("still there");
    assert_eq!(old_now.status_at(later), InvitationStatus::Expired);
    assert_eq!(created.status_at(later), InvitationStatus::Pending);
}

/// rule S7: a contact that belongs to a member gets `already_member`, by normalized forms.
pub async fn already_member_is_refused<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (new, _) = f.invitation("ALICE@example.com", Role::Member, f.now);
    assert!(matches!(
        f.store.create(new).await,
        Err(StoreError::AlreadyMember)
    ));
    f.host
        .insert_member(&f.world.acme.id, &f.world.carol, Role::Member)
        .await
        .expect("add carol");
    let (by_phone, _) = f.invitation("+1 (415) 555-0100", Role::Member, f.now);
    assert!(matches!(
        f.store.create(by_phone).await,
        Err(StoreError::AlreadyMember)
    ));
}

/// rule X3: an invitation id is only reachable under its own enterprise.
pub async fn tenant_isolation<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, _) = f.send("bob@example.com", f.now).await;
    let globex = &f.world.globex.id;
    assert_eq!(f.store.get(globex, inv.id).await.expect("get"), None);
    assert!(matches!(
        f.store.revoke(globex, inv.id, &f.world.grace.id, &f.now).await,
        Err(StoreError::NotFound)
    ));
    let digest = InviteToken::generate().digest();
    let resent = f
        .store
        .resend(
            globex,
            inv.id,
            &f.world.grace.id,
            digest,
            f.now + TimeDelta::days(1),
            f.now,
        )
        .await;
    assert!(matches!(resent, Err(StoreError::NotFound)));
    assert!(matches!(f.store.events(globex, inv.id).await.as_deref(), Ok([])));
    let query = ListQuery {
        status: None,
        limit: 10,
        after: None,
    };
    assert!(
        f.store
            .list(globex, &query, f.now)
            .await
            .expect("list")
            .is_empty()
    );
    let still = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(still.status, InvitationStatus::Pending);
}
