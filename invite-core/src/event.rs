//! The audit trail (rule X5): every state change is an event with actor and time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{EnterpriseId, InvitationId, UserId};

/// What happened to an invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Created and handed to the notifier.
    Sent,
    /// A new token was issued and the expiry reset (rule R3).
    Resent,
    /// Revoked by a super admin (rule R2).
    Revoked,
    /// Accepted by the invitee; the membership was created with it (rule A5).
    Accepted,
    /// Rejected by the invitee (rule A7).
    Rejected,
    /// Written down as expired by a sweep.
    Expired,
    /// The outbox handed the current link to the notifier, which took it (rule D1).
    Delivered,
    /// An attempt to deliver the current link failed for a reason that may pass; another
    /// is scheduled (rule D1). Only the kind is recorded, never the notifier's text (D4).
    DeliveryDeferred,
    /// The current link could not be delivered: the notifier refused it for good, or every
    /// attempt failed (rule D1). A resend can fix it.
    DeliveryFailed,
}

impl EventKind {
    /// The snake_case name used in storage and JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Sent => "sent",
            EventKind::Resent => "resent",
            EventKind::Revoked => "revoked",
            EventKind::Accepted => "accepted",
            EventKind::Rejected => "rejected",
            EventKind::Expired => "expired",
            EventKind::Delivered => "delivered",
            EventKind::DeliveryDeferred => "delivery_deferred",
            EventKind::DeliveryFailed => "delivery_failed",
        }
    }

    /// Reads a name written by [`EventKind::as_str`].
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Sent,
            Self::Resent,
            Self::Revoked,
            Self::Accepted,
            Self::Rejected,
            Self::Expired,
            Self::Delivered,
            Self::DeliveryDeferred,
            Self::DeliveryFailed,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// One state change, written by the store in the same transaction as the change itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationEvent {
    /// The invitation that changed.
    pub invitation_id: InvitationId,
    /// Its enterprise.
    pub enterprise_id: EnterpriseId,
    /// What happened.
    pub kind: EventKind,
    /// Who did it; `None` for changes made by time (a sweep) or by the outbox's worker.
    pub actor: Option<UserId>,
    /// When.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const ALL: [(EventKind, &str); 9] = [
        (EventKind::Sent, "sent"),
        (EventKind::Resent, "resent"),
        (EventKind::Revoked, "revoked"),
        (EventKind::Accepted, "accepted"),
        (EventKind::Rejected, "rejected"),
        (EventKind::Expired, "expired"),
        (EventKind::Delivered, "delivered"),
        (EventKind::DeliveryDeferred, "delivery_deferred"),
        (EventKind::DeliveryFailed, "delivery_failed"),
    ];

    #[test]
    fn names_are_the_snake_case_ones_of_storage_and_json_and_read_back() {
        // rule X5: the kind is stored and shown by name.
        for (kind, name) in ALL {
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::Value::from(name));
            assert_eq!(EventKind::parse(name), Some(kind));
        }
    }

    #[test]
    fn unknown_names_are_not_read() {
        // rule X5
        for name in ["", "xyzzy", "Sent", "SENT", " sent", "delivery-failed"] {
            assert_eq!(EventKind::parse(name), None, "{name:?}");
        }
    }
}
