//! The store contract suite and the backend cases on SQLite, with the self-contained
//! layout and with a host-shaped schema: every test on its own new database file.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed step fails the test

mod common;

use std::sync::Arc;

use invite_core::testing::Subject;
use invite_core::testing::contract::Answering;
use invite_core::{Accounts, InvitationStore};
use invite_store_sqlx::{AnyStore, SqliteStore, TableMapping};

mod self_contained {
    use super::*;

    async fn subject() -> Subject<SqliteStore> {
        common::sqlite_self_contained().await.subject
    }

    async fn case() -> Option<common::Case<SqliteStore>> {
        Some(common::sqlite_self_contained().await)
    }

    invite_core::store_contract_suite!(subject);
    backend_cases!(case);

    #[tokio::test]
    async fn accounts_round_trips() {
        invite_core::testing::contract::accounts_round_trips(
            common::sqlite_self_contained().await.subject.store,
        )
        .await;
    }
}

mod host_shaped {
    use super::*;

    async fn subject() -> Subject<SqliteStore<TableMapping>> {
        common::sqlite_host_shaped().await.subject
    }

    async fn case() -> Option<common::Case<SqliteStore<TableMapping>>> {
        Some(common::sqlite_host_shaped().await)
    }

    invite_core::store_contract_suite!(subject);
    backend_cases!(case);

    // Rule H5: the library creates only its own tables, and never touches the host's
    // table named `invitations`.
    #[tokio::test]
    async fn only_the_library_tables_are_created_and_the_hosts_invitations_stay() {
        let case = common::sqlite_host_shaped().await;
        let f = invite_core::testing::contract::Fixture::new(case.subject).await;
        let (_, token) = f.send("bob@example.com", f.now).await;
        f.store
            .accept_token(&token.digest(), &f.world.bob, &f.now)
            .await
            .expect("accept");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(f.store.pool())
        .await
        .expect("tables");
        assert_eq!(
            tables,
            [
                "_invite_store_migrations",
                "accounts",
                "invitations",
                "invite_rs_events",
                "invite_rs_invitations",
                "invite_rs_outbox",
                "org_memberships",
                "organizations"
            ]
        );
        assert_eq!(case.raw.count("SELECT count(*) FROM invitations").await, 2);
        // Rule H2: the membership is in the host's table, with its own role name and
        // the extra column filled.
        let row: (String, String) = sqlx::query_as(
            "SELECT role, joined_at FROM org_memberships WHERE account_id = (SELECT id FROM accounts WHERE email = 'bob@example.com')",
        )
        .fetch_one(f.store.pool())
        .await
        .expect("membership");
        assert_eq!(row.0, "developer");
        assert!(!row.1.is_empty());
    }
}

#[tokio::test]
async fn a_missing_file_is_created_in_wal_mode() {
    let url = common::sqlite_url();
    let store = SqliteStore::connect(&url).await.expect("open");
    store.migrate().await.expect("migrate");
    store.migrate().await.expect("migrating twice is a no-op");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    let path = url.trim_start_matches("sqlite://").trim_end_matches("?mode=rwc");
    assert!(std::path::Path::new(path).exists());
}

#[tokio::test]
async fn any_store_picks_sqlite_from_the_scheme() {
    let store = invite_store_sqlx::connect(&common::sqlite_url())
        .await
        .expect("connect");
    assert!(matches!(store, AnyStore::Sqlite(_)));
    assert_eq!(store.backend_name(), "sqlite");
    let memory = invite_store_sqlx::connect("sqlite::memory:")
        .await
        .expect("memory");
    invite_core::testing::contract::accounts_round_trips(Arc::new(memory)).await;
}

#[tokio::test]
async fn token_lookup_and_records_page_use_indexes() {
    // Rules R1, X1: a lookup by digest and a keyset page never scan the table.
    let store = common::sqlite_self_contained().await.subject.store;
    let plan = |sql: &'static str| {
        let pool = store.pool().clone();
        async move {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sql).fetch_all(&pool).await.expect("explain");
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join(" | ")
        }
    };
    let lookup =
        plan("EXPLAIN QUERY PLAN SELECT id FROM invite_rs_invitations WHERE token_digest = x'00'").await;
    assert!(lookup.contains("invite_rs_invitations_token_digest"), "{lookup}");
    let page = plan(
        "EXPLAIN QUERY PLAN SELECT id FROM invite_rs_invitations WHERE enterprise_id = '1' \
         AND (sent_at, id) < (1, x'00') ORDER BY sent_at DESC, id DESC LIMIT 20",
    )
    .await;
    assert!(page.contains("invite_rs_invitations_records"), "{page}");
    assert!(!page.contains("TEMP B-TREE"), "the page must not sort: {page}");
}

