//! rule X1, X10: the request span names the matched route and the outcome code, never the
//! URI's query or the body; an internal error is logged with its source chain while the
//! client sees nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::Registry;

/// Every span field and event field, as `name=value` lines.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<String>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = writeln!(self.0, "{}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = writeln!(self.0, "{}={value}", field.name());
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        attrs.record(&mut Line(&mut self.0.lock().unwrap()));
    }
    fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
        values.record(&mut Line(&mut self.0.lock().unwrap()));
    }
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        event.record(&mut Line(&mut self.0.lock().unwrap()));
    }
}

impl Capture {
    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn spans_name_the_route_and_outcome_never_the_token() {
    // rule X10, X1
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(Registry::default().with(capture.clone()));
    let app = common::memory().await;
    let sent = app.invite("bob@example.com", "member").await;
    let token = sent.token();
    let uri = format!("{}?cursor={token}", app.acme_invitations());
    app.get(&uri, Some(&app.world.alice))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
    app.post(
        "/invitations/accept",
        Some(&app.world.mallory),
        json!({"token": token}),
    )
    .await
    .error(StatusCode::FORBIDDEN, "account_mismatch");
    let view = app.post("/invitations/view", None, json!({"token": token})).await;
    assert_eq!(view.ok(StatusCode::OK)["state"], "invitation_info");

    let log = capture.text();
    assert!(
        log.contains("route=/enterprises/{enterprise_id}/invitations"),
        "{log}"
    );
    assert!(log.contains("route=/invitations/accept"), "{log}");
    assert!(
        log.contains("code=\"account_mismatch\"") || log.contains("code=account_mismatch"),
        "{log}"
    );
    assert!(log.contains("status=403"), "{log}");
    assert!(log.contains("status=201"), "{log}");
    assert!(!log.contains(&token), "rule X1: a token reached the log:\n{log}");
    assert!(
        !log.contains("cursor="),
        "rule X10: a URI reached the log:\n{log}"
    );
}

#[tokio::test]
async fn internal_errors_are_logged_with_their_cause() {
    // rules §6 internal, STYLE 5: the body says nothing, the log says everything
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(Registry::default().with(capture.clone()));
    let store = Arc::new(common::flaky::FlakyStore::default());
    let app = common::app_with(store.clone(), |api| api).await;
    store.failing.store(true, Ordering::SeqCst);
    let answer = app.get(&app.acme_invitations(), Some(&app.world.alice)).await;
    answer.error(StatusCode::INTERNAL_SERVER_ERROR, "internal");
    assert!(!answer.body.to_string().contains("reset"));
    let log = capture.text();
    assert!(log.contains("connection reset by peer"), "{log}");
    assert!(log.contains("storage backend failed"), "{log}");
}

#[tokio::test]
async fn a_missing_client_address_is_warned_about_once() {
    // rule X6: a request the rate limit cannot key passes unlimited (no shared bucket), and
    // the host learns of it from one warning per router, not one per request.
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(Registry::default().with(capture.clone()));
    let app = common::memory().await;
    for _ in 0..3 {
        let view = app.post("/invitations/view", None, json!({"token": "x"})).await;
        assert_eq!(view.ok(StatusCode::OK)["state"], "invalid_or_expired");
    }
    let log = capture.text();
    let warnings = log.matches("cannot tell this client apart").count();
    assert_eq!(warnings, 1, "{log}");
    assert!(log.contains("into_make_service_with_connect_info"), "{log}");
}
