//! Backend tests beyond the contract suite (which has the races over two pools): faults
//! injected between the steps of a decision on the library's own tables and the host's
//! membership table, rows that do not decode, paging under every filter. Each takes a
//! [`Case`] on one fresh database; [`backend_cases!`] runs them all.

use invite_core::testing::contract::Fixture;
use invite_core::{Directory, EventKind, InvitationStatus, InvitationStore, ListQuery, Role, StoreError};

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
        let outcome = a.accept(&token.digest(), &f.world.bob, f.now).await;
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
    a.accept(&token.digest(), &f.world.bob, f.now)
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
        let (inv, token) = f.send(&format!("filter{i}@example.com"), at).await;
        tokens.push((inv, token));
    }
    let swept_at = tokens[0].0.expires_at;
    assert_eq!(a.sweep_expired(swept_at, 1).await.expect("sweep"), 1);
    a.accept(&tokens[13].1.digest(), &f.world.bob, f.now)
        .await
        .expect("accept");
    a.reject(&tokens[12].1.digest(), &f.world.mallory.id, f.now)
        .await
        .expect("reject");
    a.revoke(acme, tokens[11].0.id, alice, f.now)
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
            overdue_rows_written_down_record_expired_events
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
