//! The invitation record and its state machine (rules §1, R2, R3, A5–A7).
//!
//! ```text
//!            ┌─ accept ─▶ accepted
//! pending ───┼─ reject ─▶ rejected
//!   ▲  │     └─ revoke ─▶ revoked
//!   │  └── time passes ─▶ expired      (derived: expires_at <= now)
//!   └──────── resend ◀── pending | expired
//! ```
//!
//! Storage adapters implement the same moves as conditional statements; the methods here
//! are the reference they are tested against (and what the in-memory store runs).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::contact::Contact;
use crate::expiry::is_expired;
use crate::ids::{EnterpriseId, InvitationId, UserId};
use crate::role::Role;
use crate::token::TokenDigest;

/// A move the state machine refuses (rules R2, R3, A6). The stores answer the same
/// refusals from their conditional statements, wrapped in
/// [`StoreError::Transition`](crate::StoreError::Transition).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// Revoke or resend of an invitation in another status (rules R2, R3).
    #[error("invitation is {0}")]
    NotPending(InvitationStatus),
    /// An answer to an accepted invitation (rule A6).
    #[error("already accepted")]
    AlreadyAccepted,
    /// An answer to a rejected invitation (rule A6).
    #[error("already rejected")]
    AlreadyRejected,
    /// An answer to an expired or revoked invitation (rules A1, A6).
    #[error("invalid or expired")]
    InvalidOrExpired,
}

/// The status of an invitation (rules §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InvitationStatus {
    /// Waiting for the invitee, and not expired.
    Pending,
    /// Accepted: the invitee is a member.
    Accepted,
    /// Declined by the invitee.
    Rejected,
    /// Pending past its expiry, whether or not a sweep wrote it down.
    Expired,
    /// Withdrawn by a super admin.
    Revoked,
}

impl InvitationStatus {
    /// Every status.
    pub const ALL: [InvitationStatus; 5] = [
        Self::Pending,
        Self::Accepted,
        Self::Rejected,
        Self::Expired,
        Self::Revoked,
    ];

    /// The rules's name of the status.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    /// Reads a name written by [`InvitationStatus::as_str`].
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Accepted, rejected and revoked never change again.
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Accepted | Self::Rejected | Self::Revoked)
    }
}

impl fmt::Display for InvitationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Whether the notifier took the current link (rule S8, rule D1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    /// Stored, not yet handed over (or the process stopped before it was).
    Queued,
    /// An attempt failed for a reason that may pass (the mail server was down); the outbox
    /// tries again later (rule D1). Stores keep it as `queued` with attempts made.
    Retrying,
    /// The notifier accepted the message.
    Delivered,
    /// The notifier failed for good, or every attempt failed; the invitation can be resent.
    Failed,
}

impl DeliveryStatus {
    /// The snake_case name used in JSON (and in storage, but for `retrying`: see
    /// [`DeliveryStatus::stored`]).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Retrying => "retrying",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Reads a name written by [`DeliveryStatus::as_str`].
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Queued, Self::Retrying, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }

    /// The name a store keeps: `retrying` is kept as `queued` (the attempts counter tells
    /// them apart, see [`DeliveryStatus::restore`]).
    #[must_use]
    pub const fn stored(self) -> &'static str {
        match self {
            Self::Retrying => "queued",
            other => other.as_str(),
        }
    }

    /// Reads a stored name with the attempts made: `queued` after an attempt is
    /// `retrying`.
    #[must_use]
    pub fn restore(name: &str, attempts: u32) -> Option<Self> {
        match Self::parse(name)? {
            Self::Queued if attempts > 0 => Some(Self::Retrying),
            other => Some(other),
        }
    }
}

/// Who sent an invitation, as they were named when they sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inviter {
    /// The inviter's account.
    pub user_id: UserId,
    /// Their display name at sending time.
    pub name: String,
}

/// One invitation, as stored. `status` is the stored status; read the real one with
/// [`Invitation::status_at`], which derives `expired`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// The enterprise it invites to.
    pub enterprise_id: EnterpriseId,
    /// The invited email or phone, as entered and normalized.
    pub contact: Contact,
    /// The role the invitee gets on accepting.
    pub role: Role,
    /// The stored status (`pending` may be past its expiry; see [`Invitation::status_at`]).
    pub status: InvitationStatus,
    /// Who sent it.
    pub invited_by: Inviter,
    /// When it was first sent.
    pub sent_at: DateTime<Utc>,
    /// When the current link was sent (equals `sent_at` until a resend).
    pub last_sent_at: DateTime<Utc>,
    /// When the current link expires.
    pub expires_at: DateTime<Utc>,
    /// When it was accepted or rejected.
    pub responded_at: Option<DateTime<Utc>>,
    /// Who accepted or rejected it.
    pub responded_by: Option<UserId>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who revoked it.
    pub revoked_by: Option<UserId>,
    /// Whether the notifier took the current link (rule S8).
    pub delivery: DeliveryStatus,
    /// How many attempts to deliver the current link have been made (rule D1); a resend
    /// starts again from 0.
    pub delivery_attempts: u32,
    /// SHA-256 of the current token (rule X1).
    pub token_digest: TokenDigest,
}

impl Invitation {
    /// The status at `now`: a stored `pending` past its expiry *is* `expired` (rules §1).
    #[must_use]
    pub fn status_at(&self, now: DateTime<Utc>) -> InvitationStatus {
        if self.status == InvitationStatus::Pending && is_expired(self.expires_at, now) {
            InvitationStatus::Expired
        } else {
            self.status
        }
    }

