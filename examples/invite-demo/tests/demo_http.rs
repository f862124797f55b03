//! The demo server over plain HTTP (no browser): the demo sign-in, the page headers, the
//! API mounted under `/api`, and the command line. These always run.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{DemoServer, Http, enterprise_id, token_of};
use hyper::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn login_sets_an_http_only_same_site_lax_cookie_and_me_has_the_memberships() {
    // rules §7 demo sign-in; rule X9: identity comes from the session only
    let server = DemoServer::start(&[]);
    let mut http = Http::new(&server);

    let me = http.get("/me").await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(me.json()["error"]["code"], "not_authenticated");

    let reply = http
        .post("/login", &json!({ "contact": "Alice@Example.com" }))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let cookie = reply.header("set-cookie").unwrap().to_owned();
    assert!(cookie.starts_with("invite_demo_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    http.cookie = reply.session_cookie();
    let session_value = http.cookie.clone().unwrap();
    assert!(
        session_value.len() > "invite_demo_session=".len() + 40,
        "a long random id"
    );

    let me = http.get("/me").await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(me["user"]["name"], "Alice Admin");
    assert_eq!(me["user"]["email"], "alice@example.com");
    let memberships = me["memberships"].as_array().unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0]["enterprise_name"], "Acme Robotics");
    assert_eq!(memberships[0]["role"], "super_admin");
    assert!(memberships[0]["enterprise_id"].is_string());

    // Logout ends the session on the server, not only in the browser.
    let out = http.post("/logout", &json!({})).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(http.get("/me").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_post_of_the_demo_takes_json_and_refuses_a_cross_site_form_post() {
    // rules §6: every POST takes a JSON body sent as application/json (`{}` for /logout);
    // anything else — what an HTML form on another site can send — is 415, before any
    // state changes.
    let server = DemoServer::start(&[]);
    let mut http = Http::new(&server);
    let me = http.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");
    let sent = http
        .post(
            &format!("/api/enterprises/{acme}/invitations"),
            &json!({ "contact": "bob@example.com", "role": "member" }),
        )
        .await
        .json();
    let id = sent["id"].as_str().unwrap().to_owned();
    let revoke = format!("/api/enterprises/{acme}/invitations/{id}/revoke");
    let resend = format!("/api/enterprises/{acme}/invitations/{id}/resend");
    for (path, body) in [
        ("/logout", ""),
        ("/logout", "x=1"),
        ("/login", "contact=alice%40example.com"),
        ("/register", "name=Eve&contact=eve%40example.com"),
        (revoke.as_str(), ""),
        (resend.as_str(), "{}"),
        ("/api/invitations/accept", r#"{"token":"x"}"#),
    ] {
        for content_type in [
            None,
            Some("application/x-www-form-urlencoded"),
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
        ] {
            let reply = http.send(Method::POST, path, content_type, body).await;
            assert_eq!(
                reply.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type:?}: {}",
                reply.body
            );
            assert_eq!(reply.json()["error"]["code"], "unsupported_media_type", "{path}");
            assert!(reply.header("set-cookie").is_none(), "{path}");
        }
    }
    // Still signed in, the invitation still pending with its first link.
    assert_eq!(http.get("/me").await.status, StatusCode::OK);
    let page = http
        .get(&format!("/api/enterprises/{acme}/invitations"))
        .await
        .json();
    assert_eq!(page["items"][0]["status"], "pending");
    assert_eq!(page["items"][0]["last_sent_at"], page["items"][0]["sent_at"]);
    // `{}` and nothing else is /logout's body.
    for body in ["[]", r#"{"all":true}"#, "{"] {
        let reply = http
            .send(Method::POST, "/logout", Some("application/json"), body)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.json()["error"]["code"], "invalid_request");
    }
    let out = http.post("/logout", &json!({})).await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(http.get("/me").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_api_answers_wrong_methods_with_405_and_describes_the_demo() {
    // rules §6: a known path with another method is 405 with Allow; unknown paths 404. The
    // OpenAPI document names where the API is mounted and the demo's session cookie.
    let server = DemoServer::start(&[]);
    let http = Http::new(&server);
    let reply = http.get("/api/invitations/accept").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some("POST"));
    assert_eq!(reply.json()["error"]["code"], "method_not_allowed");
    let reply = http.get("/api/invitations/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let doc = http.get("/api/openapi.json").await.json();
    assert_eq!(doc["servers"], json!([{ "url": "/api" }]));
    assert_eq!(
        doc["components"]["securitySchemes"]["session"],
        json!({ "type": "apiKey", "in": "cookie", "name": "invite_demo_session" })
    );
}

#[tokio::test]
async fn the_rate_limit_flag_sets_the_limit_per_client_address() {
    // rule X6: the demo serves with client addresses, so its limit works (here 2 a minute,
    // bursts of 1); `--rate-limit-per-minute 0` turns it off for load generators.
    let server = DemoServer::start(&["--rate-limit-per-minute", "2"]);
    let http = Http::new(&server);
    let view = json!({ "token": "x" });
    assert_eq!(
        http.post("/api/invitations/view", &view).await.status,
        StatusCode::OK
    );
    let limited = http.post("/api/invitations/view", &view).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.body);
    assert_eq!(limited.json()["error"]["code"], "rate_limited");
    assert!(limited.header("retry-after").is_some());
    assert!(
        !server.log().contains("cannot tell this client apart"),
        "the demo knows its clients' addresses"
    );
    drop(server);

    let server = DemoServer::start(&["--rate-limit-per-minute", "0"]);
    let http = Http::new(&server);
    for _ in 0..200 {
        assert_eq!(
            http.post("/api/invitations/view", &view).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn the_demo_data_of_the_spec_is_there() {
    // rules §7 demo data table
    let server = DemoServer::start(&[]);
    let mut http = Http::new(&server);
    for (contact, enterprise) in [
        ("alice@example.com", Some("Acme Robotics")),
        ("grace@example.com", Some("Globex")),
        ("uma@example.com", Some("Unverified Labs")),
        ("bob@example.com", None),
        ("+14155550100", None),
        ("mallory@example.com", None),
    ] {
        let me = http.login(contact).await;
        let memberships = me["memberships"].as_array().unwrap();
        match enterprise {
            Some(name) => {
                assert_eq!(memberships.len(), 1, "{contact}");
                assert_eq!(memberships[0]["enterprise_name"], name);
                assert_eq!(memberships[0]["role"], "super_admin");
                assert_eq!(memberships[0]["certified"], name != "Unverified Labs");
            }
            None => assert!(memberships.is_empty(), "{contact}"),
        }
    }
    let me = http.login("+1 415 555 0100").await;
    assert_eq!(me["user"]["name"], "Carol Chen");
}

#[tokio::test]
async fn bad_json_to_the_demo_sign_in_is_400_never_500() {
    // rule X4: malformed input gets invalid_request (400)
    let server = DemoServer::start(&[]);
    let http = Http::new(&server);
    let json = Some("application/json");
    for (path, content_type, body) in [
        ("/login", json, "{bad"),
        ("/login", json, ""),
        ("/login", json, "[]"),
        ("/login", json, r#"{"contact": 42}"#),
        ("/login", json, r#"{"contact":"alice@example.com","admin":true}"#),
        ("/register", json, r#"{"name":"Eve"}"#),
        ("/register", json, "\u{0}\u{ffff}"),
        ("/register", json, r#"{"name":"   ","contact":"eve@example.com"}"#),
    ] {
        let reply = http.send(Method::POST, path, content_type, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path} {body:?}: {}",
            reply.body
        );
        assert_eq!(
            reply.json()["error"]["code"],
            "invalid_request",
            "{path} {body:?}"
        );
        assert!(reply.header("set-cookie").is_none());
    }
}

#[tokio::test]
async fn register_creates_an_account_and_refuses_a_taken_or_invalid_contact() {
    // rules §7: POST /register {"name","contact"} creates a user and signs in
    let server = DemoServer::start(&[]);
    let mut http = Http::new(&server);
    let reply = http
        .post(
            "/register",
            &json!({ "name": "Erin Example", "contact": "erin@example.com" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    http.cookie = reply.session_cookie();
    let me = http.get("/me").await.json();
    assert_eq!(me["user"]["name"], "Erin Example");
    assert_eq!(me["memberships"], json!([]));

    let taken = http
        .post(
            "/register",
            &json!({ "name": "Bobby", "contact": "BOB@example.com" }),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.json()["error"]["code"], "account_exists");

    // rule S3: not a contact
    let invalid = http
        .post("/register", &json!({ "name": "X", "contact": "not a contact" }))
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.json()["error"]["code"], "invalid_contact");

    let unknown = http
        .post("/login", &json!({ "contact": "nobody@example.com" }))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"]["code"], "unknown_account");
}

#[tokio::test]
async fn register_refuses_control_characters_in_the_name_and_the_contact() {
    // rule X4: a NUL or another control character in a name is invalid_request (400),
    // never stored (PostgreSQL refuses NUL in text: a 500); in a contact it is
    // invalid_contact (rule S3).
    let server = DemoServer::start(&[]);
    let mut http = Http::new(&server);
    for name in ["a\u{0}b", "a\u{1b}[31mb", "a\nb", "a\u{2028}b"] {
        let reply = http
            .post(
                "/register",
                &json!({ "name": name, "contact": "nul@example.com" }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name:?}: {}", reply.body);
        assert_eq!(reply.json()["error"]["code"], "invalid_request", "{name:?}");
        assert!(reply.header("set-cookie").is_none(), "{name:?}");
    }
    for contact in [
        "nul\u{0}@example.com",
        "nul@example.com\u{0}",
        "+1 415\u{0}555 0199",
    ] {
        let reply = http
            .post("/register", &json!({ "name": "Nul", "contact": contact }))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{contact:?}: {}",
            reply.body
        );
        assert_eq!(reply.json()["error"]["code"], "invalid_contact", "{contact:?}");
    }
    // Nothing was saved: the contact is still free, and a clean name registers.
    let reply = http
        .post(
            "/register",
            &json!({ "name": " Nul Free ", "contact": "nul@example.com" }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    http.cookie = reply.session_cookie();
    assert_eq!(http.get("/me").await.json()["user"]["name"], "Nul Free");
}

#[tokio::test]
async fn concurrent_registrations_of_one_contact_make_one_account() {
    // The check that a contact is free and the save are one step: of 8 simultaneous
    // registrations of one contact (spelled two ways), exactly one succeeds.
    let server = DemoServer::start(&[]);
    let http = Http::new(&server);
    let attempts = (0..8).map(|i| {
        let contact = if i % 2 == 0 {
            "zoe@example.com"
        } else {
            "ZOE@example.com"
        };
        let body = json!({ "name": format!("Zoe {i}"), "contact": contact });
        let http = &http;
        async move { http.post("/register", &body).await }
    });
    let replies = futures::future::join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT && r.json()["error"]["code"] == "account_exists")
        .count();
    assert_eq!((created, refused), (1, 7));
}

#[tokio::test]
async fn pages_are_served_and_the_invitee_page_is_neither_cached_nor_a_referrer() {
    // rule X2: token-bearing pages send Cache-Control: no-store and Referrer-Policy: no-referrer
    let server = DemoServer::start(&[]);
    let http = Http::new(&server);
    let invite = http.get("/invite?token=abc").await;
    assert_eq!(invite.status, StatusCode::OK);
    assert_eq!(invite.header("cache-control"), Some("no-store"));
    assert_eq!(invite.header("referrer-policy"), Some("no-referrer"));
    assert!(invite.header("content-type").unwrap().starts_with("text/html"));
    assert!(invite.body.contains(r#"data-testid="state-loading""#));

    for (path, marker) in [
        ("/", "login-form"),
        ("/enterprise/members", "invite-drawer"),
        ("/assets/style.css", ".drawer"),
        ("/assets/common.js", "ApiError"),
        ("/assets/invite.js", "/api/invitations/view"),
        ("/assets/members.js", "next_cursor"),
        ("/assets/index.js", "/login"),
        ("/favicon.svg", "<svg"),
    ] {
        let reply = http.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(reply.body.contains(marker), "{path} lacks {marker}");
    }
    // The sign-in page may carry a `return` URL holding a token, too.
    let index = http.get("/?return=%2Finvite%3Ftoken%3Dabc").await;
    assert_eq!(index.header("referrer-policy"), Some("no-referrer"));
    // Unknown API routes answer the API's JSON error.
    let missing = http.get("/api/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_guide_over_http_send_view_accept_and_the_dev_notifier_logs_the_link() {
    // rule S5 (link handed to the notifier), A2, A3, A5, §7 (dev notifier logs each link)
    let server = DemoServer::start(&[]);
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");

    let sent = alice
        .post(
            &format!("/api/enterprises/{acme}/invitations"),
            &json!({ "contact": "bob@example.com", "role": "dev_admin" }),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let sent = sent.json();
    let link = sent["invite_url"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{}/invite?token=", server.base_url)),
        "{link}"
    );
    // Rule D1: the outbox worker delivers just after the send's commit.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let line = loop {
        let log = server.log();
        if let Some(line) = log.lines().find(|l| l.contains("DEV NOTIFIER (demo only")) {
            break line.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no DEV notifier line:\n{log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(line.contains("bob@example.com") && line.contains(&link), "{line}");

    // Members list of the members page.
    let members = alice.get(&format!("/me/enterprises/{acme}/members")).await.json();
    assert_eq!(members["enterprise"]["name"], "Acme Robotics");
    assert_eq!(members["members"][0]["user"]["name"], "Alice Admin");
    let roles: Vec<_> = members["assignable_roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].clone())
        .collect();
    assert_eq!(
        roles,
        [json!("finance_admin"), json!("dev_admin"), json!("member")]
    ); // rule S4

    let token = token_of(&link);
    let anonymous = Http::new(&server);
    let view = anonymous
        .post("/api/invitations/view", &json!({ "token": token }))
        .await
        .json();
    assert_eq!(view["state"], "invitation_info");
    assert_eq!(view["viewer"], "signed_out");
    assert_eq!(view["invitation"]["contact_masked"], "b***@example.com");

    let mut mallory = Http::new(&server);
    mallory.login("mallory@example.com").await;
    let view = mallory
        .post("/api/invitations/view", &json!({ "token": token }))
        .await
        .json();
    assert_eq!(view["viewer"], "mismatch"); // rule A4
    let refused = mallory
        .post("/api/invitations/accept", &json!({ "token": token }))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.json()["error"]["code"], "account_mismatch");

    let mut bob = Http::new(&server);
    bob.login("bob@example.com").await;
    let accepted = bob
        .post("/api/invitations/accept", &json!({ "token": token }))
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let me = bob.get("/me").await.json();
    assert_eq!(me["memberships"][0]["enterprise_name"], "Acme Robotics"); // rule A5
    assert_eq!(me["memberships"][0]["role"], "dev_admin");
    // Bob is a member but not a super admin: the members list is his, the records are not.
    assert_eq!(
        bob.get(&format!("/me/enterprises/{acme}/members")).await.status,
        StatusCode::OK
    );
    let records = bob.get(&format!("/api/enterprises/{acme}/invitations")).await;
    assert_eq!(records.status, StatusCode::FORBIDDEN); // rule S1
    // Mallory is not a member at all.
    let foreign = mallory.get(&format!("/me/enterprises/{acme}/members")).await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_short_invite_ttl_expires_links_in_seconds() {
    // rules §7: --invite-ttl 2s; rules §1: expired is what a pending invitation past its expiry is
    let server = DemoServer::start(&["--invite-ttl", "2s"]);
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");
    let sent = alice
        .post(
            &format!("/api/enterprises/{acme}/invitations"),
            &json!({ "contact": "+14155550100", "role": "member" }),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let token = token_of(sent.json()["invite_url"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let view = alice
        .post("/api/invitations/view", &json!({ "token": token }))
        .await
        .json();
    assert_eq!(view["state"], "invalid_or_expired");
    let records = alice
        .get(&format!("/api/enterprises/{acme}/invitations"))
        .await
        .json();
    assert_eq!(records["items"][0]["status"], "expired");
}

#[tokio::test]
async fn the_database_is_seeded_once_and_kept_across_restarts() {
    // rules §7: demo data "created when the database is empty"
    let server = DemoServer::start(&[]);
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");
    let sent = alice
        .post(
            &format!("/api/enterprises/{acme}/invitations"),
            &json!({ "contact": "bob@example.com", "role": "member" }),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let dir = server.stop();

    let server = DemoServer::start_in(dir, &[]);
    assert!(
        !server.log().contains("created the demo data"),
        "{}",
        server.log()
    );
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    assert_eq!(enterprise_id(&me, "Acme Robotics"), acme);
    let records = alice
        .get(&format!("/api/enterprises/{acme}/invitations"))
        .await
        .json();
    assert_eq!(records["items"].as_array().unwrap().len(), 1);
}

#[test]
fn a_zero_ttl_is_refused_and_help_names_the_environment_variables() {
    // rules §7: any positive duration; each flag is also an environment variable
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_invite-demo"))
        .args(["--invite-ttl", "0s"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("positive"));

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_invite-demo"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "--bind",
        "INVITE_DEMO_BIND",
        "--database-url",
        "INVITE_DEMO_DATABASE_URL",
        "--invite-ttl",
        "INVITE_DEMO_INVITE_TTL",
        "--base-url",
        "INVITE_DEMO_BASE_URL",
        "--rate-limit-per-minute",
        "INVITE_DEMO_RATE_LIMIT_PER_MINUTE",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[tokio::test]
async fn the_demo_runs_on_postgres_too() {
    // rules §7: `--database-url postgres://…` works too
    use sqlx::Connection as _;
    use std::io::Write as _;
    let Ok(admin_url) = std::env::var("INVITE_TEST_POSTGRES_URL") else {
        let _ = writeln!(
            std::io::stderr(),
            "the_demo_runs_on_postgres_too: NOT RUN; set INVITE_TEST_POSTGRES_URL=postgres://…"
        );
        return;
    };
    // A fresh database of its own, next to the one the URL names (the name is ours, a
    // UUID: safe to splice into SQL).
    let name = format!("invite_demo_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let db_url = if query.is_empty() {
        format!("{prefix}/{name}")
    } else {
        format!("{prefix}/{name}?{query}")
    };

    let server = DemoServer::start_with(tempfile::tempdir().unwrap(), &db_url, &[]);
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");
    let sent = alice
        .post(
            &format!("/api/enterprises/{acme}/invitations"),
            &json!({ "contact": "bob@example.com", "role": "member" }),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let token = token_of(sent.json()["invite_url"].as_str().unwrap());
    let mut bob = Http::new(&server);
    bob.login("bob@example.com").await;
    let accepted = bob
        .post("/api/invitations/accept", &json!({ "token": token }))
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    drop(server);

    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .execute(&mut admin)
        .await;
}
