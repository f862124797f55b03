//! Backend tests beyond the contract suite (which has the races over two pools): faults
//! injected between the steps of a decision on the library's own tables and the host's
//! membership table, rows that do not decode, paging under every filter. Each takes a
//! [`Case`] on one fresh database; [`backend_cases!`] runs them all.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use invite_core::testing::ManualClock;
use invite_core::testing::contract::{Answering, Fixture};
use invite_core::{
    Clock, Directory, EventKind, InvitationStatus, InvitationStore, Invitations, InviteError, ListQuery,
    Role, SendInvitation, StoreError,
};

use super::Case;

fn pending_query() -> ListQuery {
    ListQuery {
        status: Some(InvitationStatus::Pending),
        limit: 100,
        after: None,
    }
}

/// rule X7, A5: a failure between the steps of accept (the membership insert, then the
/// event insert) leaves the invitation pending, no membership and no `accepted` event.
pub async fn accept_fault_leaves_no_half_state<S: InvitationStore + Directory>(case: Case<S>) {
    let raw = case.raw.clone();
    let members = case.members_table;
    let f = Fixture::new(case.subject).await;
    let a = f.store.clone();
    let (inv, token) = f.send("bob@example.com", f.now).await;
    for table in [members, "invite_rs_events"] {
        raw.fail_inserts_into(table).await;
        let outcome = a.accept_token(&token.digest(), &f.world.bob, &f.now).await;
        assert!(
            matches!(outcome, Err(StoreError::Backend(_))),
            "{table}: {outcome:?}"
        );
        raw.heal(table).await;
        let still = a
            .get(&f.world.acme.id, inv.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(still.status, InvitationStatus::Pending, "{table}");
        assert_eq!(still.responded_at, None, "{table}");
        assert_eq!(
            a.role_of(&f.world.acme.id, &f.world.bob.id).await.expect("role"),
            None,
            "{table}"
        );
        let events = a.events(&f.world.acme.id, inv.id).await.expect("events");
        assert!(
            events.iter().all(|e| e.kind == EventKind::Sent),
            "{table}: {events:?}"
        );
    }
    // Nothing half-made blocks the real accept.
    a.accept_token(&token.digest(), &f.world.bob, &f.now)
        .await
        .expect("accept after the fault");
    assert_eq!(
        a.role_of(&f.world.acme.id, &f.world.bob.id).await.expect("role"),
        Some(inv.role)
    );
}

/// rule X7, S7: a failure after the invitation row is written (the `sent` event) leaves no
/// invitation behind, so the contact can be invited again.
pub async fn send_fault_leaves_no_half_state<S: InvitationStore + Directory>(case: Case<S>) {
    let raw = case.raw.clone();
    let f = Fixture::new(case.subject).await;
    let a = f.store.clone();
    raw.fail_inserts_into("invite_rs_events").await;
    let (new, token) = f.invitation("bob@example.com", Role::Member, f.now);
    let id = new.id;
    let outcome = a.create(new).await;
    assert!(matches!(outcome, Err(StoreError::Backend(_))), "{outcome:?}");
    raw.heal("invite_rs_events").await;
    assert_eq!(a.get(&f.world.acme.id, id).await.expect("get"), None);
    assert_eq!(a.find_by_digest(&token.digest()).await.expect("find"), None);
    f.send("bob@example.com", f.now).await;
}

/// rule X7, R3: a failure while resending keeps the old link and status.
pub async fn resend_fault_keeps_the_old_link<S: InvitationStore + Directory>(case: Case<S>) {
    let raw = case.raw.clone();
    let f = Fixture::new(case.subject).await;
    let a = f.store.clone();
    let (inv, token) = f.send("bob@example.com", f.now).await;
    raw.fail_inserts_into("invite_rs_events").await;
    let fresh = invite_core::InviteToken::generate();
    let outcome = a
        .resend(
            &f.world.acme.id,
            inv.id,
            &f.world.alice.id,
            fresh.digest(),
            f.now + chrono::TimeDelta::days(2),
            f.now,
        )
        .await;
    assert!(matches!(outcome, Err(StoreError::Backend(_))), "{outcome:?}");
    raw.heal("invite_rs_events").await;
    assert_eq!(a.find_by_digest(&token.digest()).await.expect("find"), Some(inv));
    assert_eq!(a.find_by_digest(&fresh.digest()).await.expect("find"), None);
}

/// rule R1, §1: every status filter, paged 3 rows at a time, returns exactly the rows whose
/// status derived at `now` matches, newest first — `expired` drawing on written-down
/// (swept) and unswept rows alike.
pub async fn every_filter_pages_like_the_reference<S: InvitationStore + Directory>(case: Case<S>) {
    let f = Fixture::new(case.subject).await;
    let a = f.store.clone();
    let acme = &f.world.acme.id;
    let alice = &f.world.alice.id;
    let day = chrono::TimeDelta::days(1);
    let mut tokens = Vec::new();
    for i in 0..14_i64 {
        // Two per second (id tie-breaks), older ones already past their one-day expiry.
        let at = f.now - day * 2 + chrono::TimeDelta::hours(4 * i) + chrono::TimeDelta::seconds(i % 2);
        // The two answered below go to their answerers' addresses (rule A4).
        let contact = match i {
            12 => "mallory@example.com".to_owned(),
            13 => "bob@example.com".to_owned(),
            _ => format!("filter{i}@example.com"),
        };
        let (inv, token) = f.send(&contact, at).await;
        tokens.push((inv, token));
    }
    let swept_at = tokens[0].0.expires_at;
    assert_eq!(a.sweep_expired(swept_at, 1).await.expect("sweep"), 1);
    a.accept_token(&tokens[13].1.digest(), &f.world.bob, &f.now)
        .await
        .expect("accept");
    a.reject_token(&tokens[12].1.digest(), &f.world.mallory, &f.now)
        .await
        .expect("reject");
    a.revoke(acme, tokens[11].0.id, alice, &f.now)
        .await
        .expect("revoke");

    let all = |status, limit| {
        let a = a.clone();
        let now = f.now;
        async move {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let query = ListQuery { status, limit, after };
                let page = a.list(acme, &query, now).await.expect("list");
                assert!(page.len() <= limit);
                let Some(last) = page.last() else { break };
                after = Some(invite_core::Cursor::after(last));
                seen.extend(page);
            }
            seen
        }
    };
    let everything = all(None, 100).await;
    assert_eq!(everything.len(), 14);
    let mut counts = Vec::new();
    for status in InvitationStatus::ALL {
        let expected: Vec<_> = everything
            .iter()
            .filter(|i| i.status_at(f.now) == status)
            .map(|i| i.id)
            .collect();
        let got: Vec<_> = all(Some(status), 3).await.into_iter().map(|i| i.id).collect();
        assert_eq!(got, expected, "{status}");
        counts.push((status, got.len()));
    }
    assert!(
        counts.iter().all(|(_, n)| *n > 0),
        "every status is exercised: {counts:?}"
    );
}

