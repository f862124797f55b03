//! Faults at the k-th call (rule X7): wrappers that make the k-th call of a layer fail,
//! and a sweep that runs every use case with a fault at every k and then checks that the
//! rules still hold and the use case can be retried.
//!
//! - [`FaultPlan`]: counts the calls a layer receives and says which one fails, and how;
//! - [`FaultyStore`]: an [`InvitationStore`] + [`DeliveryOutbox`] + [`Directory`] that
//!   delegates to another and fails its k-th call: an error before the call reaches the
//!   store, an error after the store did the work (the caller cannot tell that it
//!   committed: the nastiest case), or a panic, before or after;
//! - [`FaultyNotifier`]: a [`Notifier`] whose k-th delivery fails transiently, for good,
//!   by a panic, or after the message went out (a lost acknowledgement);
//! - [`sweep`]: the scenarios (send, bulk send, resend, revoke, accept, reject, the
//!   invitee's own accept and reject, and draining the outbox) and the checks made after
//!   each faulted run: no accepted invitation without its membership nor a membership
//!   without it, at most one pending invitation per contact, every change with its event,
//!   no delivery lost, and a retry that gets exactly what the committed state implies.
//!
//! A host that stores invitations in its own way runs the same sweep against its store
//! (see [`sweep::FaultBackend`]); a layer of its own (a `HostDirectory` inside the store's
//! transaction, say) can be faulted with a [`FaultPlan`] and [`fail_before`] /
//! [`fail_after`] in a wrapper of the same shape.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::Enterprise;
use crate::contact::Contact;
use crate::event::InvitationEvent;
use crate::ids::{EnterpriseId, InvitationId, KeyKinds, UserId};
use crate::invitation::{DeliveryStatus, Invitation};
use crate::outbox::{ClaimedDelivery, DeliveryId, DeliveryOutcome, Finished, NewDelivery, OutboxEntry};
use crate::page::ListQuery;
use crate::ports::Clock;
use crate::ports::{Accepted, Answer};
use crate::ports::{
    Delivery, DeliveryOutbox, Directory, InvitationStore, NewInvitation, NewRow, Notifier, NotifyError,
    StoreError,
};
use crate::role::Role;
use crate::token::TokenDigest;

mod checks;
pub mod sweep;

/// How the k-th call fails. Which kinds a layer understands: [`Fault::STORE`] for a store
/// or a host directory (plus [`Fault::DropConnection`] where a connection can be
/// dropped), [`Fault::NOTIFIER`] for a notifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The call fails before it reaches the layer below: nothing was done.
    Error,
    /// The layer below does the work (and commits it), then the caller gets an error: it
    /// cannot tell that the work was done.
    ErrorAfter,
    /// The call panics before it reaches the layer below; the panic unwinds the caller's
    /// task.
    Panic,
    /// The layer below does the work, then the call panics.
    PanicAfter,
    /// The layer below does the work, then the connection it ran on is dropped for real
    /// (PostgreSQL: `pg_terminate_backend` on that very connection), and the caller gets
    /// the error the database sent. Inside a transaction, nothing of it commits.
    DropConnection,
    /// A notifier: the provider refused for now ([`NotifyError::transient`]).
    Transient,
    /// A notifier: the provider refused for good ([`NotifyError::permanent`]).
    Permanent,
    /// A notifier: the message went out, then the caller gets a transient error (the
    /// provider's acknowledgement was lost), so it will be sent again (rule D3: at least
    /// once).
    TransientAfterDelivery,
}

impl Fault {
    /// The kinds a store or a host directory understands everywhere.
    pub const STORE: [Fault; 4] = [Fault::Error, Fault::ErrorAfter, Fault::Panic, Fault::PanicAfter];

    /// The kinds a notifier understands.
    pub const NOTIFIER: [Fault; 4] = [
        Fault::Transient,
        Fault::Permanent,
        Fault::Panic,
        Fault::TransientAfterDelivery,
    ];

    /// Whether the fault unwinds the task.
    #[must_use]
    pub const fn panics(self) -> bool {
        matches!(self, Fault::Panic | Fault::PanicAfter)
    }

    /// Whether the layer below did the work before the fault.
    #[must_use]
    pub const fn after(self) -> bool {
        matches!(
            self,
            Fault::ErrorAfter | Fault::PanicAfter | Fault::DropConnection | Fault::TransientAfterDelivery
        )
    }

