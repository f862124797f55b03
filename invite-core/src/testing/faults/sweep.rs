//! The k-th-call sweep (rule X7): every use case, with a fault at each call of one layer,
//! then the rules checked and the use case retried.
//!
//! For a [`Scenario`] and a [`Layer`], [`sweep`] first runs the use case without a fault
//! and records the calls the layer receives (say `n`). Then, for each [`Fault`] kind and
//! each `k` in `1..=n` ([`Depth::Full`]; [`Depth::Reduced`] picks the calls of each
//! decision), it runs the use case on fresh data with the `k`-th call
//! failing, inside `tokio::spawn` (so a panic unwinds the use case's task, as it would a
//! request's), and then checks:
//!
//! 1. the outcome: no panic but the fault's (which the code under test may contain),
//!    `internal` for the request the fault hit (a bulk send's rows are one decision of
//!    the store, rule B2: all of them commit or none does);
//! 2. what committed, decision by decision, against what the fault allows: a fault before
//!    a decision or inside its transaction commits nothing of it; a fault after the
//!    store's call ([`Fault::ErrorAfter`], [`Fault::PanicAfter`] on the store) finds it
//!    committed; decisions before the fault are committed, those after it too unless the
//!    fault panicked or hit the shared authorization;
//! 3. the invariants (see below), over the store's API and the backend's own checks
//!    ([`FaultBackend::check`]);
//! 4. no delivery lost: after the outbox is drained without faults (the clock moved past
//!    leases and backoffs), every pending invitation's delivery is `delivered` (and the
//!    notifier got its current link) or `failed`, and no outbox row is left queued;
//! 5. the retry: the same use case, without a fault, answers exactly what the committed
//!    state implies (`duplicate_pending` for a send that committed, `already_accepted` for
//!    an accept that did, success otherwise), and then every decision is committed once.
//!
//! The invariants, for the run's enterprise: no accepted invitation without its
//! membership with the invited role, and no membership of an invited person without its
//! accepted invitation (rule A5); at most one pending invitation per contact (rule S7);
//! every invitation has exactly one `sent` event, every `accepted`, `rejected` and
//! `revoked` status exactly one event of its kind and no other status one, a resent
//! invitation its `resent` event, a delivery status its event (rule X5).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::TimeDelta;

use super::{Fault, FaultPlan, FaultyNotifier, FaultyStore, Injected};
use crate::account::{Enterprise, User};
use crate::contact::Contact;
use crate::error::InviteError;
use crate::event::InvitationEvent;
use crate::ids::InvitationId;
use crate::invitation::{Invitation, InvitationStatus};
use crate::outbox::OutboxKey;
use crate::ports::EventSink;
use crate::ports::{Clock, to_storage_precision};
use crate::ports::{Directory, InvitationStore};
use crate::role::Role;
use crate::service::{Invitations, SendInvitation};
use crate::testing::host::{HostFixture, contact};
use crate::testing::{ManualClock, RecordingNotifier};
use crate::token::{InviteToken, TokenDigest};
use crate::worker::{DeliveryWorker, WorkerConfig};

use super::checks;

/// A use case the sweep faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scenario {
    /// Alice sends Bob an invitation (rules S1–S8, D1).
    Send,
    /// Alice sends four rows at once: Bob, Carol (a phone), a malformed contact and Bob
    /// again in capitals (rule B2).
    SendMany,
    /// Alice resends Bob's delivered pending invitation (rule R3, D2).
    Resend,
    /// Alice revokes Bob's pending invitation (rule R2).
    Revoke,
    /// Bob accepts by his link (rules A5, A6, H2).
    Accept,
    /// Bob rejects by his link (rule A7).
    Reject,
    /// Carol accepts her own invitation by id (rule B1).
    AcceptMine,
    /// Carol rejects her own invitation by id (rule B1).
    RejectMine,
    /// One round of the delivery worker over three queued rows: Bob's resent link (its
    /// first link's row already dropped), Carol's, and Dave's, revoked since (rules
    /// D1–D3).
    Drain,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 9] = [
        Scenario::Send,
        Scenario::SendMany,
        Scenario::Resend,
        Scenario::Revoke,
        Scenario::Accept,
        Scenario::Reject,
        Scenario::AcceptMine,
        Scenario::RejectMine,
        Scenario::Drain,
    ];

    /// A short name, for reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Scenario::Send => "send",
            Scenario::SendMany => "send_many",
            Scenario::Resend => "resend",
            Scenario::Revoke => "revoke",
            Scenario::Accept => "accept",
            Scenario::Reject => "reject",
            Scenario::AcceptMine => "accept_mine",
            Scenario::RejectMine => "reject_mine",
            Scenario::Drain => "drain",
        }
    }

    /// How many decisions the use case makes, in order; none for the worker, whose
    /// outcome is checked by the outbox alone. A bulk send is one: the store decides its
    /// rows together (`create_many`, one transaction on the SQL stores).
    const fn decisions(self) -> usize {
        match self {
            Scenario::Drain => 0,
            _ => 1,
        }
    }

    /// The calls of each decision: those of [`decision_calls`], with a bulk send's rows
    /// (one range per row where the layer sees the rows, as the host directory does)
    /// taken together as the one decision they are.
    fn units(self, ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
        match (self, ranges.first(), ranges.last()) {
            (Scenario::SendMany, Some(&(first, _)), Some(&(_, last))) => vec![(first, last)],
            _ => ranges,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which layer's calls fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layer {
    /// The store as the service sees it (a [`FaultyStore`] around the backend's store).
    Store,
    /// A layer inside the store's transactions, which the backend wraps itself and names
    /// by [`Arena::host_plan`] (e.g. the host directory of a SQL store).
    Host,
    /// The notifier (a [`FaultyNotifier`] around a [`RecordingNotifier`]).
    Notifier,
}

impl Layer {
    /// A short name, for reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Layer::Store => "store",
            Layer::Host => "host",
            Layer::Notifier => "notifier",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which `k` a sweep tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// The calls of each decision (see the module docs); the first and the last call
    /// where the layer sees no decision (a revoke under the host directory, the worker).
    Reduced,
    /// Every call.
    Full,
}

impl Depth {
    /// [`Depth::Full`] when the environment variable `INVITE_FAULTS_FULL` is `1`,
    /// [`Depth::Reduced`] otherwise.
    #[must_use]
    pub fn from_env() -> Self {
        match std::env::var("INVITE_FAULTS_FULL") {
            Ok(value) if value.trim() == "1" => Depth::Full,
            _ => Depth::Reduced,
        }
    }
}

/// A store for one run and the host's side to seed it.
pub struct Arena<S> {
    /// The store the service runs on (for [`Layer::Store`] the sweep wraps it in a
    /// [`FaultyStore`]); also what the checks read, with every plan stopped.
    pub store: Arc<S>,
    /// The host's side, to create the run's enterprise and people.
    pub host: Arc<dyn HostFixture>,
    /// The plan of the backend's own fault layer inside the store, for [`Layer::Host`].
    pub host_plan: Option<Arc<FaultPlan>>,
}

impl<S> Clone for Arena<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            host: self.host.clone(),
            host_plan: self.host_plan.clone(),
        }
    }
}

