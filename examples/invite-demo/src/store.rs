//! Opens the database named by `--database-url` (SQLite or PostgreSQL, created and
//! migrated by `invite-store-sqlx`) and builds the service over it.

use std::sync::Arc;

use invite_core::{Invitations, TtlPolicy};

use crate::BoxError;
use crate::app;

/// The service over the database at `url`, migrated.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub async fn open(url: &str, base_url: &str, ttl: TtlPolicy) -> Result<Invitations, BoxError> {
    let store = invite_store_sqlx::connect(url).await?;
    tracing::info!(backend = store.backend_name(), "database ready (migrated)");
    Ok(app::service(Arc::new(store), base_url, ttl))
}
