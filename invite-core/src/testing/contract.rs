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
use crate::ports::{Accounts, Directory, InvitationStore, NewInvitation, NotifyErrorKind, StoreError};
use crate::role::Role;
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
            tokio::spawn(async move { store.accept(&digest, &user, now).await })
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
            two_stores_accept_by_id_and_token_one_winner
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

/// What `create` writes is what `get` and `find_by_digest` read (rules §1, X1).
pub async fn create_round_trips<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (new, token) = f.invitation(" Bob@Example.com ", Role::FinanceAdmin, f.now);
    let created = f.store.create(new.clone()).await.expect("create");
    assert_eq!(created, new.into_invitation());
    let by_id = f.store.get(&f.world.acme.id, created.id).await.expect("get");
    assert_eq!(by_id.as_ref(), Some(&created));
    let by_digest = f.store.find_by_digest(&token.digest()).await.expect("find");
    assert_eq!(by_digest.as_ref(), Some(&created));
    assert_eq!(created.contact.entered(), "Bob@Example.com");
    assert_eq!(created.contact.normalized(), "bob@example.com");
    let unknown = f
        .store
        .find_by_digest(&InviteToken::generate().digest())
        .await
        .expect("find");
    assert_eq!(unknown, None);
}

/// rule S7: one pending invitation per (enterprise, contact), by normalized contact; other
/// enterprises are not affected.
pub async fn duplicate_pending_is_refused<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    f.send("bob@example.com", f.now).await;
    let (again, _) = f.invitation("BOB@EXAMPLE.COM", Role::Member, f.now + TimeDelta::seconds(1));
    assert!(matches!(
        f.store.create(again).await,
        Err(StoreError::DuplicatePending)
    ));
    let (mut globex, _) = f.invitation("bob@example.com", Role::Member, f.now);
    globex.enterprise_id = f.world.globex.id.clone();
    f.store
        .create(globex)
        .await
        .expect("another enterprise may invite the same contact");
}

/// rule S7, §1: a pending invitation past its expiry never blocks a new one, swept or not.
pub async fn expired_pending_never_blocks<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (old, _) = f.send("bob@example.com", f.now).await;
    let later = old.expires_at;
    let (new, _) = f.invitation("bob@example.com", Role::Member, later);
    let created = f.store.create(new).await.expect("expired pending does not block");
    let old_now = f
        .store
        .get(&f.world.acme.id, old.id)
        .await
        .expect("get")
        .expect("still there");
    assert_eq!(old_now.status_at(later), InvitationStatus::Expired);
    assert_eq!(created.status_at(later), InvitationStatus::Pending);
}

/// rule S7: a contact that belongs to a member gets `already_member`, by normalized forms.
pub async fn already_member_is_refused<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (new, _) = f.invitation("ALICE@example.com", Role::Member, f.now);
    assert!(matches!(
        f.store.create(new).await,
        Err(StoreError::AlreadyMember)
    ));
    f.host
        .insert_member(&f.world.acme.id, &f.world.carol, Role::Member)
        .await
        .expect("add carol");
    let (by_phone, _) = f.invitation("+1 (415) 555-0100", Role::Member, f.now);
    assert!(matches!(
        f.store.create(by_phone).await,
        Err(StoreError::AlreadyMember)
    ));
}

/// rule X3: an invitation id is only reachable under its own enterprise.
pub async fn tenant_isolation<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, _) = f.send("bob@example.com", f.now).await;
    let globex = &f.world.globex.id;
    assert_eq!(f.store.get(globex, inv.id).await.expect("get"), None);
    assert!(matches!(
        f.store.revoke(globex, inv.id, &f.world.grace.id, f.now).await,
        Err(StoreError::NotFound)
    ));
    let digest = InviteToken::generate().digest();
    let resent = f
        .store
        .resend(
            globex,
            inv.id,
            &f.world.grace.id,
            digest,
            f.now + TimeDelta::days(1),
            f.now,
        )
        .await;
    assert!(matches!(resent, Err(StoreError::NotFound)));
    assert!(matches!(f.store.events(globex, inv.id).await.as_deref(), Ok([])));
    let query = ListQuery {
        status: None,
        limit: 10,
        after: None,
    };
    assert!(
        f.store
            .list(globex, &query, f.now)
            .await
            .expect("list")
            .is_empty()
    );
    let still = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(still.status, InvitationStatus::Pending);
}

/// rule R1: newest first; pages continue exactly after the cursor, with ties on `sent_at`
/// broken by id.
pub async fn list_is_newest_first_with_keyset_pages<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let mut sent = Vec::new();
    for i in 0..7_i64 {
        // Two invitations share each second, to exercise the id tie-break.
        let (inv, _) = f
            .send(&format!("user{i}@example.com"), f.now + TimeDelta::seconds(i / 2))
            .await;
        sent.push(inv);
    }
    sent.sort_by_key(|i| std::cmp::Reverse((i.sent_at, i.id)));
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let query = ListQuery {
            status: None,
            limit: 3,
            after,
        };
        let page = f.store.list(&f.world.acme.id, &query, f.now).await.expect("list");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(Cursor::after(last));
        seen.extend(page);
    }
    assert_eq!(seen, sent);
}