/// When [`FaultBackend::check`] is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Right after the faulted run (or the retry), before any drain.
    AfterFault,
    /// After the outbox was drained without faults: nothing may be left queued.
    AfterDrain,
}

/// What a sweep runs on. A backend may hand out one database for every run: each run
/// seeds an enterprise and people of its own ([`Cast`]), with contacts no other run in the
/// process uses, and every check looks at that enterprise only.
#[async_trait]
pub trait FaultBackend: Send + Sync + 'static {
    /// The store.
    type Store: InvitationStore + Directory;

    /// The store for the next run.
    async fn arena(&self) -> Arena<Self::Store>;

    /// Checks of the backend's own (raw SQL over its tables, say) for the run's
    /// enterprise, each failure as a sentence. None by default.
    async fn check(&self, _arena: &Arena<Self::Store>, _cast: &Cast, _phase: Phase) -> Vec<String> {
        Vec::new()
    }
}

/// The people of one run: an enterprise of its own, Alice its super admin, and Bob,
/// Carol (a phone) and Dave, who belong to nothing, each with a contact unique to the run.
#[derive(Clone, Debug)]
pub struct Cast {
    /// What makes the run's names and contacts unique.
    pub tag: String,
    /// The run's enterprise, certified.
    pub enterprise: Enterprise,
    /// Its super admin.
    pub alice: User,
    /// Bob, by email.
    pub bob: User,
    /// Bob's contact.
    pub bob_contact: Contact,
    /// Carol, by phone.
    pub carol: User,
    /// Carol's contact.
    pub carol_contact: Contact,
    /// Dave, by email.
    pub dave: User,
    /// Dave's contact.
    pub dave_contact: Contact,
}

impl Cast {
    /// Creates the run's enterprise and people through `host`.
    ///
    /// # Errors
    /// Whatever the host fixture answers.
    pub async fn seed(host: &dyn HostFixture) -> Result<Self, crate::ports::StoreError> {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let n = RUNS.fetch_add(1, Ordering::SeqCst);
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let tag = format!("r{n}x{}", &nonce[..6]);
        // Valid US numbers, one per run: +1 415 200 0000 and up.
        let phone = format!("+1415{}", 2_000_000 + n % 7_000_000);
        let enterprise = host.create_enterprise(&format!("Acme {tag}"), true).await?;
        let alice_contact = contact(&format!("alice.{tag}@example.com"))?;
        let bob_contact = contact(&format!("bob.{tag}@example.com"))?;
        let carol_contact = contact(&phone)?;
        let dave_contact = contact(&format!("dave.{tag}@example.com"))?;
        let alice = host.create_user("Alice Admin", &alice_contact).await?;
        let bob = host.create_user("Bob Builder", &bob_contact).await?;
        let carol = host.create_user("Carol Chen", &carol_contact).await?;
        let dave = host.create_user("Dave Doe", &dave_contact).await?;
        host.insert_member(&enterprise.id, &alice, Role::SuperAdmin)
            .await?;
        Ok(Self {
            tag,
            enterprise,
            alice,
            bob,
            bob_contact,
            carol,
            carol_contact,
            dave,
            dave_contact,
        })
    }

    /// The people who may be invited, with their contacts.
    #[must_use]
    pub fn invitees(&self) -> [(&User, &Contact); 3] {
        [
            (&self.bob, &self.bob_contact),
            (&self.carol, &self.carol_contact),
            (&self.dave, &self.dave_contact),
        ]
    }
}

