//! Secrets (issue #12; rules X1, X2, X10, D4): after a full scenario against the real
//! `invite-demo`, no raw invitation token is found anywhere it must not be.
//!
//! The demo runs at `RUST_LOG=trace` (every crate, every level), its stdout and stderr in
//! one log, delivering through its real notifiers: SMTP (`--smtp-url`, to a small SMTP
//! server in this test) for email and the SMS webhook (`--sms-url`, to an HTTP endpoint in
//! this test) for phones, so no development notifier writes links to the log. The scenario
//! covers every route that touches a token or an invitation: sign-in and registration,
//! send by email and by phone, view (signed out, matching, mismatch), accept, a replayed
//! accept, reject by token, revoke, resend, the invitee's own list and accept/reject by id
//! (rule B1), a bulk send with good and bad rows (rule B2), an accept from the wrong
//! account, the records under every filter, `/me`, the members page, logout; each link is
//! delivered through the outbox before it is used.
//!
//! Scanned for every token issued (7, including the revoked one and the one a resend
//! replaced), as text, percent-encoded (every byte, either case), as its 32 raw bytes, and
//! those bytes in hex and standard base64:
//!
//! - the database: every column of every table, read back as bytes (SQLite, and
//!   PostgreSQL with `INVITE_TEST_POSTGRES_URL`); on SQLite also the raw bytes of the
//!   database file and its WAL. Once while a delivery is in flight (the outbox then holds
//!   the sealed link, rule D4: it must be ciphertext) and once after every delivery (the
//!   sealed links must be erased);
//! - every API response, headers and body, except exactly the `invite_url` fields of the
//!   answers to send, resend and bulk send: those carry the link to the inviter by design
//!   (rules §6, S5, B2), and the test checks each of them does;
//! - the log.
//!
//! The demo's session ids are scanned for too, in the database and the log (the database
//! keeps only their SHA-256).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::{Db, Demo, DemoConfig, PgDatabase};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, COOKIE};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_raw_token_in_the_database_the_responses_or_the_trace_log_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.sqlite").display());
    scenario(&url, dir.path(), Some(&dir.path().join("demo.sqlite"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_raw_token_in_the_database_the_responses_or_the_trace_log_on_postgres() {
    let Some(admin) = common::postgres_admin_url("secrets::no_raw_token_on_postgres") else {
        return;
    };
    let pg = PgDatabase::create(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    scenario(&pg.url, dir.path(), None).await;
    pg.remove().await;
}

// --- the sinks -----------------------------------------------------------------------------

/// A small SMTP server (enough of RFC 5321 for lettre: EHLO, MAIL, RCPT, DATA, RSET,
/// NOOP, QUIT) that keeps every message; while `hold` is set it keeps the answer to a
/// message's DATA back, so the delivery stays in flight.
struct SmtpSink {
    port: u16,
    messages: Arc<Mutex<Vec<String>>>,
    hold: tokio::sync::watch::Sender<bool>,
}

impl SmtpSink {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let (hold, held) = tokio::sync::watch::channel(false);
        let kept = messages.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(smtp_session(stream, kept.clone(), held.clone()));
            }
        });
        Self { port, messages, hold }
    }

    /// Every message so far, quoted-printable soft line breaks removed.
    fn texts(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| m.replace("=\r\n", ""))
            .collect()
    }
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    messages: Arc<Mutex<Vec<String>>>,
    mut held: tokio::sync::watch::Receiver<bool>,
) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_ascii_uppercase();
        let answer: &[u8] = if command.starts_with("EHLO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if command.starts_with("HELO")
            || command.starts_with("MAIL")
            || command.starts_with("RCPT")
            || command.starts_with("RSET")
            || command.starts_with("NOOP")
        {
            b"250 OK\r\n"
        } else if command == "DATA" {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut message = String::new();
            loop {
                let mut data = String::new();
                if lines.read_line(&mut data).await.unwrap_or(0) == 0 {
                    return;
                }
                if data == ".\r\n" {
                    break;
                }
                message.push_str(&data);
            }
            messages.lock().unwrap().push(message);
            let _ = held.wait_for(|hold| !*hold).await;
            b"250 OK queued\r\n"
        } else if command == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 not implemented\r\n"
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}

/// An SMS webhook: keeps every request body, answers 200.
async fn sms_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                axum::Json(json!({ "sid": "SM1", "status": "queued" }))
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, bodies)
}