/// A stored row that does not decode is a backend error, never a panic.
pub async fn bad_row_is_a_backend_error<S: InvitationStore + Directory>(case: Case<S>) {
    let raw = case.raw.clone();
    let f = Fixture::new(case.subject).await;
    let a = f.store.clone();
    let (inv, token) = f.send("bob@example.com", f.now).await;
    raw.exec("UPDATE invite_rs_invitations SET role = 'overlord'".to_owned())
        .await
        .expect("update");
    let got = a.get(&f.world.acme.id, inv.id).await;
    assert!(matches!(got, Err(StoreError::Backend(_))), "{got:?}");
    let found = a.find_by_digest(&token.digest()).await;
    assert!(matches!(found, Err(StoreError::Backend(_))), "{found:?}");
    let listed = a.list(&f.world.acme.id, &pending_query(), f.now).await;
    assert!(matches!(listed, Err(StoreError::Backend(_))), "{listed:?}");
}

/// rules §1, X5: the SQL stores write overdue pending rows down as `expired` when a new
/// invitation to the same contact is sent and when the records are listed by `expired`;
/// each such write records an `expired` event, as the sweep does.
pub async fn overdue_rows_written_down_record_expired_events<S: InvitationStore + Directory>(case: Case<S>) {
    let f = Fixture::new(case.subject).await;
    let a = f.store.clone();
    let acme = &f.world.acme.id;
    let (by_send, _) = f.send("bob@example.com", f.now).await;
    let (by_list, _) = f.send("carol@example.com", f.now).await;
    let later = by_send.expires_at;
    f.send("bob@example.com", later).await;
    let expired = ListQuery {
        status: Some(InvitationStatus::Expired),
        limit: 10,
        after: None,
    };
    let listed = a.list(acme, &expired, later).await.expect("list");
    assert_eq!(listed.len(), 2);
    for inv in [&by_send, &by_list] {
        let stored = a.get(acme, inv.id).await.expect("get").expect("exists");
        assert_eq!(stored.status, InvitationStatus::Expired);
        let events = a.events(acme, inv.id).await.expect("events");
        let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.actor.clone(), e.at)).collect();
        assert_eq!(
            kinds,
            vec![
                (EventKind::Sent, Some(f.world.alice.id.clone()), f.now),
                (EventKind::Expired, None, later)
            ]
        );
    }
}

/// How long a decision is left waiting for the lock before the clock moves: long enough
/// that it has read everything it reads before the lock.
const WAIT: Duration = Duration::from_millis(300);

