//! Backend tests beyond the contract suite: two pools on one database (two server
//! processes), faults injected between the steps of a decision, rows that do not decode.
//! Each takes two stores on one fresh database; [`backend_cases!`] runs them all.

use std::sync::Arc;

use invite_core::testing::contract::{self, Fixture};
use invite_core::{Directory, EventKind, InvitationStatus, InvitationStore, ListQuery, Role, StoreError};
use invite_store_sqlx::{PgStore, SqliteStore};
use sqlx::AssertSqlSafe;

/// What the cases need from a backend besides the ports: raw SQL, to plant faults.
#[allow(async_fn_in_trait)]
pub trait Backend: InvitationStore + Directory + Sized {
    /// Runs `sql` (one or more statements).
    async fn exec(&self, sql: String);
    /// Makes every insert into `table` fail, from now on.
    async fn fail_inserts_into(&self, table: &str);
    /// Undoes [`Backend::fail_inserts_into`].
    async fn heal(&self, table: &str);
}

impl Backend for SqliteStore {
    async fn exec(&self, sql: String) {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(self.pool())
            .await
            .expect("raw sql");
    }

    async fn fail_inserts_into(&self, table: &str) {
        self.exec(format!(
            "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
        ))
        .await;
    }

    async fn heal(&self, table: &str) {
        self.exec(format!("DROP TRIGGER fail_{table}")).await;
    }
}

impl Backend for PgStore {
    async fn exec(&self, sql: String) {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(self.pool())
            .await
            .expect("raw sql");
    }

    async fn fail_inserts_into(&self, table: &str) {
        self.exec(format!(
            "CREATE OR REPLACE FUNCTION invite_test_fail() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$; \
             CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} \
             FOR EACH ROW EXECUTE FUNCTION invite_test_fail();"
        ))
        .await;
    }

    async fn heal(&self, table: &str) {
        self.exec(format!("DROP TRIGGER fail_{table} ON {table}")).await;
    }
}

fn pending_query() -> ListQuery {
    ListQuery {
        status: Some(InvitationStatus::Pending),
        limit: 100,
        after: None,
    }
}

/// SPEC A6, A5: 32 accepts of one token through two pools (two processes): exactly one
/// wins, exactly one membership and one `accepted` event exist.
pub async fn two_pools_accept_one_winner<S: Backend>(a: Arc<S>, b: Arc<S>) {
    let f = Fixture::new(a.clone()).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    let stores = [a.clone(), b.clone()];
    let wins = contract::race_accepts(&stores, token.digest(), &f.world.bob, f.now, 32).await;
    assert_eq!(wins, 1);
    assert_eq!(b.memberships(f.world.bob.id).await.expect("memberships").len(), 1);
    let accepted = b
        .events(f.world.acme.id, inv.id)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == EventKind::Accepted)
        .count();
    assert_eq!(accepted, 1);
}

/// SPEC S7: 16 sends to one contact (spelled two ways) through two pools make exactly one
/// pending invitation.
pub async fn two_pools_send_one_pending<S: Backend>(a: Arc<S>, b: Arc<S>) {
    let f = Fixture::new(a.clone()).await;
    let stores = [a.clone(), b.clone()];
    let contacts = ["carol@example.com", "Carol@EXAMPLE.com"];
    let created = contract::race_sends(&f, &stores, &contacts, 16).await;
    assert_eq!(created, 1);
    let pending = b
        .list(f.world.acme.id, &pending_query(), f.now)
        .await
        .expect("list");
    assert_eq!(pending.len(), 1);
}

