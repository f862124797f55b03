//! The error of connecting and migrating. Store calls answer
//! [`invite_core::StoreError`] instead.

/// Connecting to or migrating the database failed. The cause is kept as `source()`; the
/// message never repeats the database URL (it may hold a password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL names a backend this build does not have (see the crate features).
    #[error("unsupported database URL scheme `{0}` (expected sqlite: or postgres:)")]
    UnsupportedScheme(String),
    /// The URL could not be read, or the server could not be reached.
    #[error("could not connect to the database")]
    Connect(#[source] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("could not migrate the database")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}
