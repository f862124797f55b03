//! The SMTP notifier and the outbox against a real SMTP server process (aiosmtpd, started by
//! the tests on a free port; opt-in with `INVITE_TEST_SMTP=1`), on a real store: SQLite
//! files, and PostgreSQL when `INVITE_TEST_POSTGRES_URL` is set (rules D1–D5).
//!
//! The process cases start this very test binary again as a child (`child_process`, an
//! ignored test that acts only when `INVITE_TEST_CHILD` names its role): one that sends and
//! is killed with SIGKILL before it delivers, and workers that drain the outbox.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use common::{Mail, SmtpSink, smtp_enabled};
use invite_core::testing::{ManualClock, seed};
use invite_core::{
    DeliveryOutbox, DeliveryStatus, DeliveryWorker, EventKind, InvitationStore, Invitations, NotifyErrorKind,
    OutboxKey, OutboxState, RetryPolicy, SendInvitation, WorkerConfig,
};
use invite_notify_lettre::SmtpNotifier;
use invite_store_sqlx::{AnyStore, SqliteStore};

const KEY: [u8; 32] = [42; 32];

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("invite.db").display())
}

fn notifier(url: &str) -> Arc<SmtpNotifier> {
    Arc::new(
        SmtpNotifier::builder(url)
            .from("Acme Invitations <invites@acme.example>")
            .timeout(Duration::from_secs(5))
            .build()
            .expect("notifier"),
    )
}

struct App {
    store: Arc<SqliteStore>,
    world: invite_core::testing::World,
    clock: ManualClock,
    invitations: Invitations,
    worker: DeliveryWorker,
    _dir: tempfile::TempDir,
}

async fn app(smtp_url: &str) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::connect(&sqlite_url(&dir)).await.unwrap());
    store.migrate().await.unwrap();
    let world = seed::demo_accounts(store.clone()).await.unwrap();
    let clock = ManualClock::at(chrono::Utc::now());
    let invitations = Invitations::builder(store.clone())
        .base_url("https://app.acme.example")
        .clock(Arc::new(clock.clone()))
        .notifier(notifier(smtp_url))
        .outbox(OutboxKey::from_bytes(KEY))
        .build();
    let worker = invitations.delivery_worker().unwrap().config(WorkerConfig {
        retry: RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        },
        ..WorkerConfig::default()
    });
    App {
        store,
        world,
        clock,
        invitations,
        worker,
        _dir: dir,
    }
}

impl App {
    async fn send(&self, contact: &str) -> invite_core::SentInvitation {
        self.invitations
            .send(
                &self.world.alice,
                &self.world.acme.id,
                SendInvitation::new(contact, "dev_admin"),
            )
            .await
            .expect("send answers Ok whatever the mail server does")
    }

    async fn delivery(&self, id: invite_core::InvitationId) -> (DeliveryStatus, u32) {
        let stored = self.store.get(&self.world.acme.id, id).await.unwrap().unwrap();
        (stored.delivery, stored.delivery_attempts)
    }
}

fn has_link(mail: &Mail, token: &str) -> bool {
    mail.text.contains(token) && mail.html.contains(token)
}

#[tokio::test]
async fn the_mail_arrives_with_recipient_subject_and_link() {
    // rule D5
    if !smtp_enabled() {
        return;
    }
    let sink = SmtpSink::start();
    let app = app(&sink.url()).await;
    let sent = app.send("Bob@Example.com").await;
    assert_eq!(sent.invitation.delivery, DeliveryStatus::Queued);
    assert_eq!(app.worker.drain_once().await.unwrap().delivered, 1);
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    // rule X8: to the address as entered.
    assert_eq!(mail.rcpt_tos, ["Bob@Example.com"]);
    assert_eq!(mail.subject, "Alice Admin invites you to join Acme Robotics");
    assert!(mail.from.contains("invites@acme.example"), "{}", mail.from);
    assert!(has_link(mail, sent.link.token()));
    assert!(mail.text.contains(sent.link.expose_secret()), "{}", mail.text);
    assert!(mail.text.contains("as Developer admin"), "{}", mail.text);
    let expiry = sent
        .invitation
        .expires_at
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    assert!(mail.text.contains(&expiry) && mail.html.contains(&expiry));
    assert!(
        mail.html.contains("<strong>Acme Robotics</strong>"),
        "{}",
        mail.html
    );
    assert!(mail.message_id.contains("@acme.example"));
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Delivered, 1)
    );
}