/// What one sweep did.
#[derive(Clone, Debug)]
pub struct SweepReport {
    /// The use case.
    pub scenario: Scenario,
    /// The faulted layer.
    pub layer: Layer,
    /// The calls the layer received in the fault-free run, in order.
    pub calls: Vec<&'static str>,
    /// Faulted runs.
    pub runs: usize,
    /// Faults injected, by kind.
    pub injected: Vec<(Fault, usize)>,
    /// Committed events (in the store's log) that the [`EventSink`] never received, over
    /// all runs: the sink is called after the commit, so a fault between the two skips
    /// it. Counted, not failed: the store's log is the durable record.
    pub unpublished: usize,
    /// Runs in which the sink missed at least one committed event.
    pub unpublished_runs: usize,
    /// Everything that went wrong, one sentence each; empty when the rules held.
    pub failures: Vec<String>,
}

impl SweepReport {
    /// Faults injected in all.
    #[must_use]
    pub fn total_injected(&self) -> usize {
        self.injected.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} x {}: {} calls [{}], {} runs, {} faults injected (",
            self.scenario,
            self.layer,
            self.calls.len(),
            self.calls.join(" "),
            self.runs,
            self.total_injected()
        )?;
        for (i, (fault, n)) in self.injected.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{fault} {n}")?;
        }
        write!(
            f,
            "), {} runs with {} committed events never published, {} failures",
            self.unpublished_runs,
            self.unpublished,
            self.failures.len()
        )
    }
}

/// How long one use case, drain or retry may take before the run is reported as hung
/// (a lock left behind by a fault would make the next decision wait forever).
const PATIENCE: Duration = Duration::from_secs(60);

/// The answer of a use case, as error codes: `ok` for success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// One answer for the whole request.
    Whole(&'static str),
    /// One answer per row of a bulk send.
    Rows(Vec<&'static str>),
}

fn code<T>(result: &Result<T, InviteError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(err) => err.code(),
    }
}

/// What the use case answered: its codes and the digests of the links it handed out.
struct Acted {
    answer: Answer,
    links: Vec<TokenDigest>,
}

/// What the setup of a scenario made.
#[derive(Clone, Debug, Default)]
pub(super) struct Setup {
    /// The invitation the use case acts on (Bob's, or Carol's for the `*_mine` ones).
    pub target: Option<Invitation>,
    /// Its link's token.
    pub token: Option<String>,
    /// Dave's revoked invitation, whose queued row must never be delivered (rule D2).
    pub stale: Option<InvitationId>,
    /// Bob's invitation and its first link's digest, replaced by a resend before any
    /// delivery (rule D2).
    pub superseded: Option<(InvitationId, TokenDigest)>,
}

/// Keeps every event the service and its worker publish after a commit.
#[derive(Debug, Default)]
pub(super) struct RecordingSink(Mutex<Vec<InvitationEvent>>);

impl RecordingSink {
    /// Every event published so far, in order.
    pub fn events(&self) -> Vec<InvitationEvent> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl EventSink for RecordingSink {
    async fn publish(&self, event: &InvitationEvent) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.clone());
    }
}

/// One run: fresh people, a service over the arena with its fault wrappers, a clock.
pub(super) struct Run<S> {
    pub arena: Arena<S>,
    pub cast: Cast,
    pub clock: ManualClock,
    pub recorder: Arc<RecordingNotifier>,
    pub sink: Arc<RecordingSink>,
    store_plan: Arc<FaultPlan>,
    notifier_plan: Arc<FaultPlan>,
    pub invitations: Invitations,
    pub worker: DeliveryWorker,
    pub setup: Setup,
}

impl<S: InvitationStore + Directory> Run<S> {
    async fn new<B: FaultBackend<Store = S>>(backend: &B) -> Result<Self, String> {
        let arena = backend.arena().await;
        let cast = Cast::seed(&*arena.host)
            .await
            .map_err(|err| format!("seeding the run's people failed: {err:?}"))?;
        let clock = ManualClock::default();
        let recorder = Arc::new(RecordingNotifier::default());
        let sink = Arc::new(RecordingSink::default());
        let store_plan = FaultPlan::new();
        let notifier_plan = FaultPlan::new();
        let store = Arc::new(FaultyStore::new(arena.store.clone(), store_plan.clone()));
        let invitations = Invitations::builder(store)
            .base_url("https://app.example")
            .clock(Arc::new(clock.clone()))
            .notifier(Arc::new(FaultyNotifier::new(
                recorder.clone(),
                notifier_plan.clone(),
            )))
            .outbox(OutboxKey::generate())
            .events(sink.clone())
            .build();
        let worker = invitations
            .delivery_worker()
            .ok_or("the service has no outbox")?
            // One delivery at a time, so that the k-th call is the same call in every run.
            .config(WorkerConfig {
                concurrency: 1,
                ..WorkerConfig::default()
            });
        Ok(Self {
            arena,
            cast,
            clock,
            recorder,
            sink,
            store_plan,
            notifier_plan,
            invitations,
            worker,
            setup: Setup::default(),
        })
    }