    /// A short name, for reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Fault::Error => "error",
            Fault::ErrorAfter => "error-after",
            Fault::Panic => "panic",
            Fault::PanicAfter => "panic-after",
            Fault::DropConnection => "drop-connection",
            Fault::Transient => "transient",
            Fault::Permanent => "permanent",
            Fault::TransientAfterDelivery => "transient-after-delivery",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error an injected fault answers with (inside a [`StoreError::Backend`], a
/// `NotifyError`, or whatever error type the faulted layer has).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedFault {
    /// The fault.
    pub fault: Fault,
    /// The call that failed (a method name).
    pub call: &'static str,
}

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "injected fault ({}) at {}", self.fault, self.call)
    }
}

impl std::error::Error for InjectedFault {}

/// The fault a [`FaultPlan`] injected: at which call, which method, what kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Injected {
    /// The call's number, from 1 (the k of "the k-th call").
    pub call: usize,
    /// The method.
    pub name: &'static str,
    /// The kind.
    pub fault: Fault,
}

#[derive(Debug, Default)]
struct PlanState {
    /// Whether calls are being counted (between [`FaultPlan::count`]/[`FaultPlan::arm`]
    /// and [`FaultPlan::stop`]).
    counting: bool,
    /// The calls counted so far, by method name.
    log: Vec<&'static str>,
    /// The call to fail, and how.
    target: Option<(usize, Fault)>,
    /// What was injected since the last arm.
    hit: Option<Injected>,
    /// Faults injected over the plan's life.
    injected: usize,
}

/// Which call of a layer fails, and how. A wrapper asks [`FaultPlan::on_call`] at each
/// call it receives; the plan counts calls only between [`FaultPlan::count`] (or
/// [`FaultPlan::arm`]) and [`FaultPlan::stop`], so a test sets up its data through the
/// same wrappers without a fault and without counting. Shared by `Arc`; thread-safe.
#[derive(Debug, Default)]
pub struct FaultPlan {
    state: Mutex<PlanState>,
}

impl FaultPlan {
    /// A plan that counts nothing and fails nothing yet.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn state(&self) -> MutexGuard<'_, PlanState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts counting calls from zero, failing none (the fault-free run that tells how
    /// many calls a use case makes).
    pub fn count(&self) {
        let mut state = self.state();
        state.counting = true;
        state.log.clear();
        state.target = None;
        state.hit = None;
    }

    /// Starts counting calls from zero; the `k`-th (from 1) fails with `fault`.
    pub fn arm(&self, k: usize, fault: Fault) {
        let mut state = self.state();
        state.counting = true;
        state.log.clear();
        state.target = Some((k, fault));
        state.hit = None;
    }

    /// Stops counting and failing; returns the methods called since the last
    /// [`FaultPlan::count`] or [`FaultPlan::arm`], in order.
    pub fn stop(&self) -> Vec<&'static str> {
        let mut state = self.state();
        state.counting = false;
        state.target = None;
        std::mem::take(&mut state.log)
    }

    /// The fault injected since the last [`FaultPlan::arm`], if its call came.
    #[must_use]
    pub fn hit(&self) -> Option<Injected> {
        self.state().hit
    }

    /// How many faults this plan has injected in all.
    #[must_use]
    pub fn injected(&self) -> usize {
        self.state().injected
    }

    /// Called by a wrapper at each call it receives: counts it (when counting) and
    /// answers the fault to inject into this call, if it is the one.
    pub fn on_call(&self, name: &'static str) -> Option<Fault> {
        let mut state = self.state();
        if !state.counting {
            return None;
        }
        state.log.push(name);
        let call = state.log.len();
        match state.target {
            Some((k, fault)) if k == call => {
                state.hit = Some(Injected { call, name, fault });
                state.injected += 1;
                Some(fault)
            }
            _ => None,
        }
    }
}

/// Panics as an injected fault does.
///
/// # Panics
/// Always: that is the fault.
pub fn injected_panic(fault: Fault, call: &'static str) -> ! {
    panic!("{}", InjectedFault { fault, call })
}

/// What a wrapper does with `fault` before delegating `call`: [`Fault::Error`] answers
/// the error, [`Fault::Panic`] panics, every other kind lets the call through.
///
/// # Errors
/// The [`InjectedFault`] of a [`Fault::Error`].
///
/// # Panics
/// For a [`Fault::Panic`]: that is the fault.
pub fn fail_before(fault: Option<Fault>, call: &'static str) -> Result<(), InjectedFault> {
    match fault {
        Some(fault @ Fault::Error) => Err(InjectedFault { fault, call }),
        Some(fault @ Fault::Panic) => injected_panic(fault, call),
        _ => Ok(()),
    }
}

