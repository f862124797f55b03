//! The demo's sign-in sessions (issue #12, rules §7 demo sign-in): kept in the demo's
//! database as SHA-256 of the cookie, with an absolute expiry (`--session-ttl`), a new id
//! at every sign-in (the one the request came with revoked), a table that stays bounded
//! however many sign-ins arrive, and sign-in rate-limited per client
//! (`--sign-in-rate-limit-per-minute`, answered like rule X6's `rate_limited`).
//!
//! Every case runs on SQLite, and on PostgreSQL when `INVITE_TEST_POSTGRES_URL` is set (a
//! fresh database per test; without the variable the PostgreSQL cases print `NOT RUN`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{DemoServer, Http, PgDatabase, enterprise_id};
use hyper::StatusCode;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use sqlx::Connection as _;

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test, and the way to read its session table.
struct Setup {
    db_url: String,
    /// SQLite: the directory that holds the file (and its outbox key).
    data: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

/// One row of `invite_demo_sessions`.
#[derive(Debug)]
struct Row {
    id_hash: String,
    user_id: String,
    created_at: i64,
    expires_at: i64,
}

impl Setup {
    /// `None` for PostgreSQL without `INVITE_TEST_POSTGRES_URL` (printed as NOT RUN).
    async fn new(backend: Backend, test: &str) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let data = tempfile::tempdir().unwrap();
                let db_url = format!("sqlite://{}?mode=rwc", data.path().join("demo.sqlite").display());
                Some(Self {
                    db_url,
                    data: Some(data),
                    pg: None,
                })
            }
            Backend::Postgres => {
                let pg = PgDatabase::create(test).await?;
                Some(Self {
                    db_url: pg.url.clone(),
                    data: None,
                    pg: Some(pg),
                })
            }
        }
    }

    fn start(&self, extra: &[&str]) -> DemoServer {
        DemoServer::start_with(tempfile::tempdir().unwrap(), &self.db_url, extra)
    }

    /// Every row of the session table, as the database holds it.
    async fn rows(&self) -> Vec<Row> {
        const SELECT: &str =
            "SELECT id_hash, user_id, created_at, expires_at FROM invite_demo_sessions ORDER BY created_at";
        let rows: Vec<(String, String, i64, i64)> = if self.pg.is_some() {
            let mut db = sqlx::PgConnection::connect(&self.db_url).await.unwrap();
            sqlx::query_as(SELECT).fetch_all(&mut db).await.unwrap()
        } else {
            let mut db = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
            sqlx::query_as(SELECT).fetch_all(&mut db).await.unwrap()
        };
        rows.into_iter()
            .map(|(id_hash, user_id, created_at, expires_at)| Row {
                id_hash,
                user_id,
                created_at,
                expires_at,
            })
            .collect()
    }

    /// Everything the SQLite database's files hold (file, journal, WAL), as bytes.
    fn sqlite_bytes(&self) -> Option<Vec<u8>> {
        let dir = self.data.as_ref()?;
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with("demo.sqlite") {
                bytes.extend(std::fs::read(entry.path()).unwrap());
            }
        }
        Some(bytes)
    }

    async fn finish(self) {
        if let Some(pg) = self.pg {
            pg.remove().await;
        }
    }
}

/// The value of a `name=value` cookie.
fn value_of(cookie: &str) -> &str {
    cookie.split_once('=').unwrap().1
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One `#[tokio::test]` per backend for a scenario.
macro_rules! on_both_backends {
    ($scenario:ident: $sqlite:ident, $postgres:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            if let Some(setup) = Setup::new(Backend::Sqlite, stringify!($sqlite)).await {
                $scenario(&setup).await;
                setup.finish().await;
            }
        }

        #[tokio::test]
        async fn $postgres() {
            if let Some(setup) = Setup::new(Backend::Postgres, stringify!($postgres)).await {
                $scenario(&setup).await;
                setup.finish().await;
            }
        }
    };
}

on_both_backends!(survives_a_restart: a_session_survives_a_restart_on_sqlite, a_session_survives_a_restart_on_postgres);

/// Sessions are in the database: a restart of the demo on the same database keeps them.
async fn survives_a_restart(setup: &Setup) {
    let server = setup.start(&[]);
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");
    let dir = server.stop();

    let server = DemoServer::start_with(dir, &setup.db_url, &[]);
    let mut again = Http::new(&server);
    again.cookie = alice.cookie.clone();
    let me = again.get("/me").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.json()["user"]["email"], "alice@example.com");
    // The API knows the session too (rule X9: identity from the session alone).
    let records = again.get(&format!("/api/enterprises/{acme}/invitations")).await;
    assert_eq!(records.status, StatusCode::OK, "{}", records.body);
}

on_both_backends!(expires: a_session_past_its_ttl_is_refused_on_sqlite, a_session_past_its_ttl_is_refused_on_postgres);

