//! Where committed events go besides the store's log: [`EventSink`], and
//! [`TracingEventSink`], the default.

use async_trait::async_trait;

use crate::event::InvitationEvent;

/// Receives events after their change is committed: webhooks, metrics, a message bus.
///
/// Delivery to a sink is **at most once**: the service publishes after the commit, so a
/// crash, an error or a panic between the two leaves the event in the store's log (rule
/// X5) and never hands it to the sink (the fault sweep of `testing::faults` sees this in
/// about one run in five it faults a decision). The durable, complete record is the
/// store's event log ([`InvitationStore::events`](super::InvitationStore::events)); a host
/// that needs every event delivered reads that log rather than relying on the sink.
#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Called at most once per committed change, after the commit.
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
