//! The store contract suite against the in-memory store, keyed as the self-contained
//! layout is (UUIDs) and as a host-shaped schema is (integers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use invite_core::testing::{MemoryStore, Subject};

mod self_contained {
    use super::*;

    async fn fresh() -> Subject<MemoryStore> {
        Subject::memory()
    }

    invite_core::store_contract_suite!(fresh);

    #[tokio::test]
    async fn accounts_round_trips() {
        invite_core::testing::contract::accounts_round_trips(Arc::new(MemoryStore::default())).await;
    }
}

mod host_shaped {
    use super::*;

    async fn fresh() -> Subject<MemoryStore> {
        Subject::memory_int_keys()
    }

    invite_core::store_contract_suite!(fresh);
}
