//! [`AnyStore`]: the backend picked at run time from the database URL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::{
    Contact, DeliveryStatus, Directory, Enterprise, EnterpriseId, Invitation, InvitationEvent, InvitationId,
    InvitationStore, ListQuery, Member, Membership, NewInvitation, Role, StoreError, TokenDigest, User,
    UserId,
};

use crate::Error;
#[cfg(feature = "postgres")]
use crate::PgStore;
#[cfg(feature = "sqlite")]
use crate::SqliteStore;

/// A store on whichever backend the URL names: `sqlite:` (SQLite) or `postgres:` /
/// `postgresql:` (PostgreSQL). Implements [`InvitationStore`] and [`Directory`] by
/// handing each call to the backend, so a host can take `--database-url` and build one
/// service either way.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AnyStore {
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteStore),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
}

/// Which backend a URL names, by its scheme.
fn scheme(url: &str) -> &str {
    url.split_once(':').map_or("", |(scheme, _)| scheme)
}

impl AnyStore {
    /// Connects to `url`, picking the backend from its scheme. Call
    /// [`AnyStore::migrate`] before use.
    ///
    /// # Errors
    /// [`Error::UnsupportedScheme`] for another scheme (or one whose feature is off),
    /// [`Error::Connect`] if the database cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        match scheme(url) {
            #[cfg(feature = "sqlite")]
            "sqlite" => Ok(Self::Sqlite(SqliteStore::connect(url).await?)),
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => Ok(Self::Postgres(PgStore::connect(url).await?)),
            other => Err(Error::UnsupportedScheme(other.to_owned())),
        }
    }

    /// Creates or updates the tables of the backend.
    ///
    /// # Errors
    /// [`Error::Migrate`] if a migration fails.
    pub async fn migrate(&self) -> Result<(), Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(store) => store.migrate().await,
            #[cfg(feature = "postgres")]
            Self::Postgres(store) => store.migrate().await,
        }
    }

    /// The backend's name: `"sqlite"` or `"postgres"`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => "postgres",
        }
    }
}

#[cfg(feature = "sqlite")]
impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> Self {
        Self::Sqlite(store)
    }
}

#[cfg(feature = "postgres")]
impl From<PgStore> for AnyStore {
    fn from(store: PgStore) -> Self {
        Self::Postgres(store)
    }
}

/// Connects to `url` (SQLite or PostgreSQL, by scheme) and applies the migrations: the
/// one call a host with a `--database-url` needs.
///
/// # Errors
/// As [`AnyStore::connect`] and [`AnyStore::migrate`].
pub async fn connect(url: &str) -> Result<AnyStore, Error> {
    let store = AnyStore::connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

/// Calls the same method on whichever backend `$self` holds.
macro_rules! dispatch {
    ($self:expr, $trait:ident :: $method:ident ( $($arg:expr),* )) => {
        match $self {
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(store) => $trait::$method(store, $($arg),*).await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => $trait::$method(store, $($arg),*).await,
        }
    };
}

#[async_trait]
impl InvitationStore for AnyStore {
    async fn create(&self, new: NewInvitation) -> Result<Invitation, StoreError> {
        dispatch!(self, InvitationStore::create(new))
    }

    async fn set_delivery(&self, id: InvitationId, delivery: DeliveryStatus) -> Result<(), StoreError> {
        dispatch!(self, InvitationStore::set_delivery(id, delivery))
    }

    async fn get(
        &self,
        enterprise: EnterpriseId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        dispatch!(self, InvitationStore::get(enterprise, id))
    }

    async fn find_by_digest(&self, digest: &TokenDigest) -> Result<Option<Invitation>, StoreError> {
        dispatch!(self, InvitationStore::find_by_digest(digest))
    }

    async fn list(
        &self,
        enterprise: EnterpriseId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        dispatch!(self, InvitationStore::list(enterprise, query, now))
    }

    async fn revoke(
        &self,
        enterprise: EnterpriseId,
        id: InvitationId,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        dispatch!(self, InvitationStore::revoke(enterprise, id, by, now))
    }

    async fn resend(
        &self,
        enterprise: EnterpriseId,
        id: InvitationId,
        by: UserId,
        digest: TokenDigest,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        dispatch!(
            self,
            InvitationStore::resend(enterprise, id, by, digest, expires_at, now)
        )
    }

    async fn accept(
        &self,
        digest: &TokenDigest,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        dispatch!(self, InvitationStore::accept(digest, user, now))
    }

    async fn reject(
        &self,
        digest: &TokenDigest,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        dispatch!(self, InvitationStore::reject(digest, by, now))
    }

    async fn sweep_expired(&self, now: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        dispatch!(self, InvitationStore::sweep_expired(now, batch))
    }

    async fn events(
        &self,
        enterprise: EnterpriseId,
        id: InvitationId,
    ) -> Result<Vec<InvitationEvent>, StoreError> {
        dispatch!(self, InvitationStore::events(enterprise, id))
    }
}

#[async_trait]
impl Directory for AnyStore {
    async fn enterprise(&self, id: EnterpriseId) -> Result<Option<Enterprise>, StoreError> {
        dispatch!(self, Directory::enterprise(id))
    }

    async fn role_of(&self, enterprise: EnterpriseId, user: UserId) -> Result<Option<Role>, StoreError> {
        dispatch!(self, Directory::role_of(enterprise, user))
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        dispatch!(self, Directory::user(id))
    }

    async fn find_user(&self, contact: &Contact) -> Result<Option<User>, StoreError> {
        dispatch!(self, Directory::find_user(contact))
    }

    async fn members(&self, enterprise: EnterpriseId) -> Result<Vec<Member>, StoreError> {
        dispatch!(self, Directory::members(enterprise))
    }

    async fn memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        dispatch!(self, Directory::memberships(user))
    }

    async fn save_enterprise(&self, enterprise: &Enterprise) -> Result<(), StoreError> {
        dispatch!(self, Directory::save_enterprise(enterprise))
    }

    async fn save_user(&self, user: &User) -> Result<(), StoreError> {
        dispatch!(self, Directory::save_user(user))
    }

    async fn add_member(&self, enterprise: EnterpriseId, user: UserId, role: Role) -> Result<(), StoreError> {
        dispatch!(self, Directory::add_member(enterprise, user, role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_is_read_before_the_first_colon() {
        assert_eq!(scheme("sqlite://x.db?mode=rwc"), "sqlite");
        assert_eq!(scheme("sqlite::memory:"), "sqlite");
        assert_eq!(scheme("postgres://u@h/db"), "postgres");
        assert_eq!(scheme("nothing"), "");
    }

    #[tokio::test]
    async fn unknown_scheme_is_refused_without_echoing_the_url() {
        let err = AnyStore::connect("mysql://root:secret@db/x").await.err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("mysql"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
