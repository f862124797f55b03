//! Rule D4 in the logs: no line the worker writes holds a link or a notifier's text. In a
//! test binary of its own, so that its `tracing` subscriber sees every call site.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::TimeDelta;
use invite_core::testing::{ManualClock, MemoryStore, seed};
use invite_core::{
    Delivery, InvitationStore, Invitations, Notifier, NotifyError, OutboxKey, RetryPolicy, SendInvitation,
    WorkerConfig,
};

/// Fails every delivery with a text that quotes the link, as a provider might.
#[derive(Default)]
struct Quoting {
    calls: AtomicUsize,
}

#[async_trait]
impl Notifier for Quoting {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(NotifyError::transient(format!(
            "450 mailbox busy; message was: {}",
            delivery.link.expose_secret()
        )))
    }
}

/// A writer that keeps everything `tracing` writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Captures what `tracing` writes at `level` and above on this thread, without
    /// colours, until the guard drops.
    fn start(level: tracing::Level) -> (Self, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn neither_the_link_nor_the_notifiers_text_reaches_a_log_line_or_an_event() {
    // rule D4
    let (captured, _guard) = Captured::start(tracing::Level::TRACE);
    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.unwrap();
    let clock = ManualClock::default();
    let notifier = Arc::new(Quoting::default());
    let invitations = Invitations::builder(store.clone())
        .clock(Arc::new(clock.clone()))
        .notifier(notifier.clone())
        .outbox(OutboxKey::generate())
        .build();
    let worker = invitations.delivery_worker().unwrap().config(WorkerConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        },
        ..WorkerConfig::default()
    });
    let sent = invitations
        .send(
            &world.alice,
            &world.acme.id,
            SendInvitation::new("bob@example.com", "member"),
        )
        .await
        .unwrap();
    for _ in 0..3 {
        worker.drain_once().await.unwrap();
        clock.advance(TimeDelta::hours(1));
    }
    assert_eq!(notifier.calls.load(Ordering::SeqCst), 3);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("delivery attempt failed"), "{logs}");
    assert!(logs.contains("failed for good"), "{logs}");
    assert!(!logs.contains(sent.link.token()), "a log line holds the token");
    assert!(
        !logs.contains("mailbox busy"),
        "a log line holds the notifier's text"
    );
    let events = format!(
        "{:?}",
        store.events(&world.acme.id, sent.invitation.id).await.unwrap()
    );
    assert!(!events.contains(sent.link.token()) && !events.contains("mailbox"));
}

#[tokio::test]
async fn a_dropped_row_is_logged_with_why_it_was_stale() {
    // rule D2: the operator sees why a link was not delivered (and still no link, D4)
    let (captured, _guard) = Captured::start(tracing::Level::TRACE);
    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.unwrap();
    let invitations = Invitations::builder(store.clone())
        .notifier(Arc::new(Quoting::default()))
        .outbox(OutboxKey::generate())
        .build();
    let worker = invitations.delivery_worker().unwrap();
    let sent = invitations
        .send(
            &world.alice,
            &world.acme.id,
            SendInvitation::new("bob@example.com", "member"),
        )
        .await
        .unwrap();
    invitations
        .revoke(&world.alice, &world.acme.id, sent.invitation.id)
        .await
        .unwrap();
    assert_eq!(worker.drain_once().await.unwrap().dropped, 1);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .find(|line| line.contains("outbox row is stale"))
        .unwrap_or_else(|| panic!("no line about the stale row in {logs}"));
    assert!(line.contains("reason=\"revoked\""), "{line}");
    assert!(line.contains(&sent.invitation.id.to_string()), "{line}");
    assert!(!logs.contains(sent.link.token()), "a log line holds the token");
}

#[tokio::test]
async fn the_default_event_sink_logs_each_committed_change_with_its_kind_and_actor() {
    // rule X5: with no sink of the host's, every event also goes to `tracing` at info,
    // naming the invitation, the enterprise, the kind and the actor (rule X1: no token)
    let (captured, _guard) = Captured::start(tracing::Level::INFO);
    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.unwrap();
    let invitations = Invitations::builder(store.clone()).build();
    let sent = invitations
        .send(
            &world.alice,
            &world.acme.id,
            SendInvitation::new("bob@example.com", "member"),
        )
        .await
        .unwrap();
    invitations.accept(sent.link.token(), &world.bob).await.unwrap();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let events: Vec<&str> = logs.lines().filter(|l| l.contains("invitation event")).collect();
    assert_eq!(events.len(), 2, "{logs}");
    let id = sent.invitation.id.to_string();
    let acme = world.acme.id.to_string();
    for (line, kind, actor) in [
        (events[0], "sent", world.alice.id.to_string()),
        (events[1], "accepted", world.bob.id.to_string()),
    ] {
        assert!(line.contains(&format!("invitation_id={id}")), "{line}");
        assert!(line.contains(&format!("enterprise_id={acme}")), "{line}");
        assert!(line.contains(&format!("kind=\"{kind}\"")), "{line}");
        assert!(line.contains(&actor), "{line}");
        assert!(!line.contains(sent.link.token()), "{line}");
    }
}
