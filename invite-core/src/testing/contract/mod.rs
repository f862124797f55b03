//! The store contract suite: what every [`InvitationStore`] + [`Directory`] must do, as
//! async functions that take a fresh [`Subject`]: the store, a second store on the same
//! database (for the races), and a [`HostFixture`] that writes the host's own tables.
//! Run them all with [`store_contract_suite!`](crate::store_contract_suite):
//!
//! ```ignore
//! use invite_core::testing::Subject;
//! async fn fresh() -> Subject<MyStore> { /* a new, empty, migrated database */ }
//! invite_core::store_contract_suite!(fresh);
//! ```
//!
//! A host that embeds the library over its own schema runs the same suite against its own
//! database: its [`HostFixture`] inserts organizations, accounts and memberships the way
//! its code does, and can make its membership insert fail (a trigger) for the fault case.
//!
//! The macro expands to one `#[tokio::test]` per contract case (multi-threaded runtime),
//! so the calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
//! Each case calls the factory once: give every case its own database.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::account::User;
use crate::contact::ContactPolicy;
use crate::event::EventKind;
use crate::ids::{InvitationId, UserId};
use crate::invitation::TransitionError;
use crate::invitation::{DeliveryStatus, Invitation, InvitationStatus, Inviter};
use crate::outbox::{
    ClaimedDelivery, DeliveryId, DeliveryOutcome, Finished, NewDelivery, OutboxKey, OutboxState, Staleness,
};
use crate::page::{Cursor, ListQuery};
use crate::ports::{Accepted, Answer, Target};
use crate::ports::{
    Accounts, Directory, InvitationStore, NewInvitation, NewRow, NotifyErrorKind, StoreError,
};
use crate::role::{Role, RolePolicy};
use crate::testing::host::{HostFixture, Subject};
use crate::testing::seed::{self, World};
use crate::token::InviteLink;
use crate::token::{InviteToken, TokenDigest};

/// A store under test with the demo data of rules §7.
pub struct Fixture<S> {
    /// The store.
    pub store: Arc<S>,
    /// A second store on the same database (see [`Subject::peer`]).
    pub peer: Arc<S>,
    /// The host's side.
    pub host: Arc<dyn HostFixture>,
    /// The demo data.
    pub world: World,
    /// A fixed "now" the cases move from.
    pub now: DateTime<Utc>,
}

impl<S: InvitationStore + Directory> Fixture<S> {
    /// Seeds the subject's host tables with the demo data.
    ///
    /// # Panics
    /// If seeding fails: the host fixture is broken.
    pub async fn new(subject: Subject<S>) -> Self {
        let world = seed::demo(&*subject.host).await.expect("seeding the demo data");
        let now = DateTime::from_timestamp_micros(1_893_456_000_123_456).expect("valid time");
        Self {
            store: subject.store,
            peer: subject.peer,
            host: subject.host,
            world,
            now,
        }
    }

    /// A new invitation from Alice to Acme for `contact` with `role`, sent at `at`,
    /// expiring a day later, and its token.
    ///
    /// # Panics
    /// If `contact` is not valid.
    pub fn invitation(&self, contact: &str, role: Role, at: DateTime<Utc>) -> (NewInvitation, InviteToken) {
        let token = InviteToken::generate();
        let new = NewInvitation {
            id: InvitationId::new(),
            enterprise_id: self.world.acme.id.clone(),
            contact: ContactPolicy::default().parse(contact).expect("valid contact"),
            role,
            invited_by: Inviter {
                user_id: self.world.alice.id.clone(),
                name: self.world.alice.name.clone(),
            },
            token_digest: token.digest(),
            sent_at: at,
            expires_at: at + TimeDelta::days(1),
        };
        (new, token)
    }

    /// Sends an invitation to `contact` at `at` and returns it with its token.
    ///
    /// # Panics
    /// If the store refuses it.
    pub async fn send(&self, contact: &str, at: DateTime<Utc>) -> (Invitation, InviteToken) {
        let (new, token) = self.invitation(contact, Role::DevAdmin, at);
        let invitation = self.store.create(new).await.expect("create");
        (invitation, token)
    }

    /// The key the outbox cases seal links with.
    #[must_use]
    pub fn outbox_key() -> OutboxKey {
        OutboxKey::from_bytes([7; 32])
    }