#[tokio::test]
async fn with_the_server_down_the_send_succeeds_and_the_mail_arrives_once_when_it_is_back() {
    // rules S8, D1
    if !smtp_enabled() {
        return;
    }
    let mut sink = SmtpSink::start();
    let app = app(&sink.url()).await;
    sink.stop();
    let sent = app.send("bob@example.com").await;
    let report = app.worker.drain_once().await.unwrap();
    assert_eq!(report.retried, 1, "{report:?}");
    assert_eq!(
        app.delivery(sent.invitation.id).await,
        (DeliveryStatus::Retrying, 1)
    );
    // Not due yet: nothing is attempted, even with the server back.
    sink.restart();
    assert_eq!(app.worker.drain_once().await.unwrap().claimed, 0);
    app.clock.advance(TimeDelta::seconds(10));
    assert_eq!(app.worker.drain_once().await.unwrap().delivered, 1);
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert!(has_link(&mails[0], sent.link.token()));
    app.clock.advance(TimeDelta::hours(1));
    assert_eq!(app.worker.drain_once().await.unwrap().claimed, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "delivered once");
    let kinds: Vec<EventKind> = app
        .store
        .events(&app.world.acme.id, sent.invitation.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::Sent, EventKind::DeliveryDeferred, EventKind::Delivered]
    );
}

#[tokio::test]
async fn a_revoke_before_the_retry_means_no_mail() {
    // rule D2
    if !smtp_enabled() {
        return;
    }
    let mut sink = SmtpSink::start();
    let app = app(&sink.url()).await;
    sink.stop();
    let sent = app.send("bob@example.com").await;
    assert_eq!(app.worker.drain_once().await.unwrap().retried, 1);
    app.invitations
        .revoke(&app.world.alice, &app.world.acme.id, sent.invitation.id)
        .await
        .unwrap();
    sink.restart();
    app.clock.advance(TimeDelta::minutes(5));
    let report = app.worker.drain_once().await.unwrap();
    assert_eq!((report.dropped, report.delivered), (1, 0));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_5xx_fails_for_good_and_a_4xx_is_retried() {
    // rule D1: lettre's classification of the server's answer
    if !smtp_enabled() {
        return;
    }
    let sink = SmtpSink::start();
    let app = app(&sink.url()).await;
    let refused = app.send("nobody@reject.example").await;
    let busy = app.send("someone@busy.example").await;
    let report = app.worker.drain_once().await.unwrap();
    assert_eq!((report.failed, report.retried), (1, 1), "{report:?}");
    assert_eq!(
        app.delivery(refused.invitation.id).await,
        (DeliveryStatus::Failed, 1)
    );
    assert_eq!(
        app.delivery(busy.invitation.id).await,
        (DeliveryStatus::Retrying, 1)
    );
    // The failed row's link is erased (rule D4), and the kind recorded, not the text.
    let claimed_later = app
        .store
        .claim_deliveries(app.invitations.now(), Duration::from_secs(1), 10)
        .await
        .unwrap();
    assert!(claimed_later.is_empty());
    let raw: Vec<(Option<Vec<u8>>, Option<String>, String)> =
        sqlx::query_as("SELECT link_sealed, last_error, state FROM invite_rs_outbox ORDER BY state")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[0], (None, Some("permanent".to_owned()), "failed".to_owned()));
    assert_eq!(raw[1].1.as_deref(), Some("transient"));
    assert!(raw[1].0.is_some(), "a retried row keeps its (sealed) link");
    assert!(sink.messages().is_empty());
    let _ = NotifyErrorKind::Permanent;
}

