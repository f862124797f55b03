//! Storage of invitations, their events and their deliveries' outbox: [`InvitationStore`]
//! and [`DeliveryOutbox`], with what they answer ([`StoreError`]).

use std::error::Error as StdError;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::answer::{Accepted, Answer};
use super::clock::Clock;
use crate::contact::Contact;
use crate::event::InvitationEvent;
use crate::ids::{EnterpriseId, InvitationId, UserId};
use crate::invitation::{DeliveryStatus, Invitation, InvitationStatus, Inviter, TransitionError};
use crate::outbox::{ClaimedDelivery, DeliveryId, DeliveryOutcome, Finished, NewDelivery, OutboxEntry};
use crate::page::ListQuery;
use crate::role::Role;
use crate::token::TokenDigest;

/// What a storage call can answer besides success: the domain refusals it decides
/// atomically, and backend failures with their cause kept as `source()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The contact belongs to a member already, or the accepting user is one (rule S7, A8).
    #[error("already a member")]
    AlreadyMember,
    /// A pending, unexpired invitation to the contact exists (rule S7).
    #[error("a pending invitation exists")]
    DuplicatePending,
    /// No such invitation in that enterprise (rule X3).
    #[error("not found")]
    NotFound,
    /// The state machine refuses the move (rules R2, R3, A6): the invitation is not
    /// pending, already answered, or expired or revoked (also for an unknown token).
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The enterprise is no longer certified when accepting (rule A9), read in the same
    /// transaction as the accept.
    #[error("enterprise not certified")]
    EnterpriseNotCertified,
    /// The signed-in user is not the invitation's addressee (rule A4); nothing changed.
    #[error("the invitation is addressed to another account")]
    AccountMismatch,
    /// The invitation's role is no longer one the service gives (rule A9); nothing changed.
    #[error("role no longer assignable")]
    RoleNotAssignable,
    /// The backend failed; nothing was changed (rule X7).
    #[error("storage backend failed")]
    Backend(#[source] Box<dyn StdError + Send + Sync + 'static>),
}

impl StoreError {
    /// Wraps a backend error, keeping it as the `source()`.
    pub fn backend(err: impl StdError + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

/// A new invitation for [`InvitationStore::create`]; the store writes it `pending`, with
/// delivery `queued`, and records a `sent` event by `invited_by` at `sent_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInvitation {
    /// Its id.
    pub id: InvitationId,
    /// The enterprise.
    pub enterprise_id: EnterpriseId,
    /// The invited contact.
    pub contact: Contact,
    /// The role to assign.
    pub role: Role,
    /// The sender.
    pub invited_by: Inviter,
    /// Digest of the token (rule X1).
    pub token_digest: TokenDigest,
    /// Now.
    pub sent_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

impl NewInvitation {
    /// The record as the store must write it.
    #[must_use]
    pub fn into_invitation(self) -> Invitation {
        Invitation {
            id: self.id,
            enterprise_id: self.enterprise_id,
            contact: self.contact,
            role: self.role,
            status: InvitationStatus::Pending,
            invited_by: self.invited_by,
            sent_at: self.sent_at,
            last_sent_at: self.sent_at,
            expires_at: self.expires_at,
            responded_at: None,
            responded_by: None,
            revoked_at: None,
            revoked_by: None,
            delivery: DeliveryStatus::Queued,
            delivery_attempts: 0,
            token_digest: self.token_digest,
        }
    }
}

/// Storage of invitations and their events, and the outbox of their deliveries
/// ([`DeliveryOutbox`], rule D1).
///
/// The contract every implementation must keep is the suite in
/// `invite_core::testing::contract` (feature `test-support`): run it against your store.
#[async_trait]
pub trait InvitationStore: DeliveryOutbox + Send + Sync + 'static {
    /// Stores a new pending invitation, atomically refusing it with
    /// [`StoreError::AlreadyMember`] when a member of the enterprise has the contact
    /// (normalized) and [`StoreError::DuplicatePending`] when a pending invitation to the
    /// contact has not expired at `new.sent_at` — also under concurrent calls from several
    /// processes (rule S7). Pending rows already expired never block it.
    async fn create(&self, new: NewInvitation) -> Result<Invitation, StoreError>;

    /// Stores the new invitations of one bulk send (rule B2), each row with its delivery
    /// request when the send goes through the outbox (rule D1). Each row is decided as
    /// [`InvitationStore::create`] decides it, in order, and gets its own answer: a refused
    /// row writes nothing and never stops the rows after it.
    ///
    /// The default stores row by row through `create` and
    /// [`create_queued`](DeliveryOutbox::create_queued), so a failure of the store is the
    /// answer of the row it hit. A store may instead decide every row in one transaction
    /// (the SQL stores do: one lock, one commit); then a failure of the store is the outer
    /// `Err` and none of the rows is stored.
    ///
    /// # Errors
    /// The outer `Err`: the store failed and nothing of the call is stored (only stores
    /// that decide the rows together answer it).
    async fn create_many(
        &self,
        rows: Vec<NewRow>,
    ) -> Result<Vec<Result<Invitation, StoreError>>, StoreError> {
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            results.push(row.create_in(self).await);
        }
        Ok(results)
    }