    fn plan(&self, layer: Layer) -> Option<Arc<FaultPlan>> {
        match layer {
            Layer::Store => Some(self.store_plan.clone()),
            Layer::Notifier => Some(self.notifier_plan.clone()),
            Layer::Host => self.arena.host_plan.clone(),
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        to_storage_precision(self.clock.now())
    }

    /// Alice sends `contact` an invitation.
    async fn send(&self, contact: &Contact, role: &str) -> Result<crate::service::SentInvitation, String> {
        self.invitations
            .send(
                &self.cast.alice,
                &self.cast.enterprise.id,
                SendInvitation::new(contact.entered(), role),
            )
            .await
            .map_err(|err| format!("setup: send to {}: {err:?}", contact.normalized()))
    }

    /// What the scenario needs before its use case, made without faults.
    async fn prepare(&mut self, scenario: Scenario) -> Result<(), String> {
        let mut setup = Setup::default();
        match scenario {
            Scenario::Send | Scenario::SendMany => {}
            Scenario::Resend | Scenario::Revoke | Scenario::Accept | Scenario::Reject => {
                let sent = self.send(&self.cast.bob_contact, "dev_admin").await?;
                setup.token = Some(sent.link.token().to_owned());
                setup.target = Some(sent.invitation);
                self.drain_all().await?;
            }
            Scenario::AcceptMine | Scenario::RejectMine => {
                let sent = self.send(&self.cast.carol_contact, "finance_admin").await?;
                setup.token = Some(sent.link.token().to_owned());
                setup.target = Some(sent.invitation);
                self.drain_all().await?;
            }
            Scenario::Drain => {
                // A second apart, so that the worker claims them in one order every run
                // (oldest due first): Carol's, Dave's, then Bob's resent link.
                let bob = self.send(&self.cast.bob_contact, "dev_admin").await?;
                self.clock.advance(TimeDelta::seconds(1));
                self.send(&self.cast.carol_contact, "member").await?;
                self.clock.advance(TimeDelta::seconds(1));
                let dave = self.send(&self.cast.dave_contact, "member").await?;
                self.invitations
                    .revoke(&self.cast.alice, &self.cast.enterprise.id, dave.invitation.id)
                    .await
                    .map_err(|err| format!("setup: revoke Dave's invitation: {err:?}"))?;
                self.clock.advance(TimeDelta::minutes(1));
                self.invitations
                    .resend(&self.cast.alice, &self.cast.enterprise.id, bob.invitation.id)
                    .await
                    .map_err(|err| format!("setup: resend Bob's invitation: {err:?}"))?;
                setup.superseded = Some((bob.invitation.id, bob.invitation.token_digest));
                setup.stale = Some(dave.invitation.id);
            }
        }
        // The use case happens a minute later than its setup (so a resend shows).
        self.clock.advance(TimeDelta::minutes(1));
        self.setup = setup;
        Ok(())
    }

    /// Drains the outbox without faults until nothing is due, moving the clock past
    /// leases (a faulted round leaves its rows leased) and backoffs.
    pub async fn drain_all(&self) -> Result<(), String> {
        let mut moved = false;
        for _ in 0..40 {
            let report = tokio::time::timeout(PATIENCE, self.worker.drain_once())
                .await
                .map_err(|_| format!("a fault-free drain hung for {PATIENCE:?}"))?
                .map_err(|err| format!("a fault-free drain failed: {err:?}"))?;
            if report.unrecorded > 0 {
                return Err(format!(
                    "a fault-free drain could not record {} outcomes: {report:?}",
                    report.unrecorded
                ));
            }
            if report.claimed > 0 {
                moved = false;
                continue;
            }
            if moved {
                return Ok(());
            }
            // Past a lease (5 min) and the longest backoff (1 h).
            self.clock.advance(TimeDelta::minutes(70));
            moved = true;
        }
        Err("the outbox was still busy after 40 fault-free rounds".to_owned())
    }

    /// The scenario's use case, in a task of its own (a panic ends that task only).
    async fn act(&self, scenario: Scenario) -> Result<Result<Acted, tokio::task::JoinError>, String> {
        let invitations = self.invitations.clone();
        let worker = self.worker.clone();
        let cast = self.cast.clone();
        let setup = self.setup.clone();
        let task = tokio::spawn(async move { act(scenario, &invitations, &worker, &cast, &setup).await });
        tokio::time::timeout(PATIENCE, task)
            .await
            .map_err(|_| format!("{scenario} hung for {PATIENCE:?}"))
    }

    /// Which of the scenario's decisions are committed, read without faults.
    async fn committed(&self, scenario: Scenario) -> Result<Vec<bool>, String> {
        let store = &self.arena.store;
        let enterprise = &self.cast.enterprise.id;
        let target = || {
            self.setup
                .target
                .clone()
                .ok_or_else(|| format!("{scenario}: no target was set up"))
        };
        let current = |id: InvitationId| async move {
            store
                .get(enterprise, id)
                .await
                .map_err(|err| format!("get: {err:?}"))?
                .ok_or_else(|| format!("invitation {id} is gone"))
        };
        Ok(match scenario {
            Scenario::Send | Scenario::SendMany => {
                let all = checks::invitations(&self.arena, &self.cast, self.now()).await?;
                let contacts: &[&Contact] = if scenario == Scenario::Send {
                    &[&self.cast.bob_contact]
                } else {
                    &[&self.cast.bob_contact, &self.cast.carol_contact]
                };
                let mut committed: Vec<bool> = Vec::new();
                for contact in contacts {
                    let n = all
                        .iter()
                        .filter(|i| i.contact.normalized() == contact.normalized())
                        .count();
                    if n > 1 {
                        return Err(format!(
                            "{n} invitations to {} where one send was made",
                            contact.normalized()
                        ));
                    }
                    committed.push(n == 1);
                }
                // rule B2, X7: the rows of a bulk send commit together or not at all.
                if committed.windows(2).any(|pair| pair[0] != pair[1]) {
                    return Err(format!("a bulk send committed some of its rows: {committed:?}"));
                }
                committed.truncate(1);
                committed
            }
            Scenario::Resend => {
                let before = target()?;
                vec![current(before.id).await?.token_digest != before.token_digest]
            }
            Scenario::Revoke => vec![current(target()?.id).await?.status == InvitationStatus::Revoked],
            Scenario::Accept | Scenario::AcceptMine => {
                vec![current(target()?.id).await?.status == InvitationStatus::Accepted]
            }
            Scenario::Reject | Scenario::RejectMine => {
                vec![current(target()?.id).await?.status == InvitationStatus::Rejected]
            }
            Scenario::Drain => Vec::new(),
        })
    }

    /// Every check of the rules for this run's enterprise (API and backend's own).
    async fn check<B: FaultBackend<Store = S>>(&self, backend: &B, phase: Phase) -> Vec<String> {
        let mut failures = checks::invariants(self, phase).await;
        failures.extend(backend.check(&self.arena, &self.cast, phase).await);
        failures
    }
}

/// The rows of the bulk send: Bob, Carol, a malformed contact, Bob again in capitals.
fn bulk_rows(cast: &Cast) -> Vec<Result<SendInvitation, InviteError>> {
    vec![
        Ok(SendInvitation::new(cast.bob_contact.entered(), "dev_admin")),
        Ok(SendInvitation::new(cast.carol_contact.entered(), "member")),
        Ok(SendInvitation::new("not a contact", "member")),
        Ok(SendInvitation::new(
            cast.bob_contact.entered().to_uppercase(),
            "member",
        )),
    ]
}

async fn act(
    scenario: Scenario,
    invitations: &Invitations,
    worker: &DeliveryWorker,
    cast: &Cast,
    setup: &Setup,
) -> Acted {
    let enterprise = &cast.enterprise.id;
    // Without a target (a broken setup), an id that exists nowhere: `not_found`.
    let id = setup.target.as_ref().map_or_else(InvitationId::new, |i| i.id);
    let token = setup.token.clone().unwrap_or_default();
    let whole = |answer: &'static str| Acted {
        answer: Answer::Whole(answer),
        links: Vec::new(),
    };
    let sent = |result: Result<crate::service::SentInvitation, InviteError>| Acted {
        answer: Answer::Whole(code(&result)),
        links: result.iter().map(|s| link_digest(s.link.token())).collect(),
    };
    match scenario {
        Scenario::Send => sent(
            invitations
                .send(
                    &cast.alice,
                    enterprise,
                    SendInvitation::new(cast.bob_contact.entered(), "dev_admin"),
                )
                .await,
        ),
        Scenario::SendMany => match invitations
            .send_many(&cast.alice, enterprise, bulk_rows(cast))
            .await
        {
            Ok(rows) => Acted {
                answer: Answer::Rows(rows.iter().map(code).collect()),
                links: rows
                    .iter()
                    .flatten()
                    .map(|s| link_digest(s.link.token()))
                    .collect(),
            },
            Err(err) => whole(err.code()),
        },
        Scenario::Resend => sent(invitations.resend(&cast.alice, enterprise, id).await),
        Scenario::Revoke => whole(code(&invitations.revoke(&cast.alice, enterprise, id).await)),
        Scenario::Accept => whole(code(&invitations.accept(&token, &cast.bob).await)),
        Scenario::Reject => whole(code(&invitations.reject(&token, &cast.bob).await)),
        Scenario::AcceptMine => whole(code(&invitations.accept_mine(&cast.carol, id).await)),
        Scenario::RejectMine => whole(code(&invitations.reject_mine(&cast.carol, id).await)),
        Scenario::Drain => match worker.drain_once().await {
            Ok(_) => whole("ok"),
            Err(_) => whole("internal"),
        },
    }
}