    /// Revokes a pending invitation (rule R2).
    ///
    /// # Errors
    /// [`TransitionError::NotPending`] with the current status otherwise.
    pub fn revoke(&mut self, by: UserId, now: DateTime<Utc>) -> Result<(), TransitionError> {
        match self.status_at(now) {
            InvitationStatus::Pending => {
                self.status = InvitationStatus::Revoked;
                self.revoked_at = Some(now);
                self.revoked_by = Some(by);
                Ok(())
            }
            other => Err(TransitionError::NotPending(other)),
        }
    }

    /// Issues a new link for a pending or expired invitation: the new digest replaces the
    /// old one, so the old link stops working at once (rule R3).
    ///
    /// # Errors
    /// [`TransitionError::NotPending`] for an accepted, rejected or revoked invitation.
    pub fn resend(
        &mut self,
        digest: TokenDigest,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        match self.status_at(now) {
            InvitationStatus::Pending | InvitationStatus::Expired => {
                self.status = InvitationStatus::Pending;
                self.token_digest = digest;
                self.expires_at = expires_at;
                self.last_sent_at = now;
                self.delivery = DeliveryStatus::Queued;
                self.delivery_attempts = 0;
                Ok(())
            }
            other => Err(TransitionError::NotPending(other)),
        }
    }

    /// Checks that the invitee may still answer, without changing anything (rule A6).
    ///
    /// # Errors
    /// `AlreadyAccepted`, `AlreadyRejected`, or `InvalidOrExpired` for an expired or
    /// revoked invitation.
    pub fn check_answerable(&self, now: DateTime<Utc>) -> Result<(), TransitionError> {
        match self.status_at(now) {
            InvitationStatus::Pending => Ok(()),
            InvitationStatus::Accepted => Err(TransitionError::AlreadyAccepted),
            InvitationStatus::Rejected => Err(TransitionError::AlreadyRejected),
            InvitationStatus::Expired | InvitationStatus::Revoked => Err(TransitionError::InvalidOrExpired),
        }
    }

    /// Marks a pending invitation accepted by `by` (rule A5). The membership is the
    /// store's part of the same step.
    ///
    /// # Errors
    /// As [`Invitation::check_answerable`].
    pub fn accept(&mut self, by: UserId, now: DateTime<Utc>) -> Result<(), TransitionError> {
        self.answer(InvitationStatus::Accepted, by, now)
    }

    /// Marks a pending invitation rejected by `by` (rule A7).
    ///
    /// # Errors
    /// As [`Invitation::check_answerable`].
    pub fn reject(&mut self, by: UserId, now: DateTime<Utc>) -> Result<(), TransitionError> {
        self.answer(InvitationStatus::Rejected, by, now)
    }

    fn answer(
        &mut self,
        to: InvitationStatus,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.check_answerable(now)?;
        self.status = to;
        self.responded_at = Some(now);
        self.responded_by = Some(by);
        Ok(())
    }

    /// Writes down `expired` for a pending invitation past its expiry (a sweep). Returns
    /// whether anything changed.
    pub fn expire(&mut self, now: DateTime<Utc>) -> bool {
        let expired = self.status == InvitationStatus::Pending && is_expired(self.expires_at, now);
        if expired {
            self.status = InvitationStatus::Expired;
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_the_rules_names_and_read_back() {
        // rules §1: the five statuses, by the names the API and the stores use
        let names: Vec<&str> = InvitationStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["pending", "accepted", "rejected", "expired", "revoked"]);
        for status in InvitationStatus::ALL {
            assert_eq!(InvitationStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        for unknown in ["", "Pending", "cancelled", "pending "] {
            assert_eq!(InvitationStatus::parse(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn a_status_displays_as_its_name_and_honours_width() {
        // rules §1: Display is the name, padded like a str (tables line up)
        assert_eq!(format!("{}", InvitationStatus::Revoked), "revoked");
        assert_eq!(format!("[{:>9}]", InvitationStatus::Pending), "[  pending]");
        assert_eq!(format!("[{:<9}]", InvitationStatus::Expired), "[expired  ]");
        assert_eq!(
            TransitionError::NotPending(InvitationStatus::Accepted).to_string(),
            "invitation is accepted"
        );
    }

    #[test]
    fn terminal_is_exactly_accepted_rejected_and_revoked() {
        // rules R2, A6: these never change again; pending moves on, and expired can be
        // resent (rule R3)
        let terminal: Vec<InvitationStatus> = InvitationStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                InvitationStatus::Accepted,
                InvitationStatus::Rejected,
                InvitationStatus::Revoked
            ]
        );
    }

    #[test]
    fn delivery_statuses_keep_retrying_as_queued_with_attempts() {
        // rules S8, D1: JSON names; a store keeps `retrying` as `queued` and the attempts
        // counter tells them apart
        let all = [
            DeliveryStatus::Queued,
            DeliveryStatus::Retrying,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ];
        let names: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["queued", "retrying", "delivered", "failed"]);
        let stored: Vec<&str> = all.iter().map(|s| s.stored()).collect();
        assert_eq!(stored, ["queued", "queued", "delivered", "failed"]);
        for status in all {
            assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DeliveryStatus::parse("sent"), None);
        assert_eq!(DeliveryStatus::restore("queued", 0), Some(DeliveryStatus::Queued));
        assert_eq!(
            DeliveryStatus::restore("queued", 1),
            Some(DeliveryStatus::Retrying)
        );
        assert_eq!(
            DeliveryStatus::restore("queued", 7),
            Some(DeliveryStatus::Retrying)
        );
        assert_eq!(
            DeliveryStatus::restore("delivered", 1),
            Some(DeliveryStatus::Delivered)
        );
        assert_eq!(DeliveryStatus::restore("failed", 0), Some(DeliveryStatus::Failed));
        assert_eq!(DeliveryStatus::restore("failed", 3), Some(DeliveryStatus::Failed));
        assert_eq!(DeliveryStatus::restore("lost", 0), None);
    }
}