/// What a wrapper does with `fault` after delegating `call`: the kinds that come after the
/// work ([`Fault::after`]) answer an error, or panic ([`Fault::PanicAfter`]). A layer
/// that can drop its connection does that first for [`Fault::DropConnection`].
///
/// # Errors
/// The [`InjectedFault`] of an error that comes after the call.
///
/// # Panics
/// For a [`Fault::PanicAfter`]: that is the fault.
pub fn fail_after(fault: Option<Fault>, call: &'static str) -> Result<(), InjectedFault> {
    match fault {
        Some(fault @ Fault::PanicAfter) => injected_panic(fault, call),
        Some(fault) if fault.after() => Err(InjectedFault { fault, call }),
        _ => Ok(()),
    }
}

/// A store that delegates every call of [`InvitationStore`], [`DeliveryOutbox`] and
/// [`Directory`] to another and fails the one its [`FaultPlan`] names: with
/// [`Fault::Error`] before the call reaches the store, with [`Fault::ErrorAfter`] once
/// the store has done (and committed) the work, or by a panic before or after. The error
/// is a [`StoreError::Backend`] holding an [`InjectedFault`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use invite_core::testing::faults::{Fault, FaultPlan, FaultyStore};
/// use invite_core::testing::{MemoryStore, seed};
/// use invite_core::{Invitations, InviteError, SendInvitation};
///
/// let store = Arc::new(MemoryStore::default());
/// let world = seed::demo(&*store).await?;
/// let plan = FaultPlan::new();
/// let invitations = Invitations::builder(Arc::new(FaultyStore::new(store.clone(), plan.clone()))).build();
/// plan.arm(3, Fault::ErrorAfter); // role_of, enterprise, then the create: it commits, the caller sees an error
/// let sent = invitations
///     .send(&world.alice, &world.acme.id, SendInvitation::new("bob@example.com", "member"))
///     .await;
/// assert!(matches!(sent, Err(InviteError::Internal(_))));
/// assert_eq!(plan.stop(), ["role_of", "enterprise", "create"]);
/// // Retrying finds what committed (rule S7).
/// let again = invitations
///     .send(&world.alice, &world.acme.id, SendInvitation::new("bob@example.com", "member"))
///     .await;
/// assert!(matches!(again, Err(InviteError::DuplicatePending)));
/// # Ok(())
/// # }
/// ```
pub struct FaultyStore<S> {
    inner: Arc<S>,
    plan: Arc<FaultPlan>,
}

impl<S> fmt::Debug for FaultyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyStore")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl<S> FaultyStore<S> {
    /// Wraps `inner`; `plan` says which call fails.
    pub fn new(inner: Arc<S>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }

    /// The store underneath, to look at what committed without a fault.
    #[must_use]
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// The plan.
    #[must_use]
    pub fn plan(&self) -> &Arc<FaultPlan> {
        &self.plan
    }

    /// Delegates `call` unless the plan fails it.
    async fn call<T, F>(&self, name: &'static str, call: F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>> + Send,
    {
        let fault = self.plan.on_call(name);
        fail_before(fault, name).map_err(StoreError::backend)?;
        let outcome = call.await;
        fail_after(fault, name).map_err(StoreError::backend)?;
        outcome
    }
}

#[async_trait]
impl<S: InvitationStore> InvitationStore for FaultyStore<S> {
    async fn create(&self, new: NewInvitation) -> Result<Invitation, StoreError> {
        self.call("create", self.inner.create(new)).await
    }

    async fn create_many(
        &self,
        rows: Vec<NewRow>,
    ) -> Result<Vec<Result<Invitation, StoreError>>, StoreError> {
        self.call("create_many", self.inner.create_many(rows)).await
    }

    async fn set_delivery(&self, id: InvitationId, delivery: DeliveryStatus) -> Result<(), StoreError> {
        self.call("set_delivery", self.inner.set_delivery(id, delivery))
            .await
    }

    async fn get(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        self.call("get", self.inner.get(enterprise, id)).await
    }

    async fn find_by_digest(&self, digest: &TokenDigest) -> Result<Option<Invitation>, StoreError> {
        self.call("find_by_digest", self.inner.find_by_digest(digest))
            .await
    }

    async fn list(
        &self,
        enterprise: &EnterpriseId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.call("list", self.inner.list(enterprise, query, now)).await
    }