    /// Records whether the notifier took the current link (rule S8).
    async fn set_delivery(&self, id: InvitationId, delivery: DeliveryStatus) -> Result<(), StoreError>;

    /// The invitation `id` of `enterprise`; `None` if it does not exist there (rule X3).
    async fn get(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError>;

    /// The invitation whose current token has this digest.
    async fn find_by_digest(&self, digest: &TokenDigest) -> Result<Option<Invitation>, StoreError>;

    /// At most `query.limit` invitations of `enterprise`, newest first (`sent_at`, then
    /// `id`, descending), after `query.after`, whose status derived at `now` is
    /// `query.status` when given (rule R1). To answer the `expired` filter from an index, a
    /// store may first write down `expired` for the enterprise's overdue pending rows,
    /// with their `expired` events, as [`InvitationStore::sweep_expired`] would.
    async fn list(
        &self,
        enterprise: &EnterpriseId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError>;

    /// Revokes a pending, unexpired invitation (rule R2): [`Invitation::revoke`] as one
    /// conditional step, with a `revoked` event. Like every decision, it reads `clock`
    /// ([`Clock::now_stored`]) only once it holds its lock, judges expiry at that instant
    /// and records it as `revoked_at` (rules §1, "one instant").
    async fn revoke(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        clock: &dyn Clock,
    ) -> Result<Invitation, StoreError>;

    /// Gives a pending or expired invitation a new token digest and expiry (rule R3):
    /// [`Invitation::resend`] as one conditional step, with a `resent` event by `by`.
    /// Refused with [`StoreError::DuplicatePending`] when reviving an expired invitation
    /// would make a second pending one for its contact, and [`StoreError::AlreadyMember`]
    /// when the contact has become a member.
    async fn resend(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        digest: TokenDigest,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Invitation, StoreError>;

    /// Accepts `answer` in one transaction (rules A3–A9, H2, B1): the conditional write
    /// that moves the pending invitation to `accepted`; under the same lock the host's
    /// enterprise (rule A9) and [`Answer::vet_accept`], which refuses a user who is not the
    /// addressee, a role no longer given, an enterprise no longer certified; then the
    /// user's membership with the invitation's role (in the host's membership table, rule
    /// H1, H2) and an `accepted` event (rule A5, A6). If `user` is already a member — also
    /// by a membership the host inserted itself meanwhile (rule H7) — the answer is
    /// [`StoreError::AlreadyMember`] (rule A8). A refusal changes nothing; when the write
    /// changed no row, [`Answer::unchanged`] says why. The instant it judges expiry at,
    /// and records as `responded_at`, is read from `answer.clock` once the transaction
    /// holds its lock (rules §1, "one instant").
    async fn accept(&self, answer: &Answer<'_>) -> Result<Accepted, StoreError>;

    /// Rejects `answer` (rule A7, B1) as [`InvitationStore::accept`] decides, with a
    /// `rejected` event and no membership; its only refusals are [`Answer::unchanged`] and
    /// [`Answer::vet_reject`].
    async fn reject(&self, answer: &Answer<'_>) -> Result<Invitation, StoreError>;

    /// The invitation `id`, whatever its enterprise and whoever it is addressed to: the
    /// caller decides who may see it.
    async fn find_by_id(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError>;

    /// The invitations to any of `contacts` (compared in normalized form) that are pending
    /// and unexpired at `now`, across all enterprises, soonest expiry first (then id) (rule
    /// B1). A SQL store answers it with one index range read per contact.
    async fn pending_for(
        &self,
        contacts: &[Contact],
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError>;

    /// Writes down `expired` for at most `batch` pending invitations past their expiry,
    /// with an `expired` event each; returns how many. Optional housekeeping: every read
    /// already derives `expired`.
    async fn sweep_expired(&self, now: DateTime<Utc>, batch: usize) -> Result<usize, StoreError>;

    /// The events of one invitation of `enterprise`, oldest first (rule X5).
    async fn events(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Vec<InvitationEvent>, StoreError>;
}

/// One row of [`InvitationStore::create_many`]: the new invitation, and the delivery
/// request of its link when the send goes through the outbox (rule D1).
#[derive(Debug)]
pub struct NewRow {
    /// The invitation to store.
    pub invitation: NewInvitation,
    /// Its delivery request, stored in the same transaction; `None` for inline delivery.
    pub delivery: Option<NewDelivery>,
}

impl NewRow {
    /// Stores this one row in `store`: [`DeliveryOutbox::create_queued`] with its delivery
    /// request, [`InvitationStore::create`] without.
    pub(crate) async fn create_in<S: InvitationStore + ?Sized>(
        self,
        store: &S,
    ) -> Result<Invitation, StoreError> {
        match self.delivery {
            Some(delivery) => store.create_queued(self.invitation, delivery).await,
            None => store.create(self.invitation).await,
        }
    }
}

/// The transactional outbox of deliveries (rules D1–D4), kept by the store beside the
/// invitations. `send` and `resend` write a [`NewDelivery`] in the same transaction as
/// the invitation ([`DeliveryOutbox::create_queued`], [`DeliveryOutbox::resend_queued`]); a
/// [`DeliveryWorker`](crate::DeliveryWorker) claims due rows under a lease, hands them to
/// the notifier and records each outcome.
///
/// Several workers, also in several processes, may claim at once: a row is leased to one
/// claim at a time (rule D3). A lease that runs out (a crash mid-delivery) makes the row
/// claimable again, so delivery is at least once.
#[async_trait]
pub trait DeliveryOutbox: Send + Sync + 'static {
    /// [`InvitationStore::create`], and in the same transaction the delivery request of its
    /// link, due at `delivery.queued_at` (rule D1). A refusal writes neither.
    async fn create_queued(
        &self,
        new: NewInvitation,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError>;

    /// [`InvitationStore::resend`] with the new token digest `delivery.token_digest`, and in
    /// the same transaction: the invitation's queued rows for older links are dropped (their
    /// links erased, rule D2, D4) and the new link's request is queued. A refusal writes
    /// nothing.
    async fn resend_queued(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        expires_at: DateTime<Utc>,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError>;

    /// Leases up to `batch` queued rows due at `now` (oldest due first) until `now + lease`,
    /// counting an attempt on each, and returns them with their invitations as they are
    /// now. A row leased by another claim is skipped until that lease ends (rule D3).
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        batch: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records the outcome of the attempt `claimed` at `now`, in one transaction with the
    /// invitation's delivery status and the event it makes (see [`DeliveryOutcome`]); the
    /// link is erased from the row unless it is retried (rule D4). Changes nothing and
    /// answers [`Finished::LeaseLost`] if the lease is no longer `claimed.claim`.
    async fn finish_delivery(
        &self,
        claimed: &ClaimedDelivery,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<Finished, StoreError>;

    /// Deletes at most `batch` finished rows (delivered, failed, dropped) that finished at
    /// or before `before`; returns how many. The host's retention.
    async fn prune_deliveries(&self, before: DateTime<Utc>, batch: usize) -> Result<usize, StoreError>;

    /// One outbox row, for diagnostics and tests.
    async fn delivery(&self, id: DeliveryId) -> Result<Option<OutboxEntry>, StoreError>;
}
