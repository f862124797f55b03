//! [`AnyStore`]: the backend picked at run time from the database URL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::{
    Accepted, Accounts, Answer, ClaimedDelivery, Clock, Contact, DeliveryId, DeliveryOutbox, DeliveryOutcome,
    DeliveryStatus, Directory, Enterprise, EnterpriseId, Finished, Invitation, InvitationEvent, InvitationId,
    InvitationStore, KeyKinds, ListQuery, Member, Membership, NewDelivery, NewInvitation, NewRow,
    OutboxEntry, Role, StoreError, TokenDigest, User, UserId,
};

use crate::Error;
use crate::PgStore;
use crate::SelfContained;
use crate::SqliteStore;

/// The ports a store of either backend offers, for [`AnyStore`]'s one dispatch.
pub trait Ports: InvitationStore + Directory {}
impl<T: InvitationStore + Directory> Ports for T {}

/// A store on whichever backend the URL names: `sqlite:` (SQLite) or `postgres:` /
/// `postgresql:` (PostgreSQL), over the directory `D` (the self-contained layout by
/// default, or a host's [`TableMapping`](crate::TableMapping)). Implements
/// [`InvitationStore`] and [`Directory`] (and, for the self-contained layout,
/// [`Accounts`]) by handing each call to the backend, so a host can take
/// `--database-url` and build one service either way.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyStore<D = SelfContained> {
    /// SQLite.
    Sqlite(SqliteStore<D>),
    /// PostgreSQL.
    Postgres(PgStore<D>),
}

impl<D> Clone for AnyStore<D> {
    fn clone(&self) -> Self {
        match self {
            Self::Sqlite(store) => Self::Sqlite(store.clone()),
            Self::Postgres(store) => Self::Postgres(store.clone()),
        }
    }
}

/// Which backend a URL names, by its scheme.
fn scheme(url: &str) -> &str {
    url.split_once(':').map_or("", |(scheme, _)| scheme)
}

impl<D> AnyStore<D>
where
    D: Clone,
    SqliteStore<D>: Ports,
    PgStore<D>: Ports,
    D: crate::HostDirectory<sqlx::Sqlite> + crate::HostDirectory<sqlx::Postgres>,
{
    /// Connects to `url` over the host's `directory`, picking the backend from its
    /// scheme. Call [`AnyStore::migrate`] before use.
    ///
    /// # Errors
    /// [`Error::UnsupportedScheme`] for another scheme (or one whose feature is off),
    /// [`Error::Connect`] if the database cannot be opened.
    pub async fn connect_with_directory(url: &str, directory: D) -> Result<Self, Error> {
        match scheme(url) {
            "sqlite" => Ok(Self::Sqlite(SqliteStore::new(
                crate::sqlite_pool(url).await?,
                directory,
            ))),
            "postgres" | "postgresql" => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .connect(url)
                    .await
                    .map_err(Error::Connect)?;
                Ok(Self::Postgres(PgStore::new(pool, directory)))
            }
            other => Err(Error::UnsupportedScheme(other.to_owned())),
        }
    }

    /// Creates or updates the tables of the backend (the library's, and the directory's
    /// own if it has any).
    ///
    /// # Errors
    /// [`Error::Migrate`] if a migration fails.
    pub async fn migrate(&self) -> Result<(), Error> {
        match self {
            Self::Sqlite(store) => store.migrate().await,
            Self::Postgres(store) => store.migrate().await,
        }
    }
}

impl AnyStore<SelfContained> {
    /// Connects to `url` with the self-contained layout. Call [`AnyStore::migrate`]
    /// before use.
    ///
    /// # Errors
    /// As [`AnyStore::connect_with_directory`].
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with_directory(url, SelfContained::new()).await
    }

    fn accounts(&self) -> &dyn Accounts {
        match self {
            Self::Sqlite(store) => store,
            Self::Postgres(store) => store,
        }
    }
}

