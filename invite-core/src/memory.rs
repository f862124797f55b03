//! [`MemoryStore`] (feature `memory`): the invitation store and the self-contained
//! accounts in memory, for prototypes, examples and tests. Nothing survives the process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::{Enterprise, Member, Membership, User};
use crate::contact::Contact;
use crate::event::{EventKind, InvitationEvent};
use crate::ids::{EnterpriseId, InvitationId, KeyKind, KeyKinds, UserId};
use crate::invitation::{DeliveryStatus, Invitation, InvitationStatus};
use crate::outbox::{
    ClaimedDelivery, DeliveryId, DeliveryOutcome, Finished, NewDelivery, OutboxEntry, OutboxState,
};
use crate::page::ListQuery;
use crate::ports::Clock;
use crate::ports::{Accepted, Answer, Target};
use crate::ports::{Accounts, DeliveryOutbox, Directory, InvitationStore, NewInvitation, StoreError};
use crate::role::Role;
use crate::token::TokenDigest;

/// An in-memory store and directory. Every call takes one lock, so each port call is
/// atomic, as the contract demands of real databases. For tests, examples and prototypes.
///
/// [`MemoryStore::with_key_kinds`] makes it host-shaped (e.g. integer keys): as a
/// `HostFixture` (feature `test-support`) it then hands out keys of those kinds.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    kinds: KeyKinds,
    next_key: AtomicI64,
    fail_member_inserts: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    invitations: Vec<Invitation>,
    events: Vec<InvitationEvent>,
    outbox: Vec<OutboxRow>,
    enterprises: HashMap<EnterpriseId, Enterprise>,
    users: HashMap<UserId, User>,
    members: HashMap<(EnterpriseId, UserId), Role>,
}

impl MemoryStore {
    /// An empty store whose enterprises and users are keyed by `kinds`.
    #[must_use]
    pub fn with_key_kinds(kinds: KeyKinds) -> Self {
        Self {
            kinds,
            ..Self::default()
        }
    }

    /// A fresh key of `kind`: a UUID, or the next integer (also as text).
    #[cfg_attr(not(feature = "test-support"), allow(dead_code))]
    pub(crate) fn next_key(&self, kind: KeyKind) -> crate::ids::Key {
        let n = self.next_key.fetch_add(1, Ordering::SeqCst) + 1;
        match kind {
            KeyKind::Int => crate::ids::Key::Int(n),
            KeyKind::Text => crate::ids::Key::from(format!("k{n}")),
            _ => crate::ids::Key::Uuid(uuid::Uuid::new_v4()),
        }
    }