/// rules §1, R1: the status filter reads the derived status, so an unswept pending row past
/// its expiry lists as `expired`, not `pending`.
pub async fn list_filters_by_derived_status<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (stale, _) = f.send("old@example.com", f.now - TimeDelta::days(2)).await;
    let (live, _) = f.send("new@example.com", f.now).await;
    let (gone, _) = f.send("gone@example.com", f.now).await;
    f.store
        .revoke(&f.world.acme.id, gone.id, &f.world.alice.id, f.now)
        .await
        .expect("revoke");
    let ids = |status| {
        let store = f.store.clone();
        let acme = &f.world.acme.id;
        let now = f.now;
        async move {
            let query = ListQuery {
                status: Some(status),
                limit: 10,
                after: None,
            };
            store
                .list(acme, &query, now)
                .await
                .expect("list")
                .into_iter()
                .map(|i| i.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(InvitationStatus::Pending).await, vec![live.id]);
    assert_eq!(ids(InvitationStatus::Expired).await, vec![stale.id]);
    assert_eq!(ids(InvitationStatus::Revoked).await, vec![gone.id]);
    assert_eq!(ids(InvitationStatus::Accepted).await, Vec::<InvitationId>::new());
}

/// rule R2: revoke works on a pending invitation only, and the link dies at once.
pub async fn revoke_only_pending<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let alice = &f.world.alice.id;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let revoked = f.store.revoke(acme, inv.id, alice, f.now).await.expect("revoke");
    assert_eq!(revoked.status, InvitationStatus::Revoked);
    assert_eq!(revoked.revoked_by.as_ref(), Some(alice));
    assert_eq!(revoked.revoked_at, Some(f.now));
    let again = f.store.revoke(acme, inv.id, alice, f.now).await;
    assert!(matches!(
        again,
        Err(StoreError::Transition(TransitionError::NotPending(
            InvitationStatus::Revoked
        )))
    ));
    let accept = f.store.accept(&token.digest(), &f.world.bob, f.now).await;
    assert!(matches!(
        accept,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    let (old, _) = f.send("carol@example.com", f.now).await;
    let expired = f.store.revoke(acme, old.id, alice, old.expires_at).await;
    assert!(matches!(
        expired,
        Err(StoreError::Transition(TransitionError::NotPending(
            InvitationStatus::Expired
        )))
    ));
    let missing = f.store.revoke(acme, InvitationId::new(), alice, f.now).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

/// rule R3: resend gives a pending or expired invitation a new token and expiry; the old
/// link stops working at once; answered invitations cannot be resent.
pub async fn resend_rotates_the_token<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let alice = &f.world.alice.id;
    let (inv, old_token) = f.send("bob@example.com", f.now).await;
    let later = inv.expires_at + TimeDelta::hours(1);
    let new_token = InviteToken::generate();
    let resent = f
        .store
        .resend(
            acme,
            inv.id,
            alice,
            new_token.digest(),
            later + TimeDelta::days(1),
            later,
        )
        .await
        .expect("resend an expired invitation");
    assert_eq!(resent.status_at(later), InvitationStatus::Pending);
    assert_eq!(resent.expires_at, later + TimeDelta::days(1));
    assert_eq!(resent.last_sent_at, later);
    assert_eq!(resent.sent_at, inv.sent_at);
    assert_eq!(resent.delivery, DeliveryStatus::Queued);
    assert_eq!(
        f.store.find_by_digest(&old_token.digest()).await.expect("find"),
        None
    );
    let found = f.store.find_by_digest(&new_token.digest()).await.expect("find");
    assert_eq!(found.map(|i| i.id), Some(inv.id));
    f.store
        .accept(&new_token.digest(), &f.world.bob, later)
        .await
        .expect("accept with the new token");
    let after = f
        .store
        .resend(
            acme,
            inv.id,
            alice,
            InviteToken::generate().digest(),
            later,
            later,
        )
        .await;
    assert!(matches!(
        after,
        Err(StoreError::Transition(TransitionError::NotPending(
            InvitationStatus::Accepted
        )))
    ));
}

/// rule S7, R3: reviving an expired invitation must not make a second pending one.
pub async fn resend_refuses_a_second_pending<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (old, _) = f.send("bob@example.com", f.now).await;
    let later = old.expires_at;
    let (newer, _) = f.send("bob@example.com", later).await;
    let digest = InviteToken::generate().digest();
    let resent = f
        .store
        .resend(
            &f.world.acme.id,
            old.id,
            &f.world.alice.id,
            digest,
            later + TimeDelta::days(1),
            later,
        )
        .await;
    assert!(matches!(resent, Err(StoreError::DuplicatePending)));
    let kept = f
        .store
        .get(&f.world.acme.id, newer.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(kept.status_at(later), InvitationStatus::Pending);
}

/// rule A5, A6: accept makes the member with the invited role, once.
pub async fn accept_makes_a_member_once<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let accepted = f
        .store
        .accept(&token.digest(), &f.world.bob, f.now)
        .await
        .expect("accept");
    assert_eq!(accepted.status, InvitationStatus::Accepted);
    assert_eq!(accepted.responded_by.as_ref(), Some(&f.world.bob.id));
    assert_eq!(accepted.responded_at, Some(f.now));
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(inv.role)
    );
    let twice = f.store.accept(&token.digest(), &f.world.bob, f.now).await;
    assert!(matches!(
        twice,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    let reject = f.store.reject(&token.digest(), &f.world.bob.id, f.now).await;
    assert!(matches!(
        reject,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
}

/// rule A1, A6: expired, revoked and unknown tokens are all `invalid_or_expired`.
pub async fn accept_refuses_expired_and_revoked<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let at_expiry = f
        .store
        .accept(&token.digest(), &f.world.bob, inv.expires_at)
        .await;
    assert!(matches!(
        at_expiry,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    let reject = f
        .store
        .reject(&token.digest(), &f.world.bob.id, inv.expires_at)
        .await;
    assert!(matches!(
        reject,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    let unknown = f
        .store
        .accept(&InviteToken::generate().digest(), &f.world.bob, f.now)
        .await;
    assert!(matches!(
        unknown,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    assert_eq!(f.membership_count(&f.world.bob.id).await, 0);
    let still = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        still.status,
        InvitationStatus::Pending,
        "a refused accept changes nothing"
    );
}

/// rule A8: accepting when already a member leaves role and invitation unchanged.
pub async fn accept_by_a_member_changes_nothing<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    f.host
        .insert_member(&f.world.acme.id, &f.world.bob, Role::Member)
        .await
        .expect("join by another path");
    let accept = f.store.accept(&token.digest(), &f.world.bob, f.now).await;
    assert!(matches!(accept, Err(StoreError::AlreadyMember)));
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(Role::Member)
    );
    let still = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(still.status, InvitationStatus::Pending);
    let events = f.store.events(&f.world.acme.id, inv.id).await.expect("events");
    assert!(events.iter().all(|e| e.kind != EventKind::Accepted));
}

/// rule A7: reject marks the invitation rejected and makes no member.
pub async fn reject_makes_no_member<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (_, token) = f.send("bob@example.com", f.now).await;
    let rejected = f
        .store
        .reject(&token.digest(), &f.world.bob.id, f.now)
        .await
        .expect("reject");
    assert_eq!(rejected.status, InvitationStatus::Rejected);
    assert_eq!(rejected.responded_by.as_ref(), Some(&f.world.bob.id));
    assert_eq!(f.membership_count(&f.world.bob.id).await, 0);
    let accept = f.store.accept(&token.digest(), &f.world.bob, f.now).await;
    assert!(matches!(
        accept,
        Err(StoreError::Transition(TransitionError::AlreadyRejected))
    ));
}

/// rule A6: of 32 concurrent accepts of one token exactly one succeeds, and exactly one
/// membership exists.
pub async fn concurrent_accepts_have_one_winner<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (_, token) = f.send("bob@example.com", f.now).await;
    let wins = race_accepts(
        std::slice::from_ref(&f.store),
        token.digest(),
        &f.world.bob,
        f.now,
        32,
    )
    .await;
    assert_eq!(wins, 1);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
}

/// rule S7: of 16 concurrent sends to one contact exactly one makes a pending invitation.
pub async fn concurrent_sends_make_one_pending<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let created = race_sends(
        &f,
        std::slice::from_ref(&f.store),
        &["bob@example.com", "BOB@example.COM"],
        16,
    )
    .await;
    assert_eq!(created, 1);
    let query = ListQuery {
        status: Some(InvitationStatus::Pending),
        limit: 100,
        after: None,
    };
    assert_eq!(
        f.store
            .list(&f.world.acme.id, &query, f.now)
            .await
            .expect("list")
            .len(),
        1
    );
}

/// rule X5: every state change is an event with actor and time, in order.
pub async fn events_record_every_change<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let (inv, _) = f.send("bob@example.com", f.now).await;
    let t1 = f.now + TimeDelta::seconds(1);
    let token = InviteToken::generate();
    f.store
        .resend(
            acme,
            inv.id,
            &f.world.alice.id,
            token.digest(),
            t1 + TimeDelta::days(1),
            t1,
        )
        .await
        .expect("resend");
    let t2 = f.now + TimeDelta::seconds(2);
    f.store
        .accept(&token.digest(), &f.world.bob, t2)
        .await
        .expect("accept");
    let (other, _) = f.send("carol@example.com", f.now).await;
    f.store
        .revoke(acme, other.id, &f.world.alice.id, t2)
        .await
        .expect("revoke");
    let (rej, rej_token) = f.send("dave@example.com", f.now).await;
    f.store
        .reject(&rej_token.digest(), &f.world.mallory.id, t2)
        .await
        .expect("reject");

    let kinds = |events: Vec<crate::event::InvitationEvent>| {
        events
            .into_iter()
            .map(|e| (e.kind, e.actor, e.at))
            .collect::<Vec<_>>()
    };
    let alice = Some(f.world.alice.id.clone());
    assert_eq!(
        kinds(f.store.events(acme, inv.id).await.expect("events")),
        vec![
            (EventKind::Sent, alice.clone(), f.now),
            (EventKind::Resent, alice.clone(), t1),
            (EventKind::Accepted, Some(f.world.bob.id.clone()), t2)
        ]
    );
    assert_eq!(
        kinds(f.store.events(acme, other.id).await.expect("events")),
        vec![
            (EventKind::Sent, alice.clone(), f.now),
            (EventKind::Revoked, alice.clone(), t2)
        ]
    );
    assert_eq!(
        kinds(f.store.events(acme, rej.id).await.expect("events")),
        vec![
            (EventKind::Sent, alice, f.now),
            (EventKind::Rejected, Some(f.world.mallory.id.clone()), t2)
        ]
    );
}

/// rules §1, X5: a sweep writes `expired` down in batches, with an event, and touches
/// nothing else.
pub async fn sweep_writes_expired_down<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let mut old = Vec::new();
    for i in 0..3 {
        old.push(
            f.send(&format!("old{i}@example.com"), f.now - TimeDelta::days(2))
                .await
                .0,
        );
    }
    let (live, _) = f.send("live@example.com", f.now).await;
    assert_eq!(f.store.sweep_expired(f.now, 2).await.expect("sweep"), 2);
    assert_eq!(f.store.sweep_expired(f.now, 2).await.expect("sweep"), 1);
    assert_eq!(f.store.sweep_expired(f.now, 2).await.expect("sweep"), 0);
    for inv in &old {
        let stored = f
            .store
            .get(&f.world.acme.id, inv.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(stored.status, InvitationStatus::Expired);
        let events = f.store.events(&f.world.acme.id, inv.id).await.expect("events");
        assert_eq!(
            events.last().map(|e| (e.kind, e.actor.clone())),
            Some((EventKind::Expired, None))
        );
    }
    let live = f
        .store
        .get(&f.world.acme.id, live.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(live.status, InvitationStatus::Pending);
}

/// rule S8: the delivery status is stored and read back.
pub async fn delivery_status_is_recorded<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, _) = f.send("bob@example.com", f.now).await;
    assert_eq!(inv.delivery, DeliveryStatus::Queued);
    f.store
        .set_delivery(inv.id, DeliveryStatus::Failed)
        .await
        .expect("set");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.delivery, DeliveryStatus::Failed);
    f.store
        .set_delivery(inv.id, DeliveryStatus::Delivered)
        .await
        .expect("set");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.delivery, DeliveryStatus::Delivered);
}

