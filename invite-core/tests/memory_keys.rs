//! The in-memory store reports the key kinds it was made with (rule H3): the service and
//! the router parse ids in paths with them. Found by cargo-mutants (issue #12): the
//! contract suite ran over an integer-keyed store without ever asking it its kinds.

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
