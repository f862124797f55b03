//! embed-host-schema as its users would check it: the scenario of rules §8 over HTTP on
//! SQLite and PostgreSQL, and the library's store contract suite run on the host's own
//! schema through a `HostFixture` of the host's (races and faults included), as a host
//! proves its mapping in its own tests.
//!
//! PostgreSQL runs when `INVITE_TEST_POSTGRES_URL` names a server (each test on a new
//! database); without it those tests say so on stderr and return.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // a failed step fails the test

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use invite_core::testing::{HostFixture, Subject};
use invite_core::{Contact, Enterprise, EnterpriseId, Role, StoreError, User, UserId};
use invite_store_sqlx::{SqlStore, TableMapping};
use serde_json::{Value, json};
use sqlx::{AnyPool, AssertSqlSafe, Connection};
use tower::ServiceExt;

const PG_ENV: &str = "INVITE_TEST_POSTGRES_URL";

/// A new SQLite file.
fn sqlite_url() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("host.db").display());
    (dir, url)
}

/// A new database on the PostgreSQL server of `INVITE_TEST_POSTGRES_URL`, or `None`.
async fn pg_url() -> Option<String> {
    let Ok(server) = std::env::var(PG_ENV) else {
        let _ = writeln!(
            std::io::stderr(),
            "embed-host-schema: {PG_ENV} is not set: PostgreSQL NOT tested"
        );
        return None;
    };
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .unwrap_or_else(|err| panic!("{PG_ENV} is set but unreachable: {err}"));
    let name = format!("invite_test_{}_{}", std::process::id(), uuid_like());
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .expect("create database");
    let base = server.rsplit_once('/').map_or(server.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

fn uuid_like() -> String {
    static N: AtomicI64 = AtomicI64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos}_{}", N.fetch_add(1, Ordering::SeqCst))
}

// ----- the scenario over HTTP --------------------------------------------------------------

async fn call(app: &Router, account: i64, path: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::post(format!("/api{path}"))
        .header("x-account-id", account.to_string())
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn token_of(sent: &Value) -> String {
    let url = sent["invite_url"].as_str().expect("invite_url");
    url.split_once("token=").expect("token").1.to_owned()
}

async fn invite(app: &Router, contact: &str, role: &str) -> Value {
    let (status, body) = call(
        app,
        1,
        "/enterprises/1/invitations",
        json!({"contact": contact, "role": role}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn memberships(pool: &AnyPool, account: i64) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT org_id, role FROM org_memberships WHERE account_id = $1 ORDER BY org_id")
        .bind(account)
        .fetch_all(pool)
        .await
        .expect("memberships")
}

/// rules §8 "done when", step by step.
async fn scenario(url: &str) {
    let app = embed_host_schema::app(url, "https://intranet.initech.example")
        .await
        .expect("app");
    let pool = embed_host_schema::host_pool(url).await.expect("host pool");

    // Peter (owner of Initech) invites Samir as dev_admin; ids keep their natural form.
    let sent = invite(&app, "samir@initech.example", "dev_admin").await;
    assert_eq!(
        sent["enterprise_id"],
        json!(1),
        "rule H7: an integer key is a JSON number"
    );
    assert_eq!(sent["invited_by"]["user_id"], json!(1));
    // Samir accepts: the row (1, 2, 'developer') is in the host's table, and the
    // invitation is accepted (rules A5, H1, H2, H4).
    let (status, accepted) = call(&app, 2, "/invitations/accept", json!({"token": token_of(&sent)})).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["invitation"]["status"], "accepted");
    assert_eq!(memberships(&pool, 2).await, vec![(1, "developer".to_owned())]);

    // Milton (a plain member) may not invite (rule S1).
    let (status, body) = call(
        &app,
        3,
        "/enterprises/1/invitations",
        json!({"contact": "a@initech.example", "role": "member"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    // Gavin owns Hooli, which is not verified (rule S2).
    let (status, body) = call(
        &app,
        4,
        "/enterprises/2/invitations",
        json!({"contact": "a@hooli.example", "role": "member"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("enterprise_not_certified"))
    );
    // Milton is a member already, found through the host's accounts (rules S7, H7).
    let (status, body) = call(
        &app,
        1,
        "/enterprises/1/invitations",
        json!({"contact": "Milton@Initech.example", "role": "member"}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_member"))
    );

    // 16 concurrent accepts of one invitation (Bill, by phone): one winner, one row (A6).
    let sent = invite(&app, "+1 415 555 0123", "finance_admin").await;
    let token = token_of(&sent);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move { call(&app, 5, "/invitations/accept", json!({"token": token})).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        let (status, body) = task.await.expect("task");
        match status {
            StatusCode::OK => wins += 1,
            StatusCode::CONFLICT => assert_eq!(body["error"]["code"], "already_accepted"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(memberships(&pool, 5).await, vec![(1, "billing".to_owned())]);

    // A membership the host inserts by itself before the accept: already_member, and the
    // invitation stays pending (rule H7).
    sqlx::query("INSERT INTO accounts (id, display_name, email) VALUES (6, 'Nina', 'nina@initech.example')")
        .execute(&pool)
        .await
        .expect("host adds an account");
    let sent = invite(&app, "nina@initech.example", "member").await;
    sqlx::query("INSERT INTO org_memberships (org_id, account_id, role, joined_at) VALUES (1, 6, 'billing', CURRENT_TIMESTAMP)")
        .execute(&pool)
        .await
        .expect("host inserts a membership itself");
    let (status, body) = call(&app, 6, "/invitations/accept", json!({"token": token_of(&sent)})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_member"))
    );
    let request = Request::get("/api/enterprises/1/invitations?status=pending")
        .header("x-account-id", "1")
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    let page: Value = serde_json::from_slice(&bytes).expect("json");
    let pending: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["contact"].as_str())
        .collect();
    assert_eq!(pending, vec!["nina@initech.example"]);
    assert_eq!(
        memberships(&pool, 6).await,
        vec![(1, "billing".to_owned())],
        "the host's role unchanged"
    );

    // Rule H5: the host's own `invitations` table is untouched, and no library-owned
    // copies of people exist.
    let calendar: i64 = sqlx::query_scalar("SELECT count(*) FROM invitations")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(calendar, 2);
    for table in ["users", "members", "enterprises"] {
        let probe = sqlx::query(AssertSqlSafe(format!("SELECT 1 FROM {table}")))
            .fetch_optional(&pool)
            .await;
        assert!(probe.is_err(), "the database holds no `{table}` table");
    }
}

#[tokio::test]
async fn the_host_scenario_on_sqlite() {
    let (_dir, url) = sqlite_url();
    scenario(&url).await;
}

#[tokio::test]
async fn the_host_scenario_on_postgres() {
    let Some(url) = pg_url().await else { return };
    scenario(&url).await;
}

// ----- the store contract suite on the host's schema ----------------------------------------

/// The host's side of a contract run: plain inserts into its own tables, as its admin
/// code would write them, and a trigger to break its membership insert.
struct InitechTables {
    pool: AnyPool,
    postgres: bool,
    next: AtomicI64,
}

impl InitechTables {
    async fn exec(&self, sql: String) -> Result<(), StoreError> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(StoreError::backend)
    }
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn host_role(role: Role) -> &'static str {
    match role {
        Role::SuperAdmin => "owner",
        Role::FinanceAdmin => "billing",
        Role::DevAdmin => "developer",
        _ => "member",
    }
}

#[async_trait]
impl HostFixture for InitechTables {
    async fn create_enterprise(&self, name: &str, certified: bool) -> Result<Enterprise, StoreError> {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        self.exec(format!(
            "INSERT INTO organizations (id, title, verified) VALUES ({id}, {}, {certified})",
            quoted(name)
        ))
        .await?;
        Ok(Enterprise {
            id: EnterpriseId::from(id),
            name: name.to_owned(),
            certified,
        })
    }

    async fn create_user(&self, name: &str, contact: &Contact) -> Result<User, StoreError> {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (email, phone) = match contact {
            Contact::Email(email) => (quoted(email.entered()), "NULL".to_owned()),
            Contact::Phone(phone) => ("NULL".to_owned(), quoted(phone.normalized())),
        };
        self.exec(format!(
            "INSERT INTO accounts (id, display_name, email, phone) VALUES ({id}, {}, {email}, {phone})",
            quoted(name)
        ))
        .await?;
        Ok(invite_core::testing::host::user_with(
            UserId::from(id),
            name,
            contact,
        ))
    }

    async fn insert_member(
        &self,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
    ) -> Result<(), StoreError> {
        self.exec(format!(
            "INSERT INTO org_memberships (org_id, account_id, role, joined_at) VALUES ({enterprise}, {}, '{}', CURRENT_TIMESTAMP)",
            user.id,
            host_role(role)
        ))
        .await
    }

    async fn set_certified(&self, enterprise: &EnterpriseId, certified: bool) -> Result<(), StoreError> {
        self.exec(format!(
            "UPDATE organizations SET verified = {certified} WHERE id = {enterprise}"
        ))
        .await
    }

    async fn fail_member_inserts(&self, fail: bool) -> Result<(), StoreError> {
        let sql = match (fail, self.postgres) {
            (true, false) => {
                "CREATE TRIGGER no_members BEFORE INSERT ON org_memberships \
                              BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
            }
            (false, false) => "DROP TRIGGER no_members",
            (true, true) => {
                "CREATE OR REPLACE FUNCTION no_members() RETURNS trigger LANGUAGE plpgsql AS \
                             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$; \
                             CREATE TRIGGER no_members BEFORE INSERT ON org_memberships \
                             FOR EACH ROW EXECUTE FUNCTION no_members();"
            }
            (false, true) => "DROP TRIGGER no_members ON org_memberships",
        };
        self.exec(sql.to_owned()).await
    }
}

/// A subject on a new database with the host's schema (no seed rows: the suite makes its
/// own), two stores on it as two server processes would have.
async fn subject_at(url: &str) -> Subject<invite_store_sqlx::AnyStore<TableMapping>> {
    let pool = embed_host_schema::host_pool(url).await.expect("host pool");
    embed_host_schema::migrate_host(&pool, url)
        .await
        .expect("host schema");
    let mapping = embed_host_schema::mapping().expect("mapping");
    let store = invite_store_sqlx::AnyStore::connect_with_directory(url, mapping.clone())
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    let peer = invite_store_sqlx::AnyStore::connect_with_directory(url, mapping)
        .await
        .expect("peer");
    Subject {
        store: Arc::new(store),
        peer: Arc::new(peer),
        host: Arc::new(InitechTables {
            pool,
            postgres: url.starts_with("postgres"),
            next: AtomicI64::new(100),
        }),
    }
}

mod contract_on_sqlite {
    use super::*;

    async fn subject() -> Subject<invite_store_sqlx::AnyStore<TableMapping>> {
        // The directory lives as long as the test process: a leaked temp dir per case.
        let (dir, url) = sqlite_url();
        std::mem::forget(dir);
        subject_at(&url).await
    }

    invite_core::store_contract_suite!(subject);
}

mod contract_on_postgres {
    use super::*;

    async fn subject() -> Option<Subject<invite_store_sqlx::AnyStore<TableMapping>>> {
        Some(subject_at(&pg_url().await?).await)
    }

    invite_core::store_contract_suite!(optional subject);
}

// Keeps the type named in the docs above in use.
#[allow(dead_code)]
type HostStore = SqlStore<sqlx::Sqlite, TableMapping>;