/// The directory port reads the host's data: enterprises with their certified flag and
/// roles by (enterprise, user), the library's role names whatever the host calls them
/// (rules H1, H4).
pub async fn directory_reads_the_host<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let w = &f.world;
    assert_eq!(
        f.store.enterprise(&w.unverified.id).await.expect("enterprise"),
        Some(w.unverified.clone())
    );
    assert_eq!(
        f.store.role_of(&w.acme.id, &w.alice.id).await.expect("role"),
        Some(Role::SuperAdmin)
    );
    assert_eq!(
        f.store.role_of(&w.globex.id, &w.alice.id).await.expect("role"),
        None
    );
    f.host
        .insert_member(&w.acme.id, &w.carol, Role::FinanceAdmin)
        .await
        .expect("insert carol");
    assert_eq!(
        f.store.role_of(&w.acme.id, &w.carol.id).await.expect("role"),
        Some(Role::FinanceAdmin)
    );
    f.host
        .set_certified(&w.acme.id, false)
        .await
        .expect("set certified");
    let acme = f.store.enterprise(&w.acme.id).await.expect("enterprise");
    assert_eq!(acme.map(|e| e.certified), Some(false));
}

/// Rules H2, X7: when the host's membership insert fails, the accept fails as a whole:
/// the invitation stays pending, no membership and no `accepted` event are written, and
/// the same link works once the fault is gone.
pub async fn failing_member_insert_leaves_the_invitation_pending<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    f.host.fail_member_inserts(true).await.expect("break the insert");
    let failed = f.store.accept(&token.digest(), &f.world.bob, f.now).await;
    assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.status, InvitationStatus::Pending);
    assert_eq!(stored.responded_at, None);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 0);
    let kinds: Vec<EventKind> = f
        .store
        .events(&f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent]);
    f.host.fail_member_inserts(false).await.expect("mend the insert");
    f.store
        .accept(&token.digest(), &f.world.bob, f.now)
        .await
        .expect("the same link works after the fault");
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(Role::DevAdmin)
    );
}