impl<D> AnyStore<D> {
    /// The backend's name: `"sqlite"` or `"postgres"`.
    #[must_use]
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

impl<D> AnyStore<D>
where
    SqliteStore<D>: Ports,
    PgStore<D>: Ports,
{
    /// The one dispatch: the backend's store behind the ports.
    fn ports(&self) -> &dyn Ports {
        match self {
            Self::Sqlite(store) => store,
            Self::Postgres(store) => store,
        }
    }
}

impl<D> From<SqliteStore<D>> for AnyStore<D> {
    fn from(store: SqliteStore<D>) -> Self {
        Self::Sqlite(store)
    }
}

impl<D> From<PgStore<D>> for AnyStore<D> {
    fn from(store: PgStore<D>) -> Self {
        Self::Postgres(store)
    }
}

/// Connects to `url` (SQLite or PostgreSQL, by scheme) with the self-contained layout and
/// applies the migrations: the one call a demo with a `--database-url` needs.
///
/// # Errors
/// As [`AnyStore::connect`] and [`AnyStore::migrate`].
pub async fn connect(url: &str) -> Result<AnyStore, Error> {
    let store = AnyStore::connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

#[async_trait]
impl<D: Send + Sync + 'static> DeliveryOutbox for AnyStore<D>
where
    SqliteStore<D>: Ports,
    PgStore<D>: Ports,
{
    async fn create_queued(
        &self,
        new: NewInvitation,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError> {
        self.ports().create_queued(new, delivery).await
    }

    async fn resend_queued(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        expires_at: DateTime<Utc>,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError> {
        self.ports()
            .resend_queued(enterprise, id, by, expires_at, delivery)
            .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        batch: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.ports().claim_deliveries(now, lease, batch).await
    }

    async fn finish_delivery(
        &self,
        claimed: &ClaimedDelivery,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<Finished, StoreError> {
        self.ports().finish_delivery(claimed, outcome, now).await
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        self.ports().prune_deliveries(before, batch).await
    }

    async fn delivery(&self, id: DeliveryId) -> Result<Option<OutboxEntry>, StoreError> {
        self.ports().delivery(id).await
    }
}

#[async_trait]
impl<D: Send + Sync + 'static> InvitationStore for AnyStore<D>
where
    SqliteStore<D>: Ports,
    PgStore<D>: Ports,
{
    async fn create(&self, new: NewInvitation) -> Result<Invitation, StoreError> {
        self.ports().create(new).await
    }

    async fn create_many(
        &self,
        rows: Vec<NewRow>,
    ) -> Result<Vec<Result<Invitation, StoreError>>, StoreError> {
        self.ports().create_many(rows).await
    }

    async fn set_delivery(&self, id: InvitationId, delivery: DeliveryStatus) -> Result<(), StoreError> {
        self.ports().set_delivery(id, delivery).await
    }

    async fn get(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        self.ports().get(enterprise, id).await
    }

    async fn find_by_digest(&self, digest: &TokenDigest) -> Result<Option<Invitation>, StoreError> {
        self.ports().find_by_digest(digest).await
    }

    async fn list(
        &self,
        enterprise: &EnterpriseId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.ports().list(enterprise, query, now).await
    }

    async fn revoke(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        clock: &dyn Clock,
    ) -> Result<Invitation, StoreError> {
        self.ports().revoke(enterprise, id, by, clock).await
    }

    async fn resend(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        digest: TokenDigest,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        self.ports()
            .resend(enterprise, id, by, digest, expires_at, now)
            .await
    }

    async fn accept(&self, answer: &Answer<'_>) -> Result<Accepted, StoreError> {
        self.ports().accept(answer).await
    }

    async fn reject(&self, answer: &Answer<'_>) -> Result<Invitation, StoreError> {
        self.ports().reject(answer).await
    }

    async fn find_by_id(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        self.ports().find_by_id(id).await
    }

    async fn pending_for(
        &self,
        contacts: &[Contact],
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.ports().pending_for(contacts, now).await
    }

    async fn sweep_expired(&self, now: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        self.ports().sweep_expired(now, batch).await
    }

    async fn events(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Vec<InvitationEvent>, StoreError> {
        self.ports().events(enterprise, id).await
    }
}

#[async_trait]
impl<D: Send + Sync + 'static> Directory for AnyStore<D>
where
    SqliteStore<D>: Ports,
    PgStore<D>: Ports,
{
    fn key_kinds(&self) -> KeyKinds {
        self.ports().key_kinds()
    }

    async fn enterprise(&self, id: &EnterpriseId) -> Result<Option<Enterprise>, StoreError> {
        self.ports().enterprise(id).await
    }

    async fn role_of(&self, enterprise: &EnterpriseId, user: &UserId) -> Result<Option<Role>, StoreError> {
        self.ports().role_of(enterprise, user).await
    }
}

#[async_trait]
impl Accounts for AnyStore<SelfContained> {
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.accounts().user(id).await
    }

    async fn find_user(&self, contact: &Contact) -> Result<Option<User>, StoreError> {
        self.accounts().find_user(contact).await
    }

    async fn members(&self, enterprise: &EnterpriseId) -> Result<Vec<Member>, StoreError> {
        self.accounts().members(enterprise).await
    }

    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        self.accounts().memberships(user).await
    }

    async fn save_enterprise(&self, enterprise: &Enterprise) -> Result<(), StoreError> {
        self.accounts().save_enterprise(enterprise).await
    }

    async fn save_user(&self, user: &User) -> Result<(), StoreError> {
        self.accounts().save_user(user).await
    }

    async fn add_member(
        &self,
        enterprise: &EnterpriseId,
        user: &UserId,
        role: Role,
    ) -> Result<(), StoreError> {
        self.accounts().add_member(enterprise, user, role).await
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