    async fn revoke(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        clock: &dyn Clock,
    ) -> Result<Invitation, StoreError> {
        self.call("revoke", self.inner.revoke(enterprise, id, by, clock))
            .await
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
        self.call(
            "resend",
            self.inner.resend(enterprise, id, by, digest, expires_at, now),
        )
        .await
    }

    async fn accept(&self, answer: &Answer<'_>) -> Result<Accepted, StoreError> {
        self.call("accept", self.inner.accept(answer)).await
    }

    async fn reject(&self, answer: &Answer<'_>) -> Result<Invitation, StoreError> {
        self.call("reject", self.inner.reject(answer)).await
    }

    async fn find_by_id(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        self.call("find_by_id", self.inner.find_by_id(id)).await
    }

    async fn pending_for(
        &self,
        contacts: &[Contact],
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        self.call("pending_for", self.inner.pending_for(contacts, now))
            .await
    }

    async fn sweep_expired(&self, now: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        self.call("sweep_expired", self.inner.sweep_expired(now, batch))
            .await
    }

    async fn events(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Vec<InvitationEvent>, StoreError> {
        self.call("events", self.inner.events(enterprise, id)).await
    }
}

#[async_trait]
impl<S: InvitationStore> DeliveryOutbox for FaultyStore<S> {
    async fn create_queued(
        &self,
        new: NewInvitation,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError> {
        self.call("create_queued", self.inner.create_queued(new, delivery))
            .await
    }

    async fn resend_queued(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        expires_at: DateTime<Utc>,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError> {
        self.call(
            "resend_queued",
            self.inner.resend_queued(enterprise, id, by, expires_at, delivery),
        )
        .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        batch: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.call("claim_deliveries", self.inner.claim_deliveries(now, lease, batch))
            .await
    }

    async fn finish_delivery(
        &self,
        claimed: &ClaimedDelivery,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<Finished, StoreError> {
        self.call(
            "finish_delivery",
            self.inner.finish_delivery(claimed, outcome, now),
        )
        .await
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        self.call("prune_deliveries", self.inner.prune_deliveries(before, batch))
            .await
    }

    async fn delivery(&self, id: DeliveryId) -> Result<Option<OutboxEntry>, StoreError> {
        self.call("delivery", self.inner.delivery(id)).await
    }
}

#[async_trait]
impl<S: Directory> Directory for FaultyStore<S> {
    fn key_kinds(&self) -> KeyKinds {
        self.inner.key_kinds()
    }

    async fn enterprise(&self, id: &EnterpriseId) -> Result<Option<Enterprise>, StoreError> {
        self.call("enterprise", self.inner.enterprise(id)).await
    }

    async fn role_of(&self, enterprise: &EnterpriseId, user: &UserId) -> Result<Option<Role>, StoreError> {
        self.call("role_of", self.inner.role_of(enterprise, user)).await
    }
}

/// A notifier that delegates to another and fails the delivery its [`FaultPlan`] names:
/// [`Fault::Transient`] and [`Fault::Permanent`] refuse without delegating,
/// [`Fault::TransientAfterDelivery`] delegates and then answers a transient error,
/// [`Fault::Panic`] panics before delegating and [`Fault::PanicAfter`] after. Other
/// kinds are taken as [`Fault::Transient`].
pub struct FaultyNotifier<N: ?Sized> {
    inner: Arc<N>,
    plan: Arc<FaultPlan>,
}

impl<N: ?Sized> fmt::Debug for FaultyNotifier<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyNotifier")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl<N: ?Sized> FaultyNotifier<N> {
    /// Wraps `inner`; `plan` says which delivery fails.
    pub fn new(inner: Arc<N>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

#[async_trait]
impl<N: Notifier + ?Sized> Notifier for FaultyNotifier<N> {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        const CALL: &str = "deliver";
        let Some(fault) = self.plan.on_call(CALL) else {
            return self.inner.deliver(delivery).await;
        };
        let injected = InjectedFault { fault, call: CALL };
        match fault {
            Fault::Permanent => Err(NotifyError::permanent(injected)),
            Fault::Panic => injected_panic(fault, CALL),
            Fault::PanicAfter => {
                let _ = self.inner.deliver(delivery).await;
                injected_panic(fault, CALL)
            }
            Fault::TransientAfterDelivery | Fault::ErrorAfter | Fault::DropConnection => {
                self.inner.deliver(delivery).await?;
                Err(NotifyError::transient(injected))
            }
            _ => Err(NotifyError::transient(injected)),
        }
    }
}