    /// The delivery request of `new`'s link (token `token`), queued at `new.sent_at`.
    ///
    /// # Panics
    /// If sealing fails.
    #[must_use]
    pub fn delivery_of(new: &NewInvitation, token: &InviteToken) -> NewDelivery {
        let link = InviteLink::new("https://app.example", token);
        NewDelivery {
            id: DeliveryId::new(),
            token_digest: token.digest(),
            sealed_link: Self::outbox_key()
                .seal(&link, new.id, &token.digest())
                .expect("seal"),
            queued_at: new.sent_at,
        }
    }

    /// Sends an invitation to `contact` at `at` through the outbox (rule D1); returns it,
    /// its token and its delivery request.
    ///
    /// # Panics
    /// If the store refuses it.
    pub async fn send_queued(
        &self,
        contact: &str,
        at: DateTime<Utc>,
    ) -> (Invitation, InviteToken, NewDelivery) {
        let (new, token) = self.invitation(contact, Role::DevAdmin, at);
        let delivery = Self::delivery_of(&new, &token);
        let invitation = self
            .store
            .create_queued(new, delivery.clone())
            .await
            .expect("create_queued");
        (invitation, token, delivery)
    }

    /// In how many of the demo enterprises `user` is a member (read through the port).
    async fn membership_count(&self, user: &UserId) -> usize {
        let mut count = 0;
        for enterprise in [&self.world.acme, &self.world.globex, &self.world.unverified] {
            if self
                .store
                .role_of(&enterprise.id, user)
                .await
                .expect("role_of")
                .is_some()
            {
                count += 1;
            }
        }
        count
    }
}

/// The store's answers as the cases write them: by token or by id, by `user`, judged at
/// a fixed instant, any role allowed.
#[async_trait::async_trait]
pub trait Answering {
    /// [`InvitationStore::accept`] of the invitation whose token has `digest`.
    async fn accept_token(
        &self,
        digest: &TokenDigest,
        user: &User,
        at: &DateTime<Utc>,
    ) -> Result<Accepted, StoreError>;
    /// [`InvitationStore::reject`] of the invitation whose token has `digest`.
    async fn reject_token(
        &self,
        digest: &TokenDigest,
        user: &User,
        at: &DateTime<Utc>,
    ) -> Result<Invitation, StoreError>;
    /// [`InvitationStore::accept`] of `user`'s own invitation `id` (rule B1).
    async fn accept_mine(
        &self,
        id: InvitationId,
        user: &User,
        at: &DateTime<Utc>,
    ) -> Result<Accepted, StoreError>;
    /// [`InvitationStore::reject`] of `user`'s own invitation `id` (rule B1).
    async fn reject_mine(
        &self,
        id: InvitationId,
        user: &User,
        at: &DateTime<Utc>,
    ) -> Result<Invitation, StoreError>;
}

#[async_trait::async_trait]
impl<S: InvitationStore + ?Sized> Answering for S {
    async fn accept_token(
        &self,
        digest: &TokenDigest,
        user: &User,
        at: &DateTime<Utc>,
    ) -> Result<Accepted, StoreError> {
        self.accept(&Answer::new(Target::Token(digest), user, at)).await
    }

    async fn reject_token(
        &self,
        digest: &TokenDigest,
        user: &User,
        at: &DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        self.reject(&Answer::new(Target::Token(digest), user, at)).await
    }

    async fn accept_mine(
        &self,
        id: InvitationId,
        user: &User,
        at: &DateTime<Utc>,
    ) -> Result<Accepted, StoreError> {
        self.accept(&Answer::new(Target::Mine(id), user, at)).await
    }

    async fn reject_mine(
        &self,
        id: InvitationId,
        user: &User,
        at: &DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        self.reject(&Answer::new(Target::Mine(id), user, at)).await
    }
}

/// Races `count` accepts of `digest` by `user`, spread round-robin over `stores` (one store,
/// or several pools on one database as several server processes would have). Returns how
/// many won.
///
/// # Panics
/// On an outcome other than success or `AlreadyAccepted`.
pub async fn race_accepts<S: InvitationStore>(
    stores: &[Arc<S>],
    digest: TokenDigest,
    user: &User,
    now: DateTime<Utc>,
    count: usize,
) -> usize {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let user = user.clone();
            tokio::spawn(async move { store.accept_token(&digest, &user, &now).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => wins += 1,
            Err(StoreError::Transition(TransitionError::AlreadyAccepted)) => {}
            Err(other) => panic!("unexpected outcome of a concurrent accept: {other:?}"),
        }
    }
    wins
}

