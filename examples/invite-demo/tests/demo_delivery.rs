//! The demo's delivery through the outbox over SMTP (rules S8, D1, D5): the real
//! `invite-demo` binary with `--smtp-url` pointing at a real SMTP server (aiosmtpd, see
//! `invite-notify-lettre/tests/smtp_sink.py`; opt-in with `INVITE_TEST_SMTP=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../../invite-notify-lettre/tests/common/mod.rs"]
mod smtp;

use std::time::{Duration, Instant};

use common::{DemoServer, Http, enterprise_id};
use hyper::StatusCode;
use serde_json::{Value, json};
use smtp::{SmtpSink, smtp_enabled};

/// The invitation `id` as the records table lists it.
async fn record(alice: &Http, acme: &str, id: &str) -> Value {
    let page = alice
        .get(&format!("/api/enterprises/{acme}/invitations"))
        .await
        .json();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .expect("listed")
}

/// Polls the records table until `check` holds for the invitation (or fails after 30 s).
async fn wait_for_record(
    alice: &Http,
    acme: &str,
    id: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = record(alice, acme, id).await;
        if check(&row) {
            return row;
        }
        assert!(Instant::now() < deadline, "{what}: {row}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_the_smtp_server_down_a_send_answers_201_and_the_mail_arrives_once_it_is_back() {
    // rules S8, D1: 201 whatever the mail server does; retried; delivered once
    if !smtp_enabled() {
        return;
    }
    let mut sink = SmtpSink::start();
    sink.stop();
    let url = sink.url();
    let server = DemoServer::start(&["--smtp-url", &url, "--smtp-from", "Acme <invites@acme.example>"]);
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
    let sent = sent.json();
    assert_eq!(sent["delivery"], "queued");
    let id = sent["id"].as_str().unwrap().to_owned();
    let link = sent["invite_url"].as_str().unwrap().to_owned();

    let row = wait_for_record(&alice, &acme, &id, "retrying after the first attempt", |r| {
        r["delivery"] == "retrying"
    })
    .await;
    assert_eq!(row["delivery_attempts"], 1);

    sink.restart();
    let mails = sink.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(mails[0].rcpt_tos, ["bob@example.com"]);
    assert!(mails[0].text.contains(&link), "{}", mails[0].text);
    assert_eq!(mails[0].subject, "Alice Admin invites you to join Acme Robotics");
    let row = wait_for_record(&alice, &acme, &id, "delivered", |r| r["delivery"] == "delivered").await;
    assert_eq!(row["delivery_attempts"], 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "delivered once");
    let log = server.log();
    assert!(
        !log.contains(link.rsplit_once("token=").unwrap().1),
        "a log line holds the token"
    );
}

#[tokio::test]
async fn the_outbox_key_is_created_beside_the_database_with_mode_0600() {
    // rule D4: the demo keeps its key in a file next to its database
    let server = DemoServer::start(&[]);
    let path = server.dir.path().join("demo.sqlite.outbox-key");
    let bytes = std::fs::read(&path).expect("the key file");
    assert_eq!(bytes.len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
