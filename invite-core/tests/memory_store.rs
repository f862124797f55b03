//! The store contract suite against the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use invite_core::testing::MemoryStore;

async fn fresh_store() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::default())
}

invite_core::store_contract_suite!(fresh_store);