/// Races `count` sends from Alice to Acme, to `contacts` in turn (spellings of one person),
/// spread round-robin over `stores`. Returns how many were created.
///
/// # Panics
/// On an outcome other than success or `DuplicatePending`.
pub async fn race_sends<S: InvitationStore + Directory>(
    f: &Fixture<S>,
    stores: &[Arc<S>],
    contacts: &[&str],
    count: usize,
) -> usize {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (new, _) = f.invitation(contacts[i % contacts.len()], Role::Member, f.now);
            let store = stores[i % stores.len()].clone();
            tokio::spawn(async move { store.create(new).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => created += 1,
            Err(StoreError::DuplicatePending) => {}
            Err(other) => panic!("unexpected outcome of a concurrent send: {other:?}"),
        }
    }
    created
}

/// Generates one `#[tokio::test]` per contract case, each calling `$factory().await` for
/// a fresh [`Subject`](crate::testing::Subject). See the
/// [module docs](crate::testing::contract).
///
/// `store_contract_suite!(optional factory)` takes a factory that answers
/// `Option<Subject<Store>>` instead; a case whose factory answers `None` returns at once
/// (for backends whose server is only there when the environment says so — the factory
/// should say loudly that it skipped).
#[macro_export]
macro_rules! store_contract_suite {
    (optional $factory:path) => {
        $crate::store_contract_suite!(@list [optional $factory]);
    };
    ($factory:path) => {
        $crate::store_contract_suite!(@list [required $factory]);
    };
    (@list $how:tt) => {
        $crate::store_contract_suite!(@cases $how;
            create_round_trips,
            duplicate_pending_is_refused,
            expired_pending_never_blocks,
            already_member_is_refused,
            tenant_isolation,
            list_is_newest_first_with_keyset_pages,
            list_filters_by_derived_status,
            revoke_only_pending,
            resend_rotates_the_token,
            resend_refuses_a_second_pending,
            accept_makes_a_member_once,
            accept_refuses_expired_and_revoked,
            accept_by_a_member_changes_nothing,
            accept_rechecks_certification_in_the_transaction,
            refused_answers_leave_everything_as_it_was,
            reject_makes_no_member,
            concurrent_accepts_have_one_winner,
            concurrent_sends_make_one_pending,
            events_record_every_change,
            sweep_writes_expired_down,
            delivery_status_is_recorded,
            directory_reads_the_host,
            failing_member_insert_leaves_the_invitation_pending,
            host_inserted_member_makes_accept_already_member,
            two_stores_accept_one_winner,
            two_stores_send_one_pending,
            send_racing_accept_never_invites_a_member,
            outbox_send_queues_in_the_same_transaction,
            outbox_refused_send_queues_nothing,
            outbox_claim_leases_each_row_once,
            outbox_two_stores_claim_each_row_once,
            outbox_finish_erases_the_link_and_records_the_event,
            outbox_retry_keeps_the_link_until_due,
            outbox_resend_drops_the_old_link,
            outbox_claim_sees_the_current_invitation,
            outbox_prune_keeps_queued_and_recent_rows,
            pending_for_reads_the_contacts_pending_invitations,
            accept_by_id_makes_a_member_once,
            answer_by_id_refuses_as_by_token,
            reject_by_id_makes_no_member,
            two_stores_accept_by_id_and_token_one_winner,
            create_many_decides_each_row_in_order,
            two_stores_bulk_sends_one_pending_each
        );
    };
    (@cases [required $factory:path]; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::testing::contract::$case($factory().await).await;
            }
        )*
    };
    (@cases [optional $factory:path]; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                if let Some(subject) = $factory().await {
                    $crate::testing::contract::$case(subject).await;
                }
            }
        )*
    };
}

mod accepting;
mod accounts;
mod beyond;
mod host;
mod outbox;
mod records;
mod sending;

pub use accepting::*;
pub use accounts::*;
pub use beyond::*;
pub use host::*;
pub use outbox::*;
pub use records::*;
pub use sending::*;
