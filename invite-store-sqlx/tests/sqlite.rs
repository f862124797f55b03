//! The store contract suite and the backend cases on SQLite: every test on its own new
//! database file.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed step fails the test

mod common;

use std::sync::Arc;

use invite_store_sqlx::{AnyStore, SqliteStore};

invite_core::store_contract_suite!(common::sqlite_store);

async fn pair() -> Option<(Arc<SqliteStore>, Arc<SqliteStore>)> {
    Some(common::sqlite_pair().await)
}

backend_cases!(pair);

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
    invite_core::testing::contract::directory_round_trips(Arc::new(memory)).await;
}

#[tokio::test]
async fn token_lookup_and_records_page_use_indexes() {
    // SPEC R1, X1: a lookup by digest and a keyset page never scan the table.
    let store = common::sqlite_store().await;
    let plan = |sql: &'static str| {
        let pool = store.pool().clone();
        async move {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sql).fetch_all(&pool).await.expect("explain");
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join(" | ")
        }
    };
    let lookup = plan("EXPLAIN QUERY PLAN SELECT id FROM invitations WHERE token_digest = x'00'").await;
    assert!(lookup.contains("invitations_token_digest"), "{lookup}");
    let page = plan(
        "EXPLAIN QUERY PLAN SELECT id FROM invitations WHERE enterprise_id = x'00' \
         AND (sent_at, id) < (1, x'00') ORDER BY sent_at DESC, id DESC LIMIT 20",
    )
    .await;
    assert!(page.contains("invitations_records"), "{page}");
    assert!(!page.contains("TEMP B-TREE"), "the page must not sort: {page}");
}