/// Rule H7: a membership the host inserts by itself while an invitation is pending makes
/// the accept `already_member` and leaves the invitation pending and the host's role
/// unchanged.
pub async fn host_inserted_member_makes_accept_already_member<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    f.host
        .insert_member(&f.world.acme.id, &f.world.bob, Role::Member)
        .await
        .expect("host inserts bob");
    let answer = f.store.accept(&token.digest(), &f.world.bob, f.now).await;
    assert!(matches!(answer, Err(StoreError::AlreadyMember)), "{answer:?}");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.status, InvitationStatus::Pending);
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(Role::Member)
    );
}

fn pending_query() -> ListQuery {
    ListQuery {
        status: Some(InvitationStatus::Pending),
        limit: 100,
        after: None,
    }
}

/// Rules A5, A6, H2 across processes: 32 accepts of one token spread over two stores on one
/// database (two pools, as two server processes have): exactly one wins, exactly one
/// membership and one `accepted` event exist.
pub async fn two_stores_accept_one_winner<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let stores = [f.store.clone(), f.peer.clone()];
    let wins = race_accepts(&stores, token.digest(), &f.world.bob, f.now, 32).await;
    assert_eq!(wins, 1);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
    let accepted = f
        .peer
        .events(&f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::Accepted)
        .count();
    assert_eq!(accepted, 1);
}

/// Rule S7 across processes: 16 sends to one contact (spelled two ways) spread over two
/// stores on one database make exactly one pending invitation.
pub async fn two_stores_send_one_pending<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let stores = [f.store.clone(), f.peer.clone()];
    let contacts = ["carol@example.com", "Carol@EXAMPLE.com"];
    let created = race_sends(&f, &stores, &contacts, 16).await;
    assert_eq!(created, 1);
    let pending = f
        .peer
        .list(&f.world.acme.id, &pending_query(), f.now)
        .await
        .expect("list");
    assert_eq!(pending.len(), 1);
}

/// Rules S7, H2: a send racing an accept of the same contact (on the other store) never
/// leaves a pending invitation to a member: the member check reads the host's table in
/// the send's own transaction, under the enterprise's lock.
pub async fn send_racing_accept_never_invites_a_member<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    for round in 0..8 {
        let contact = format!("racer{round}@example.com");
        let parsed = crate::testing::host::contact(&contact).expect("contact");
        let user = f
            .host
            .create_user(&format!("Racer {round}"), &parsed)
            .await
            .expect("user");
        let (first, token) = f.send(&contact, f.now).await;
        let accept = {
            let store = f.store.clone();
            let user = user.clone();
            let digest = token.digest();
            let now = f.now;
            tokio::spawn(async move { store.accept(&digest, &user, now).await })
        };
        let send = {
            let (new, _) = f.invitation(&contact, Role::Member, f.now);
            let store = f.peer.clone();
            tokio::spawn(async move { store.create(new).await })
        };
        let accepted = accept.await.expect("task");
        let sent = send.await.expect("task");
        assert!(accepted.is_ok(), "accept: {accepted:?}");
        match sent {
            // The pending first invitation was still there, or the member already was.
            Err(StoreError::DuplicatePending | StoreError::AlreadyMember) => {}
            Ok(second) => panic!(
                "a second pending invitation {:?} was made beside {:?} for a contact that joined",
                second.id, first.id
            ),
            Err(other) => panic!("unexpected outcome of the send: {other:?}"),
        }
        let pending = f
            .peer
            .list(&f.world.acme.id, &pending_query(), f.now)
            .await
            .expect("list");
        assert!(
            pending.iter().all(|i| i.contact.normalized() != contact),
            "a pending invitation to a member"
        );
    }
}

/// The self-contained layout's accounts read back what was written: users by contact,
/// members, memberships (rule H6).
///
/// Not part of [`store_contract_suite!`](crate::store_contract_suite): only stores of the
/// self-contained layout ([`Accounts`]) have these.
pub async fn accounts_round_trips<A: Accounts>(accounts: Arc<A>) {
    let host = Arc::new(crate::testing::AccountsFixture::new(accounts.clone()));
    let world = seed::demo(&*host).await.expect("seed");
    let w = &world;
    let f = AccountsCase { store: accounts };
    assert_eq!(
        f.store.enterprise(&w.unverified.id).await.expect("enterprise"),
        Some(w.unverified.clone())
    );
    assert_eq!(
        f.store.user(&w.carol.id).await.expect("user"),
        Some(w.carol.clone())
    );
    let by_phone = ContactPolicy::default().parse("+1 415 555 0100").expect("phone");
    assert_eq!(
        f.store.find_user(&by_phone).await.expect("find"),
        Some(w.carol.clone())
    );
    let by_email = ContactPolicy::default()
        .parse("MALLORY@example.com")
        .expect("email");
    assert_eq!(
        f.store.find_user(&by_email).await.expect("find"),
        Some(w.mallory.clone())
    );
    assert_eq!(
        f.store.role_of(&w.acme.id, &w.alice.id).await.expect("role"),
        Some(Role::SuperAdmin)
    );
    assert_eq!(
        f.store.role_of(&w.globex.id, &w.alice.id).await.expect("role"),
        None
    );
    let dup = f.store.add_member(&w.acme.id, &w.alice.id, Role::Member).await;
    assert!(matches!(dup, Err(StoreError::AlreadyMember)));
    f.store
        .add_member(&w.acme.id, &w.bob.id, Role::Member)
        .await
        .expect("add bob");
    let members: Vec<(String, Role)> = f
        .store
        .members(&w.acme.id)
        .await
        .expect("members")
        .into_iter()
        .map(|m| (m.user.name, m.role))
        .collect();
    assert_eq!(
        members,
        vec![
            ("Alice Admin".to_owned(), Role::SuperAdmin),
            ("Bob Builder".to_owned(), Role::Member)
        ]
    );
    let renamed = User {
        name: "Robert Builder".into(),
        ..w.bob.clone()
    };
    f.store.save_user(&renamed).await.expect("update");
    assert_eq!(f.store.user(&w.bob.id).await.expect("user"), Some(renamed));
    let memberships = f.store.memberships(&w.alice.id).await.expect("memberships");
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].enterprise, w.acme);
    assert_eq!(memberships[0].role, Role::SuperAdmin);
}

struct AccountsCase<A> {
    store: Arc<A>,
}

// --- the delivery outbox (rules D1–D4) ----------------------------------------------------

const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

fn lease() -> TimeDelta {
    TimeDelta::seconds(60)
}

