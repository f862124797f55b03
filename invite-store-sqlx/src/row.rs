//! Rows as both backends return them, and their mapping to the domain types of
//! `invite-core`. A row that does not decode (an unknown status, a digest of the wrong
//! length, a time out of range) becomes [`StoreError::Backend`], never a panic.

use chrono::{DateTime, Utc};
use invite_core::outbox::parse_error_kind;
use invite_core::{
    ClaimedDelivery, Contact, ContactKind, DeliveryId, DeliveryStatus, EnterpriseId, EventKind, Invitation,
    InvitationEvent, InvitationId, InvitationStatus, Inviter, KeyKind, KeyKinds, OutboxEntry, OutboxState,
    Role, SealedLink, StoreError, TokenDigest, UserId,
};
use uuid::Uuid;

/// A stored value that does not decode into the domain. Names the column, never the value
/// (a column may hold a digest).
#[derive(Debug, thiserror::Error)]
#[error("invalid value in column `{column}` of a stored row")]
pub struct RowError {
    column: &'static str,
}

pub(crate) fn bad(column: &'static str) -> StoreError {
    StoreError::backend(RowError { column })
}

/// How a backend stores a time: SQLite as INTEGER unix microseconds, PostgreSQL as
/// `timestamptz`. Both keep microseconds, the precision of
/// [`invite_core::ports::to_storage_precision`].
pub trait DbTime: Sized {
    /// The stored form of `at` (sub-microsecond digits are dropped).
    fn encode(at: DateTime<Utc>) -> Self;
    /// The time read back.
    fn decode(self, column: &'static str) -> Result<DateTime<Utc>, StoreError>;
}

impl DbTime for i64 {
    fn encode(at: DateTime<Utc>) -> Self {
        at.timestamp_micros()
    }

    fn decode(self, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
        DateTime::from_timestamp_micros(self).ok_or_else(|| bad(column))
    }
}

impl DbTime for DateTime<Utc> {
    fn encode(at: DateTime<Utc>) -> Self {
        invite_core::ports::to_storage_precision(at)
    }

    fn decode(self, _column: &'static str) -> Result<DateTime<Utc>, StoreError> {
        Ok(self)
    }
}

fn decode_opt<T: DbTime>(
    value: Option<T>,
    column: &'static str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    value.map(|v| v.decode(column)).transpose()
}

/// A host key read back from its canonical text in the library's tables.
fn key(kind: KeyKind, text: &str, column: &'static str) -> Result<invite_core::Key, StoreError> {
    kind.parse(text).map_err(|_| bad(column))
}

fn user_key(
    kinds: KeyKinds,
    text: Option<String>,
    column: &'static str,
) -> Result<Option<UserId>, StoreError> {
    text.map(|t| key(kinds.user, &t, column).map(UserId::from))
        .transpose()
}

/// One row of `invite_rs_invitations`, columns in the order of `sql::INVITATION_COLUMNS`.
#[derive(Debug, sqlx::FromRow)]
pub struct InvitationRow<T> {
    id: Uuid,
    enterprise_id: String,
    contact_kind: String,
    contact_entered: String,
    contact_normalized: String,
    role: String,
    status: String,
    invited_by: String,
    invited_by_name: String,
    sent_at: T,
    last_sent_at: T,
    expires_at: T,
    responded_at: Option<T>,
    responded_by: Option<String>,
    revoked_at: Option<T>,
    revoked_by: Option<String>,
    delivery: String,
    token_digest: Vec<u8>,
    delivery_attempts: i64,
}

pub(crate) fn contact_kind(name: &str) -> Result<ContactKind, StoreError> {
    match name {
        "email" => Ok(ContactKind::Email),
        "phone" => Ok(ContactKind::Phone),
        _ => Err(bad("contact_kind")),
    }
}

pub(crate) fn role(name: &str) -> Result<Role, StoreError> {
    name.parse().map_err(|_| bad("role"))
}

impl<T: DbTime> InvitationRow<T> {
    /// The domain record, its keys read as the host's `kinds`.
    pub(crate) fn into_invitation(self, kinds: KeyKinds) -> Result<Invitation, StoreError> {
        Ok(Invitation {
            id: InvitationId::from_uuid(self.id),
            enterprise_id: EnterpriseId::from(key(kinds.enterprise, &self.enterprise_id, "enterprise_id")?),
            contact: Contact::restore_unchecked(
                contact_kind(&self.contact_kind)?,
                self.contact_entered,
                self.contact_normalized,
            ),
            role: role(&self.role)?,
            status: InvitationStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            invited_by: Inviter {
                user_id: UserId::from(key(kinds.user, &self.invited_by, "invited_by")?),
                name: self.invited_by_name,
            },
            sent_at: self.sent_at.decode("sent_at")?,
            last_sent_at: self.last_sent_at.decode("last_sent_at")?,
            expires_at: self.expires_at.decode("expires_at")?,
            responded_at: decode_opt(self.responded_at, "responded_at")?,
            responded_by: user_key(kinds, self.responded_by, "responded_by")?,
            revoked_at: decode_opt(self.revoked_at, "revoked_at")?,
            revoked_by: user_key(kinds, self.revoked_by, "revoked_by")?,
            delivery: DeliveryStatus::restore(&self.delivery, attempts(self.delivery_attempts)?)
                .ok_or_else(|| bad("delivery"))?,
            delivery_attempts: attempts(self.delivery_attempts)?,
            token_digest: TokenDigest::from_slice(&self.token_digest).ok_or_else(|| bad("token_digest"))?,
        })
    }
}

/// Maps an optional row.
pub(crate) fn invitation<T: DbTime>(
    row: Option<InvitationRow<T>>,
    kinds: KeyKinds,
) -> Result<Option<Invitation>, StoreError> {
    row.map(|row| row.into_invitation(kinds)).transpose()
}

/// One row of `invite_rs_events`.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow<T> {
    invitation_id: Uuid,
    enterprise_id: String,
    kind: String,
    actor: Option<String>,
    at: T,
}

