//! The self-contained layout's accounts (rule H6); not part of the macro's list.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The self-contained layout's accounts read back what was written: users by contact,
/// members, memberships (rule H6).
///
/// Not part of [`store_contract_suite!`](crate::store_contract_suite): only stores of the
/// self-contained layout ([`Accounts`]) have these.
pub async fn accounts_round_trips<A: Accounts>(accounts: Arc<A>) {
    let host = Arc::new(crate::testing::AccountsFixture::new(accounts.clone()));
    let world = seed::demo(&*host).await.expect("seed");
    let w = &world;
    let f = AccountsCase { store: accounts };
    assert_eq!(
        f.store.enterprise(&w.unverified.id).await.expect("enterprise"),
        Some(w.unverified.clone())
    );
    assert_eq!(
        f.store.user(&w.carol.id).await.expect("user"),
        Some(w.carol.clone())
    );
    let by_phone = ContactPolicy::default().parse("+1 415 555 0100").expect("phone");
    assert_eq!(
        f.store.find_user(&by_phone).await.expect("find"),
        Some(w.carol.clone())
    );
    let by_email = ContactPolicy::default()
        .parse("MALLORY@example.com")
        .expect("email");
    assert_eq!(
        f.store.find_user(&by_email).await.expect("find"),
        Some(w.mallory.clone())
    );
    assert_eq!(
        f.store.role_of(&w.acme.id, &w.alice.id).await.expect("role"),
        Some(Role::SuperAdmin)
    );
    assert_eq!(
        f.store.role_of(&w.globex.id, &w.alice.id).await.expect("role"),
        None
    );
    let dup = f.store.add_member(&w.acme.id, &w.alice.id, Role::Member).await;
    assert!(matches!(dup, Err(StoreError::AlreadyMember)));
    f.store
        .add_member(&w.acme.id, &w.bob.id, Role::Member)
        .await
        .expect("add bob");
    let members: Vec<(String, Role)> = f
        .store
        .members(&w.acme.id)
        .await
        .expect("members")
        .into_iter()
        .map(|m| (m.user.name, m.role))
        .collect();
    assert_eq!(
        members,
        vec![
            ("Alice Admin".to_owned(), Role::SuperAdmin),
            ("Bob Builder".to_owned(), Role::Member)
        ]
    );
    let renamed = User {
        name: "Robert Builder".into(),
        ..w.bob.clone()
    };
    f.store.save_user(&renamed).await.expect("update");
    let stored = f.store.user(&w.bob.id).await.expect("user");
    // The update really changed something (a save of the unchanged user would pass the
    // equality below: found by cargo-mutants).
    assert_eq!(stored.as_ref().map(|u| u.name.as_str()), Some("Robert Builder"));
    assert_eq!(stored, Some(renamed));
    let memberships = f.store.memberships(&w.alice.id).await.expect("memberships");
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].enterprise, w.acme);
    assert_eq!(memberships[0].role, Role::SuperAdmin);
}

struct AccountsCase<A> {
    store: Arc<A>,
}

// --- the delivery outbox (rules D1–D4) ----------------------------------------------------
