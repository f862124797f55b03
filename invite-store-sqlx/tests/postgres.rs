//! The store contract suite and the backend cases on PostgreSQL, with the self-contained
//! layout and with a host-shaped schema, every test on its own new database on the server
//! named by `INVITE_TEST_POSTGRES_URL`. Without the variable the tests pass without
//! running and say so on stderr; with it, an unreachable server fails them.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed step fails the test

mod common;

use std::sync::Arc;

use invite_core::testing::Subject;
use invite_core::testing::contract::Answering;
use invite_store_sqlx::{AnyStore, PgStore, TableMapping};

mod self_contained {
    use super::*;

    async fn subject() -> Option<Subject<PgStore>> {
        common::pg_self_contained().await.map(|case| case.subject)
    }

    invite_core::store_contract_suite!(optional subject);
    backend_cases!(common::pg_self_contained);

    #[tokio::test]
    async fn accounts_round_trips() {
        if let Some(case) = common::pg_self_contained().await {
            invite_core::testing::contract::accounts_round_trips(case.subject.store).await;
        }
    }
}

mod host_shaped {
    use super::*;

    async fn subject() -> Option<Subject<PgStore<TableMapping>>> {
        common::pg_host_shaped().await.map(|case| case.subject)
    }

    invite_core::store_contract_suite!(optional subject);
    backend_cases!(common::pg_host_shaped);

    // Rules H5, H2: only the library's tables are added; the host's `invitations` stays;
    // the membership lands in the host's table with its role name and `joined_at`.
    #[tokio::test]
    async fn only_the_library_tables_are_created_and_the_hosts_invitations_stay() {
        let Some(case) = common::pg_host_shaped().await else {
            return;
        };
        let f = invite_core::testing::contract::Fixture::new(case.subject).await;
        let (_, token) = f.send("bob@example.com", f.now).await;
        f.store
            .accept_token(&token.digest(), &f.world.bob, &f.now)
            .await
            .expect("accept");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
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
        let role: String = sqlx::query_scalar(
            "SELECT role FROM org_memberships WHERE account_id = (SELECT id FROM accounts WHERE email = 'bob@example.com') AND joined_at IS NOT NULL",
        )
        .fetch_one(f.store.pool())
        .await
        .expect("membership");
        assert_eq!(role, "developer");
    }
}

#[tokio::test]
async fn any_store_picks_postgres_from_the_scheme() {
    let Some(url) = common::pg_url() else { return };
    let options = common::pg_fresh_database(&url).await;
    let name = options.get_database().expect("a database").to_owned();
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    let store = invite_store_sqlx::connect(&format!("{base}/{name}"))
        .await
        .expect("connect");
    assert!(matches!(store, AnyStore::Postgres(_)));
    invite_core::testing::contract::accounts_round_trips(Arc::new(store)).await;
}
