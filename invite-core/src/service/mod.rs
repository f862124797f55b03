//! The service: the use cases of the guide, enforcing rule S1–S8, R1–R3 and A1–A9 over
//! the ports, split by side: `sending` (send, bulk, resend), `records` (list, get,
//! revoke, events, sweep) and `answering` (view, accept, reject, the invitee's own
//! invitations); this module holds the types, the builder and what they share.

mod answering;
mod records;
mod sending;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crate::ports::Accepted;

use crate::account::{Enterprise, User};
use crate::contact::ContactPolicy;
use crate::error::InviteError;
use crate::event::{EventKind, InvitationEvent};
use crate::expiry::TtlPolicy;
use crate::ids::{EnterpriseId, InvitationId, KeyKinds, UserId};
use crate::invitation::{DeliveryStatus, Invitation, Inviter};
use crate::outbox::{DeliveryId, NewDelivery, OutboxKey};
use crate::page::{Cursor, DEFAULT_PAGE_SIZE, ListQuery, MAX_PAGE_SIZE, Page};
use crate::ports::{Answer, Target};
use crate::ports::{Clock, SystemClock, to_storage_precision};
use crate::ports::{Delivery, Directory, InvitationStore, NewInvitation, NewRow, Notifier, StoreError};
use crate::ports::{EventSink, TracingEventSink};
use crate::role::{Role, RolePolicy};
use crate::token::TokenDigest;
use crate::token::{InviteLink, InviteToken};
use crate::view::InvitationView;
use crate::worker::{DeliveryWorker, Wake, WorkerConfig};

/// A request to invite someone (rules §6 create body), as the client sent it; the service
/// parses it after checking who asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendInvitation {
    /// One email address or phone number (rule S3).
    pub contact: String,
    /// The role name (rule S4).
    pub role: String,
    /// Time-to-live, within the configured bounds (rule S6); `None` for the default.
    pub expires_in: Option<Duration>,
}

impl SendInvitation {
    /// An invitation of `contact` with `role` and the default expiry.
    #[must_use]
    pub fn new(contact: impl Into<String>, role: impl Into<String>) -> Self {
        Self {
            contact: contact.into(),
            role: role.into(),
            expires_in: None,
        }
    }

    /// Sets the time-to-live of this invitation.
    #[must_use]
    pub fn expires_in(mut self, ttl: Duration) -> Self {
        self.expires_in = Some(ttl);
        self
    }
}

/// Filters of the records table (rule R1), as the client sent them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListInvitations {
    /// Only this status (derived, so `expired` includes unswept rows).
    pub status: Option<crate::invitation::InvitationStatus>,
    /// Rows per page, 1 to 100; default 20.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A sent (or resent) invitation with its link: the only time the link is shown (rule S5).
#[derive(Clone, Debug)]
pub struct SentInvitation {
    /// The stored invitation, with its delivery status.
    pub invitation: Invitation,
    /// The link; hand it to the inviter once, never store it.
    pub link: InviteLink,
}

/// One of the signed-in user's own invitations (rule B1): pending, unexpired, addressed to
/// one of the user's verified contacts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MyInvitation {
    /// The invitation's id, to accept or reject it by ([`Invitations::accept_mine`]).
    pub id: InvitationId,
    /// The inviting enterprise.
    pub enterprise_id: EnterpriseId,
    /// Its name, from the host's directory.
    pub enterprise_name: String,
    /// Who sent it (their name at the time).
    pub inviter_name: String,
    /// The role offered.
    pub role: Role,
    /// When it stops being answerable.
    pub expires_at: DateTime<Utc>,
}

/// The most rows one bulk send takes (rule B2).
pub const MAX_BULK_ROWS: usize = 100;

/// The outcome of one row of a bulk send (rule B2), in the request's order: the sent
/// invitation with its link, or why that row was refused.
pub type BulkRowResult = Result<SentInvitation, InviteError>;