/// Rule D1: a send through the outbox writes the invitation and its delivery request
/// together; the request is queued, due at once, its link sealed and readable with the key.
pub async fn outbox_send_queues_in_the_same_transaction<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token, delivery) = f.send_queued("bob@example.com", f.now).await;
    assert_eq!(inv.delivery, DeliveryStatus::Queued);
    assert_eq!(inv.delivery_attempts, 0);
    let entry = f
        .store
        .delivery(delivery.id)
        .await
        .expect("delivery")
        .expect("queued");
    assert_eq!(entry.state, OutboxState::Queued);
    assert_eq!(entry.invitation_id, inv.id);
    assert_eq!(entry.enterprise_id, f.world.acme.id);
    assert_eq!(entry.token_digest, token.digest());
    assert_eq!(entry.attempts, 0);
    assert_eq!(entry.due_at, f.now);
    assert_eq!(entry.finished_at, None);
    let sealed = entry
        .sealed_link
        .expect("the sealed link is kept until delivered");
    let link = Fixture::<S>::outbox_key()
        .open(&sealed, inv.id, &token.digest())
        .expect("opens");
    assert_eq!(link.token(), token.expose_secret());
    let stored = f.store.get(&f.world.acme.id, inv.id).await.expect("get");
    assert_eq!(stored.as_ref(), Some(&inv));
}

/// Rule D1, X7: a refused send (duplicate, member) queues nothing.
pub async fn outbox_refused_send_queues_nothing<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    f.send_queued("bob@example.com", f.now).await;
    let (again, token) = f.invitation("BOB@example.com", Role::Member, f.now);
    let refused = Fixture::<S>::delivery_of(&again, &token);
    assert!(matches!(
        f.store.create_queued(again, refused.clone()).await,
        Err(StoreError::DuplicatePending)
    ));
    let (member, token) = f.invitation("alice@example.com", Role::Member, f.now);
    let refused_member = Fixture::<S>::delivery_of(&member, &token);
    assert!(matches!(
        f.store.create_queued(member, refused_member.clone()).await,
        Err(StoreError::AlreadyMember)
    ));
    for id in [refused.id, refused_member.id] {
        assert_eq!(f.store.delivery(id).await.expect("delivery"), None);
    }
    let claimed = f.store.claim_deliveries(f.now, LEASE, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
}

/// Rules D1, D3: a claim leases a due row (counting an attempt) and a second claim skips
/// it while the lease lasts; once it runs out (a crash mid-delivery) the row is claimed
/// again — at least once — and the first lease can no longer record anything.
pub async fn outbox_claim_leases_each_row_once<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, _, delivery) = f.send_queued("bob@example.com", f.now).await;
    assert!(
        f.store
            .claim_deliveries(f.now - TimeDelta::seconds(1), LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "not due before it was queued"
    );
    let first = f.store.claim_deliveries(f.now, LEASE, 10).await.expect("claim");
    assert_eq!(first.len(), 1);
    let first = &first[0];
    assert_eq!(
        (first.id, first.invitation_id, first.attempt),
        (delivery.id, inv.id, 1)
    );
    assert_eq!(first.invitation.as_ref(), Some(&inv));
    assert_eq!(first.sealed_link, delivery.sealed_link);
    assert!(
        f.store
            .claim_deliveries(f.now + lease() - TimeDelta::seconds(1), LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    let later = f.now + lease();
    let second = f.store.claim_deliveries(later, LEASE, 10).await.expect("claim");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempt, 2);
    assert_ne!(second[0].claim, first.claim);
    assert_eq!(
        f.store
            .finish_delivery(first, DeliveryOutcome::Delivered, later)
            .await
            .expect("finish"),
        Finished::LeaseLost
    );
    let entry = f
        .store
        .delivery(delivery.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!((entry.state, entry.attempts), (OutboxState::Queued, 2));
    assert!(matches!(
        f.store
            .finish_delivery(&second[0], DeliveryOutcome::Delivered, later)
            .await
            .expect("finish"),
        Finished::Recorded(Some(_))
    ));
}

/// Rule D3 across processes: two stores on one database claiming at once get disjoint
/// rows, and every row once.
pub async fn outbox_two_stores_claim_each_row_once<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let mut queued = std::collections::BTreeSet::new();
    for i in 0..24 {
        let (_, _, delivery) = f.send_queued(&format!("user{i}@example.com"), f.now).await;
        queued.insert(delivery.id);
    }
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = if i % 2 == 0 {
                f.store.clone()
            } else {
                f.peer.clone()
            };
            let now = f.now;
            tokio::spawn(async move { store.claim_deliveries(now, LEASE, 5).await })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        let batch = task.await.expect("task").expect("claim");
        assert!(
            batch.len() <= 5,
            "a claim leased {} rows, more than asked",
            batch.len()
        );
        claimed.extend(batch.into_iter().map(|c| c.id));
    }
    // Rows locked by a concurrent claim are skipped, not waited for (PostgreSQL): a later
    // claim takes what the race left.
    loop {
        let rest = f.peer.claim_deliveries(f.now, LEASE, 5).await.expect("claim");
        if rest.is_empty() {
            break;
        }
        claimed.extend(rest.into_iter().map(|c| c.id));
    }
    let unique: std::collections::BTreeSet<_> = claimed.iter().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "a row was claimed twice");
    assert_eq!(unique, queued);
}

fn single(mut claimed: Vec<ClaimedDelivery>) -> ClaimedDelivery {
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    claimed.remove(0)
}

/// Rules D1, D4, X5: a delivered or failed row has its link erased; the invitation's
/// delivery status and attempts follow, with a `delivered` or `delivery_failed` event in
/// the same transaction.
pub async fn outbox_finish_erases_the_link_and_records_the_event<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let (ok, _, ok_delivery) = f.send_queued("bob@example.com", f.now).await;
    let claimed = single(f.store.claim_deliveries(f.now, LEASE, 1).await.expect("claim"));
    let t1 = f.now + TimeDelta::seconds(1);
    let finished = f
        .store
        .finish_delivery(&claimed, DeliveryOutcome::Delivered, t1)
        .await
        .expect("finish");
    let Finished::Recorded(Some(event)) = finished else {
        panic!("{finished:?}")
    };
    assert_eq!(
        (event.kind, event.actor, event.at),
        (EventKind::Delivered, None, t1)
    );
    let entry = f
        .store
        .delivery(ok_delivery.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!(entry.state, OutboxState::Delivered);
    assert_eq!(
        entry.sealed_link, None,
        "rule D4: the link is erased once delivered"
    );
    assert_eq!(entry.finished_at, Some(t1));
    let stored = f.store.get(acme, ok.id).await.expect("get").expect("exists");
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (DeliveryStatus::Delivered, 1)
    );
    let kinds: Vec<EventKind> = f
        .store
        .events(acme, ok.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent, EventKind::Delivered]);

    let (bad, _, bad_delivery) = f.send_queued("carol@example.com", t1).await;
    let claimed = single(f.store.claim_deliveries(t1, LEASE, 5).await.expect("claim"));
    let outcome = DeliveryOutcome::Failed {
        error: NotifyErrorKind::Permanent,
    };
    assert!(matches!(
        f.store
            .finish_delivery(&claimed, outcome, t1)
            .await
            .expect("finish"),
        Finished::Recorded(Some(_))
    ));
    let entry = f
        .store
        .delivery(bad_delivery.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!(entry.state, OutboxState::Failed);
    assert_eq!(entry.sealed_link, None, "rule D4: the link is erased once failed");
    assert_eq!(entry.last_error, Some(NotifyErrorKind::Permanent));
    let stored = f.store.get(acme, bad.id).await.expect("get").expect("exists");
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (DeliveryStatus::Failed, 1)
    );
    assert_eq!(
        f.store
            .events(acme, bad.id)
            .await
            .expect("events")
            .last()
            .map(|e| e.kind),
        Some(EventKind::DeliveryFailed)
    );
    assert!(
        f.store
            .claim_deliveries(t1 + TimeDelta::days(1), LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "finished rows are never claimed again"
    );
}