// Rule H6: a database of the first layout (invitations in a table named `invitations`,
// UUID BLOB keys) upgrades in place: its invitations and events move into the library's
// tables and keep working, and the old tables are gone.
#[tokio::test]
async fn a_database_of_the_first_layout_upgrades_in_place() {
    use invite_core::testing::{AccountsFixture, seed};
    let url = common::sqlite_url();
    let pool = invite_store_sqlx::sqlite_pool(&url).await.expect("open");
    let mut first = <sqlx::Sqlite as invite_store_sqlx::Backend>::self_contained_migrations();
    first.dangerous_set_table_name("_invite_store_migrations");
    first
        .run_to(20_261_126_000_001, &pool)
        .await
        .expect("the first layout");
    let store = Arc::new(SqliteStore::new(
        pool.clone(),
        invite_store_sqlx::SelfContained::new(),
    ));
    let world = seed::demo(&AccountsFixture::new(store.clone()))
        .await
        .expect("seed");
    let token = invite_core::InviteToken::generate();
    let invitation = uuid::Uuid::new_v4();
    let t = 1_893_456_000_000_000_i64;
    sqlx::query(
        "INSERT INTO invitations (id, enterprise_id, contact_kind, contact_entered, contact_normalized, role, \
         status, invited_by, invited_by_name, sent_at, last_sent_at, expires_at, delivery, token_digest) \
         VALUES ($1, $2, 'email', 'Bob@example.com', 'bob@example.com', 'member', 'pending', $3, 'Alice Admin', \
         $4, $4, $5, 'delivered', $6)",
    )
    .bind(invitation)
    .bind(match world.acme.id.key() {
        invite_core::Key::Uuid(u) => *u,
        other => panic!("{other:?}"),
    })
    .bind(match world.alice.id.key() {
        invite_core::Key::Uuid(u) => *u,
        other => panic!("{other:?}"),
    })
    .bind(t)
    .bind(t + 86_400_000_000)
    .bind(token.digest().as_bytes().to_vec())
    .execute(&pool)
    .await
    .expect("an invitation of the first layout");
    sqlx::query("INSERT INTO invitation_events (invitation_id, enterprise_id, kind, actor, at) VALUES ($1, $2, 'sent', $3, $4)")
        .bind(invitation)
        .bind(match world.acme.id.key() {
            invite_core::Key::Uuid(u) => *u,
            other => panic!("{other:?}"),
        })
        .bind(match world.alice.id.key() {
            invite_core::Key::Uuid(u) => *u,
            other => panic!("{other:?}"),
        })
        .bind(t)
        .execute(&pool)
        .await
        .expect("its event");

    store.migrate().await.expect("upgrade in place");

    let moved = store
        .find_by_digest(&token.digest())
        .await
        .expect("find")
        .expect("the invitation moved");
    assert_eq!(moved.enterprise_id, world.acme.id);
    assert_eq!(moved.invited_by.user_id, world.alice.id);
    assert_eq!(moved.contact.entered(), "Bob@example.com");
    let events = store.events(&world.acme.id, moved.id).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.as_ref(), Some(&world.alice.id));
    let old: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE name IN ('invitations', 'invitation_events')",
    )
    .fetch_one(&pool)
    .await
    .expect("old tables");
    assert_eq!(old, 0);
    assert_eq!(
        store
            .memberships(&world.alice.id)
            .await
            .expect("memberships")
            .len(),
        1
    );
    store.migrate().await.expect("migrating again is a no-op");
}

// Rule D4: the store's connections overwrite freed bytes, and a finished outbox row keeps
// no ciphertext (its column is NULL, which the table's CHECK also demands).
#[tokio::test]
async fn secure_delete_is_on_and_a_finished_row_keeps_no_link() {
    use invite_core::{DeliveryOutbox, DeliveryOutcome};
    let case = common::sqlite_self_contained().await;
    let secure: i64 = sqlx::query_scalar("PRAGMA secure_delete")
        .fetch_one(case.subject.store.pool())
        .await
        .expect("pragma");
    assert_eq!(secure, 1);
    let f = invite_core::testing::contract::Fixture::new(case.subject).await;
    let (_, _, delivery) = f.send_queued("bob@example.com", f.now).await;
    let sealed = || {
        let pool = f.store.pool().clone();
        async move {
            sqlx::query_scalar::<_, Option<Vec<u8>>>("SELECT link_sealed FROM invite_rs_outbox WHERE id = $1")
                .bind(delivery.id.as_uuid())
                .fetch_one(&pool)
                .await
                .expect("row")
        }
    };
    assert_eq!(sealed().await, Some(delivery.sealed_link.as_bytes().to_vec()));
    let claimed = f
        .store
        .claim_deliveries(f.now, std::time::Duration::from_secs(60), 1)
        .await
        .expect("claim");
    f.store
        .finish_delivery(&claimed[0], DeliveryOutcome::Delivered, f.now)
        .await
        .expect("finish");
    assert_eq!(sealed().await, None);
    // The table refuses a finished row that keeps its link.
    let kept = case
        .raw
        .exec(format!(
            "UPDATE invite_rs_outbox SET link_sealed = x'00' WHERE id = x'{}'",
            delivery.id.as_uuid().simple()
        ))
        .await;
    assert!(kept.is_err(), "{kept:?}");
}

// The events table rebuilt by the outbox migration keeps ids, and AUTOINCREMENT goes on
// after the highest.
#[tokio::test]
async fn event_ids_go_on_after_the_events_table_is_rebuilt() {
    let url = common::sqlite_url();
    let pool = invite_store_sqlx::sqlite_pool(&url).await.expect("open");
    let migrator = SqliteStore::<invite_store_sqlx::SelfContained>::migrator();
    migrator
        .run_to(20_261_201_000_001, &pool)
        .await
        .expect("the first library step");
    for id in [1, 7] {
        sqlx::query("INSERT INTO invite_rs_events (id, invitation_id, enterprise_id, kind, actor, at) VALUES ($1, x'00', 'e', 'sent', NULL, 0)")
            .bind(id)
            .execute(&pool)
            .await
            .expect("event");
    }
    migrator.run(&pool).await.expect("the outbox step");
    sqlx::query("INSERT INTO invite_rs_events (invitation_id, enterprise_id, kind, actor, at) VALUES (x'00', 'e', 'delivered', NULL, 0)")
        .execute(&pool)
        .await
        .expect("a delivery event");
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM invite_rs_events ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("ids");
    assert_eq!(ids, [1, 7, 8]);
}
