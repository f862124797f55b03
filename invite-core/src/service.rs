//! The service: the use cases of the guide, enforcing rule S1–S8, R1–R3 and A1–A9 over
//! the ports.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::account::{Enterprise, User};
use crate::contact::ContactPolicy;
use crate::error::InviteError;
use crate::event::{EventKind, InvitationEvent};
use crate::expiry::TtlPolicy;
use crate::ids::{EnterpriseId, InvitationId, KeyKinds, UserId};
use crate::invitation::{DeliveryStatus, Invitation, Inviter};
use crate::outbox::{DeliveryId, NewDelivery, OutboxKey};
use crate::page::{Cursor, DEFAULT_PAGE_SIZE, ListQuery, MAX_PAGE_SIZE, Page};
use crate::ports::{Clock, SystemClock, to_storage_precision};
use crate::ports::{Delivery, Directory, InvitationStore, NewInvitation, Notifier, StoreError};
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

/// The outcome of an accept: the new membership (rule A5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The invitation, now accepted.
    pub invitation: Invitation,
    /// The enterprise joined.
    pub enterprise: Enterprise,
    /// The role received.
    pub role: Role,
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

    /// Sends an invitation (rule S1–S8): checks the inviter and the enterprise, parses the
    /// contact and role, stores a pending invitation, and hands the link to the notifier —
    /// through the outbox, in the same transaction (rule D1, delivery `queued`), or inline.
    /// An inline notifier failure is recorded as delivery `failed`; the invitation stays
    /// and can be resent (rule S8).
    ///
    /// # Errors
    /// `forbidden`, `enterprise_not_certified`, `invalid_contact`, `role_not_assignable`,
    /// `invalid_request` (expiry out of bounds), `already_member`, `duplicate_pending`,
    /// `internal`.
    pub async fn send(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        request: SendInvitation,
    ) -> Result<SentInvitation, InviteError> {
        let enterprise = self.authorize_inviting(actor, enterprise_id).await?;
        let contact = self.config.contacts.parse(&request.contact)?;
        self.send_authorized(actor, &enterprise, contact, request).await
    }

    /// Sends many invitations in one request (rule B2): S1 and S2 are checked once and
    /// refuse the whole request; then every row goes through the rules of
    /// [`Invitations::send`] (S3–S8) on its own, so a bad row never stops the good ones.
    /// A row whose contact (normalized) appeared in an earlier row of the request is
    /// `duplicate_pending`. Each created invitation is delivered as a single send's is
    /// (through the outbox when configured, rule D1). The answer has one result per row,
    /// in order.
    ///
    /// A row the adapter could not read (a body row of the wrong shape) arrives as its
    /// error and comes back unchanged in its place, after the S1/S2 check.
    ///
    /// # Errors
    /// The whole request: `forbidden` (S1), `enterprise_not_certified` (S2),
    /// `invalid_request` when there are no rows or more than [`MAX_BULK_ROWS`], `internal`
    /// when the directory fails. Each row: the errors of [`Invitations::send`].
    pub async fn send_many(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        rows: Vec<Result<SendInvitation, InviteError>>,
    ) -> Result<Vec<BulkRowResult>, InviteError> {
        // rule S1 decision: authorization before the input is looked at.
        let enterprise = self.authorize_inviting(actor, enterprise_id).await?;
        if rows.is_empty() || rows.len() > MAX_BULK_ROWS {
            return Err(InviteError::InvalidRequest(format!(
                "a bulk invite takes 1 to {MAX_BULK_ROWS} rows"
            )));
        }
        let mut seen: Vec<String> = Vec::with_capacity(rows.len());
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            let result = match row {
                Err(err) => Err(err),
                Ok(request) => match self.config.contacts.parse(&request.contact) {
                    Err(err) => Err(err.into()),
                    Ok(contact) => {
                        let normalized = contact.normalized().to_owned();
                        if seen.contains(&normalized) {
                            // rule B2: the same contact twice in one request.
                            Err(InviteError::DuplicatePending)
                        } else {
                            seen.push(normalized);
                            self.send_authorized(actor, &enterprise, contact, request).await
                        }
                    }
                },
            };
            results.push(result);
        }
        Ok(results)
    }

    /// The part of a send after S1 and S2 (and after the contact has been parsed): S4–S8.
    async fn send_authorized(
        &self,
        actor: &User,
        enterprise: &Enterprise,
        contact: crate::contact::Contact,
        request: SendInvitation,
    ) -> Result<SentInvitation, InviteError> {
        let enterprise_id = &enterprise.id;
        let role = self.config.roles.parse_assignable(&request.role)?;
        let now = self.now();
        let expires_at = self.config.ttl.expires_at(now, request.expires_in)?;
        let token = InviteToken::generate();
        let id = InvitationId::new();
        let new = NewInvitation {
            id,
            enterprise_id: enterprise_id.clone(),
            contact,
            role,
            invited_by: Inviter {
                user_id: actor.id.clone(),
                name: actor.name.clone(),
            },
            token_digest: token.digest(),
            sent_at: now,
            expires_at,
        };
        if let Some(queued) = self.queue(id, &token, now)? {
            let invitation = self.store.create_queued(new, queued.delivery).await?;
            self.publish(&invitation, EventKind::Sent, Some(&actor.id), now)
                .await;
            self.wake.wake();
            return Ok(SentInvitation {
                invitation,
                link: queued.link,
            });
        }
        let invitation = self.store.create(new).await?;
        self.publish(&invitation, EventKind::Sent, Some(&actor.id), now)
            .await;
        self.deliver(invitation, enterprise, &token).await
    }

    /// In outbox mode, the link and the delivery request of a new token (rule D1, D4).
    fn queue(
        &self,
        id: InvitationId,
        token: &InviteToken,
        now: DateTime<Utc>,
    ) -> Result<Option<Queued>, InviteError> {
        let Some(key) = &self.outbox else {
            return Ok(None);
        };
        let link = InviteLink::new(&self.config.base_url, token);
        let digest: TokenDigest = token.digest();
        let sealed_link = key
            .seal(&link, id, &digest)
            .map_err(|err| InviteError::Internal(StoreError::backend(err)))?;
        Ok(Some(Queued {
            link,
            delivery: NewDelivery {
                id: DeliveryId::new(),
                token_digest: digest,
                sealed_link,
                queued_at: now,
            },
        }))
    }

    /// One page of the records table, newest first (rule R1).
    ///
    /// # Errors
    /// `forbidden`, `invalid_request` (bad cursor or limit), `internal`.
    pub async fn list(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        request: ListInvitations,
    ) -> Result<Page, InviteError> {
        self.authorize(actor, enterprise_id).await?;
        let limit = request.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if limit == 0 || limit > MAX_PAGE_SIZE {
            return Err(InviteError::InvalidRequest(format!(
                "limit must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        let after = request.cursor.as_deref().map(Cursor::decode).transpose()?;
        let query = ListQuery {
            status: request.status,
            limit: limit + 1,
            after,
        };
        // One instant for the filter and for every status the page shows (rules §1).
        let as_of = self.now();
        let mut items = self.store.list(enterprise_id, &query, as_of).await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| Cursor::after(last).encode())
        } else {
            None
        };
        Ok(Page {
            items,
            next_cursor,
            as_of,
        })
    }

    /// One invitation of the enterprise (rule X3: a foreign id is `not_found`).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `internal`.
    pub async fn get(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Invitation, InviteError> {
        self.authorize(actor, enterprise_id).await?;
        self.store
            .get(enterprise_id, id)
            .await?
            .ok_or(InviteError::NotFound)
    }

    /// Revokes a pending invitation; its link stops working at once (rule R2).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `invitation_not_pending`, `internal`.
    pub async fn revoke(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Invitation, InviteError> {
        self.authorize(actor, enterprise_id).await?;
        let invitation = self
            .store
            .revoke(enterprise_id, id, &actor.id, &*self.clock)
            .await?;
        let at = invitation.revoked_at.unwrap_or_else(|| self.now());
        self.publish(&invitation, EventKind::Revoked, Some(&actor.id), at)
            .await;
        Ok(invitation)
    }

    /// Resends a pending or expired invitation: a new token (the old link stops working),
    /// the default expiry from now, and a new delivery (rule R3).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `invitation_not_pending`, `duplicate_pending`,
    /// `already_member`, `enterprise_not_certified`, `internal`.
    pub async fn resend(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        id: InvitationId,
    ) -> Result<SentInvitation, InviteError> {
        let enterprise = self.authorize_inviting(actor, enterprise_id).await?;
        let now = self.now();
        let expires_at = self.config.ttl.expires_at(now, None)?;
        let token = InviteToken::generate();
        if let Some(queued) = self.queue(id, &token, now)? {
            let invitation = self
                .store
                .resend_queued(enterprise_id, id, &actor.id, expires_at, queued.delivery)
                .await?;
            self.publish(&invitation, EventKind::Resent, Some(&actor.id), now)
                .await;
            self.wake.wake();
            return Ok(SentInvitation {
                invitation,
                link: queued.link,
            });
        }
        let invitation = self
            .store
            .resend(enterprise_id, id, &actor.id, token.digest(), expires_at, now)
            .await?;
        self.publish(&invitation, EventKind::Resent, Some(&actor.id), now)
            .await;
        self.deliver(invitation, &enterprise, &token).await
    }

    /// The invitee page's model (rule A1–A4). Changes nothing (rule A9), so a mail scanner
    /// that opens the link cannot use it up.
    ///
    /// # Errors
    /// `internal` only: an unknown token is a state, not an error.
    pub async fn view(&self, token: &str, viewer: Option<&User>) -> Result<InvitationView, InviteError> {
        let Some(invitation) = self.find(token).await? else {
            return Ok(InvitationView::invalid(viewer));
        };
        let Some(enterprise) = self.directory.enterprise(&invitation.enterprise_id).await? else {
            return Ok(InvitationView::invalid(viewer));
        };
        Ok(InvitationView::of(&invitation, &enterprise, viewer, self.now()))
    }

    /// Accepts an invitation for the signed-in `user` (rule A3–A9): the user becomes a
    /// member with the invited role, atomically with the invitation turning `accepted`.
    ///
    /// # Errors
    /// `invalid_or_expired`, `already_accepted`, `already_rejected`, `account_mismatch`,
    /// `enterprise_not_certified`, `role_not_assignable`, `already_member`, `internal`.
    pub async fn accept(&self, token: &str, user: &User) -> Result<Accepted, InviteError> {
        let invitation = self.answerable(token, user, self.now()).await?;
        let enterprise = self.recheck(&invitation).await?;
        let accepted = self
            .store
            .accept(&invitation.token_digest, user, &*self.clock)
            .await?;
        self.accepted(accepted, enterprise, user).await
    }

    /// Rejects an invitation for the signed-in `user` (rule A7); no membership is made.
    ///
    /// # Errors
    /// `invalid_or_expired`, `already_accepted`, `already_rejected`, `account_mismatch`,
    /// `internal`.
    pub async fn reject(&self, token: &str, user: &User) -> Result<Invitation, InviteError> {
        let invitation = self.answerable(token, user, self.now()).await?;
        let rejected = self
            .store
            .reject(&invitation.token_digest, &user.id, &*self.clock)
            .await?;
        self.rejected(rejected, user).await
    }

    /// The signed-in user's own invitations (rule B1): pending and unexpired, addressed to
    /// the user's verified email or phone ([`User::verified_contacts`]), across
    /// enterprises, soonest expiry first. An invitation whose enterprise the directory no
    /// longer knows is left out.
    ///
    /// # Errors
    /// `internal`.
    pub async fn mine(&self, user: &User) -> Result<Vec<MyInvitation>, InviteError> {
        let contacts = user.verified_contacts();
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let pending = self.store.pending_for(&contacts, self.now()).await?;
        let mut names: Vec<(EnterpriseId, Option<String>)> = Vec::new();
        let mut mine = Vec::with_capacity(pending.len());
        for invitation in pending {
            let known = names.iter().find(|(id, _)| *id == invitation.enterprise_id);
            let name = match known {
                Some((_, name)) => name.clone(),
                None => {
                    let name = self
                        .directory
                        .enterprise(&invitation.enterprise_id)
                        .await?
                        .map(|e| e.name);
                    names.push((invitation.enterprise_id.clone(), name.clone()));
                    name
                }
            };
            let Some(enterprise_name) = name else {
                continue;
            };
            mine.push(MyInvitation {
                id: invitation.id,
                enterprise_id: invitation.enterprise_id,
                enterprise_name,
                inviter_name: invitation.invited_by.name,
                role: invitation.role,
                expires_at: invitation.expires_at,
            });
        }
        Ok(mine)
    }

    /// Accepts the user's own invitation `id` without its token (rule B1): every rule of
    /// [`Invitations::accept`] (rule A5–A9, H2) and the same refusals, except that an id
    /// not addressed to one of the user's verified contacts is `not_found`, exactly like
    /// an id that does not exist.
    ///
    /// # Errors
    /// `not_found`, `invalid_or_expired`, `already_accepted`, `already_rejected`,
    /// `enterprise_not_certified`, `role_not_assignable`, `already_member`, `internal`.
    pub async fn accept_mine(&self, user: &User, id: InvitationId) -> Result<Accepted, InviteError> {
        let invitation = self.answerable_mine(user, id, self.now()).await?;
        let enterprise = self.recheck(&invitation).await?;
        let accepted = self.store.accept_by_id(id, user, &*self.clock).await?;
        self.accepted(accepted, enterprise, user).await
    }

    /// Rejects the user's own invitation `id` without its token (rule B1, rule A7); an id
    /// not addressed to the user is `not_found`.
    ///
    /// # Errors
    /// `not_found`, `invalid_or_expired`, `already_accepted`, `already_rejected`,
    /// `internal`.
    pub async fn reject_mine(&self, user: &User, id: InvitationId) -> Result<Invitation, InviteError> {
        self.answerable_mine(user, id, self.now()).await?;
        let rejected = self.store.reject_by_id(id, &user.id, &*self.clock).await?;
        self.rejected(rejected, user).await
    }

    /// rule A9: the role is still one the service assigns (its own settings), and the
    /// enterprise for the answer. Whether the enterprise is still certified is the store's
    /// to decide, inside the accept's transaction (`StoreError::EnterpriseNotCertified`).
    async fn recheck(&self, invitation: &Invitation) -> Result<Enterprise, InviteError> {
        let enterprise = self
            .directory
            .enterprise(&invitation.enterprise_id)
            .await?
            .ok_or(InviteError::InvalidOrExpired)?;
        self.config.roles.check(invitation.role)?;
        Ok(enterprise)
    }

    /// Publishes an accept, at the instant the store decided and recorded it, and makes
    /// its answer.
    async fn accepted(
        &self,
        accepted: Invitation,
        enterprise: Enterprise,
        user: &User,
    ) -> Result<Accepted, InviteError> {
        let at = accepted.responded_at.unwrap_or_else(|| self.now());
        self.publish(&accepted, EventKind::Accepted, Some(&user.id), at)
            .await;
        let role = accepted.role;
        Ok(Accepted {
            invitation: accepted,
            enterprise,
            role,
        })
    }

    /// Publishes a reject at the instant the store decided and recorded it.
    async fn rejected(&self, rejected: Invitation, user: &User) -> Result<Invitation, InviteError> {
        let at = rejected.responded_at.unwrap_or_else(|| self.now());
        self.publish(&rejected, EventKind::Rejected, Some(&user.id), at)
            .await;
        Ok(rejected)
    }

    /// The invitation `id` if it is addressed to `user`'s verified contacts and may be
    /// answered now (rule B1). Not addressed to the user: `not_found`, before anything
    /// about its state is said.
    async fn answerable_mine(
        &self,
        user: &User,
        id: InvitationId,
        now: DateTime<Utc>,
    ) -> Result<Invitation, InviteError> {
        let invitation = self
            .store
            .find_by_id(id)
            .await?
            .filter(|invitation| user.is_reached_by(&invitation.contact))
            .ok_or(InviteError::NotFound)?;
        invitation.check_answerable(now)?;
        Ok(invitation)
    }

    /// The audit trail of one invitation (rule X5).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `internal`.
    pub async fn events(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Vec<InvitationEvent>, InviteError> {
        self.get(actor, enterprise_id, id).await?;
        Ok(self.store.events(enterprise_id, id).await?)
    }

    /// Writes down `expired` for up to `batch` overdue invitations; returns how many.
    ///
    /// # Errors
    /// `internal`.
    pub async fn sweep_expired(&self, batch: usize) -> Result<usize, InviteError> {
        Ok(self.store.sweep_expired(self.now(), batch).await?)
    }

    async fn find(&self, token: &str) -> Result<Option<Invitation>, InviteError> {
        match InviteToken::parse(token) {
            Some(token) => Ok(self.store.find_by_digest(&token.digest()).await?),
            None => Ok(None),
        }
    }

    /// The invitation behind `token`, if `user` may answer it now (rule A4, A6). The store
    /// decides again atomically; this only picks the right refusal early.
    async fn answerable(
        &self,
        token: &str,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<Invitation, InviteError> {
        let invitation = self.find(token).await?.ok_or(InviteError::InvalidOrExpired)?;
        invitation.check_answerable(now)?;
        if !user.is_reached_by(&invitation.contact) {
            return Err(InviteError::AccountMismatch);
        }
        Ok(invitation)
    }

    async fn deliver(
        &self,
        mut invitation: Invitation,
        enterprise: &Enterprise,
        token: &InviteToken,
    ) -> Result<SentInvitation, InviteError> {
        let link = InviteLink::new(&self.config.base_url, token);
        let delivery = Delivery::of(&invitation, &enterprise.name, link.clone());
        let outcome = match &self.notifier {
            Some(notifier) => notifier.deliver(&delivery).await,
            None => Err(crate::ports::NotifyError::permanent("no notifier configured")),
        };
        invitation.delivery_attempts += 1;
        invitation.delivery = match outcome {
            Ok(()) => DeliveryStatus::Delivered,
            Err(err) => {
                // Only the kind: a notifier's error chain may quote the link (rule D4).
                tracing::warn!(invitation_id = %invitation.id, error = %err, "invitation delivery failed; it can be resent");
                DeliveryStatus::Failed
            }
        };
        // The invitation and its link exist whatever this write does: a failure here leaves
        // delivery `queued`, which is true and resendable (rule S8, X7).
        if let Err(err) = self.store.set_delivery(invitation.id, invitation.delivery).await {
            tracing::error!(invitation_id = %invitation.id, error = ?err, "could not record delivery status");
            invitation.delivery = DeliveryStatus::Queued;
            invitation.delivery_attempts -= 1;
        }
        Ok(SentInvitation { invitation, link })
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

/// A link and its delivery request, made before the transaction that stores both.
struct Queued {
    link: InviteLink,
    delivery: NewDelivery,
}