impl<T: DbTime> EventRow<T> {
    /// The domain event, its keys read as the host's `kinds`.
    pub(crate) fn into_event(self, kinds: KeyKinds) -> Result<InvitationEvent, StoreError> {
        Ok(InvitationEvent {
            invitation_id: InvitationId::from_uuid(self.invitation_id),
            enterprise_id: EnterpriseId::from(key(kinds.enterprise, &self.enterprise_id, "enterprise_id")?),
            kind: EventKind::parse(&self.kind).ok_or_else(|| bad("kind"))?,
            actor: user_key(kinds, self.actor, "actor")?,
            at: self.at.decode("at")?,
        })
    }
}

/// A stored count of attempts.
fn attempts(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| bad("attempts"))
}

fn digest(bytes: &[u8]) -> Result<TokenDigest, StoreError> {
    TokenDigest::from_slice(bytes).ok_or_else(|| bad("token_digest"))
}

/// One outbox row as the claim returns it.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimRow<T> {
    id: Uuid,
    invitation_id: Uuid,
    enterprise_id: String,
    token_digest: Vec<u8>,
    link_sealed: Option<Vec<u8>>,
    attempts: i64,
    queued_at: T,
}

impl<T: DbTime> ClaimRow<T> {
    /// The claimed delivery of claim `claim`, with its invitation (read by the caller).
    pub(crate) fn into_claimed(
        self,
        claim: Uuid,
        kinds: KeyKinds,
        invitation: Option<Invitation>,
    ) -> Result<ClaimedDelivery, StoreError> {
        Ok(ClaimedDelivery {
            id: DeliveryId::from_uuid(self.id),
            claim,
            invitation_id: InvitationId::from_uuid(self.invitation_id),
            enterprise_id: EnterpriseId::from(key(kinds.enterprise, &self.enterprise_id, "enterprise_id")?),
            token_digest: digest(&self.token_digest)?,
            sealed_link: SealedLink::from_bytes(self.link_sealed.ok_or_else(|| bad("link_sealed"))?),
            attempt: attempts(self.attempts)?,
            queued_at: self.queued_at.decode("queued_at")?,
            invitation,
        })
    }

    /// The invitation and its enterprise's canonical key.
    pub(crate) fn invitation(&self) -> (Uuid, &str) {
        (self.invitation_id, &self.enterprise_id)
    }
}

/// One row of `invite_rs_outbox`.
#[derive(Debug, sqlx::FromRow)]
pub struct OutboxRow<T> {
    id: Uuid,
    invitation_id: Uuid,
    enterprise_id: String,
    token_digest: Vec<u8>,
    state: String,
    attempts: i64,
    due_at: T,
    link_sealed: Option<Vec<u8>>,
    queued_at: T,
    finished_at: Option<T>,
    last_error: Option<String>,
}

impl<T: DbTime> OutboxRow<T> {
    /// The domain entry, keys read as the host's `kinds`.
    pub(crate) fn into_entry(self, kinds: KeyKinds) -> Result<OutboxEntry, StoreError> {
        Ok(OutboxEntry {
            id: DeliveryId::from_uuid(self.id),
            invitation_id: InvitationId::from_uuid(self.invitation_id),
            enterprise_id: EnterpriseId::from(key(kinds.enterprise, &self.enterprise_id, "enterprise_id")?),
            token_digest: digest(&self.token_digest)?,
            state: OutboxState::parse(&self.state).ok_or_else(|| bad("state"))?,
            attempts: attempts(self.attempts)?,
            due_at: self.due_at.decode("due_at")?,
            sealed_link: self.link_sealed.map(SealedLink::from_bytes),
            queued_at: self.queued_at.decode("queued_at")?,
            finished_at: decode_opt(self.finished_at, "finished_at")?,
            last_error: self
                .last_error
                .map(|e| parse_error_kind(&e).ok_or_else(|| bad("last_error")))
                .transpose()?,
        })
    }
}