/// Rules §1 ("one instant"), the review's defect 9: accept, reject and revoke that queue
/// behind another writer across the expiry are judged at an instant read once they hold
/// their lock, not at one read before they waited — refused, and nothing recorded — and
/// a decision that wins records the instant it was judged at.
pub async fn a_decision_judges_expiry_once_it_holds_the_lock<S: InvitationStore + Directory>(case: Case<S>) {
    let raw = case.raw.clone();
    let f = Fixture::new(case.subject).await;
    let clock = ManualClock::at(f.now);
    let invitations = Invitations::builder(f.store.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let w = &f.world;
    let acme = w.acme.id.clone();
    let lock_key = acme.key().canonical().into_owned();
    let send = |contact: &'static str| {
        let invitations = invitations.clone();
        let (alice, acme) = (w.alice.clone(), acme.clone());
        async move {
            invitations
                .send(&alice, &acme, SendInvitation::new(contact, "member"))
                .await
                .expect("send")
        }
    };
    let to_bob = send("bob@example.com").await;
    let to_mallory = send("mallory@example.com").await;
    let to_revoke = send("someone@example.com").await;
    let expires_at = to_bob.invitation.expires_at;

    // Three decisions queue behind a writer while the clock passes the expiry.
    clock.set(expires_at - TimeDelta::seconds(1));
    let release = raw.hold_decision_lock(&lock_key).await;
    let accept = tokio::spawn({
        let (invitations, bob) = (invitations.clone(), w.bob.clone());
        let token = to_bob.link.token().to_owned();
        async move { invitations.accept(&token, &bob).await }
    });
    let reject = tokio::spawn({
        let (invitations, mallory) = (invitations.clone(), w.mallory.clone());
        let token = to_mallory.link.token().to_owned();
        async move { invitations.reject(&token, &mallory).await }
    });
    let revoke = tokio::spawn({
        let (invitations, alice, acme) = (invitations.clone(), w.alice.clone(), acme.clone());
        let id = to_revoke.invitation.id;
        async move { invitations.revoke(&alice, &acme, id).await }
    });
    tokio::time::sleep(WAIT).await;
    clock.set(expires_at + TimeDelta::seconds(1));
    drop(release);
    let accept = accept.await.expect("accept task");
    let reject = reject.await.expect("reject task");
    let revoke = revoke.await.expect("revoke task");
    assert!(
        matches!(accept, Err(InviteError::InvalidOrExpired)),
        "accept: {accept:?}"
    );
    assert!(
        matches!(reject, Err(InviteError::InvalidOrExpired)),
        "reject: {reject:?}"
    );
    assert!(
        matches!(
            revoke,
            Err(InviteError::InvitationNotPending(InvitationStatus::Expired))
        ),
        "revoke: {revoke:?}"
    );
    for sent in [&to_bob, &to_mallory, &to_revoke] {
        let now = f
            .store
            .get(&acme, sent.invitation.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(now.status_at(clock.now_stored()), InvitationStatus::Expired);
        assert_eq!((now.responded_at, now.revoked_at), (None, None));
    }
    assert_eq!(f.store.role_of(&acme, &w.bob.id).await.expect("role"), None);

    // A decision that wins records the instant it was judged at, not the one before it
    // waited.
    let again = invitations
        .resend(&w.alice, &acme, to_bob.invitation.id)
        .await
        .expect("resend");
    let before = again.invitation.expires_at - TimeDelta::seconds(10);
    clock.set(before);
    let release = raw.hold_decision_lock(&lock_key).await;
    let accept = tokio::spawn({
        let (invitations, bob) = (invitations.clone(), w.bob.clone());
        let token = again.link.token().to_owned();
        async move { invitations.accept(&token, &bob).await }
    });
    tokio::time::sleep(WAIT).await;
    clock.advance(TimeDelta::seconds(5));
    drop(release);
    let accepted = accept.await.expect("accept task").expect("accept");
    let judged = before + TimeDelta::seconds(5);
    assert_eq!(accepted.invitation.responded_at, Some(judged));
    let events = f.store.events(&acme, to_bob.invitation.id).await.expect("events");
    let accepted_event = events.iter().find(|e| e.kind == EventKind::Accepted);
    assert_eq!(accepted_event.map(|e| e.at), Some(judged), "{events:?}");
}

/// Runs every case of this module as its own test, each on a fresh database from
/// `$case().await` (an `Option<Case>`; `None` skips, the factory says so on stderr).
#[macro_export]
macro_rules! backend_cases {
    ($pair:path) => {
        $crate::backend_cases!(@cases $pair;
            accept_fault_leaves_no_half_state,
            send_fault_leaves_no_half_state,
            resend_fault_keeps_the_old_link,
            every_filter_pages_like_the_reference,
            bad_row_is_a_backend_error,
            overdue_rows_written_down_record_expired_events,
            a_decision_judges_expiry_once_it_holds_the_lock
        );
    };
    (@cases $pair:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                if let Some(case) = $pair().await {
                    $crate::common::cases::$case(case).await;
                }
            }
        )*
    };
}
