//! Rows as both backends return them, and their mapping to the domain types of
//! `invite-core`. A row that does not decode (an unknown status, a digest of the wrong
//! length, a time out of range) becomes [`StoreError::Backend`], never a panic.

use chrono::{DateTime, Utc};
use invite_core::{
    Contact, ContactKind, DeliveryStatus, Email, Enterprise, EnterpriseId, EventKind, Invitation,
    InvitationEvent, InvitationId, InvitationStatus, Inviter, Phone, Role, StoreError, TokenDigest, User,
    UserId,
};
use uuid::Uuid;

/// A stored value that does not decode into the domain. Names the column, never the value
/// (a column may hold a digest).
#[derive(Debug, thiserror::Error)]
#[error("invalid value in column `{column}` of a stored row")]
pub struct RowError {
    column: &'static str,
}

fn bad(column: &'static str) -> StoreError {
    StoreError::backend(RowError { column })
}

/// How a backend stores a time: SQLite as INTEGER unix microseconds, PostgreSQL as
/// `timestamptz`. Both keep microseconds, the precision of
/// [`invite_core::clock::to_storage_precision`].
pub(crate) trait DbTime: Sized {
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
        invite_core::clock::to_storage_precision(at)
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

/// One row of `invitations`, columns in the order of `sql::INVITATION_COLUMNS`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct InvitationRow<T> {
    id: Uuid,
    enterprise_id: Uuid,
    contact_kind: String,
    contact_entered: String,
    contact_normalized: String,
    role: String,
    status: String,
    invited_by: Uuid,
    invited_by_name: String,
    sent_at: T,
    last_sent_at: T,
    expires_at: T,
    responded_at: Option<T>,
    responded_by: Option<Uuid>,
    revoked_at: Option<T>,
    revoked_by: Option<Uuid>,
    delivery: String,
    token_digest: Vec<u8>,
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
    /// The domain record.
    pub(crate) fn into_invitation(self) -> Result<Invitation, StoreError> {
        Ok(Invitation {
            id: InvitationId::from_uuid(self.id),
            enterprise_id: EnterpriseId::from_uuid(self.enterprise_id),
            contact: Contact::restore(
                contact_kind(&self.contact_kind)?,
                self.contact_entered,
                self.contact_normalized,
            ),
            role: role(&self.role)?,
            status: InvitationStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            invited_by: Inviter {
                user_id: UserId::from_uuid(self.invited_by),
                name: self.invited_by_name,
            },
            sent_at: self.sent_at.decode("sent_at")?,
            last_sent_at: self.last_sent_at.decode("last_sent_at")?,
            expires_at: self.expires_at.decode("expires_at")?,
            responded_at: decode_opt(self.responded_at, "responded_at")?,
            responded_by: self.responded_by.map(UserId::from_uuid),
            revoked_at: decode_opt(self.revoked_at, "revoked_at")?,
            revoked_by: self.revoked_by.map(UserId::from_uuid),
            delivery: DeliveryStatus::parse(&self.delivery).ok_or_else(|| bad("delivery"))?,
            token_digest: TokenDigest::from_slice(&self.token_digest).ok_or_else(|| bad("token_digest"))?,
        })
    }
}

/// Maps an optional row.
pub(crate) fn invitation<T: DbTime>(row: Option<InvitationRow<T>>) -> Result<Option<Invitation>, StoreError> {
    row.map(InvitationRow::into_invitation).transpose()
}

/// One row of `invitation_events`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow<T> {
    invitation_id: Uuid,
    enterprise_id: Uuid,
    kind: String,
    actor: Option<Uuid>,
    at: T,
}

impl<T: DbTime> EventRow<T> {
    /// The domain event.
    pub(crate) fn into_event(self) -> Result<InvitationEvent, StoreError> {
        Ok(InvitationEvent {
            invitation_id: InvitationId::from_uuid(self.invitation_id),
            enterprise_id: EnterpriseId::from_uuid(self.enterprise_id),
            kind: EventKind::parse(&self.kind).ok_or_else(|| bad("kind"))?,
            actor: self.actor.map(UserId::from_uuid),
            at: self.at.decode("at")?,
        })
    }
}

/// One row of `enterprises`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EnterpriseRow {
    id: Uuid,
    name: String,
    certified: bool,
}

impl From<EnterpriseRow> for Enterprise {
    fn from(row: EnterpriseRow) -> Self {
        Enterprise {
            id: EnterpriseId::from_uuid(row.id),
            name: row.name,
            certified: row.certified,
        }
    }
}

/// One row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    name: String,
    email: Option<String>,
    email_normalized: Option<String>,
    phone: Option<String>,
    phone_normalized: Option<String>,
}

impl UserRow {
    /// The domain user.
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        let email = match (self.email, self.email_normalized) {
            (Some(entered), Some(normalized)) => {
                match Contact::restore(ContactKind::Email, entered, normalized) {
                    Contact::Email(email) => Some(email),
                    Contact::Phone(_) => return Err(bad("email")),
                }
            }
            (None, None) => None,
            _ => return Err(bad("email_normalized")),
        };
        let phone = match (self.phone, self.phone_normalized) {
            (Some(entered), Some(normalized)) => {
                match Contact::restore(ContactKind::Phone, entered, normalized) {
                    Contact::Phone(phone) => Some(phone),
                    Contact::Email(_) => return Err(bad("phone")),
                }
            }
            (None, None) => None,
            _ => return Err(bad("phone_normalized")),
        };
        Ok(User {
            id: UserId::from_uuid(self.id),
            name: self.name,
            email,
            phone,
        })
    }
}

/// A user and a role (`members` joined with `users`).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MemberRow {
    #[sqlx(flatten)]
    pub(crate) user: UserRow,
    pub(crate) role: String,
}

/// An enterprise and a role (`members` joined with `enterprises`).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct MembershipRow {
    #[sqlx(flatten)]
    pub(crate) enterprise: EnterpriseRow,
    pub(crate) role: String,
}

/// The values a user is saved with.
pub(crate) struct UserParts<'a> {
    pub(crate) id: Uuid,
    pub(crate) name: &'a str,
    pub(crate) email: Option<&'a str>,
    pub(crate) email_normalized: Option<&'a str>,
    pub(crate) phone: Option<&'a str>,
    pub(crate) phone_normalized: Option<&'a str>,
}

impl<'a> UserParts<'a> {
    /// The parts of `user`.
    pub(crate) fn of(user: &'a User) -> Self {
        Self {
            id: user.id.as_uuid(),
            name: user.name.as_str(),
            email: user.email.as_ref().map(Email::entered),
            email_normalized: user.email.as_ref().map(Email::normalized),
            phone: user.phone.as_ref().map(Phone::entered),
            phone_normalized: user.phone.as_ref().map(Phone::normalized),
        }
    }
}