// --- a client that keeps every exchange ----------------------------------------------------

/// One request and its answer: what the scan reads.
struct Exchange {
    label: String,
    status: u16,
    headers: String,
    body: String,
}

#[derive(Clone)]
struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    cookie: Option<String>,
    kept: Arc<Mutex<Vec<Exchange>>>,
}

impl Api {
    fn new(demo: &Demo, kept: &Arc<Mutex<Vec<Exchange>>>) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{}", demo.addr),
            cookie: None,
            kept: kept.clone(),
        }
    }

    async fn call(&self, label: &str, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        let payload = match body {
            Some(body) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(body.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self.client.request(request.body(payload).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let headers: String = response
            .headers()
            .iter()
            .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())))
            .collect();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        self.kept.lock().unwrap().push(Exchange {
            label: label.to_owned(),
            status,
            headers,
            body,
        });
        (status, json)
    }

    async fn post(&self, label: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(label, Method::POST, path, Some(&body)).await
    }

    async fn get(&self, label: &str, path: &str) -> (u16, Value) {
        self.call(label, Method::GET, path, None).await
    }

    /// Signs in (`/login`) or registers (`/register` when `name` is given), keeping the
    /// session cookie; returns the session id and the answer.
    async fn sign_in(&mut self, contact: &str, name: Option<&str>) -> (String, Value) {
        self.cookie = None;
        let (status, me) = match name {
            Some(name) => {
                self.post(
                    "register",
                    "/register",
                    json!({ "name": name, "contact": contact }),
                )
                .await
            }
            None => self.post("login", "/login", json!({ "contact": contact })).await,
        };
        assert_eq!(status, 200, "{contact}: {me}");
        let set_cookie = {
            let kept = self.kept.lock().unwrap();
            kept.last().unwrap().headers.clone()
        };
        let cookie = set_cookie
            .lines()
            .find_map(|line| line.strip_prefix("set-cookie: "))
            .and_then(|value| value.split(';').next())
            .unwrap()
            .to_owned();
        self.cookie = Some(cookie.clone());
        let session = cookie.split_once('=').unwrap().1.to_owned();
        (session, me)
    }
}

// --- the scan ------------------------------------------------------------------------------

/// What to look for: for every token, its text, its percent-encodings, its raw bytes and
/// their hex and standard base64; for every session id, its text.
struct Needles {
    tokens: Vec<(String, Vec<Vec<u8>>)>,
    sessions: Vec<String>,
}

impl Needles {
    fn new(tokens: &[String], sessions: &[String]) -> Self {
        let tokens = tokens
            .iter()
            .map(|token| {
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(token)
                    .unwrap();
                assert_eq!(raw.len(), 32, "a token of 256 bits (rule X1)");
                let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                // Distinct forms only: a token without `-` or `_` is its own unpadded
                // standard base64.
                let mut forms: Vec<Vec<u8>> = vec![
                    token.as_bytes().to_vec(),
                    token
                        .bytes()
                        .map(|b| format!("%{b:02X}"))
                        .collect::<String>()
                        .into_bytes(),
                    token
                        .bytes()
                        .map(|b| format!("%{b:02x}"))
                        .collect::<String>()
                        .into_bytes(),
                    raw.clone(),
                    hex.clone().into_bytes(),
                    hex.to_uppercase().into_bytes(),
                    base64::engine::general_purpose::STANDARD
                        .encode(&raw)
                        .into_bytes(),
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .encode(&raw)
                        .into_bytes(),
                ];
                let mut distinct = Vec::new();
                forms.retain(|form| {
                    let new = !distinct.contains(form);
                    distinct.push(form.clone());
                    new
                });
                (token.clone(), forms)
            })
            .collect();
        Self {
            tokens,
            sessions: sessions.to_vec(),
        }
    }