/// The digest of a link's token (a new random one if it does not parse: it matches
/// nothing).
fn link_digest(token: &str) -> TokenDigest {
    InviteToken::parse(token)
        .unwrap_or_else(InviteToken::generate)
        .digest()
}

/// The calls of each decision in a fault-free call log, `(first, last)` from 1: on the
/// store, the decision's one call; on a layer inside the store's transactions, its calls
/// there (the member check of a send or a resend; the certified check and the membership
/// insert of an accept). A decision whose transaction makes no call to the layer (a
/// revoke, a reject under the host directory) has none.
fn decision_calls(layer: Layer, log: &[&str]) -> Vec<(usize, usize)> {
    const DECISIONS: [&str; 8] = [
        "create",
        "create_queued",
        "create_many",
        "resend",
        "resend_queued",
        "revoke",
        "accept",
        "reject",
    ];
    let mut ranges = Vec::new();
    for (i, name) in log.iter().enumerate() {
        let call = i + 1;
        match layer {
            Layer::Store if DECISIONS.contains(name) => ranges.push((call, call)),
            Layer::Host if *name == "has_member_with" => ranges.push((call, call)),
            Layer::Host if *name == "add_member" => {
                let first = if i > 0 && log[i - 1] == "enterprise" {
                    call - 1
                } else {
                    call
                };
                ranges.push((first, call));
            }
            _ => {}
        }
    }
    ranges
}