/// SPEC S7: a send racing an accept of the same contact never leaves a pending invitation
/// to a member: either the send loses (`already_member`), or it wins and the accept
/// still makes the member (the new invitation was sent before the contact joined).
pub async fn send_racing_accept_never_invites_a_member<S: Backend>(a: Arc<S>, b: Arc<S>) {
    for round in 0..8 {
        let f = Fixture::new(a.clone()).await;
        let contact = format!("racer{round}@example.com");
        let user = invite_core::User {
            id: invite_core::UserId::new(),
            name: format!("Racer {round}"),
            email: Some(
                invite_core::ContactPolicy::default()
                    .parse_email(&contact)
                    .expect("email"),
            ),
            phone: None,
        };
        let (first, token) = f.send(&contact, f.now).await;
        let accept = {
            let store = a.clone();
            let user = user.clone();
            let digest = token.digest();
            let now = f.now;
            tokio::spawn(async move { store.accept(&digest, &user, now).await })
        };
        let send = {
            let (new, _) = f.invitation(&contact, Role::Member, f.now);
            let store = b.clone();
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
        let pending = b
            .list(f.world.acme.id, &pending_query(), f.now)
            .await
            .expect("list");
        assert!(
            pending.iter().all(|i| i.contact.normalized() != contact),
            "a pending invitation to a member"
        );
    }
}

/// SPEC X7, A5: a failure between the steps of accept (the membership insert, then the
/// event insert) leaves the invitation pending, no membership and no `accepted` event.
pub async fn accept_fault_leaves_no_half_state<S: Backend>(a: Arc<S>, _b: Arc<S>) {
    let f = Fixture::new(a.clone()).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    for table in ["members", "invitation_events"] {
        a.fail_inserts_into(table).await;
        let outcome = a.accept(&token.digest(), &f.world.bob, f.now).await;
        assert!(
            matches!(outcome, Err(StoreError::Backend(_))),
            "{table}: {outcome:?}"
        );
        a.heal(table).await;
        let still = a
            .get(f.world.acme.id, inv.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(still.status, InvitationStatus::Pending, "{table}");
        assert_eq!(still.responded_at, None, "{table}");
        assert!(
            a.memberships(f.world.bob.id)
                .await
                .expect("memberships")
                .is_empty(),
            "{table}"
        );
        let events = a.events(f.world.acme.id, inv.id).await.expect("events");
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
        a.role_of(f.world.acme.id, f.world.bob.id).await.expect("role"),
        Some(inv.role)
    );
}

/// SPEC X7, S7: a failure after the invitation row is written (the `sent` event) leaves no
/// invitation behind, so the contact can be invited again.
pub async fn send_fault_leaves_no_half_state<S: Backend>(a: Arc<S>, _b: Arc<S>) {
    let f = Fixture::new(a.clone()).await;
    a.fail_inserts_into("invitation_events").await;
    let (new, token) = f.invitation("bob@example.com", Role::Member, f.now);
    let id = new.id;
    let outcome = a.create(new).await;
    assert!(matches!(outcome, Err(StoreError::Backend(_))), "{outcome:?}");
    a.heal("invitation_events").await;
    assert_eq!(a.get(f.world.acme.id, id).await.expect("get"), None);
    assert_eq!(a.find_by_digest(&token.digest()).await.expect("find"), None);
    f.send("bob@example.com", f.now).await;
}

/// SPEC X7, R3: a failure while resending keeps the old link and status.
pub async fn resend_fault_keeps_the_old_link<S: Backend>(a: Arc<S>, _b: Arc<S>) {
    let f = Fixture::new(a.clone()).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    a.fail_inserts_into("invitation_events").await;
    let fresh = invite_core::InviteToken::generate();
    let outcome = a
        .resend(
            f.world.acme.id,
            inv.id,
            f.world.alice.id,
            fresh.digest(),
            f.now + chrono::TimeDelta::days(2),
            f.now,
        )
        .await;
    assert!(matches!(outcome, Err(StoreError::Backend(_))), "{outcome:?}");
    a.heal("invitation_events").await;
    assert_eq!(a.find_by_digest(&token.digest()).await.expect("find"), Some(inv));
    assert_eq!(a.find_by_digest(&fresh.digest()).await.expect("find"), None);
}

/// SPEC R1, §1: every status filter, paged 3 rows at a time, returns exactly the rows whose
/// status derived at `now` matches, newest first — `expired` drawing on written-down
/// (swept) and unswept rows alike.
pub async fn every_filter_pages_like_the_reference<S: Backend>(a: Arc<S>, _b: Arc<S>) {
    let f = Fixture::new(a.clone()).await;
    let acme = f.world.acme.id;
    let alice = f.world.alice.id;
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
    a.reject(&tokens[12].1.digest(), f.world.mallory.id, f.now)
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
pub async fn bad_row_is_a_backend_error<S: Backend>(a: Arc<S>, _b: Arc<S>) {
    let f = Fixture::new(a.clone()).await;
    let (inv, token) = f.send("bob@example.com", f.now).await;
    a.exec("UPDATE invitations SET role = 'overlord'".to_owned())
        .await;
    let got = a.get(f.world.acme.id, inv.id).await;
    assert!(matches!(got, Err(StoreError::Backend(_))), "{got:?}");
    let found = a.find_by_digest(&token.digest()).await;
    assert!(matches!(found, Err(StoreError::Backend(_))), "{found:?}");
    let listed = a.list(f.world.acme.id, &pending_query(), f.now).await;
    assert!(matches!(listed, Err(StoreError::Backend(_))), "{listed:?}");
}

/// SPEC §1, X5: the SQL stores write overdue pending rows down as `expired` when a new
/// invitation to the same contact is sent and when the records are listed by `expired`;
/// each such write records an `expired` event, as the sweep does.
pub async fn overdue_rows_written_down_record_expired_events<S: Backend>(a: Arc<S>, _b: Arc<S>) {
    let f = Fixture::new(a.clone()).await;
    let acme = f.world.acme.id;
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
        let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.actor, e.at)).collect();
        assert_eq!(
            kinds,
            vec![
                (EventKind::Sent, Some(f.world.alice.id), f.now),
                (EventKind::Expired, None, later)
            ]
        );
    }
}

/// Runs every case of this module as its own test, each on a fresh database from
/// `$pair().await` (an `Option` of two stores; `None` skips).
#[macro_export]
macro_rules! backend_cases {
    ($pair:path) => {
        $crate::backend_cases!(@cases $pair;
            two_pools_accept_one_winner,
            two_pools_send_one_pending,
            send_racing_accept_never_invites_a_member,
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
                if let Some((a, b)) = $pair().await {
                    common::cases::$case(a, b).await;
                }
            }
        )*
    };
}