/// Rule D1: a transient failure puts the row back, link kept, due at the given time and
/// not before; the invitation reads `retrying` with its attempts and gets a
/// `delivery_deferred` event.
pub async fn outbox_retry_keeps_the_link_until_due<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, _, delivery) = f.send_queued("bob@example.com", f.now).await;
    let claimed = single(f.store.claim_deliveries(f.now, LEASE, 1).await.expect("claim"));
    let due = f.now + TimeDelta::seconds(10);
    let finished = f
        .store
        .finish_delivery(&claimed, DeliveryOutcome::Retry { at: due }, f.now)
        .await
        .expect("finish");
    assert!(matches!(finished, Finished::Recorded(Some(ref e)) if e.kind == EventKind::DeliveryDeferred));
    let entry = f
        .store
        .delivery(delivery.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!(
        (entry.state, entry.attempts, entry.due_at),
        (OutboxState::Queued, 1, due)
    );
    assert_eq!(entry.sealed_link, Some(delivery.sealed_link.clone()));
    assert_eq!(entry.last_error, Some(NotifyErrorKind::Transient));
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (DeliveryStatus::Retrying, 1)
    );
    assert!(
        f.store
            .claim_deliveries(due - TimeDelta::microseconds(1), LEASE, 1)
            .await
            .expect("claim")
            .is_empty()
    );
    let again = single(f.store.claim_deliveries(due, LEASE, 1).await.expect("claim"));
    assert_eq!(again.attempt, 2);
    f.store
        .finish_delivery(&again, DeliveryOutcome::Delivered, due)
        .await
        .expect("finish");
    let stored = f
        .store
        .get(&f.world.acme.id, inv.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (stored.delivery, stored.delivery_attempts),
        (DeliveryStatus::Delivered, 2)
    );
}

/// Rules D2, D4, R3: a resend through the outbox drops the old link's queued row (erasing
/// it) and queues the new link; the invitation's delivery starts again from `queued`, 0.
/// A worker still holding the old row's lease records nothing.
pub async fn outbox_resend_drops_the_old_link<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let (inv, _, old) = f.send_queued("bob@example.com", f.now).await;
    let in_flight = single(f.store.claim_deliveries(f.now, LEASE, 1).await.expect("claim"));
    let t1 = f.now + TimeDelta::seconds(5);
    let token = InviteToken::generate();
    let link = InviteLink::new("https://app.example", &token);
    let new = NewDelivery {
        id: DeliveryId::new(),
        token_digest: token.digest(),
        sealed_link: Fixture::<S>::outbox_key()
            .seal(&link, inv.id, &token.digest())
            .expect("seal"),
        queued_at: t1,
    };
    let resent = f
        .store
        .resend_queued(
            acme,
            inv.id,
            &f.world.alice.id,
            t1 + TimeDelta::days(1),
            new.clone(),
        )
        .await
        .expect("resend");
    assert_eq!(resent.token_digest, token.digest());
    assert_eq!(
        (resent.delivery, resent.delivery_attempts),
        (DeliveryStatus::Queued, 0)
    );
    let dropped = f.store.delivery(old.id).await.expect("delivery").expect("row");
    assert_eq!(dropped.state, OutboxState::Dropped);
    assert_eq!(dropped.sealed_link, None);
    assert_eq!(
        f.store
            .finish_delivery(&in_flight, DeliveryOutcome::Delivered, t1)
            .await
            .expect("finish"),
        Finished::LeaseLost
    );
    let claimed = single(f.store.claim_deliveries(t1, LEASE, 10).await.expect("claim"));
    assert_eq!((claimed.id, claimed.token_digest), (new.id, token.digest()));
    assert_eq!(claimed.stale_at(t1), None);
    // A refused resend queues nothing.
    f.store
        .revoke(acme, inv.id, &f.world.alice.id, t1)
        .await
        .expect("revoke");
    let token = InviteToken::generate();
    let refused = NewDelivery {
        id: DeliveryId::new(),
        token_digest: token.digest(),
        sealed_link: new.sealed_link.clone(),
        queued_at: t1,
    };
    assert!(matches!(
        f.store
            .resend_queued(
                acme,
                inv.id,
                &f.world.alice.id,
                t1 + TimeDelta::days(1),
                refused.clone()
            )
            .await,
        Err(StoreError::Transition(TransitionError::NotPending(
            InvitationStatus::Revoked
        )))
    ));
    assert_eq!(f.store.delivery(refused.id).await.expect("delivery"), None);
}