/// What a fault at call `k` lets commit, decision by decision (see the module docs).
fn expected_commits(
    layer: Layer,
    ranges: &[(usize, usize)],
    decisions: usize,
    k: usize,
    fault: Fault,
) -> Vec<bool> {
    if ranges.len() != decisions {
        // The layer sees nothing of the decisions: every call is part of what comes
        // before them (authorization, lookups), and a fault there stops the use case.
        return vec![false; decisions];
    }
    let in_prefix = ranges.first().is_some_and(|&(first, _)| k < first);
    ranges
        .iter()
        .map(|&(first, last)| {
            if last < k {
                true
            } else if first <= k {
                layer == Layer::Store && fault.after() && k == last
            } else {
                !in_prefix && !fault.panics()
            }
        })
        .collect()
}

/// The answer a use case gives with a fault that does not panic: `internal` for the
/// whole request, a bulk send's too (its rows are one decision).
fn expected_answer(scenario: Scenario) -> Option<Answer> {
    match scenario {
        Scenario::Drain => None,
        _ => Some(Answer::Whole("internal")),
    }
}

/// The answer of the fault-free retry, given what committed.
fn retry_answer(scenario: Scenario, committed: &[bool]) -> Option<Answer> {
    let done = |i: usize| committed.get(i).copied().unwrap_or(false);
    let or_ok = |i: usize, refusal: &'static str| if done(i) { refusal } else { "ok" };
    Some(match scenario {
        Scenario::Send => Answer::Whole(or_ok(0, "duplicate_pending")),
        // Its rows are one decision: both committed, or neither.
        Scenario::SendMany => Answer::Rows(vec![
            or_ok(0, "duplicate_pending"),
            or_ok(0, "duplicate_pending"),
            "invalid_contact",
            "duplicate_pending",
        ]),
        Scenario::Resend => Answer::Whole("ok"),
        Scenario::Revoke => Answer::Whole(or_ok(0, "invitation_not_pending")),
        Scenario::Accept | Scenario::AcceptMine => Answer::Whole(or_ok(0, "already_accepted")),
        Scenario::Reject | Scenario::RejectMine => Answer::Whole(or_ok(0, "already_rejected")),
        Scenario::Drain => return None,
    })
}

/// The answer of the fault-free run.
fn clean_answer(scenario: Scenario) -> Option<Answer> {
    retry_answer(scenario, &[false])
}

/// The k values a sweep tries.
fn ks(depth: Depth, total: usize, ranges: &[(usize, usize)]) -> Vec<usize> {
    let mut ks: Vec<usize> = match depth {
        Depth::Full => (1..=total).collect(),
        // The decisions' calls, where a fault can leave half a change; the first and last
        // call where the layer sees no decision.
        Depth::Reduced if ranges.is_empty() => vec![1, total],
        Depth::Reduced => ranges.iter().flat_map(|&(first, last)| first..=last).collect(),
    };
    ks.retain(|&k| k >= 1 && k <= total);
    ks.sort_unstable();
    ks.dedup();
    ks
}

/// Runs `scenario` with each of `faults` at each chosen call of `layer` (see the module
/// docs) and reports every failure of the rules. Needs a tokio runtime.
pub async fn sweep<B: FaultBackend>(
    backend: &B,
    scenario: Scenario,
    layer: Layer,
    faults: &[Fault],
    depth: Depth,
) -> SweepReport {
    let mut report = SweepReport {
        scenario,
        layer,
        calls: Vec::new(),
        runs: 0,
        injected: faults.iter().map(|&f| (f, 0)).collect(),
        unpublished: 0,
        unpublished_runs: 0,
        failures: Vec::new(),
    };
    // The fault-free run: how many calls, and a check that the scenario works at all.
    let calls = match run_once(backend, scenario, layer, None, &[]).await.result {
        Ok(calls) => calls,
        Err(failures) => {
            report.failures.extend(
                failures
                    .into_iter()
                    .map(|f| format!("{scenario} x {layer}, no fault: {f}")),
            );
            return report;
        }
    };
    report.calls.clone_from(&calls);
    let ranges = decision_calls(layer, &calls);
    for (i, &fault) in faults.iter().enumerate() {
        for k in ks(depth, calls.len(), &ranges) {
            report.runs += 1;
            let outcome = run_once(backend, scenario, layer, Some((k, fault)), &calls).await;
            if outcome.tally.hit.is_some() {
                report.injected[i].1 += 1;
            }
            if outcome.tally.unpublished > 0 {
                report.unpublished_runs += 1;
                report.unpublished += outcome.tally.unpublished;
            }
            if let Err(failures) = outcome.result {
                let call = calls.get(k - 1).copied().unwrap_or("?");
                report.failures.extend(
                    failures
                        .into_iter()
                        .map(|f| format!("{scenario} x {layer}, {fault} at call {k} ({call}): {f}")),
                );
            }
        }
    }
    report
}

