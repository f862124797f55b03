//! Rules §1, "one instant": every status one request shows is derived at one instant. The
//! clock of these apps moves by a millisecond at every read, so a handler that reads it
//! twice shows it (the review's defect 10: a `status=pending` page held rows labelled
//! `expired`, filtered at one read and labelled at the next).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use common::App;

crate::every_backend!(a_pending_page_never_labels_a_row_expired);

/// Alice's invitation to Bob, and the instant it expires.
async fn invitation_to_bob(app: &App) -> (String, DateTime<Utc>) {
    let sent = app.invite("bob@example.com", "member").await;
    let invitation = &sent.body;
    let id = invitation["id"].as_str().unwrap().to_owned();
    let expires_at = invitation["expires_at"].as_str().unwrap().parse().unwrap();
    (id, expires_at)
}

async fn a_pending_page_never_labels_a_row_expired(app: App) {
    let (id, expires_at) = invitation_to_bob(&app).await;
    // The next read falls half a millisecond before the expiry, the one after it half a
    // millisecond after.
    app.clock.set(expires_at - TimeDelta::microseconds(500));
    app.clock.tick(TimeDelta::milliseconds(1));
    let uri = format!("{}?status=pending", app.acme_invitations());
    let page = app.get(&uri, Some(&app.world.alice)).await;
    let items = page.ok(StatusCode::OK)["items"].as_array().unwrap().clone();
    let bob = items.iter().find(|item| item["id"] == id.as_str());
    assert!(bob.is_some(), "the row chosen at the first read: {items:?}");
    for item in &items {
        assert_eq!(item["status"], "pending", "a pending page shows {item}");
    }
}
