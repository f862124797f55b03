//! What the in-memory store (feature `memory`) does beyond the contract suite, found by
//! cargo-mutants (issue #12): it reports the key kinds it was made with and makes keys of
//! those kinds (rule H3; the contract suite ran over an integer-keyed store without ever
//! asking it its kinds), and it counts an inline delivery's attempt (rule S8).

use invite_core::{Directory, KeyKind, KeyKinds, MemoryStore};

#[test]
fn a_memory_store_reports_the_key_kinds_it_was_made_with() {
    // rule H3
    let mixed = KeyKinds {
        enterprise: KeyKind::Int,
        user: KeyKind::Text,
    };
    assert_eq!(MemoryStore::with_key_kinds(mixed).key_kinds(), mixed);
    let ints = KeyKinds::both(KeyKind::Int);
    assert_eq!(MemoryStore::with_key_kinds(ints).key_kinds(), ints);
    // The self-contained layout's kind, UUIDs, when nothing is said.
    assert_eq!(MemoryStore::default().key_kinds(), KeyKinds::both(KeyKind::Uuid));
}

#[tokio::test]
async fn a_memory_store_makes_keys_of_its_kinds_like_a_hosts_serial_ids() {
    // rule H3: a host-shaped memory store hands out the host's kind of key (integers
    // from 1, as a serial column does; text), every one distinct; UUIDs by default
    use invite_core::Key;
    use invite_core::testing::seed;

    let mixed = KeyKinds {
        enterprise: KeyKind::Int,
        user: KeyKind::Text,
    };
    let world = seed::demo(&MemoryStore::with_key_kinds(mixed)).await.unwrap();
    let enterprises = [&world.acme, &world.globex, &world.unverified].map(|e| e.id.key().clone());
    let users = [&world.alice, &world.bob, &world.carol, &world.mallory].map(|u| u.id.key().clone());
    for key in &enterprises {
        assert!(matches!(key, Key::Int(n) if *n >= 1), "{key:?}");
    }
    for key in &users {
        assert!(matches!(key, Key::Text(_)), "{key:?}");
    }
    let mut all: Vec<String> = enterprises
        .iter()
        .chain(&users)
        .map(|k| k.canonical().into_owned())
        .collect();
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "keys repeat: {all:?}");

    let world = seed::demo(&MemoryStore::default()).await.unwrap();
    assert!(matches!(world.acme.id.key(), Key::Uuid(_)));
    assert!(matches!(world.bob.id.key(), Key::Uuid(_)));
}

#[tokio::test]
async fn an_inline_delivery_is_stored_with_its_one_attempt() {
    // rule S8, D1: a send delivered inline records `delivered` after one attempt
    use invite_core::testing::{RecordingNotifier, seed};
    use invite_core::{DeliveryStatus, InvitationStore, Invitations, SendInvitation};
    use std::sync::Arc;

    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.unwrap();
    let invitations = Invitations::builder(store.clone())
        .notifier(Arc::new(RecordingNotifier::default()))
        .build();
    let sent = invitations
        .send(
            &world.alice,
            &world.acme.id,
            SendInvitation::new("bob@example.com", "member"),
        )
        .await
        .unwrap();
    let stored = store
        .get(&world.acme.id, sent.invitation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (DeliveryStatus::Delivered, 1)
    );
}
