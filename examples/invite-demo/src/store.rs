//! Opens the database named by `--database-url` (SQLite or PostgreSQL, created and
//! migrated by `invite-store-sqlx`, self-contained layout).

use invite_store_sqlx::AnyStore;

use crate::BoxError;

/// The store at `url`, migrated: the library's tables and the self-contained layout's
/// `enterprises`, `users` and `members`, which hold the demo's accounts.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub async fn open(url: &str) -> Result<AnyStore, BoxError> {
    let store = invite_store_sqlx::connect(url).await?;
    tracing::info!(backend = store.backend_name(), "database ready (migrated)");
    Ok(store)
}