/// Settings of the service.
#[derive(Clone, Debug)]
pub struct InvitationsConfig {
    /// Where links point: `{base_url}/invite?token=…` (rule S5, X10).
    pub base_url: String,
    /// Expiry default and bounds (rule S6).
    pub ttl: TtlPolicy,
    /// Roles an invitation may assign (rule S4).
    pub roles: RolePolicy,
    /// How contacts are parsed (rule S3, X8).
    pub contacts: ContactPolicy,
}

impl InvitationsConfig {
    /// Defaults for everything but the base URL.
    #[must_use]
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            ttl: TtlPolicy::default(),
            roles: RolePolicy::default(),
            contacts: ContactPolicy::default(),
        }
    }
}

/// Builds an [`Invitations`] service.
pub struct InvitationsBuilder {
    store: Arc<dyn InvitationStore>,
    directory: Arc<dyn Directory>,
    notifier: Option<Arc<dyn Notifier>>,
    outbox: Option<OutboxKey>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    config: InvitationsConfig,
}

impl InvitationsBuilder {
    /// Where links point (rule X10).
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.config.base_url = base_url.into();
        self
    }

    /// The notifier that delivers links. Without one, links are only returned to the
    /// inviter and delivery reads `failed`.
    #[must_use]
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Delivers through the transactional outbox (rule D1): `send` and `resend` write the
    /// delivery request, its link encrypted under `key` (rule D4), in the same transaction
    /// as the invitation and answer with delivery `queued`; the
    /// [`DeliveryWorker`] from [`Invitations::delivery_worker`] hands it to the notifier,
    /// retrying with backoff. Keep `key` (32 bytes) apart from the database and the same
    /// for every process that shares it.
    ///
    /// Without this option the service delivers inline, as before the outbox: the
    /// notifier is called in `send` after the commit, and a crash or a failure there
    /// leaves the invitation `queued` or `failed` until someone resends it.
    #[must_use]
    pub fn outbox(mut self, key: OutboxKey) -> Self {
        self.outbox = Some(key);
        self
    }

    /// The clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where committed events go besides the store's log (default: `tracing`).
    #[must_use]
    pub fn events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    /// Expiry default and bounds (rule S6).
    #[must_use]
    pub fn ttl(mut self, ttl: TtlPolicy) -> Self {
        self.config.ttl = ttl;
        self
    }

    /// Assignable roles (rule S4).
    #[must_use]
    pub fn roles(mut self, roles: RolePolicy) -> Self {
        self.config.roles = roles;
        self
    }

    /// Contact parsing (rule S3).
    #[must_use]
    pub fn contacts(mut self, contacts: ContactPolicy) -> Self {
        self.config.contacts = contacts;
        self
    }

    /// The service.
    #[must_use]
    pub fn build(self) -> Invitations {
        Invitations {
            store: self.store,
            directory: self.directory,
            notifier: self.notifier,
            outbox: self.outbox,
            wake: Arc::default(),
            clock: self.clock,
            events: self.events,
            config: self.config,
        }
    }
}

/// The invitation service: every use case of the guide, for inviters and invitees.
///
/// Cheap to clone (it holds `Arc`s); share one per process.
#[derive(Clone)]
pub struct Invitations {
    store: Arc<dyn InvitationStore>,
    directory: Arc<dyn Directory>,
    notifier: Option<Arc<dyn Notifier>>,
    outbox: Option<OutboxKey>,
    wake: Arc<Wake>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventSink>,
    config: InvitationsConfig,
}

impl std::fmt::Debug for Invitations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitations")
            .field("config", &self.config)
            .field("outbox", &self.outbox.is_some())
            .finish_non_exhaustive()
    }
}

impl Invitations {
    /// Starts a service over `store`, which is both the invitation store and the host's
    /// directory (so that send and accept check and write memberships atomically, rule
    /// H2).
    pub fn builder<S>(store: Arc<S>) -> InvitationsBuilder
    where
        S: InvitationStore + Directory,
    {
        InvitationsBuilder {
            store: store.clone(),
            directory: store,
            notifier: None,
            outbox: None,
            clock: Arc::new(SystemClock),
            events: Arc::new(TracingEventSink),
            config: InvitationsConfig::new("http://localhost:3000"),
        }
    }