    /// From now on, membership inserts by [`InvitationStore::accept`] fail (`fail`) or work
    /// again: the fault a host's failing membership insert would be.
    #[cfg_attr(not(feature = "test-support"), allow(dead_code))]
    pub(crate) fn set_fail_member_inserts(&self, fail: bool) {
        self.fail_member_inserts.store(fail, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One outbox row and its current lease.
#[derive(Debug, Clone)]
struct OutboxRow {
    entry: OutboxEntry,
    claim: Option<uuid::Uuid>,
}

impl State {
    fn enqueue(&mut self, invitation: &Invitation, delivery: NewDelivery) {
        self.outbox.push(OutboxRow {
            entry: OutboxEntry {
                id: delivery.id,
                invitation_id: invitation.id,
                enterprise_id: invitation.enterprise_id.clone(),
                token_digest: delivery.token_digest,
                state: OutboxState::Queued,
                attempts: 0,
                due_at: delivery.queued_at,
                sealed_link: Some(delivery.sealed_link),
                queued_at: delivery.queued_at,
                finished_at: None,
                last_error: None,
            },
            claim: None,
        });
    }

    /// Ends a queued row: the link is erased (rule D4).
    fn finish_row(row: &mut OutboxRow, state: OutboxState, now: DateTime<Utc>) {
        row.entry.state = state;
        row.entry.sealed_link = None;
        row.entry.finished_at = Some(now);
        row.claim = None;
    }

    fn has_member_with(&self, enterprise: &EnterpriseId, contact: &Contact) -> bool {
        self.members.keys().any(|(e, u)| {
            e == enterprise && self.users.get(u).is_some_and(|user| user.is_reached_by(contact))
        })
    }

    fn has_live_pending(
        &self,
        enterprise: &EnterpriseId,
        contact: &Contact,
        except: Option<InvitationId>,
        now: DateTime<Utc>,
    ) -> bool {
        self.invitations.iter().any(|i| {
            i.enterprise_id == *enterprise
                && Some(i.id) != except
                && i.contact.normalized() == contact.normalized()
                && i.status_at(now) == InvitationStatus::Pending
        })
    }

    fn by_id(&mut self, enterprise: &EnterpriseId, id: InvitationId) -> Result<&mut Invitation, StoreError> {
        self.invitations
            .iter_mut()
            .find(|i| i.id == id && i.enterprise_id == *enterprise)
            .ok_or(StoreError::NotFound)
    }

    /// The invitation `target` names, if any.
    fn by_target(&mut self, target: Target<'_>) -> Option<&mut Invitation> {
        self.invitations.iter_mut().find(|i| match target {
            Target::Token(digest) => i.token_digest == *digest,
            Target::Mine(id) => i.id == id,
        })
    }

    /// The invitation `answer` is for, if it may be answered at `now`; otherwise why not
    /// ([`Answer::unchanged`]).
    fn answerable(&mut self, answer: &Answer<'_>, now: DateTime<Utc>) -> Result<Invitation, StoreError> {
        match self.by_target(answer.target) {
            Some(current) if current.check_answerable(now).is_ok() => Ok(current.clone()),
            current => Err(answer.unchanged(current.as_deref(), now)),
        }
    }

    fn record(
        &mut self,
        invitation: &Invitation,
        kind: EventKind,
        actor: Option<&UserId>,
        at: DateTime<Utc>,
    ) {
        self.events.push(InvitationEvent {
            invitation_id: invitation.id,
            enterprise_id: invitation.enterprise_id.clone(),
            kind,
            actor: actor.cloned(),
            at,
        });
    }
}

impl MemoryStore {
    fn create_with(
        &self,
        new: NewInvitation,
        delivery: Option<NewDelivery>,
    ) -> Result<Invitation, StoreError> {
        let mut state = self.lock();
        if state.has_member_with(&new.enterprise_id, &new.contact) {
            return Err(StoreError::AlreadyMember);
        }
        if state.has_live_pending(&new.enterprise_id, &new.contact, None, new.sent_at) {
            return Err(StoreError::DuplicatePending);
        }
        let actor = new.invited_by.user_id.clone();
        let invitation = new.into_invitation();
        state.record(&invitation, EventKind::Sent, Some(&actor), invitation.sent_at);
        state.invitations.push(invitation.clone());
        if let Some(delivery) = delivery {
            // rule D1: in the same step as the invitation.
            state.enqueue(&invitation, delivery);
        }
        Ok(invitation)
    }

    #[allow(clippy::too_many_arguments)]
    fn resend_with(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        digest: TokenDigest,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        delivery: Option<NewDelivery>,
    ) -> Result<Invitation, StoreError> {
        let mut state = self.lock();
        let current = state.by_id(enterprise, id)?.clone();
        let mut next = current.clone();
        next.resend(digest, expires_at, now)?;
        if state.has_member_with(enterprise, &current.contact) {
            return Err(StoreError::AlreadyMember);
        }
        if state.has_live_pending(enterprise, &current.contact, Some(id), now) {
            return Err(StoreError::DuplicatePending);
        }
        *state.by_id(enterprise, id)? = next.clone();
        state.record(&next, EventKind::Resent, Some(by), now);
        if let Some(delivery) = delivery {
            // rule D2: the old links' requests are dropped with their links (D4).
            for row in state
                .outbox
                .iter_mut()
                .filter(|r| r.entry.invitation_id == id && r.entry.state == OutboxState::Queued)
            {
                State::finish_row(row, OutboxState::Dropped, now);
            }
            state.enqueue(&next, delivery);
        }
        Ok(next)
    }
}

impl MemoryStore {
    /// Accept (by token or by id) as one step under the lock (rule A5, A6, A8, A9), with
    /// the refusals in [`Answer`]'s order.
    fn decide_accept(&self, answer: &Answer<'_>) -> Result<Accepted, StoreError> {
        let mut state = self.lock();
        // One instant, read under the lock (rules §1).
        let now = answer.clock.now_stored();
        let current = state.answerable(answer, now)?;
        // Rule A9, under the same lock as the accept.
        let enterprise = state.enterprises.get(&current.enterprise_id).cloned();
        let enterprise = answer.vet_accept(&current, enterprise)?;
        let user = answer.user;
        if state
            .members
            .contains_key(&(current.enterprise_id.clone(), user.id.clone()))
        {
            return Err(StoreError::AlreadyMember);
        }
        if self.fail_member_inserts.load(Ordering::SeqCst) {
            return Err(StoreError::backend(std::io::Error::other(
                "membership insert failed (injected)",
            )));
        }
        let mut invitation = current;
        invitation.accept(user.id.clone(), now)?;
        if let Some(stored) = state.by_target(answer.target) {
            *stored = invitation.clone();
        }
        state.users.insert(user.id.clone(), user.clone());
        state.members.insert(
            (invitation.enterprise_id.clone(), user.id.clone()),
            invitation.role,
        );
        state.record(&invitation, EventKind::Accepted, Some(&user.id), now);
        let role = invitation.role;
        Ok(Accepted {
            invitation,
            enterprise,
            role,
        })
    }

    /// Reject (by token or by id) as one step under the lock (rule A6, A7).
    fn decide_reject(&self, answer: &Answer<'_>) -> Result<Invitation, StoreError> {
        let mut state = self.lock();
        let now = answer.clock.now_stored();
        let mut invitation = state.answerable(answer, now)?;
        answer.vet_reject(&invitation)?;
        let by = &answer.user.id;
        invitation.reject(by.clone(), now)?;
        if let Some(stored) = state.by_target(answer.target) {
            *stored = invitation.clone();
        }
        state.record(&invitation, EventKind::Rejected, Some(by), now);
        Ok(invitation)
    }
}

#[async_trait]
impl DeliveryOutbox for MemoryStore {
    async fn create_queued(
        &self,
        new: NewInvitation,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError> {
        self.create_with(new, Some(delivery))
    }

    async fn resend_queued(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        expires_at: DateTime<Utc>,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError> {
        let (digest, now) = (delivery.token_digest, delivery.queued_at);
        self.resend_with(enterprise, id, by, digest, expires_at, now, Some(delivery))
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        batch: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let until = now + chrono::TimeDelta::from_std(lease).map_err(StoreError::backend)?;
        let claim = uuid::Uuid::new_v4();
        let mut state = self.lock();
        let mut due: Vec<usize> = (0..state.outbox.len())
            .filter(|&i| {
                let row = &state.outbox[i].entry;
                row.state == OutboxState::Queued && row.due_at <= now
            })
            .collect();
        due.sort_by_key(|&i| (state.outbox[i].entry.due_at, state.outbox[i].entry.id));
        due.truncate(batch);
        let mut claimed = Vec::with_capacity(due.len());
        for i in due {
            let row = &mut state.outbox[i];
            row.entry.attempts += 1;
            row.entry.due_at = until;
            row.claim = Some(claim);
            let entry = row.entry.clone();
            let Some(sealed_link) = entry.sealed_link else {
                continue;
            };
            let invitation = state
                .invitations
                .iter()
                .find(|inv| inv.id == entry.invitation_id)
                .cloned();
            claimed.push(ClaimedDelivery {
                id: entry.id,
                claim,
                invitation_id: entry.invitation_id,
                enterprise_id: entry.enterprise_id,
                token_digest: entry.token_digest,
                sealed_link,
                attempt: entry.attempts,
                queued_at: entry.queued_at,
                invitation,
            });
        }
        Ok(claimed)
    }

    async fn finish_delivery(
        &self,
        claimed: &ClaimedDelivery,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<Finished, StoreError> {
        let mut state = self.lock();
        let Some(row) = state.outbox.iter_mut().find(|r| {
            r.entry.id == claimed.id && r.claim == Some(claimed.claim) && r.entry.state == OutboxState::Queued
        }) else {
            return Ok(Finished::LeaseLost);
        };
        let attempts = row.entry.attempts;
        let (delivery, kind) = match outcome {
            DeliveryOutcome::Delivered => {
                State::finish_row(row, OutboxState::Delivered, now);
                row.entry.last_error = None;
                (DeliveryStatus::Delivered, EventKind::Delivered)
            }
            DeliveryOutcome::Retry { at } => {
                row.entry.due_at = at;
                row.entry.last_error = Some(crate::NotifyErrorKind::Transient);
                row.claim = None;
                (DeliveryStatus::Retrying, EventKind::DeliveryDeferred)
            }
            DeliveryOutcome::Failed { error } => {
                State::finish_row(row, OutboxState::Failed, now);
                row.entry.last_error = Some(error);
                (DeliveryStatus::Failed, EventKind::DeliveryFailed)
            }
            DeliveryOutcome::Dropped => {
                State::finish_row(row, OutboxState::Dropped, now);
                return Ok(Finished::Recorded(None));
            }
        };
        let digest = claimed.token_digest;
        let Some(invitation) = state
            .invitations
            .iter_mut()
            .find(|i| i.id == claimed.invitation_id && i.token_digest == digest)
        else {
            // A resend gave the invitation another link meanwhile: its status is that link's.
            return Ok(Finished::Recorded(None));
        };
        invitation.delivery = delivery;
        invitation.delivery_attempts = attempts;
        let invitation = invitation.clone();
        state.record(&invitation, kind, None, now);
        Ok(Finished::Recorded(state.events.last().cloned()))
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        let mut state = self.lock();
        let mut pruned = 0;
        state.outbox.retain(|row| {
            let old = row.entry.state != OutboxState::Queued
                && row.entry.finished_at.is_some_and(|at| at <= before);
            if old && pruned < batch {
                pruned += 1;
                false
            } else {
                true
            }
        });
        Ok(pruned)
    }

    async fn delivery(&self, id: DeliveryId) -> Result<Option<OutboxEntry>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .find(|row| row.entry.id == id)
            .map(|row| row.entry.clone()))
    }
}

#[async_trait]
impl InvitationStore for MemoryStore {
    async fn create(&self, new: NewInvitation) -> Result<Invitation, StoreError> {
        self.create_with(new, None)
    }

    async fn set_delivery(&self, id: InvitationId, delivery: DeliveryStatus) -> Result<(), StoreError> {
        let mut state = self.lock();
        let invitation = state
            .invitations
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or(StoreError::NotFound)?;
        invitation.delivery = delivery;
        if matches!(delivery, DeliveryStatus::Delivered | DeliveryStatus::Failed) {
            invitation.delivery_attempts += 1;
        }
        Ok(())
    }

    async fn get(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        Ok(self
            .lock()
            .invitations
            .iter()
            .find(|i| i.id == id && i.enterprise_id == *enterprise)
            .cloned())
    }

    async fn find_by_digest(&self, digest: &TokenDigest) -> Result<Option<Invitation>, StoreError> {
        Ok(self
            .lock()
            .invitations
            .iter()
            .find(|i| i.token_digest == *digest)
            .cloned())
    }

    async fn list(
        &self,
        enterprise: &EnterpriseId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        let state = self.lock();
        let mut rows: Vec<Invitation> = state
            .invitations
            .iter()
            .filter(|i| i.enterprise_id == *enterprise)
            .filter(|i| query.status.is_none_or(|s| i.status_at(now) == s))
            .filter(|i| query.after.is_none_or(|c| (i.sent_at, i.id) < (c.sent_at, c.id)))
            .cloned()
            .collect();
        rows.sort_by_key(|i| std::cmp::Reverse((i.sent_at, i.id)));
        rows.truncate(query.limit);
        Ok(rows)
    }

    async fn revoke(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        clock: &dyn Clock,
    ) -> Result<Invitation, StoreError> {
        let mut state = self.lock();
        let now = clock.now_stored();
        let invitation = state.by_id(enterprise, id)?;
        invitation.revoke(by.clone(), now)?;
        let invitation = invitation.clone();
        state.record(&invitation, EventKind::Revoked, Some(by), now);
        Ok(invitation)
    }

    async fn resend(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        digest: TokenDigest,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        self.resend_with(enterprise, id, by, digest, expires_at, now, None)
    }

    async fn accept(&self, answer: &Answer<'_>) -> Result<Accepted, StoreError> {
        self.decide_accept(answer)
    }

    async fn reject(&self, answer: &Answer<'_>) -> Result<Invitation, StoreError> {
        self.decide_reject(answer)
    }

    async fn find_by_id(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        Ok(self.lock().invitations.iter().find(|i| i.id == id).cloned())
    }

    async fn pending_for(
        &self,
        contacts: &[Contact],
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        let state = self.lock();
        let mut rows: Vec<Invitation> = state
            .invitations
            .iter()
            .filter(|i| contacts.iter().any(|c| c.normalized() == i.contact.normalized()))
            .filter(|i| i.status_at(now) == InvitationStatus::Pending)
            .cloned()
            .collect();
        rows.sort_by_key(|i| (i.expires_at, i.id));
        Ok(rows)
    }

    async fn sweep_expired(&self, now: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        let mut state = self.lock();
        let mut swept = Vec::new();
        for invitation in &mut state.invitations {
            if swept.len() == batch {
                break;
            }
            if invitation.expire(now) {
                swept.push(invitation.clone());
            }
        }
        for invitation in &swept {
            state.record(invitation, EventKind::Expired, None, now);
        }
        Ok(swept.len())
    }

    async fn events(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Vec<InvitationEvent>, StoreError> {
        Ok(self
            .lock()
            .events
            .iter()
            .filter(|e| e.invitation_id == id && e.enterprise_id == *enterprise)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl Directory for MemoryStore {
    fn key_kinds(&self) -> KeyKinds {
        self.kinds
    }

    async fn enterprise(&self, id: &EnterpriseId) -> Result<Option<Enterprise>, StoreError> {
        Ok(self.lock().enterprises.get(id).cloned())
    }

    async fn role_of(&self, enterprise: &EnterpriseId, user: &UserId) -> Result<Option<Role>, StoreError> {
        Ok(self
            .lock()
            .members
            .get(&(enterprise.clone(), user.clone()))
            .copied())
    }
}

#[async_trait]
impl Accounts for MemoryStore {
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.get(id).cloned())
    }

    async fn find_user(&self, contact: &Contact) -> Result<Option<User>, StoreError> {
        let state = self.lock();
        let mut found: Vec<&User> = state
            .users
            .values()
            .filter(|u| u.is_reached_by(contact))
            .collect();
        found.sort_by_key(|u| u.id.to_string());
        Ok(found.first().map(|u| (*u).clone()))
    }

    async fn members(&self, enterprise: &EnterpriseId) -> Result<Vec<Member>, StoreError> {
        let state = self.lock();
        let mut members: Vec<Member> = state
            .members
            .iter()
            .filter(|((e, _), _)| e == enterprise)
            .filter_map(|((_, u), role)| {
                state.users.get(u).map(|user| Member {
                    user: user.clone(),
                    role: *role,
                })
            })
            .collect();
        members.sort_by_key(|m| (m.user.name.clone(), m.user.id.to_string()));
        Ok(members)
    }

    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        let state = self.lock();
        let mut memberships: Vec<Membership> = state
            .members
            .iter()
            .filter(|((_, u), _)| u == user)
            .filter_map(|((e, _), role)| {
                state.enterprises.get(e).map(|enterprise| Membership {
                    enterprise: enterprise.clone(),
                    role: *role,
                })
            })
            .collect();
        memberships.sort_by_key(|m| (m.enterprise.name.clone(), m.enterprise.id.to_string()));
        Ok(memberships)
    }

    async fn save_enterprise(&self, enterprise: &Enterprise) -> Result<(), StoreError> {
        self.lock()
            .enterprises
            .insert(enterprise.id.clone(), enterprise.clone());
        Ok(())
    }

    async fn save_user(&self, user: &User) -> Result<(), StoreError> {
        self.lock().users.insert(user.id.clone(), user.clone());
        Ok(())
    }

    async fn add_member(
        &self,
        enterprise: &EnterpriseId,
        user: &UserId,
        role: Role,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        if !state.enterprises.contains_key(enterprise) || !state.users.contains_key(user) {
            return Err(StoreError::NotFound);
        }
        let key = (enterprise.clone(), user.clone());
        if state.members.contains_key(&key) {
            return Err(StoreError::AlreadyMember);
        }
        state.members.insert(key, role);
        Ok(())
    }
}