    /// Where in `haystack` (named `place`) a token, or with `sessions` a session id, is.
    fn find(&self, place: &str, haystack: &[u8], sessions: bool) -> Vec<String> {
        let mut hits = Vec::new();
        for (n, (_, forms)) in self.tokens.iter().enumerate() {
            for (form, needle) in forms.iter().enumerate() {
                if contains(haystack, needle) {
                    hits.push(format!("{place}: token {} (form {form})", n + 1));
                }
            }
        }
        if sessions {
            for (n, session) in self.sessions.iter().enumerate() {
                if contains(haystack, session.as_bytes()) {
                    hits.push(format!("{place}: session id {}", n + 1));
                }
            }
        }
        hits
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

/// Every value of every column of every table, as bytes, with where it came from.
async fn dump(db: &Db) -> Vec<(String, Vec<u8>)> {
    let mut values = Vec::new();
    match db {
        Db::Sqlite(pool) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(pool)
                .await
                .unwrap();
                for column in columns {
                    let sql = format!("SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\"");
                    let rows: Vec<Option<Vec<u8>>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_all(pool)
                        .await
                        .unwrap();
                    for value in rows.into_iter().flatten() {
                        values.push((format!("{table}.{column}"), value));
                    }
                }
            }
        }
        Db::Postgres(pool) => {
            let columns: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema()",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for (table, column, kind) in columns {
                let rows: Vec<Option<Vec<u8>>> = if kind == "bytea" {
                    let sql = format!("SELECT \"{column}\" FROM \"{table}\"");
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_all(pool)
                        .await
                        .unwrap()
                } else {
                    let sql = format!("SELECT \"{column}\"::text FROM \"{table}\"");
                    let texts: Vec<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_all(pool)
                        .await
                        .unwrap();
                    texts.into_iter().map(|t| t.map(String::into_bytes)).collect()
                };
                for value in rows.into_iter().flatten() {
                    values.push((format!("{table}.{column}"), value));
                }
            }
        }
    }
    values
}