    /// The settings in force.
    #[must_use]
    pub fn config(&self) -> &InvitationsConfig {
        &self.config
    }

    /// The worker that drains this service's outbox, sharing its store, directory,
    /// notifier, outbox key, clock and event sink, with [`WorkerConfig::default`]; `None`
    /// when the service delivers inline (no [`InvitationsBuilder::outbox`]). Deliveries
    /// this service queues wake its workers' `DeliveryWorker::run` at once.
    #[must_use]
    pub fn delivery_worker(&self) -> Option<DeliveryWorker> {
        let key = self.outbox.clone()?;
        Some(DeliveryWorker {
            store: self.store.clone(),
            directory: self.directory.clone(),
            notifier: self.notifier.clone(),
            key,
            clock: self.clock.clone(),
            events: self.events.clone(),
            wake: self.wake.clone(),
            config: WorkerConfig::default(),
        })
    }

    /// Whether `send` and `resend` go through the outbox (rule D1).
    #[must_use]
    pub fn uses_outbox(&self) -> bool {
        self.outbox.is_some()
    }

    /// The directory the service reads, for hosts that show members.
    #[must_use]
    pub fn directory(&self) -> &Arc<dyn Directory> {
        &self.directory
    }

    /// How the host keys enterprises and users (rule H3), from the directory.
    #[must_use]
    pub fn key_kinds(&self) -> KeyKinds {
        self.directory.key_kinds()
    }

    /// Parses an enterprise id as the host writes it (e.g. a path segment `42`).
    ///
    /// # Errors
    /// `invalid_request` when `raw` is not a key of the host's kind.
    pub fn enterprise_id(&self, raw: &str) -> Result<EnterpriseId, InviteError> {
        EnterpriseId::parse(self.key_kinds().enterprise, raw)
            .map_err(|err| InviteError::InvalidRequest(format!("enterprise id: {err}")))
    }

    /// Parses a user id as the host writes it.
    ///
    /// # Errors
    /// `invalid_request` when `raw` is not a key of the host's kind.
    pub fn user_id(&self, raw: &str) -> Result<UserId, InviteError> {
        UserId::parse(self.key_kinds().user, raw)
            .map_err(|err| InviteError::InvalidRequest(format!("user id: {err}")))
    }

    /// The service's current time (from its clock, at storage precision). Adapters use it
    /// to derive statuses with [`Invitation::status_at`] exactly as the service does.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        to_storage_precision(self.clock.now())
    }

    /// rule S1: a super_admin of *that* enterprise, and the enterprise exists.
    async fn authorize(&self, actor: &User, enterprise: &EnterpriseId) -> Result<Enterprise, InviteError> {
        match self.directory.role_of(enterprise, &actor.id).await? {
            Some(Role::SuperAdmin) => {}
            _ => return Err(InviteError::Forbidden),
        }
        self.directory
            .enterprise(enterprise)
            .await?
            .ok_or(InviteError::Forbidden)
    }

    /// rule S1 and S2: a super_admin of a certified enterprise.
    async fn authorize_inviting(
        &self,
        actor: &User,
        enterprise: &EnterpriseId,
    ) -> Result<Enterprise, InviteError> {
        let enterprise = self.authorize(actor, enterprise).await?;
        if enterprise.certified {
            Ok(enterprise)
        } else {
            Err(InviteError::EnterpriseNotCertified)
        }
    }

    async fn publish(
        &self,
        invitation: &Invitation,
        kind: EventKind,
        actor: Option<&UserId>,
        at: DateTime<Utc>,
    ) {
        let event = InvitationEvent {
            invitation_id: invitation.id,
            enterprise_id: invitation.enterprise_id.clone(),
            kind,
            actor: actor.cloned(),
            at,
        };
        self.events.publish(&event).await;
    }
}
