//! Delivery of invitation links by email or SMS: [`Notifier`], the [`Delivery`] it is
//! handed and the [`NotifyError`] it answers.

use std::error::Error as StdError;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::contact::Contact;
use crate::ids::InvitationId;
use crate::invitation::Invitation;
pub use crate::outbox::NotifyErrorKind;
use crate::role::Role;
use crate::token::{InviteLink, TokenDigest};

/// A message for the notifier: where to send the link, and what to say (rule S5).
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The invited contact: send to [`Contact::delivery_address`], never to a re-spelled
    /// form (rule X8).
    pub contact: Contact,
    /// The enterprise's name.
    pub enterprise_name: String,
    /// The inviter's name.
    pub inviter_name: String,
    /// The role offered.
    pub role: Role,
    /// The link (its `Debug` hides the token).
    pub link: InviteLink,
    /// When the link expires.
    pub expires_at: DateTime<Utc>,
    /// The same for every attempt to deliver this one link, different for every other
    /// link (a resend makes a new one): delivery is at-least-once, so a retry may repeat a
    /// send, and a notifier whose provider deduplicates should pass this on (rule D3).
    pub idempotency_key: String,
}

impl Delivery {
    /// The message for `invitation`'s current link, in `enterprise_name`.
    #[must_use]
    pub fn of(invitation: &Invitation, enterprise_name: &str, link: InviteLink) -> Self {
        Self {
            invitation_id: invitation.id,
            contact: invitation.contact.clone(),
            enterprise_name: enterprise_name.to_owned(),
            inviter_name: invitation.invited_by.name.clone(),
            role: invitation.role,
            link,
            expires_at: invitation.expires_at,
            idempotency_key: Self::idempotency_key_for(invitation.id, &invitation.token_digest),
        }
    }

    /// The idempotency key of the link whose token has `digest`: not the digest itself
    /// (which finds the invitation), but a hash of it.
    #[must_use]
    pub fn idempotency_key_for(invitation: InvitationId, digest: &TokenDigest) -> String {
        use sha2::{Digest as _, Sha256};
        let hash = Sha256::new()
            .chain_update(b"invite-rs delivery v1\0")
            .chain_update(digest.as_bytes())
            .finalize();
        let hex: String = hash.iter().take(12).map(|b| format!("{b:02x}")).collect();
        format!("{invitation}-{hex}")
    }
}

/// The notifier could not deliver. Its `Display` says only the kind; the cause is kept as
/// `source()` for the notifier's own diagnostics, and the library never logs it, since a
/// provider's error may quote the message and so the link (rule D4).
#[derive(Debug, thiserror::Error)]
#[error("delivery failed ({})", match .kind { NotifyErrorKind::Transient => "transient", NotifyErrorKind::Permanent => "permanent" })]
pub struct NotifyError {
    kind: NotifyErrorKind,
    #[source]
    source: Box<dyn StdError + Send + Sync + 'static>,
}

impl NotifyError {
    /// A failure worth retrying.
    pub fn transient(source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self {
            kind: NotifyErrorKind::Transient,
            source: source.into(),
        }
    }

    /// A failure that retrying will not mend.
    pub fn permanent(source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self {
            kind: NotifyErrorKind::Permanent,
            source: source.into(),
        }
    }

    /// Transient or permanent.
    #[must_use]
    pub const fn kind(&self) -> NotifyErrorKind {
        self.kind
    }
}

/// Delivers invitation links by email or SMS (rule S5). A failure leaves the invitation
/// stored with delivery `failed`, ready to resend (rule S8).
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Sends the link to `delivery.contact`.
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError>;
}