/// `--session-ttl 3s`: the cookie says so (`Max-Age=3`), and after three seconds neither
/// `/me` nor the API honour it; the expired row goes at the next sign-in.
async fn expires(setup: &Setup) {
    const TTL: Duration = Duration::from_secs(3);
    let server = setup.start(&["--session-ttl", "3s"]);
    let mut alice = Http::new(&server);
    // The session starts after `sent` and before `answered`.
    let sent = Instant::now();
    let reply = alice
        .post("/login", &json!({ "contact": "alice@example.com" }))
        .await;
    let answered = Instant::now();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let set_cookie = reply.header("set-cookie").unwrap();
    assert!(set_cookie.contains("Max-Age=3;"), "{set_cookie}");
    alice.cookie = reply.session_cookie();
    let acme = enterprise_id(&reply.json(), "Acme Robotics");
    let me = alice.get("/me").await.status;
    // Within the lifetime when answered before `sent + TTL` (a machine too busy for that
    // could rightly answer either way).
    if sent.elapsed() < TTL {
        assert_eq!(me, StatusCode::OK);
    }
    let rows = setup.rows().await;
    assert_eq!(rows.len(), 1);
    let lifetime = rows[0].expires_at - rows[0].created_at;
    assert_eq!(lifetime, 3_000_000, "unix microseconds, 3 s apart: {rows:?}");

    // Past the lifetime for certain: it ended by `answered + TTL`.
    tokio::time::sleep((TTL + Duration::from_millis(300)).saturating_sub(answered.elapsed())).await;
    let me = alice.get("/me").await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
    assert_eq!(me.json()["error"]["code"], "not_authenticated");
    let records = alice.get(&format!("/api/enterprises/{acme}/invitations")).await;
    assert_eq!(records.status, StatusCode::UNAUTHORIZED, "{}", records.body);
    assert_eq!(records.json()["error"]["code"], "not_authenticated");
    // Refused though still in the table; the next sign-in (anyone's) deletes it.
    assert_eq!(setup.rows().await.len(), 1);
    Http::new(&server).login("bob@example.com").await;
    let rows = setup.rows().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_ne!(
        rows[0].id_hash,
        sha256_hex(value_of(alice.cookie.as_deref().unwrap()))
    );
}

on_both_backends!(renews: every_sign_in_makes_a_new_id_and_revokes_the_old_on_sqlite, every_sign_in_makes_a_new_id_and_revokes_the_old_on_postgres);

