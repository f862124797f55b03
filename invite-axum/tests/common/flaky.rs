//! A store whose invitation reads fail on demand, to reach `internal` (500).

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::testing::MemoryStore;
use invite_core::{
    Accepted, Accounts, Answer, Clock, Contact, DeliveryStatus, Directory, Enterprise, EnterpriseId,
    Invitation, InvitationEvent, InvitationId, InvitationStore, KeyKinds, ListQuery, Member, Membership,
    NewInvitation, Role, StoreError, TokenDigest, User, UserId,
};

/// [`MemoryStore`] whose `list`, `find_by_digest`, `accept` and `reject` fail while
/// `failing` is set.
#[derive(Debug, Default)]
pub struct FlakyStore {
    pub inner: MemoryStore,
    pub failing: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
#[error("connection reset by peer")]
struct Reset;

impl FlakyStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::backend(std::io::Error::other(Reset)))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl invite_core::DeliveryOutbox for FlakyStore {
    async fn create_queued(
        &self,
        new: NewInvitation,
        delivery: invite_core::NewDelivery,
    ) -> Result<Invitation, StoreError> {
        self.inner.create_queued(new, delivery).await
    }
    async fn resend_queued(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        expires_at: DateTime<Utc>,
        delivery: invite_core::NewDelivery,
    ) -> Result<Invitation, StoreError> {
        self.inner
            .resend_queued(enterprise, id, by, expires_at, delivery)
            .await
    }
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        batch: usize,
    ) -> Result<Vec<invite_core::ClaimedDelivery>, StoreError> {
        self.inner.claim_deliveries(now, lease, batch).await
    }
    async fn finish_delivery(
        &self,
        claimed: &invite_core::ClaimedDelivery,
        outcome: invite_core::DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<invite_core::Finished, StoreError> {
        self.inner.finish_delivery(claimed, outcome, now).await
    }
    async fn prune_deliveries(&self, before: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        self.inner.prune_deliveries(before, batch).await
    }
    async fn delivery(
        &self,
        id: invite_core::DeliveryId,
    ) -> Result<Option<invite_core::OutboxEntry>, StoreError> {
        self.inner.delivery(id).await
    }
}

#[async_trait]
impl InvitationStore for FlakyStore {
    async fn create(&self, new: NewInvitation) -> Result<Invitation, StoreError> {
        self.inner.create(new).await
    }
    async fn set_delivery(&self, id: InvitationId, delivery: DeliveryStatus) -> Result<(), StoreError> {
        self.inner.set_delivery(id, delivery).await
    }
    async fn get(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        self.inner.get(enterprise, id).await
    }
    async fn find_by_digest(&self, digest: &TokenDigest) -> Result<Option<Invitation>, StoreError> {
        self.check()?;
        self.inner.find_by_digest(digest).await
    }
    async fn list(
        &self,
        enterprise: &EnterpriseId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.check()?;
        self.inner.list(enterprise, query, now).await
    }
    async fn revoke(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        clock: &dyn Clock,
    ) -> Result<Invitation, StoreError> {
        self.inner.revoke(enterprise, id, by, clock).await
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
        self.inner
            .resend(enterprise, id, by, digest, expires_at, now)
            .await
    }
    async fn accept(&self, answer: &Answer<'_>) -> Result<Accepted, StoreError> {
        self.check()?;
        self.inner.accept(answer).await
    }

    async fn reject(&self, answer: &Answer<'_>) -> Result<Invitation, StoreError> {
        self.check()?;
        self.inner.reject(answer).await
    }

    async fn find_by_id(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        self.check()?;
        self.inner.find_by_id(id).await
    }
    async fn pending_for(
        &self,
        contacts: &[invite_core::Contact],
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.check()?;
        self.inner.pending_for(contacts, now).await
    }
    async fn sweep_expired(&self, now: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        self.inner.sweep_expired(now, batch).await
    }
    async fn events(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Vec<InvitationEvent>, StoreError> {
        self.inner.events(enterprise, id).await
    }
}

#[async_trait]
impl Directory for FlakyStore {
    fn key_kinds(&self) -> KeyKinds {
        self.inner.key_kinds()
    }
    async fn enterprise(&self, id: &EnterpriseId) -> Result<Option<Enterprise>, StoreError> {
        self.inner.enterprise(id).await
    }
    async fn role_of(&self, enterprise: &EnterpriseId, user: &UserId) -> Result<Option<Role>, StoreError> {
        self.inner.role_of(enterprise, user).await
    }
}

#[async_trait]
impl Accounts for FlakyStore {
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        self.inner.user(id).await
    }
    async fn find_user(&self, contact: &Contact) -> Result<Option<User>, StoreError> {
        self.inner.find_user(contact).await
    }
    async fn members(&self, enterprise: &EnterpriseId) -> Result<Vec<Member>, StoreError> {
        self.inner.members(enterprise).await
    }
    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        self.inner.memberships(user).await
    }
    async fn save_enterprise(&self, enterprise: &Enterprise) -> Result<(), StoreError> {
        self.inner.save_enterprise(enterprise).await
    }
    async fn save_user(&self, user: &User) -> Result<(), StoreError> {
        self.inner.save_user(user).await
    }
    async fn add_member(
        &self,
        enterprise: &EnterpriseId,
        user: &UserId,
        role: Role,
    ) -> Result<(), StoreError> {
        self.inner.add_member(enterprise, user, role).await
    }
}