/// What one run did besides its failures.
#[derive(Debug, Default)]
struct Tally {
    /// The fault it injected.
    hit: Option<Injected>,
    /// Committed events the [`EventSink`] never received.
    unpublished: usize,
}

/// What one run did: its tally, and the layer's call log or the failures.
struct Outcome {
    tally: Tally,
    result: Result<Vec<&'static str>, Vec<String>>,
}

/// One run: set up, act (with the fault, if any), check, drain, check, retry, check.
async fn run_once<B: FaultBackend>(
    backend: &B,
    scenario: Scenario,
    layer: Layer,
    armed: Option<(usize, Fault)>,
    reference: &[&'static str],
) -> Outcome {
    let mut tally = Tally::default();
    let result = run_checked(backend, scenario, layer, armed, reference, &mut tally).await;
    Outcome { tally, result }
}

async fn run_checked<B: FaultBackend>(
    backend: &B,
    scenario: Scenario,
    layer: Layer,
    armed: Option<(usize, Fault)>,
    reference: &[&'static str],
    tally: &mut Tally,
) -> Result<Vec<&'static str>, Vec<String>> {
    let mut run = Run::new(backend).await.map_err(|f| vec![f])?;
    run.prepare(scenario).await.map_err(|f| vec![f])?;
    let plan = run
        .plan(layer)
        .ok_or_else(|| vec![format!("the backend has no {layer} fault layer")])?;
    match armed {
        Some((k, fault)) => plan.arm(k, fault),
        None => plan.count(),
    }
    let acted = run.act(scenario).await;
    let log = plan.stop();
    let hit = plan.hit();
    tally.hit = hit;
    let mut failures = Vec::new();
    let acted = match acted {
        Ok(acted) => acted,
        Err(hung) => return Err(vec![hung]),
    };

    let committed = match run.committed(scenario).await {
        Ok(committed) => committed,
        Err(f) => return Err(vec![f]),
    };
    match armed {
        None => {
            match &acted {
                Ok(acted) if Some(&acted.answer) == clean_answer(scenario).as_ref() => {}
                Ok(acted) if scenario == Scenario::Drain && acted.answer == Answer::Whole("ok") => {}
                Ok(acted) => failures.push(format!("the fault-free run answered {:?}", acted.answer)),
                Err(err) => failures.push(format!("the fault-free run failed: {err}")),
            }
            if committed.iter().any(|c| !c) {
                failures.push(format!(
                    "the fault-free run left decisions uncommitted: {committed:?}"
                ));
            }
        }
        Some((k, fault)) => {
            check_faulted(
                scenario,
                layer,
                (k, fault),
                reference,
                &log,
                hit,
                &acted,
                &committed,
                &mut failures,
            );
        }
    }
    failures.extend(run.check(backend, Phase::AfterFault).await);
    if let Err(f) = run.drain_all().await {
        failures.push(f);
    }
    failures.extend(run.check(backend, Phase::AfterDrain).await);

    // The retry, without faults.
    if armed.is_some() {
        retry(backend, &run, scenario, &committed, &mut failures).await;
    }
    // What the host heard of (rule X5): never a change that is not stored; a stored one
    // it did not hear of is counted (the sink is called after the commit, see the report).
    match checks::published(&run).await {
        Ok((unpublished, extra)) => {
            failures.extend(extra);
            if armed.is_none() && unpublished > 0 {
                failures.push(format!("{unpublished} committed events were never published"));
            }
            tally.unpublished = unpublished;
        }
        Err(f) => failures.push(f),
    }
    if failures.is_empty() {
        Ok(log)
    } else {
        Err(failures)
    }
}

/// The checks of a faulted run's outcome and commits against the fault.
#[allow(clippy::too_many_arguments)]
fn check_faulted(
    scenario: Scenario,
    layer: Layer,
    (k, fault): (usize, Fault),
    reference: &[&'static str],
    log: &[&'static str],
    hit: Option<Injected>,
    acted: &Result<Acted, tokio::task::JoinError>,
    committed: &[bool],
    failures: &mut Vec<String>,
) {
    if hit.is_none() {
        failures.push(format!(
            "call {k} never came (calls this time: {log:?}; without a fault: {reference:?})"
        ));
        return;
    }
    if log.get(..k) != reference.get(..k) {
        failures.push(format!(
            "the calls up to the fault differ from the fault-free run's: {log:?} vs {reference:?}"
        ));
    }
    match acted {
        Err(err) if fault.panics() && err.is_panic() => {}
        Err(err) => failures.push(format!("the task ended unexpectedly: {err}")),
        // A panic the code under test contained (a worker that survives its notifier):
        // what it left is for the checks below.
        Ok(_) if fault.panics() => {}
        Ok(acted) => {
            if let Some(expected) = expected_answer(scenario)
                && acted.answer != expected
            {
                failures.push(format!("answered {:?}, expected {expected:?}", acted.answer));
            }
        }
    }
    let ranges = scenario.units(decision_calls(layer, reference));
    let expected = expected_commits(layer, &ranges, scenario.decisions(), k, fault);
    if committed != expected.as_slice() {
        failures.push(format!(
            "committed decisions {committed:?}, expected {expected:?} for this fault"
        ));
    }
    if let Ok(acted) = acted {
        // What the use case handed out is what is stored.
        if scenario == Scenario::Resend && acted.answer == Answer::Whole("ok") && committed != [true] {
            failures.push("a resend answered a new link that is not stored".to_owned());
        }
    }
}

/// The retry of a faulted run, without faults, and the checks after it.
async fn retry<B: FaultBackend>(
    backend: &B,
    run: &Run<B::Store>,
    scenario: Scenario,
    committed: &[bool],
    failures: &mut Vec<String>,
) {
    if scenario == Scenario::Drain {
        // The worker's retry is the drain above; what failed for good is resent.
        if let Err(f) = checks::resend_failed(run).await {
            failures.push(f);
        }
        if let Err(f) = run.drain_all().await {
            failures.push(f);
        }
        failures.extend(checks::all_delivered(run).await);
        failures.extend(run.check(backend, Phase::AfterDrain).await);
        return;
    }
    let again = match run.act(scenario).await {
        Ok(Ok(acted)) => acted,
        Ok(Err(err)) => {
            failures.push(format!("the retry's task ended: {err}"));
            return;
        }
        Err(hung) => {
            failures.push(format!("the retry: {hung}"));
            return;
        }
    };
    if let Some(expected) = retry_answer(scenario, committed)
        && again.answer != expected
    {
        failures.push(format!(
            "the retry answered {:?}; what committed ({committed:?}) implies {expected:?}",
            again.answer
        ));
    }
    match run.committed(scenario).await {
        Ok(now) if now.iter().all(|c| *c) => {}
        Ok(now) => failures.push(format!("after the retry, decisions committed: {now:?}")),
        Err(f) => failures.push(f),
    }
    if scenario == Scenario::Resend
        && let (Some(link), Some(target)) = (again.links.first(), &run.setup.target)
    {
        match run.arena.store.get(&run.cast.enterprise.id, target.id).await {
            Ok(Some(current)) if current.token_digest == *link => {}
            other => failures.push(format!("the retry's link is not the stored one: {other:?}")),
        }
    }
    // After the drain, every check of the rules runs (they include those of the fault's
    // aftermath).
    if let Err(f) = run.drain_all().await {
        failures.push(f);
    }
    failures.extend(run.check(backend, Phase::AfterDrain).await);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_follow_the_fault() {
        // send on the store: role_of, enterprise, create_queued.
        let log = ["role_of", "enterprise", "create_queued"];
        let r = decision_calls(Layer::Store, &log);
        assert_eq!(r, [(3, 3)]);
        assert_eq!(
            expected_commits(Layer::Store, &r, 1, 1, Fault::ErrorAfter),
            [false]
        );
        assert_eq!(expected_commits(Layer::Store, &r, 1, 3, Fault::Error), [false]);
        assert_eq!(
            expected_commits(Layer::Store, &r, 1, 3, Fault::ErrorAfter),
            [true]
        );
        assert_eq!(
            expected_commits(Layer::Store, &r, 1, 3, Fault::PanicAfter),
            [true]
        );
        // accept under the host directory: in the transaction enterprise and add_member:
        // nothing of a fault inside commits.
        let log = ["enterprise", "add_member"];
        let r = decision_calls(Layer::Host, &log);
        assert_eq!(r, [(1, 2)]);
        assert_eq!(
            expected_commits(Layer::Host, &r, 1, 2, Fault::ErrorAfter),
            [false]
        );
        // a bulk send is one decision: the store's one call, or under the host directory
        // every row's member check in its one transaction.
        let log = ["role_of", "enterprise", "create_many"];
        let r = Scenario::SendMany.units(decision_calls(Layer::Store, &log));
        assert_eq!(r, [(3, 3)]);
        assert_eq!(expected_commits(Layer::Store, &r, 1, 3, Fault::Error), [false]);
        assert_eq!(
            expected_commits(Layer::Store, &r, 1, 3, Fault::ErrorAfter),
            [true]
        );
        assert_eq!(expected_commits(Layer::Store, &r, 1, 2, Fault::Error), [false]);
        assert_eq!(
            expected_answer(Scenario::SendMany),
            Some(Answer::Whole("internal"))
        );
        let log = ["role_of", "enterprise", "has_member_with", "has_member_with"];
        let r = Scenario::SendMany.units(decision_calls(Layer::Host, &log));
        assert_eq!(r, [(3, 4)]);
        assert_eq!(
            expected_commits(Layer::Host, &r, 1, 4, Fault::ErrorAfter),
            [false]
        );
        assert_eq!(
            retry_answer(Scenario::SendMany, &[true]),
            Some(Answer::Rows(vec![
                "duplicate_pending",
                "duplicate_pending",
                "invalid_contact",
                "duplicate_pending"
            ]))
        );
        // revoke under the host directory: its transaction calls nothing there.
        let r = decision_calls(Layer::Host, &["role_of", "enterprise"]);
        assert_eq!(
            expected_commits(Layer::Host, &r, 1, 2, Fault::ErrorAfter),
            [false]
        );
        assert_eq!(ks(Depth::Reduced, 4, &[(3, 3), (4, 4)]), [3, 4]);
        assert_eq!(ks(Depth::Reduced, 3, &[(2, 3)]), [2, 3]);
        assert_eq!(ks(Depth::Reduced, 6, &[]), [1, 6]);
        assert_eq!(ks(Depth::Full, 3, &[]), [1, 2, 3]);
    }
}