/// Rule D2: a claim carries the invitation as it is now, so a revoked, answered or expired
/// invitation — or one whose token a plain resend replaced — reads stale; dropping it
/// erases the link and changes neither the invitation nor its events.
pub async fn outbox_claim_sees_the_current_invitation<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let acme = &f.world.acme.id;
    let (revoked, _, revoked_row) = f.send_queued("bob@example.com", f.now).await;
    f.store
        .revoke(acme, revoked.id, &f.world.alice.id, f.now)
        .await
        .expect("revoke");
    let (accepted, token, _) = f.send_queued("mallory@example.com", f.now).await;
    f.store
        .accept(&token.digest(), &f.world.mallory, f.now)
        .await
        .expect("accept");
    let (resent, _, _) = f.send_queued("carol@example.com", f.now).await;
    f.store
        .resend(
            acme,
            resent.id,
            &f.world.alice.id,
            InviteToken::generate().digest(),
            f.now + TimeDelta::days(1),
            f.now,
        )
        .await
        .expect("plain resend");
    let (live, _, _) = f.send_queued("dave@example.com", f.now).await;
    let mut claimed = f.store.claim_deliveries(f.now, LEASE, 10).await.expect("claim");
    claimed.sort_by_key(|c| c.invitation.as_ref().map(|i| i.contact.normalized().to_owned()));
    let verdicts: Vec<(InvitationId, Option<Staleness>)> = claimed
        .iter()
        .map(|c| (c.invitation_id, c.stale_at(f.now)))
        .collect();
    assert_eq!(
        verdicts,
        vec![
            (revoked.id, Some(Staleness::NotPending(InvitationStatus::Revoked))),
            (resent.id, Some(Staleness::Superseded)),
            (live.id, None),
            (
                accepted.id,
                Some(Staleness::NotPending(InvitationStatus::Accepted))
            ),
        ]
    );
    let expired_at = live.expires_at;
    assert_eq!(
        claimed[2].stale_at(expired_at),
        Some(Staleness::NotPending(InvitationStatus::Expired))
    );
    assert_eq!(
        f.store
            .finish_delivery(&claimed[0], DeliveryOutcome::Dropped, f.now)
            .await
            .expect("finish"),
        Finished::Recorded(None)
    );
    let entry = f
        .store
        .delivery(revoked_row.id)
        .await
        .expect("delivery")
        .expect("row");
    assert_eq!((entry.state, entry.sealed_link), (OutboxState::Dropped, None));
    let stored = f.store.get(acme, revoked.id).await.expect("get").expect("exists");
    assert_eq!(stored, {
        let mut expected = revoked.clone();
        expected.status = InvitationStatus::Revoked;
        expected.revoked_at = Some(f.now);
        expected.revoked_by = Some(f.world.alice.id.clone());
        expected
    });
    let kinds: Vec<EventKind> = f
        .store
        .events(acme, revoked.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent, EventKind::Revoked]);
}

/// Finished rows are pruned after the host's retention, in batches; queued rows and rows
/// finished later are kept.
pub async fn outbox_prune_keeps_queued_and_recent_rows<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let mut finished = Vec::new();
    for i in 0..3 {
        let (_, _, delivery) = f.send_queued(&format!("old{i}@example.com"), f.now).await;
        finished.push(delivery.id);
    }
    for claimed in f.store.claim_deliveries(f.now, LEASE, 10).await.expect("claim") {
        f.store
            .finish_delivery(&claimed, DeliveryOutcome::Delivered, f.now)
            .await
            .expect("finish");
    }
    let later = f.now + TimeDelta::hours(1);
    let (_, _, recent) = f.send_queued("recent@example.com", later).await;
    let recent_claim = single(f.store.claim_deliveries(later, LEASE, 10).await.expect("claim"));
    f.store
        .finish_delivery(&recent_claim, DeliveryOutcome::Dropped, later)
        .await
        .expect("finish");
    let (_, _, queued) = f
        .send_queued("queued@example.com", f.now - TimeDelta::days(30))
        .await;
    assert_eq!(f.store.prune_deliveries(f.now, 2).await.expect("prune"), 2);
    assert_eq!(f.store.prune_deliveries(f.now, 2).await.expect("prune"), 1);
    assert_eq!(f.store.prune_deliveries(f.now, 2).await.expect("prune"), 0);
    for id in finished {
        assert_eq!(f.store.delivery(id).await.expect("delivery"), None);
    }
    assert!(f.store.delivery(recent.id).await.expect("delivery").is_some());
    assert!(f.store.delivery(queued.id).await.expect("delivery").is_some());
}

// --- the invitee's own invitations (rule B1) ---------------------------------------------

impl<S: InvitationStore + Directory> Fixture<S> {
    /// An invitation as [`Fixture::invitation`], but from `enterprise`'s super admin.
    fn invitation_from(
        &self,
        enterprise: &crate::account::Enterprise,
        inviter: &User,
        contact: &str,
        at: DateTime<Utc>,
    ) -> (NewInvitation, InviteToken) {
        let (mut new, token) = self.invitation(contact, Role::Member, at);
        new.enterprise_id = enterprise.id.clone();
        new.invited_by = Inviter {
            user_id: inviter.id.clone(),
            name: inviter.name.clone(),
        };
        (new, token)
    }
}

/// Rule B1: `pending_for` answers the pending, unexpired invitations to the given contacts
/// (compared normalized, any spelling), across enterprises, soonest expiry first — and
/// nothing else: not another contact's, not an expired, answered or revoked one.
pub async fn pending_for_reads_the_contacts_pending_invitations<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let w = &f.world;
    // Globex's, sent later, expires later.
    let later = f.now + TimeDelta::minutes(5);
    let (globex_new, _) = f.invitation_from(&w.globex, &w.grace, "BOB@example.com", later);
    let globex = f.store.create(globex_new).await.expect("globex");
    let (acme, _) = f.send(" Bob@Example.com ", f.now).await;
    // Not Bob's, or not pending at `now`.
    f.send("mallory@example.com", f.now).await;
    let (old_new, _) = f.invitation_from(
        &w.unverified,
        &w.uma,
        "bob@example.com",
        f.now - TimeDelta::days(2),
    );
    f.store.create(old_new).await.expect("expired one");
    let (_, phone_token) = f.send("+1 415 555 0100", f.now).await;
    let contacts = w.bob.verified_contacts();
    let mine = f.store.pending_for(&contacts, f.now).await.expect("pending_for");
    let ids: Vec<InvitationId> = mine.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![acme.id, globex.id], "soonest expiry first");
    assert_eq!(mine[1].enterprise_id, w.globex.id);
    assert_eq!(mine[1].invited_by.name, w.grace.name);
    // Carol's phone, in any spelling; answered invitations drop out.
    let carol = f
        .store
        .pending_for(&w.carol.verified_contacts(), f.now)
        .await
        .expect("pending_for");
    assert_eq!(carol.len(), 1);
    f.store
        .reject(&phone_token.digest(), &w.carol.id, f.now)
        .await
        .expect("reject");
    let carol = f
        .store
        .pending_for(&w.carol.verified_contacts(), f.now)
        .await
        .expect("pending_for");
    assert!(carol.is_empty());
    // At Acme's expiry only Globex's is left; no contacts, nothing.
    let at_expiry = f
        .store
        .pending_for(&contacts, acme.expires_at)
        .await
        .expect("pending_for");
    assert_eq!(
        at_expiry.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![globex.id]
    );
    f.store
        .revoke(&w.globex.id, globex.id, &w.grace.id, f.now)
        .await
        .expect("revoke");
    let after_revoke = f.store.pending_for(&contacts, f.now).await.expect("pending_for");
    assert_eq!(
        after_revoke.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![acme.id]
    );
    assert!(
        f.store
            .pending_for(&[], f.now)
            .await
            .expect("pending_for")
            .is_empty()
    );
    // `find_by_id` reads any enterprise's invitation.
    let found = f.store.find_by_id(globex.id).await.expect("find_by_id");
    assert_eq!(found.map(|i| i.enterprise_id), Some(w.globex.id.clone()));
    assert_eq!(
        f.store.find_by_id(InvitationId::new()).await.expect("find_by_id"),
        None
    );
}

