//! The store contract suite and the backend cases on PostgreSQL, every test on its own new
//! database on the server named by `INVITE_TEST_POSTGRES_URL`. Without the variable the
//! tests pass without running and say so on stderr; with it, an unreachable server fails
//! them.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed step fails the test

mod common;

use std::sync::Arc;

use invite_store_sqlx::{AnyStore, PgStore};

invite_core::store_contract_suite!(optional common::pg_store);

async fn pair() -> Option<(Arc<PgStore>, Arc<PgStore>)> {
    common::pg_pair().await
}

backend_cases!(pair);

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
    invite_core::testing::contract::directory_round_trips(Arc::new(store)).await;
}