// ---- processes ---------------------------------------------------------------------------

const CHILD_ENV: &str = "INVITE_TEST_CHILD";

/// Not a test: the child process of the process cases. Does nothing unless
/// `INVITE_TEST_CHILD` names a role (`send`, `drain`).
#[test]
#[ignore = "a child process of the SMTP process tests, started by them"]
fn child_process() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let db = std::env::var("INVITE_TEST_CHILD_DB").unwrap();
        let store = Arc::new(AnyStore::connect(&db).await.unwrap());
        store.migrate().await.unwrap();
        let smtp = std::env::var("INVITE_TEST_CHILD_SMTP").unwrap();
        let invitations = Invitations::builder(store.clone())
            .base_url("https://app.acme.example")
            .notifier(notifier(&smtp))
            .outbox(OutboxKey::from_bytes(KEY))
            .build();
        match role.as_str() {
            "send" => {
                let world = seed::demo_accounts(store.clone()).await.unwrap();
                let sent = invitations
                    .send(
                        &world.alice,
                        &world.acme.id,
                        SendInvitation::new("bob@example.com", "member"),
                    )
                    .await
                    .unwrap();
                // Committed; now wait to be killed, never delivering.
                println!("COMMITTED {} {}", sent.invitation.id, sent.link.token());
                loop {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            }
            "drain" => {
                let worker = invitations.delivery_worker().unwrap();
                println!("READY");
                let go = std::path::PathBuf::from(std::env::var("INVITE_TEST_CHILD_GO").unwrap());
                while !go.exists() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let mut delivered = 0;
                loop {
                    let report = worker.drain_once().await.unwrap();
                    eprintln!("child {}: {report:?}", std::process::id());
                    assert_eq!(report.retried + report.failed + report.lost, 0, "{report:?}");
                    delivered += report.delivered;
                    if report.claimed == 0 {
                        break;
                    }
                }
                println!("DELIVERED {delivered}");
            }
            other => panic!("unknown child role {other}"),
        }
    });
}

fn child(role: &str, db: &str, smtp: &str, go: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_process", "--exact", "--ignored", "--nocapture", "--quiet"])
        .env(CHILD_ENV, role)
        .env("INVITE_TEST_CHILD_DB", db)
        .env("INVITE_TEST_CHILD_SMTP", smtp)
        .env("INVITE_TEST_CHILD_GO", go)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The first line of `child`'s output that starts with `prefix`, without it.
fn line_of(child: &mut std::process::Child, prefix: &str) -> (String, BufReader<std::process::ChildStdout>) {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended before {prefix}"
        );
        if let Some(rest) = line.trim().strip_prefix(prefix) {
            return (rest.trim().to_owned(), out);
        }
    }
}