/// Rules B1, A5, A6, H2: accept by id makes the member with the invited role and an
/// `accepted` event, once; afterwards both answers by id (and by token) are refused.
pub async fn accept_by_id_makes_a_member_once<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let accepted = f
        .store
        .accept_by_id(inv.id, &f.world.bob, f.now)
        .await
        .expect("accept by id");
    assert_eq!(accepted.status, InvitationStatus::Accepted);
    assert_eq!(accepted.responded_by.as_ref(), Some(&f.world.bob.id));
    assert_eq!(
        f.store
            .role_of(&f.world.acme.id, &f.world.bob.id)
            .await
            .expect("role"),
        Some(inv.role)
    );
    let twice = f.store.accept_by_id(inv.id, &f.world.bob, f.now).await;
    assert!(matches!(
        twice,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    let reject = f.store.reject_by_id(inv.id, &f.world.bob.id, f.now).await;
    assert!(matches!(
        reject,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    let by_token = f.store.accept(&token.digest(), &f.world.bob, f.now).await;
    assert!(matches!(
        by_token,
        Err(StoreError::Transition(TransitionError::AlreadyAccepted))
    ));
    let kinds: Vec<EventKind> = f
        .store
        .events(&f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent, EventKind::Accepted]);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
}

/// Rules B1, A1, A6, A8, H2, H7: by id, the same refusals as by token — expired and
/// revoked are `invalid_or_expired`, an existing member is `already_member` with nothing
/// changed, a failing membership insert rolls the accept back — and an unknown id is
/// `not_found`.
pub async fn answer_by_id_refuses_as_by_token<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let w = &f.world;
    let unknown = f.store.accept_by_id(InvitationId::new(), &w.bob, f.now).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    let unknown = f.store.reject_by_id(InvitationId::new(), &w.bob.id, f.now).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");

    let (inv, _) = f.send("bob@example.com", f.now).await;
    let at_expiry = f.store.accept_by_id(inv.id, &w.bob, inv.expires_at).await;
    assert!(matches!(
        at_expiry,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    let at_expiry = f.store.reject_by_id(inv.id, &w.bob.id, inv.expires_at).await;
    assert!(matches!(
        at_expiry,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));

    // A failing membership insert: nothing changes, and the id works once mended.
    f.host.fail_member_inserts(true).await.expect("break the insert");
    let failed = f.store.accept_by_id(inv.id, &w.bob, f.now).await;
    assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
    f.host.fail_member_inserts(false).await.expect("mend the insert");
    let stored = f.store.find_by_id(inv.id).await.expect("find").expect("exists");
    assert_eq!(stored.status, InvitationStatus::Pending);

    // A member already (the host inserted it): `already_member`, nothing changes.
    f.host
        .insert_member(&w.acme.id, &w.bob, Role::Member)
        .await
        .expect("host inserts bob");
    let member = f.store.accept_by_id(inv.id, &w.bob, f.now).await;
    assert!(matches!(member, Err(StoreError::AlreadyMember)), "{member:?}");
    let stored = f.store.find_by_id(inv.id).await.expect("find").expect("exists");
    assert_eq!(stored.status, InvitationStatus::Pending);
    assert_eq!(
        f.store.role_of(&w.acme.id, &w.bob.id).await.expect("role"),
        Some(Role::Member)
    );

    // Revoked: `invalid_or_expired`.
    let (carol_inv, _) = f.send("+14155550100", f.now).await;
    f.store
        .revoke(&w.acme.id, carol_inv.id, &w.alice.id, f.now)
        .await
        .expect("revoke");
    let revoked = f.store.accept_by_id(carol_inv.id, &w.carol, f.now).await;
    assert!(matches!(
        revoked,
        Err(StoreError::Transition(TransitionError::InvalidOrExpired))
    ));
    assert_eq!(f.membership_count(&w.carol.id).await, 0);
}

/// Rules B1, A7: reject by id marks the invitation rejected with a `rejected` event and
/// makes no member; then accept (by id or token) is `already_rejected`.
pub async fn reject_by_id_makes_no_member<S: InvitationStore + Directory>(subject: Subject<S>) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let rejected = f
        .store
        .reject_by_id(inv.id, &f.world.bob.id, f.now)
        .await
        .expect("reject by id");
    assert_eq!(rejected.status, InvitationStatus::Rejected);
    assert_eq!(rejected.responded_at, Some(f.now));
    assert_eq!(f.membership_count(&f.world.bob.id).await, 0);
    for accept in [
        f.store.accept_by_id(inv.id, &f.world.bob, f.now).await,
        f.store.accept(&token.digest(), &f.world.bob, f.now).await,
    ] {
        assert!(matches!(
            accept,
            Err(StoreError::Transition(TransitionError::AlreadyRejected))
        ));
    }
    let kinds: Vec<EventKind> = f
        .store
        .events(&f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::Sent, EventKind::Rejected]);
}

/// Rules B1, A6, H2 across processes: 32 accepts of one invitation, half by id and half by
/// token, spread over two stores on one database: exactly one wins, one membership and one
/// `accepted` event exist.
pub async fn two_stores_accept_by_id_and_token_one_winner<S: InvitationStore + Directory>(
    subject: Subject<S>,
) {
    let f = Fixture::new(subject).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let digest = token.digest();
    let stores = [f.store.clone(), f.peer.clone()];
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = stores[i % 2].clone();
            let user = f.world.bob.clone();
            let (now, id) = (f.now, inv.id);
            tokio::spawn(async move {
                if i % 4 < 2 {
                    store.accept_by_id(id, &user, now).await
                } else {
                    store.accept(&digest, &user, now).await
                }
            })
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
    assert_eq!(wins, 1);
    assert_eq!(f.membership_count(&f.world.bob.id).await, 1);
    let accepted = f
        .peer
        .events(&f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::Accepted)
        .count();
    assert_eq!(accepted, 1);
}
