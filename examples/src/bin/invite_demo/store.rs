//! Opens the storage named by `--database-url` and builds the service over it.
//!
//! TEMPORARY: uses the in-memory store of `invite_core::testing` until `invite-store-sqlx`
//! lands.

use std::sync::Arc;

use invite_core::testing::MemoryStore;
use invite_core::{Invitations, TtlPolicy};

use crate::BoxError;
use crate::app;

/// The service over the database at `url`, migrated.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub async fn open(_url: &str, base_url: &str, ttl: TtlPolicy) -> Result<Invitations, BoxError> {
    let store = Arc::new(MemoryStore::default());
    Ok(app::service(store, base_url, ttl))
}