/// Reads the child's output to its end (so it can write its last lines) and returns what
/// follows `prefix` on the line that starts with it.
fn rest_of(out: BufReader<std::process::ChildStdout>, prefix: &str) -> String {
    let mut found = None;
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix(prefix) {
            found.get_or_insert_with(|| rest.trim().to_owned());
        }
    }
    found.unwrap_or_else(|| panic!("the child ended before {prefix}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_between_commit_and_delivery_is_followed_by_delivery_after_restart() {
    // rules D1, D3, X7: kill -9 after the commit, a new process delivers (at least once)
    if !smtp_enabled() {
        return;
    }
    let sink = SmtpSink::start();
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_url(&dir);
    let go = dir.path().join("go");
    let mut sender = child("send", &db, &sink.url(), &go);
    let (committed, _out) = line_of(&mut sender, "COMMITTED");
    sender.kill().unwrap(); // SIGKILL
    sender.wait().unwrap();
    let (id, token) = committed.split_once(' ').unwrap();
    let store = SqliteStore::connect(&db).await.unwrap();
    let queued: (String, String) = sqlx::query_as(
        "SELECT i.delivery, o.state FROM invite_rs_invitations i JOIN invite_rs_outbox o ON o.invitation_id = i.id",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        queued,
        ("queued".to_owned(), "queued".to_owned()),
        "invitation {id}"
    );
    assert!(sink.messages().is_empty());

    std::fs::write(&go, b"").unwrap();
    let mut worker = child("drain", &db, &sink.url(), &go);
    let (_, out) = line_of(&mut worker, "READY");
    assert_eq!(rest_of(out, "DELIVERED"), "1");
    assert!(worker.wait().unwrap().success());
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    assert!(has_link(&mails[0], token));
    let state: String = sqlx::query_scalar("SELECT state FROM invite_rs_outbox")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(state, OutboxState::Delivered.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_on_postgres_deliver_200_queued_mails_exactly_once() {
    // rule D3: FOR UPDATE SKIP LOCKED shares the work
    if !smtp_enabled() {
        return;
    }
    let Some(db) = pg_database().await else {
        return;
    };
    let sink = SmtpSink::start();
    let store = Arc::new(AnyStore::connect(&db).await.unwrap());
    store.migrate().await.unwrap();
    let world = seed::demo_accounts(store.clone()).await.unwrap();
    let invitations = Invitations::builder(store.clone())
        .base_url("https://app.acme.example")
        .outbox(OutboxKey::from_bytes(KEY))
        .build();
    let mut tokens = std::collections::BTreeSet::new();
    for i in 0..200 {
        let sent = invitations
            .send(
                &world.alice,
                &world.acme.id,
                SendInvitation::new(format!("user{i}@example.com"), "member"),
            )
            .await
            .unwrap();
        tokens.insert(sent.link.token().to_owned());
    }
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let mut workers: Vec<_> = (0..2).map(|_| child("drain", &db, &sink.url(), &go)).collect();
    let outs: Vec<_> = workers.iter_mut().map(|w| line_of(w, "READY").1).collect();
    std::fs::write(&go, b"").unwrap();
    let counts: Vec<usize> = outs
        .into_iter()
        .map(|out| rest_of(out, "DELIVERED").parse().unwrap())
        .collect();
    for worker in &mut workers {
        assert!(worker.wait().unwrap().success());
    }
    assert_eq!(counts.iter().sum::<usize>(), 200, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "both processes took work: {counts:?}"
    );
    let mails = sink.wait_for(200, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mails = if sink.messages().len() > mails.len() {
        sink.messages()
    } else {
        mails
    };
    assert_eq!(mails.len(), 200, "each delivered exactly once");
    let delivered: std::collections::BTreeSet<String> = mails
        .iter()
        .map(|m| {
            let token = tokens
                .iter()
                .find(|t| m.text.contains(t.as_str()))
                .expect("a link we sent");
            token.clone()
        })
        .collect();
    assert_eq!(delivered, tokens);
    let ids: std::collections::BTreeSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 200);
    eprintln!("two worker processes delivered {counts:?}");
}

/// A fresh database on the server named by `INVITE_TEST_POSTGRES_URL`, or `None`.
async fn pg_database() -> Option<String> {
    use sqlx::Connection as _;
    let Ok(url) = std::env::var("INVITE_TEST_POSTGRES_URL") else {
        eprintln!(
            "invite-notify-lettre: INVITE_TEST_POSTGRES_URL is not set: the PostgreSQL worker test was NOT run"
        );
        return None;
    };
    let mut admin = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|err| panic!("INVITE_TEST_POSTGRES_URL is set but unreachable: {err}"));
    let name = format!(
        "invite_test_{}_{}",
        chrono::Utc::now().timestamp(),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}
