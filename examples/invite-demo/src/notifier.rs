//! The development notifier: instead of sending mail or SMS it writes each link to the log.
//!
//! This is the one place in invite-rs where a token reaches a log line (rule X1 forbids it
//! everywhere else); the line is marked `DEV` so nobody mistakes it for a real delivery.
//! A real host plugs in an email/SMS [`Notifier`] instead.

use async_trait::async_trait;
use invite_core::{Delivery, Notifier, NotifyError};

/// Logs every outgoing invitation link, with where it would have gone.
#[derive(Clone, Copy, Debug, Default)]
pub struct DevLogNotifier;

#[async_trait]
impl Notifier for DevLogNotifier {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        let channel = match delivery.contact.kind() {
            invite_core::ContactKind::Email => "email",
            invite_core::ContactKind::Phone => "SMS",
        };
        tracing::warn!(
            target: "invite_demo::dev_notifier",
            invitation_id = %delivery.invitation_id,
            "DEV NOTIFIER (demo only, nothing was sent): {channel} to {to} — {inviter} invites \
             them to {enterprise} as {role}, link expires {expires}: {link}",
            to = delivery.contact.entered(),
            inviter = delivery.inviter_name,
            enterprise = delivery.enterprise_name,
            role = delivery.role,
            expires = delivery.expires_at.to_rfc3339(),
            link = delivery.link.expose_secret(),
        );
        Ok(())
    }
}