/// Session fixation: a sign-in never keeps the id the browser came with. It makes a new
/// one and deletes the old, so the old cookie stops working, for `/login` and for
/// `/register`; an id the browser made up itself never becomes a session.
async fn renews(setup: &Setup) {
    let server = setup.start(&[]);
    let mut http = Http::new(&server);
    http.login("alice@example.com").await;
    let first = http.cookie.clone().unwrap();

    // The same browser signs in again (as someone else), presenting its cookie.
    let reply = http
        .post("/login", &json!({ "contact": "bob@example.com" }))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let second = reply.session_cookie().unwrap();
    assert_ne!(second, first, "a new id at every sign-in");
    let mut old = Http::new(&server);
    old.cookie = Some(first.clone());
    assert_eq!(
        old.get("/me").await.status,
        StatusCode::UNAUTHORIZED,
        "the old id is revoked"
    );
    http.cookie = Some(second.clone());
    assert_eq!(http.get("/me").await.json()["user"]["email"], "bob@example.com");
    assert_eq!(setup.rows().await.len(), 1);

    // The same for a registration.
    let reply = http
        .post(
            "/register",
            &json!({ "name": "Erin", "contact": "erin@example.com" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let third = reply.session_cookie().unwrap();
    assert_ne!(third, second);
    old.cookie = Some(second);
    assert_eq!(old.get("/me").await.status, StatusCode::UNAUTHORIZED);
    http.cookie = Some(third);
    assert_eq!(http.get("/me").await.json()["user"]["email"], "erin@example.com");

    // An id planted in the browser beforehand (of the right shape) is not adopted.
    let planted = format!("invite_demo_session={}", "A".repeat(43));
    let mut victim = Http::new(&server);
    victim.cookie = Some(planted.clone());
    let reply = victim
        .post("/login", &json!({ "contact": "grace@example.com" }))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_ne!(reply.session_cookie().unwrap(), planted);
    assert_eq!(victim.get("/me").await.status, StatusCode::UNAUTHORIZED);

    // Signing out deletes the row.
    assert_eq!(setup.rows().await.len(), 2);
    assert_eq!(http.post("/logout", &json!({})).await.status, StatusCode::OK);
    assert_eq!(setup.rows().await.len(), 1);
}

on_both_backends!(bounded: many_sign_ins_keep_the_session_table_bounded_on_sqlite, many_sign_ins_keep_the_session_table_bounded_on_postgres);

/// A loop of sign-ins cannot grow the server without limit: sessions are rows, not
/// memory; a browser that signs in again replaces its row; and the rows of sessions that
/// expired are deleted at the next sign-in.
async fn bounded(setup: &Setup) {
    const TTL: Duration = Duration::from_secs(3);
    let server = setup.start(&["--session-ttl", "3s", "--sign-in-rate-limit-per-minute", "0"]);
    // One browser, fifty sign-ins: one session.
    let mut browser = Http::new(&server);
    browser.login("alice@example.com").await;
    for _ in 0..50 {
        let reply = browser
            .post("/login", &json!({ "contact": "alice@example.com" }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        browser.cookie = reply.session_cookie();
    }
    assert_eq!(setup.rows().await.len(), 1);

    // Fifty clients that keep no cookie: at most one row each, while they live...
    let started = Instant::now();
    let client = Http::new(&server);
    let mut bob = String::new();
    for _ in 0..50 {
        let reply = client
            .post("/login", &json!({ "contact": "bob@example.com" }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        bob = reply.json()["user"]["id"].as_str().unwrap().to_owned();
    }
    let rows = setup.rows().await;
    assert!(rows.len() <= 51, "{} rows", rows.len());
    if started.elapsed() < TTL {
        let bobs = rows.iter().filter(|row| row.user_id == bob).count();
        assert_eq!(bobs, 50, "none expired yet");
    }
    // ...and gone once they expired, at the next sign-in.
    tokio::time::sleep(TTL + Duration::from_millis(300)).await;
    Http::new(&server).login("grace@example.com").await;
    let rows = setup.rows().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
}

on_both_backends!(limited: sign_in_over_the_limit_is_429_rate_limited_on_sqlite, sign_in_over_the_limit_is_429_rate_limited_on_postgres);

/// `--sign-in-rate-limit-per-minute 2` (bursts of 1): the second sign-in from one address
/// is 429 `rate_limited` with `Retry-After` and the API's error body (rule X6's shape),
/// `/login` and `/register` share the bucket, and nothing else is limited by it. `0` turns
/// it off; by default it is on (30 a minute, bursts of 15).
async fn limited(setup: &Setup) {
    let server = setup.start(&["--sign-in-rate-limit-per-minute", "2"]);
    let mut http = Http::new(&server);
    http.login("alice@example.com").await;
    for (path, body) in [
        ("/login", json!({ "contact": "alice@example.com" })),
        (
            "/register",
            json!({ "name": "Eve", "contact": "eve@example.com" }),
        ),
    ] {
        let reply = http.post(path, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{path}: {}",
            reply.body
        );
        let error = reply.json();
        assert_eq!(error["error"]["code"], "rate_limited", "{path}");
        assert!(error["error"]["message"].is_string(), "{error}");
        assert!(reply.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
        assert!(reply.header("set-cookie").is_none(), "{path}");
    }
    // The refused sign-ins opened nothing, the registration made no account, and the
    // session and the rest of the demo are not limited by it.
    assert_eq!(setup.rows().await.len(), 1);
    for _ in 0..5 {
        assert_eq!(http.get("/me").await.status, StatusCode::OK);
    }
    assert_eq!(
        http.post("/api/invitations/view", &json!({ "token": "x" }))
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        !server.log().contains("cannot tell this client apart"),
        "the demo knows its clients' addresses"
    );
    drop(server);

    let server = setup.start(&["--sign-in-rate-limit-per-minute", "0"]);
    let mut http = Http::new(&server);
    for _ in 0..40 {
        http.login("alice@example.com").await;
    }
    drop(server);

    // The default: on. The first 15 pass (a burst), and 40 in a row do not all pass.
    let server = setup.start(&[]);
    let http = Http::new(&server);
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let reply = http
            .post("/login", &json!({ "contact": "alice@example.com" }))
            .await;
        statuses.push(reply.status);
    }
    assert!(
        statuses[..15].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

on_both_backends!(hashed: the_raw_cookie_is_not_in_the_database_on_sqlite, the_raw_cookie_is_not_in_the_database_on_postgres);

/// The table keeps SHA-256 of the session id, never the id: someone who reads the
/// database cannot sign in with what they read.
async fn hashed(setup: &Setup) {
    let server = setup.start(&[]);
    let mut http = Http::new(&server);
    let me = http.login("alice@example.com").await;
    let raw = value_of(http.cookie.as_deref().unwrap()).to_owned();
    let rows = setup.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id_hash, sha256_hex(&raw));
    assert_ne!(rows[0].id_hash, raw);
    assert_eq!(rows[0].user_id, me["user"]["id"].as_str().unwrap());
    // Not in any column, nor anywhere in SQLite's files.
    let row = format!("{rows:?}");
    assert!(!row.contains(&raw), "{row}");
    if let Some(bytes) = setup.sqlite_bytes() {
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw.as_bytes()),
            "the raw session id is in the SQLite files"
        );
        assert!(
            bytes.windows(64).any(|w| w == sha256_hex(&raw).as_bytes()),
            "its digest is (the scan reads the right files)"
        );
    }
    // Presenting the stored digest as a cookie signs nobody in.
    let mut thief = Http::new(&server);
    thief.cookie = Some(format!("invite_demo_session={}", rows[0].id_hash));
    assert_eq!(thief.get("/me").await.status, StatusCode::UNAUTHORIZED);
}