/// Scans the database (and, on SQLite, its files); returns the hits and what was read.
async fn scan_database(
    db: &Db,
    file: Option<&Path>,
    needles: &Needles,
    stage: &str,
) -> (Vec<String>, String) {
    let values = dump(db).await;
    let mut hits = Vec::new();
    let tables: std::collections::BTreeSet<&str> = values
        .iter()
        .map(|(place, _)| place.split('.').next().unwrap())
        .collect();
    for (place, value) in &values {
        hits.extend(needles.find(&format!("{stage}: {place}"), value, true));
    }
    let mut read = format!(
        "{} values in {} tables ({})",
        values.len(),
        tables.len(),
        tables.into_iter().collect::<Vec<_>>().join(", ")
    );
    if let Some(file) = file {
        for suffix in ["", "-wal"] {
            let path = format!("{}{suffix}", file.display());
            if let Ok(bytes) = std::fs::read(&path) {
                hits.extend(needles.find(&format!("{stage}: file {path}"), &bytes, true));
                read.push_str(&format!(
                    "; {} bytes of {}",
                    bytes.len(),
                    Path::new(&path).file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    (hits, read)
}

/// A response body with exactly the `invite_url` fields the answers to send, resend and
/// bulk send carry by design taken out; panics if such an answer lacks its link.
fn without_invite_urls(exchange: &Exchange) -> String {
    let expected_links = match exchange.label.as_str() {
        "send" | "resend" if exchange.status < 300 => 1,
        label if label.starts_with("bulk") && exchange.status < 300 => usize::MAX,
        _ => return exchange.body.clone(),
    };
    let mut body: Value = serde_json::from_str(&exchange.body).unwrap();
    let mut removed = 0;
    if expected_links == 1 {
        assert!(
            body.as_object_mut().unwrap().remove("invite_url").is_some(),
            "{}",
            exchange.body
        );
        removed += 1;
    } else {
        for result in body["results"].as_array_mut().unwrap() {
            if result.get("invitation").is_some() {
                assert!(
                    result.as_object_mut().unwrap().remove("invite_url").is_some(),
                    "{result}"
                );
                removed += 1;
            }
        }
    }
    assert!(removed > 0);
    body.to_string()
}

// --- the scenario --------------------------------------------------------------------------

async fn scenario(url: &str, dir: &Path, sqlite_file: Option<&Path>) {
    let smtp = SmtpSink::start().await;
    let (sms_port, sms) = sms_sink().await;
    let config = DemoConfig {
        database_url: url.to_owned(),
        dir: dir.to_path_buf(),
        extra: vec![
            "--smtp-url".to_owned(),
            format!("smtp://127.0.0.1:{}", smtp.port),
            "--smtp-from".to_owned(),
            "Acme Invitations <invites@acme.example>".to_owned(),
            "--sms-url".to_owned(),
            format!("http://127.0.0.1:{sms_port}/sms"),
            "--sign-in-rate-limit-per-minute".to_owned(),
            "600".to_owned(),
        ],
        rust_log: "trace".to_owned(),
    };
    let demo = Demo::start(&config).await;
    let db = Db::open(url).await;
    let kept = Arc::new(Mutex::new(Vec::new()));
    let mut tokens: Vec<String> = Vec::new();
    let mut sessions: Vec<String> = Vec::new();

    let mut alice = Api::new(&demo, &kept);
    let (session, me) = alice.sign_in("alice@example.com", None).await;
    sessions.push(session);
    let acme = me["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["enterprise_name"] == "Acme Robotics")
        .unwrap()["enterprise_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invitations = format!("/api/enterprises/{acme}/invitations");
    let account = |contact: &'static str, name: Option<&'static str>| {
        let mut api = Api::new(&demo, &kept);
        async move {
            let (session, _) = api.sign_in(contact, name).await;
            (api, session)
        }
    };
    let (bob, s) = account("bob@example.com", None).await;
    sessions.push(s);
    let (carol, s) = account("+14155550100", None).await;
    sessions.push(s);
    let (mallory, s) = account("mallory@example.com", None).await;
    sessions.push(s);
    let (_dave, s) = account("dave@example.com", Some("Dave Doe")).await;
    sessions.push(s);
    let (erin, s) = account("+14155550123", Some("Erin Example")).await;
    sessions.push(s);
    let (frank, s) = account("frank@example.com", Some("Frank Field")).await;
    sessions.push(s);
    let signed_out = Api::new(&demo, &kept);

    let delivered = |id: String| {
        let db = &db;
        async move {
            let id = Uuid::parse_str(&id).unwrap();
            let sql = match db {
                Db::Sqlite(_) => "SELECT delivery FROM invite_rs_invitations WHERE id = $1",
                Db::Postgres(_) => "SELECT delivery FROM invite_rs_invitations WHERE id = $1",
            };
            let ok = common::wait_until(Duration::from_secs(20), || async {
                let delivery: Option<String> = match db {
                    Db::Sqlite(pool) => sqlx::query_scalar(sql)
                        .bind(id.as_bytes().to_vec())
                        .fetch_optional(pool)
                        .await
                        .unwrap(),
                    Db::Postgres(pool) => sqlx::query_scalar(sql)
                        .bind(id)
                        .fetch_optional(pool)
                        .await
                        .unwrap(),
                };
                delivery.as_deref() == Some("delivered")
            })
            .await;
            assert!(ok, "invitation {id} was not delivered");
        }
    };

    // 1. An email invitation, its delivery held in flight: the outbox holds the sealed link.
    smtp.hold.send_replace(true);
    let (bob_id, bob_token) = sent(
        &mut tokens,
        alice
            .post(
                "send",
                &invitations,
                json!({ "contact": "bob@example.com", "role": "member" }),
            )
            .await,
        201,
    );
    let in_flight = common::wait_until(Duration::from_secs(20), || async {
        smtp.texts().iter().any(|m| m.contains(&bob_token))
    })
    .await;
    assert!(in_flight, "the SMTP server never got the first message");
    let sealed = db
        .count("SELECT count(*) FROM invite_rs_outbox WHERE state = 'queued' AND link_sealed IS NOT NULL")
        .await;
    assert_eq!(
        sealed, 1,
        "the delivery in flight keeps its sealed link (rule D4)"
    );
    let needles = Needles::new(&tokens, &sessions);
    let (mut hits, read_in_flight) = scan_database(&db, sqlite_file, &needles, "in flight").await;
    smtp.hold.send_replace(false);
    delivered(bob_id.clone()).await;

    // 2. A phone invitation through the SMS webhook.
    let (carol_id, carol_token) = sent(
        &mut tokens,
        alice
            .post(
                "send",
                &invitations,
                json!({ "contact": "+1 415 555 0100", "role": "finance_admin" }),
            )
            .await,
        201,
    );
    delivered(carol_id.clone()).await;

    // 3. Views, accept, a replay.
    let view = |token: &str| json!({ "token": token });
    assert_eq!(
        signed_out
            .post("view", "/api/invitations/view", view(&bob_token))
            .await
            .1["viewer"],
        "signed_out"
    );
    assert_eq!(
        bob.post("view", "/api/invitations/view", view(&bob_token))
            .await
            .1["viewer"],
        "matching"
    );
    assert_eq!(
        mallory
            .post("view", "/api/invitations/view", view(&bob_token))
            .await
            .1["viewer"],
        "mismatch"
    );
    assert_eq!(
        bob.post("accept", "/api/invitations/accept", view(&bob_token))
            .await
            .0,
        200
    );
    assert_eq!(
        bob.post("accept", "/api/invitations/accept", view(&bob_token))
            .await
            .0,
        409
    );

    // 4. The invitee's own list and a reject by id (rule B1).
    let (status, mine) = carol.get("mine", "/api/invitations/mine").await;
    assert_eq!(status, 200);
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == carol_id.as_str()),
        "{mine}"
    );
    assert_eq!(
        carol
            .post(
                "reject",
                &format!("/api/invitations/mine/{carol_id}/reject"),
                json!({})
            )
            .await
            .0,
        200
    );
    assert_eq!(
        carol
            .post("view", "/api/invitations/view", view(&carol_token))
            .await
            .1["state"],
        "rejected"
    );

    // 5. Revoke.
    let (dave_id, dave_token) = sent(
        &mut tokens,
        alice
            .post(
                "send",
                &invitations,
                json!({ "contact": "dave@example.com", "role": "dev_admin" }),
            )
            .await,
        201,
    );
    delivered(dave_id.clone()).await;
    assert_eq!(
        alice
            .post("revoke", &format!("{invitations}/{dave_id}/revoke"), json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        signed_out
            .post("view", "/api/invitations/view", view(&dave_token))
            .await
            .1["state"],
        "invalid_or_expired"
    );

    // 6. Resend, then an accept by id (rule B1).
    let (erin_id, erin_token) = sent(
        &mut tokens,
        alice
            .post(
                "send",
                &invitations,
                json!({ "contact": "+14155550123", "role": "member" }),
            )
            .await,
        201,
    );
    delivered(erin_id.clone()).await;
    let (_, erin_new_token) = sent(
        &mut tokens,
        alice
            .post("resend", &format!("{invitations}/{erin_id}/resend"), json!({}))
            .await,
        200,
    );
    delivered(erin_id.clone()).await;
    assert_eq!(
        erin.post("view", "/api/invitations/view", view(&erin_token))
            .await
            .1["state"],
        "invalid_or_expired"
    );
    assert_eq!(
        erin.post("view", "/api/invitations/view", view(&erin_new_token))
            .await
            .1["viewer"],
        "matching"
    );
    assert_eq!(
        erin.post(
            "accept",
            &format!("/api/invitations/mine/{erin_id}/accept"),
            json!({})
        )
        .await
        .0,
        200
    );

    // 7. Bulk (rule B2): good rows, a bad contact, a member already.
    let (status, bulk) = alice
        .post(
            "bulk",
            &format!("{invitations}/bulk"),
            json!({ "invitations": [
                { "contact": "frank@example.com", "role": "member" },
                { "contact": "+14155550124", "role": "dev_admin" },
                { "contact": "not a contact", "role": "member" },
                { "contact": "bob@example.com", "role": "member" },
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{bulk}");
    let results = bulk["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{bulk}");
    assert_eq!(results[2]["error"]["code"], "invalid_contact", "{bulk}");
    assert_eq!(results[3]["error"]["code"], "already_member", "{bulk}");
    let mut bulk_ids = Vec::new();
    for result in &results[..2] {
        let token = common::token_of(result).expect("a link per good row");
        tokens.push(token.clone());
        bulk_ids.push((result["invitation"]["id"].as_str().unwrap().to_owned(), token));
    }
    for (id, _) in &bulk_ids {
        delivered(id.clone()).await;
    }
    let (frank_token, phone_token) = (bulk_ids[0].1.clone(), bulk_ids[1].1.clone());
    assert_eq!(
        frank
            .post("reject", "/api/invitations/reject", view(&frank_token))
            .await
            .0,
        200
    );
    let (status, mismatch) = mallory
        .post("accept", "/api/invitations/accept", view(&phone_token))
        .await;
    assert_eq!(
        (status, mismatch["error"]["code"].as_str()),
        (403, Some("account_mismatch"))
    );

    // 8. The records under every filter, /me, the members page, logout.
    for filter in [
        "",
        "?status=pending",
        "?status=accepted",
        "?status=rejected",
        "?status=revoked",
        "?status=expired",
    ] {
        assert_eq!(
            alice.get("records", &format!("{invitations}{filter}")).await.0,
            200
        );
    }
    assert_eq!(alice.get("me", "/me").await.0, 200);
    assert_eq!(
        alice
            .get("members", &format!("/me/enterprises/{acme}/members"))
            .await
            .0,
        200
    );
    assert_eq!(bob.post("logout", "/logout", json!({})).await.0, 200);

    // Every link went out through the notifiers (so the scan looks for real tokens), and
    // every delivery is finished: the outbox has erased every sealed link (rule D4).
    let mails = smtp.texts();
    let texts = sms.lock().unwrap().clone();
    for (token, channel) in [
        (&bob_token, "email"),
        (&carol_token, "sms"),
        (&dave_token, "email"),
        (&erin_token, "sms"),
        (&erin_new_token, "sms"),
        (&frank_token, "email"),
        (&phone_token, "sms"),
    ] {
        let seen = if channel == "email" { &mails } else { &texts };
        assert!(
            seen.iter().any(|m| m.contains(token.as_str())),
            "a link never reached the {channel} sink"
        );
    }
    let all_finished = common::wait_until(Duration::from_secs(20), || async {
        db.count("SELECT count(*) FROM invite_rs_outbox WHERE state = 'queued'")
            .await
            == 0
    })
    .await;
    assert!(all_finished, "deliveries still queued");
    assert_eq!(
        db.count("SELECT count(*) FROM invite_rs_outbox WHERE link_sealed IS NOT NULL")
            .await,
        0,
        "a finished delivery keeps its sealed link (rule D4)"
    );
    assert_eq!(tokens.len(), 7);

    // The scans, for every token issued.
    let needles = Needles::new(&tokens, &sessions);
    // The scanner finds what it looks for, and nothing else.
    assert_eq!(
        needles.find("check", format!("x{}y", tokens[3]).as_bytes(), false),
        ["check: token 4 (form 0)"]
    );
    let (db_hits, read_after) = scan_database(&db, sqlite_file, &needles, "after delivery").await;
    hits.extend(db_hits);
    let exchanges = std::mem::take(&mut *kept.lock().unwrap());
    let mut links_excluded = 0;
    for exchange in &exchanges {
        let body = without_invite_urls(exchange);
        if body.len() != exchange.body.len() {
            links_excluded += 1;
        }
        let place = format!("response to {} ({})", exchange.label, exchange.status);
        hits.extend(needles.find(&format!("{place} headers"), exchange.headers.as_bytes(), false));
        hits.extend(needles.find(&format!("{place} body"), body.as_bytes(), false));
    }
    drop(demo);
    let log = std::fs::read(config.log_path()).unwrap();
    let log_text = String::from_utf8_lossy(&log);
    assert!(
        log_text.contains("TRACE") && log_text.contains("DEBUG") && log_text.contains("invite_rs_outbox"),
        "the log is not at trace level"
    );
    hits.extend(needles.find("log", &log, true));
    let events = db.count("SELECT count(*) FROM invite_rs_events").await;
    db.close().await;

    eprintln!(
        "RESULT secrets ({}): {} tokens and {} session ids looked for ({} forms of the tokens in all); \
         database in flight: {read_in_flight}; after delivery: {read_after}; {} responses ({} with their invite_url fields set \
         aside); log: {} bytes, {} lines at RUST_LOG=trace; {} emails, {} SMS delivered; {events} events; \
         hits: {}",
        db_name(url),
        tokens.len(),
        sessions.len(),
        needles.tokens.iter().map(|(_, forms)| forms.len()).sum::<usize>(),
        exchanges.len(),
        links_excluded,
        log.len(),
        log_text.lines().count(),
        mails.len(),
        texts.len(),
        hits.len()
    );
    assert!(hits.is_empty(), "raw secrets found:\n{}", hits.join("\n"));
}

/// The id and token of a send's (or resend's) answer, the token kept in `tokens`.
fn sent(tokens: &mut Vec<String>, answer: (u16, Value), expected: u16) -> (String, String) {
    let (status, body) = answer;
    assert_eq!(status, expected, "{body}");
    let token = common::token_of(&body).expect("a link in the answer");
    tokens.push(token.clone());
    (body["id"].as_str().unwrap_or_default().to_owned(), token)
}

fn db_name(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    }
}
