//! Where committed events go besides the store's log: [`EventSink`], and
//! [`TracingEventSink`], the default.

use async_trait::async_trait;

use crate::event::InvitationEvent;

/// Receives each event after its change is committed: webhooks, metrics, a message bus.
/// The durable record is the store's event log; a sink that fails loses nothing there.
#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Called once per committed change.
    async fn publish(&self, event: &InvitationEvent);
}

/// An [`EventSink`] that writes each event to `tracing` at `info` level.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingEventSink;

#[async_trait]
impl EventSink for TracingEventSink {
    async fn publish(&self, event: &InvitationEvent) {
        tracing::info!(
            invitation_id = %event.invitation_id,
            enterprise_id = %event.enterprise_id,
            kind = event.kind.as_str(),
            actor = ?event.actor.as_ref().map(ToString::to_string),
            "invitation event"
        );
    }
}
