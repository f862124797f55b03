//! The HTTP contract of rules §6, in process (`tower::ServiceExt::oneshot`), against the
//! in-memory store and SQLite: every success row of the route table and every row of the
//! error table, each reached by a request that really produces it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, TimeDelta};
use common::{App, BASE_URL, int_key};
use invite_axum::{Identify, RateLimit};
use invite_core::testing::MemoryStore;
use invite_core::{Invitations, KeyKind, Role, User};
use serde_json::json;
use uuid::Uuid;

/// Runs each case against every backend.
macro_rules! every_backend {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $case() { super::$case(super::common::memory().await).await })*
        }
        mod sqlite {
            $(#[tokio::test] async fn $case() { super::$case(super::common::sqlite().await).await })*
        }
        /// rule H3: the same contract for a host whose enterprises and users have integer keys.
        mod memory_int_keys {
            $(#[tokio::test] async fn $case() { super::$case(super::common::memory_int_keys().await).await })*
        }
    };
}

every_backend!(
    create_answers_201_with_link_once,
    list_pages_newest_first_with_derived_status,
    revoke_then_not_pending,
    resend_issues_new_link_and_kills_old,
    view_states_and_viewers,
    accept_makes_member_then_already_accepted,
    reject_then_already_rejected,
    wrong_account_is_account_mismatch,
    accept_when_already_member,
    signed_out_is_not_authenticated_except_view,
    tenant_isolation,
    uncertified_enterprise,
    contact_and_role_errors,
    duplicates_and_members,
    expired_links_are_gone,
    malformed_requests_are_invalid_request,
    unknown_routes_are_not_found,
    invite_url_ignores_host_header,
    wrong_method_is_method_not_allowed,
    posts_that_are_not_json_are_unsupported_media_type,
    expires_in_seconds_takes_whole_numbers_in_any_spelling,
);

fn is_rfc3339_utc(value: &serde_json::Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.ends_with('Z') && DateTime::parse_from_rfc3339(s).is_ok())
}

async fn create_answers_201_with_link_once(app: App) {
    // rules §6 create row, S5, X2
    let answer = app.invite("  Bob@Example.com ", "dev_admin").await;
    answer.no_store();
    let body = answer.ok(StatusCode::CREATED);
    // rule H7: ids in their natural JSON form (a number for an integer key).
    assert_eq!(body["enterprise_id"], json!(app.world.acme.id));
    assert_eq!(body["contact"], "Bob@Example.com", "as entered, trimmed");
    assert_eq!(body["contact_kind"], "email");
    assert_eq!(body["role"], "dev_admin");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["invited_by"]["user_id"], json!(app.world.alice.id));
    assert_eq!(body["invited_by"]["name"], "Alice Admin");
    assert_eq!(body["delivery"], "delivered");
    assert!(body["responded_at"].is_null());
    for field in ["sent_at", "expires_at", "last_sent_at"] {
        assert!(is_rfc3339_utc(&body[field]), "{field}: {body}");
    }
    assert!(Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    let url = body["invite_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{BASE_URL}/invite?token=")), "{url}");
    // rules §6: never a token or digest besides invite_url.
    let text = body.to_string();
    assert!(!text.contains("digest"));
    assert_eq!(text.matches(&answer.token()).count(), 1);
    assert_eq!(app.notifier.last_token(), Some(answer.token()));

    // Phone contacts, and a custom expiry (rule S3, S6).
    let carol = app
        .post(
            &app.acme_invitations(),
            Some(&app.world.alice),
            json!({"contact": "+1 (415) 555-0100", "role": "member", "expires_in_seconds": 3600}),
        )
        .await;
    let body = carol.ok(StatusCode::CREATED);
    assert_eq!(body["contact_kind"], "phone");
    assert_eq!(body["contact"], "+1 (415) 555-0100");
    let sent = DateTime::parse_from_rfc3339(body["sent_at"].as_str().unwrap()).unwrap();
    let expires = DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - sent, TimeDelta::hours(1));
}

async fn list_pages_newest_first_with_derived_status(app: App) {
    // rules §6 list row, R1, §1 (derived expired)
    let bob = app.invite("bob@example.com", "member").await;
    app.clock.advance(TimeDelta::seconds(1));
    app.invite("mallory@example.com", "finance_admin").await;
    app.clock.advance(TimeDelta::seconds(1));
    app.invite("+14155550100", "dev_admin").await;

    let uri = app.acme_invitations();
    let all = app.get(&uri, Some(&app.world.alice)).await;
    let body = all.ok(StatusCode::OK);
    let contacts: Vec<_> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["contact"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        contacts,
        ["+14155550100", "mallory@example.com", "bob@example.com"]
    );
    assert!(body["next_cursor"].is_null());
    assert!(
        !body.to_string().contains("invite_url"),
        "rule S5: the link is never listed"
    );

    // Keyset pages of one.
    let first = app.get(&format!("{uri}?limit=1"), Some(&app.world.alice)).await;
    let first = first.ok(StatusCode::OK).clone();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("{uri}?limit=1&cursor={cursor}"), Some(&app.world.alice))
        .await;
    assert_eq!(
        second.ok(StatusCode::OK)["items"][0]["contact"],
        "mallory@example.com"
    );

    // Every status of the document's enum and every limit within its bounds is accepted
    // (the document says exactly what the server takes).
    for status in ["pending", "accepted", "rejected", "expired", "revoked"] {
        app.get(&format!("{uri}?status={status}"), Some(&app.world.alice))
            .await
            .ok(StatusCode::OK);
    }
    for limit in [1, 100] {
        app.get(&format!("{uri}?limit={limit}"), Some(&app.world.alice))
            .await
            .ok(StatusCode::OK);
    }

    // Revoke Bob's; filter by status.
    let id = bob.body["id"].as_str().unwrap();
    app.post(&format!("{uri}/{id}/revoke"), Some(&app.world.alice), json!({}))
        .await
        .ok(StatusCode::OK);
    let revoked = app
        .get(&format!("{uri}?status=revoked"), Some(&app.world.alice))
        .await;
    let items = revoked.ok(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);

    // rules §1: past expiry, a stored `pending` reads `expired`, in rows and in the filter.
    app.clock.advance(TimeDelta::days(8));
    let expired = app
        .get(&format!("{uri}?status=expired"), Some(&app.world.alice))
        .await;
    let items = expired.ok(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["status"] == "expired"));
    let pending = app
        .get(&format!("{uri}?status=pending"), Some(&app.world.alice))
        .await;
    assert_eq!(pending.ok(StatusCode::OK)["items"].as_array().unwrap().len(), 0);
}

async fn revoke_then_not_pending(app: App) {
    // rules §6 revoke row, R2
    let sent = app.invite("bob@example.com", "member").await;
    let token = sent.token();
    let uri = format!(
        "{}/{}/revoke",
        app.acme_invitations(),
        sent.body["id"].as_str().unwrap()
    );
    let revoked = app.post(&uri, Some(&app.world.alice), json!({})).await;
    assert_eq!(revoked.ok(StatusCode::OK)["status"], "revoked");
    assert!(revoked.body.get("invite_url").is_none());
    // The link is invalid at once (rule R2, A1).
    app.post(
        "/invitations/accept",
        Some(&app.world.bob),
        json!({"token": token}),
    )
    .await
    .error(StatusCode::GONE, "invalid_or_expired");
    // rules' error table: invitation_not_pending 409.
    app.post(&uri, Some(&app.world.alice), json!({}))
        .await
        .error(StatusCode::CONFLICT, "invitation_not_pending");
    // rules §6: revoke takes `{}` as JSON; without a body it is refused before anything
    // else is looked at.
    app.call(Method::POST, &uri, Some(&app.world.alice), None)
        .await
        .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

async fn resend_issues_new_link_and_kills_old(app: App) {
    // rules §6 resend row, R3, X2
    let sent = app.invite("bob@example.com", "member").await;
    let old = sent.token();
    let uri = format!(
        "{}/{}/resend",
        app.acme_invitations(),
        sent.body["id"].as_str().unwrap()
    );
    app.clock.advance(TimeDelta::days(8)); // expired invitations can be resent too
    let resent = app.post(&uri, Some(&app.world.alice), json!({})).await;
    resent.no_store();
    let body = resent.ok(StatusCode::OK);
    assert_eq!(body["status"], "pending");
    assert_ne!(body["last_sent_at"], body["sent_at"]);
    let new = resent.token();
    assert_ne!(new, old);
    let view_old = app.post("/invitations/view", None, json!({"token": old})).await;
    assert_eq!(view_old.ok(StatusCode::OK)["state"], "invalid_or_expired");
    let view_new = app.post("/invitations/view", None, json!({"token": new})).await;
    assert_eq!(view_new.ok(StatusCode::OK)["state"], "invitation_info");
    // Accepted invitations cannot be resent.
    app.post("/invitations/accept", Some(&app.world.bob), json!({"token": new}))
        .await
        .ok(StatusCode::OK);
    app.post(&uri, Some(&app.world.alice), json!({}))
        .await
        .error(StatusCode::CONFLICT, "invitation_not_pending");
}

async fn view_states_and_viewers(app: App) {
    // rules §6 view row, A1–A4, A9, X2
    let token = app.invite("bob@example.com", "dev_admin").await.token();
    let signed_out = app.post("/invitations/view", None, json!({"token": token})).await;
    signed_out.no_store();
    let body = signed_out.ok(StatusCode::OK);
    assert_eq!(body["state"], "invitation_info");
    assert_eq!(body["viewer"], "signed_out");
    assert_eq!(body["invitation"]["enterprise_name"], "Acme Robotics");
    assert_eq!(body["invitation"]["inviter_name"], "Alice Admin");
    assert_eq!(body["invitation"]["role"], "dev_admin");
    assert_eq!(body["invitation"]["contact_masked"], "b***@example.com");
    assert!(is_rfc3339_utc(&body["invitation"]["expires_at"]));

    let matching = app
        .post("/invitations/view", Some(&app.world.bob), json!({"token": token}))
        .await;
    assert_eq!(matching.ok(StatusCode::OK)["viewer"], "matching");
    let mismatch = app
        .post(
            "/invitations/view",
            Some(&app.world.mallory),
            json!({"token": token}),
        )
        .await;
    assert_eq!(mismatch.ok(StatusCode::OK)["viewer"], "mismatch");

    // An unknown token is a state, not an error, and has no details (rule A1).
    let unknown = app
        .post("/invitations/view", None, json!({"token": "nope"}))
        .await;
    let body = unknown.ok(StatusCode::OK);
    assert_eq!(body["state"], "invalid_or_expired");
    assert!(body.get("invitation").is_none());
    unknown.no_store();

    // Viewing changed nothing (rule A9); after accepting, the state is `accepted`.
    app.post(
        "/invitations/accept",
        Some(&app.world.bob),
        json!({"token": token}),
    )
    .await
    .ok(StatusCode::OK);
    let after = app.post("/invitations/view", None, json!({"token": token})).await;
    assert_eq!(after.ok(StatusCode::OK)["state"], "accepted");

    let rejected = app.invite("mallory@example.com", "member").await.token();
    app.post(
        "/invitations/reject",
        Some(&app.world.mallory),
        json!({"token": rejected}),
    )
    .await
    .ok(StatusCode::OK);
    let after = app
        .post("/invitations/view", None, json!({"token": rejected}))
        .await;
    assert_eq!(after.ok(StatusCode::OK)["state"], "rejected");
}

async fn accept_makes_member_then_already_accepted(app: App) {
    // rules §6 accept row, A5, A6, X2
    let token = app.invite("BOB@example.com", "finance_admin").await.token();
    let accepted = app
        .post(
            "/invitations/accept",
            Some(&app.world.bob),
            json!({"token": token}),
        )
        .await;
    accepted.no_store();
    let body = accepted.ok(StatusCode::OK);
    assert_eq!(body["enterprise_id"], json!(app.world.acme.id)); // rule H7
    assert_eq!(body["enterprise_name"], "Acme Robotics");
    assert_eq!(body["role"], "finance_admin");
    assert_eq!(body["invitation"]["status"], "accepted");
    assert!(is_rfc3339_utc(&body["invitation"]["responded_at"]));
    let role = app
        .invitations
        .directory()
        .role_of(&app.world.acme.id, &app.world.bob.id)
        .await
        .unwrap();
    assert_eq!(role, Some(Role::FinanceAdmin));
    // rules' error table: already_accepted 409.
    let again = app
        .post(
            "/invitations/accept",
            Some(&app.world.bob),
            json!({"token": token}),
        )
        .await;
    again.error(StatusCode::CONFLICT, "already_accepted");
    again.no_store();
    app.post(
        "/invitations/reject",
        Some(&app.world.bob),
        json!({"token": token}),
    )
    .await
    .error(StatusCode::CONFLICT, "already_accepted");
}

async fn reject_then_already_rejected(app: App) {
    // rules §6 reject row, A7, A6
    let token = app.invite("bob@example.com", "member").await.token();
    let rejected = app
        .post(
            "/invitations/reject",
            Some(&app.world.bob),
            json!({"token": token}),
        )
        .await;
    rejected.no_store();
    assert_eq!(rejected.ok(StatusCode::OK)["invitation"]["status"], "rejected");
    let role = app
        .invitations
        .directory()
        .role_of(&app.world.acme.id, &app.world.bob.id)
        .await
        .unwrap();
    assert_eq!(role, None, "rule A7: no membership");
    // rules' error table: already_rejected 409.
    app.post(
        "/invitations/accept",
        Some(&app.world.bob),
        json!({"token": token}),
    )
    .await
    .error(StatusCode::CONFLICT, "already_rejected");
}

async fn wrong_account_is_account_mismatch(app: App) {
    // rule A4, error table: account_mismatch 403
    let token = app.invite("bob@example.com", "member").await.token();
    for route in ["/invitations/accept", "/invitations/reject"] {
        app.post(route, Some(&app.world.mallory), json!({"token": token}))
            .await
            .error(StatusCode::FORBIDDEN, "account_mismatch");
    }
    // rule A9: the invitation is still pending for Bob.
    app.post(
        "/invitations/accept",
        Some(&app.world.bob),
        json!({"token": token}),
    )
    .await
    .ok(StatusCode::OK);
}

async fn accept_when_already_member(app: App) {
    // rule A8, error table: already_member 409 on accept
    let token = app.invite("bob@example.com", "member").await.token();
    app.accounts
        .add_member(&app.world.acme.id, &app.world.bob.id, Role::DevAdmin)
        .await
        .unwrap();
    app.post(
        "/invitations/accept",
        Some(&app.world.bob),
        json!({"token": token}),
    )
    .await
    .error(StatusCode::CONFLICT, "already_member");
    let role = app
        .invitations
        .directory()
        .role_of(&app.world.acme.id, &app.world.bob.id)
        .await
        .unwrap();
    assert_eq!(role, Some(Role::DevAdmin), "rule A8: role unchanged");
}

async fn signed_out_is_not_authenticated_except_view(app: App) {
    // rules §6 "who", error table: not_authenticated 401; A2
    let sent = app.invite("bob@example.com", "member").await;
    let token = sent.token();
    let id = sent.body["id"].as_str().unwrap();
    let list = app.acme_invitations();
    app.post(
        &list,
        None,
        json!({"contact": "carol@example.com", "role": "member"}),
    )
    .await
    .error(StatusCode::UNAUTHORIZED, "not_authenticated");
    app.get(&list, None)
        .await
        .error(StatusCode::UNAUTHORIZED, "not_authenticated");
    for action in ["revoke", "resend"] {
        app.post(&format!("{list}/{id}/{action}"), None, json!({}))
            .await
            .error(StatusCode::UNAUTHORIZED, "not_authenticated");
    }
    for route in ["/invitations/accept", "/invitations/reject"] {
        app.post(route, None, json!({"token": token}))
            .await
            .error(StatusCode::UNAUTHORIZED, "not_authenticated");
    }
    // An unknown session is signed out too.
    let stranger = invite_core::testing::seed::user("Stranger", "stranger@example.com").unwrap();
    app.post("/invitations/accept", Some(&stranger), json!({"token": token}))
        .await
        .error(StatusCode::UNAUTHORIZED, "not_authenticated");
    let view = app.post("/invitations/view", None, json!({"token": token})).await;
    assert_eq!(view.ok(StatusCode::OK)["viewer"], "signed_out");
}

async fn tenant_isolation(app: App) {
    // rule X3, S1: Grace (super admin of Globex) has no power over Acme.
    let sent = app.invite("bob@example.com", "member").await;
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let acme = app.acme_invitations();
    let grace = Some(&app.world.grace);
    app.get(&acme, grace)
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.post(
        &acme,
        grace,
        json!({"contact": "carol@example.com", "role": "member"}),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    for action in ["revoke", "resend"] {
        app.post(&format!("{acme}/{id}/{action}"), grace, json!({}))
            .await
            .error(StatusCode::FORBIDDEN, "forbidden");
        // rule X3: Acme's invitation id under Globex's path is not_found.
        let globex = format!("/enterprises/{}/invitations/{id}/{action}", app.world.globex.id);
        app.post(&globex, grace, json!({}))
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    // Globex's records never show Acme's invitation.
    let globex_list = format!("/enterprises/{}/invitations", app.world.globex.id);
    let page = app.get(&globex_list, grace).await;
    assert_eq!(page.ok(StatusCode::OK)["items"], json!([]));
    // A user with no membership, and a member who is not super admin, are forbidden.
    app.get(&acme, Some(&app.world.bob))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.accounts
        .add_member(&app.world.acme.id, &app.world.carol.id, Role::DevAdmin)
        .await
        .unwrap();
    app.get(&acme, Some(&app.world.carol))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    // An unknown (well-formed) enterprise is forbidden, not a leak of which ids exist
    // (rule S1 decision; rule H3: well-formed means a key of the host's kind).
    app.get(
        &format!("/enterprises/{}/invitations", app.unknown_enterprise()),
        Some(&app.world.alice),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    // An unknown invitation id of Acme is not_found.
    app.post(
        &format!("{acme}/{}/revoke", Uuid::new_v4()),
        Some(&app.world.alice),
        json!({}),
    )
    .await
    .error(StatusCode::NOT_FOUND, "not_found");
}

async fn uncertified_enterprise(app: App) {
    // rule S2, error table: enterprise_not_certified 403
    let uri = format!("/enterprises/{}/invitations", app.world.unverified.id);
    app.post(
        &uri,
        Some(&app.world.uma),
        json!({"contact": "bob@example.com", "role": "member"}),
    )
    .await
    .error(StatusCode::FORBIDDEN, "enterprise_not_certified");
    let page = app.get(&uri, Some(&app.world.uma)).await;
    assert_eq!(
        page.ok(StatusCode::OK)["items"],
        json!([]),
        "rule S2: nothing written"
    );
    assert!(app.notifier.deliveries().is_empty(), "rule S2: nothing sent");
}

async fn contact_and_role_errors(app: App) {
    // rule S3, S4, X8, error table: invalid_contact and role_not_assignable 422
    let uri = app.acme_invitations();
    let alice = Some(&app.world.alice);
    for contact in [
        "not-an-email@",
        "bob@@example.com",
        "4155550100",
        "ıan@example.com",
        "",
    ] {
        app.post(&uri, alice, json!({"contact": contact, "role": "member"}))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_contact");
    }
    for role in ["super_admin", "owner", ""] {
        app.post(&uri, alice, json!({"contact": "bob@example.com", "role": role}))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, "role_not_assignable");
    }
}

async fn duplicates_and_members(app: App) {
    // rule S7, error table: duplicate_pending and already_member 409
    app.invite("bob@example.com", "member").await;
    let uri = app.acme_invitations();
    let alice = Some(&app.world.alice);
    app.post(
        &uri,
        alice,
        json!({"contact": "BOB@EXAMPLE.COM", "role": "dev_admin"}),
    )
    .await
    .error(StatusCode::CONFLICT, "duplicate_pending");
    app.post(
        &uri,
        alice,
        json!({"contact": "alice@example.com", "role": "member"}),
    )
    .await
    .error(StatusCode::CONFLICT, "already_member");
}

async fn expired_links_are_gone(app: App) {
    // rules §1, A1, error table: invalid_or_expired 410
    let token = app.invite("bob@example.com", "member").await.token();
    app.clock.advance(TimeDelta::days(7));
    let view = app
        .post("/invitations/view", Some(&app.world.bob), json!({"token": token}))
        .await;
    assert_eq!(view.ok(StatusCode::OK)["state"], "invalid_or_expired");
    for route in ["/invitations/accept", "/invitations/reject"] {
        app.post(route, Some(&app.world.bob), json!({"token": token}))
            .await
            .error(StatusCode::GONE, "invalid_or_expired");
    }
    // Unknown and malformed tokens are the same state (rule A1).
    for bad in ["", "x", &"A".repeat(43), &"é".repeat(500)] {
        app.post("/invitations/accept", Some(&app.world.bob), json!({"token": bad}))
            .await
            .error(StatusCode::GONE, "invalid_or_expired");
    }
}

async fn malformed_requests_are_invalid_request(app: App) {
    // rule X4, X8, X9, error table: invalid_request 400
    let uri = app.acme_invitations();
    let alice = &app.world.alice;
    let raw = |method: Method, uri: &str, content_type: Option<&str>, body: &str| {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("x-user-id", alice.id.to_string());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.body(Body::from(body.to_owned())).unwrap()
    };
    let json_ct = Some("application/json");
    let bodies = [
        (json_ct, "{"),                                   // bad JSON
        (json_ct, ""),                                    // empty
        (json_ct, r#"{"contact": 5, "role": "member"}"#), // wrong type
        (json_ct, r#"{"role": "member"}"#),               // missing field
        (
            json_ct,
            r#"{"contact": "b@example.com", "role": "member", "status": "accepted"}"#,
        ), // X9
        (
            json_ct,
            r#"{"contact": ["b@example.com", "c@example.com"], "role": "member"}"#,
        ), // X8 array
        (
            json_ct,
            r#"{"contact": "b@example.com", "role": "member", "expires_in_seconds": -1}"#,
        ),
        (
            json_ct,
            r#"{"contact": "b@example.com", "role": "member", "expires_in_seconds": 1}"#,
        ), // S6 bounds
        (
            json_ct,
            r#"{"contact": "b@example.com", "role": "member", "expires_in_seconds": 99999999999}"#,
        ),
        (json_ct, "[]"),
        (json_ct, "null"),
        (json_ct, r#"["b@example.com", "member"]"#), // an array is no object
        (
            json_ct,
            r#"{"contact": "b@example.com", "role": "member", "role": "dev_admin"}"#,
        ), // a field twice
        (
            json_ct,
            r#"{"contact": "b@example.com", "role": "member", "expires_in_seconds": 3600.5}"#,
        ), // not whole seconds
        (
            json_ct,
            r#"{"contact": "b@example.com", "role": "member", "expires_in_seconds": "3600"}"#,
        ),
        (
            json_ct,
            r#"{"contact": "b@example.com", "role": "member", "expires_in_seconds": 1e30}"#,
        ),
    ];
    for (content_type, body) in bodies {
        app.raw(raw(Method::POST, &uri, content_type, body))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    // Too large a body.
    let huge = format!(
        r#"{{"contact": "{}@example.com", "role": "member"}}"#,
        "a".repeat(100_000)
    );
    app.raw(raw(Method::POST, &uri, json_ct, &huge))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
    // Token bodies.
    for body in [
        r#"{"token": 1}"#,
        r#"{"tok": "x"}"#,
        r#"{"token": "x", "extra": 1}"#,
        "{}",
        r#"["x"]"#,
        "",
    ] {
        for route in ["/invitations/view", "/invitations/accept", "/invitations/reject"] {
            app.raw(raw(Method::POST, route, json_ct, body))
                .await
                .error(StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
    // Bad path ids: an enterprise segment that is not a key of the host's kind (rule H3:
    // `invalid_request`; this holds for the UUID and the integer hosts alike) and
    // invitation ids that are not UUIDs.
    for path in [
        "/enterprises/not-a-uuid/invitations".to_owned(),
        format!("/enterprises/not-a-uuid/invitations/{}/revoke", Uuid::new_v4()),
        format!("{uri}/42/revoke"),
        format!("{uri}/{}x/resend", Uuid::new_v4()),
    ] {
        let method = if path.ends_with("invitations") {
            Method::GET
        } else {
            Method::POST
        };
        app.raw(raw(method, &path, json_ct, "{}"))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    // Bad query strings; an unknown status filter value (rule R1).
    for query in [
        "status=bogus",
        "limit=abc",
        "limit=0",
        "limit=101",
        "limit=-1",
        "cursor=%%%",
        "cursor=bm90LWEtY3Vyc29y",
        "unknown=1",
        "status=pending&status=revoked",
        // A parameter that is present holds a value (the document's enum and bounds).
        "status=",
        "limit=",
        "cursor=",
        "limit=1.5",
        "status=PENDING",
    ] {
        app.get(&format!("{uri}?{query}"), Some(alice))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_request");
    }
}

async fn unknown_routes_are_not_found(app: App) {
    // rules §6: unknown routes inside the router are not_found JSON (a known path with
    // another method is method_not_allowed: see wrong_method_is_method_not_allowed)
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/nope"),
        (Method::POST, "/enterprises"),
        (Method::DELETE, "/invitations"),
        (Method::GET, "/invitations/view/extra"),
        (Method::POST, "/openapi.json/x"),
    ] {
        app.call(method, path, Some(&app.world.alice), None)
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
    }
    // Nested under a prefix, as a host mounts it.
    let host = axum::Router::new().nest("/api", app.router.clone());
    let nested = App {
        router: host,
        world: app.world.clone(),
        clock: app.clock.clone(),
        notifier: app.notifier.clone(),
        invitations: app.invitations.clone(),
        accounts: app.accounts.clone(),
    };
    nested
        .get("/api/nope", None)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    let view = nested
        .post("/api/invitations/view", None, json!({"token": "x"}))
        .await;
    assert_eq!(view.ok(StatusCode::OK)["state"], "invalid_or_expired");
}

async fn wrong_method_is_method_not_allowed(app: App) {
    // rules §6: a known path called with another method is 405 method_not_allowed with an
    // `Allow` header naming the methods it serves (HEAD comes with GET); unknown paths
    // stay 404 (unknown_routes_are_not_found).
    let sent = app.invite("bob@example.com", "member").await;
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let list = app.acme_invitations();
    let revoke = format!("{list}/{id}/revoke");
    let resend = format!("{list}/{id}/resend");
    let cases = [
        (Method::DELETE, list.as_str(), "GET,HEAD,POST"),
        (Method::PUT, list.as_str(), "GET,HEAD,POST"),
        (Method::GET, revoke.as_str(), "POST"),
        (Method::DELETE, revoke.as_str(), "POST"),
        (Method::GET, resend.as_str(), "POST"),
        (Method::GET, "/invitations/view", "POST"),
        (Method::PATCH, "/invitations/accept", "POST"),
        (Method::DELETE, "/invitations/reject", "POST"),
        (Method::OPTIONS, "/invitations/view", "POST"),
        (Method::TRACE, "/invitations/accept", "POST"),
        (Method::POST, "/openapi.json", "GET,HEAD"),
        (Method::PUT, "/openapi.json", "GET,HEAD"),
    ];
    for (method, path, allow) in cases {
        let answer = app.call(method.clone(), path, Some(&app.world.alice), None).await;
        answer.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        let mut methods: Vec<&str> = answer.headers["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(str::trim)
            .collect();
        methods.sort_unstable();
        assert_eq!(methods.join(","), allow, "{method} {path}");
    }
    // Nothing happened to the invitation.
    let page = app.get(&list, Some(&app.world.alice)).await;
    assert_eq!(page.ok(StatusCode::OK)["items"][0]["status"], "pending");
    // Nested under a prefix, as a host mounts it.
    let host = axum::Router::new().nest("/api", app.router.clone());
    let nested = App {
        router: host,
        world: app.world.clone(),
        clock: app.clock.clone(),
        notifier: app.notifier.clone(),
        invitations: app.invitations.clone(),
        accounts: app.accounts.clone(),
    };
    let answer = nested.get("/api/invitations/accept", None).await;
    answer.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(answer.headers["allow"], "POST");
}

async fn posts_that_are_not_json_are_unsupported_media_type(app: App) {
    // rules §6: every POST takes a JSON body sent as application/json (`{}` where nothing is
    // needed); anything else is 415, so no cross-site HTML form (urlencoded, multipart or
    // text/plain, which a browser sends without a preflight) can change state.
    let sent = app.invite("bob@example.com", "member").await;
    let token = sent.token();
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let list = app.acme_invitations();
    let revoke = format!("{list}/{id}/revoke");
    let resend = format!("{list}/{id}/resend");
    let routes: [(&str, Option<&User>, String); 6] = [
        (
            &list,
            Some(&app.world.alice),
            json!({"contact": "carol@example.com", "role": "member"}).to_string(),
        ),
        (&revoke, Some(&app.world.alice), "{}".to_owned()),
        (&resend, Some(&app.world.alice), "{}".to_owned()),
        ("/invitations/view", None, json!({"token": token}).to_string()),
        (
            "/invitations/accept",
            Some(&app.world.bob),
            json!({"token": token}).to_string(),
        ),
        (
            "/invitations/reject",
            Some(&app.world.bob),
            json!({"token": token}).to_string(),
        ),
    ];
    let not_json = [
        None,
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("json"),
    ];
    for (path, user, body) in &routes {
        for content_type in not_json {
            let mut request = Request::builder().method(Method::POST).uri(*path);
            if let Some(user) = user {
                request = request.header("x-user-id", user.id.to_string());
            }
            if let Some(content_type) = content_type {
                request = request.header("content-type", content_type);
            }
            let answer = app.raw(request.body(Body::from(body.clone())).unwrap()).await;
            answer.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        }
        // No body at all, as a bare form post or `fetch(url, {method: "POST"})` sends.
        app.call(Method::POST, path, *user, None)
            .await
            .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    // Nothing changed: Bob's invitation is pending with its first link, no other was sent.
    let page = app.get(&list, Some(&app.world.alice)).await;
    let items = page.ok(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["last_sent_at"], items[0]["sent_at"]);
    assert_eq!(app.notifier.deliveries().len(), 1);
    // `{}` is the body of the routes that need no input; anything else is invalid_request.
    for body in ["", "[]", "null", r#"{"reason": "x"}"#, "{"] {
        for path in [&revoke, &resend] {
            let request = Request::builder()
                .method(Method::POST)
                .uri(path.as_str())
                .header("x-user-id", app.world.alice.id.to_string())
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap();
            app.raw(request)
                .await
                .error(StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
    app.post(&resend, Some(&app.world.alice), json!({}))
        .await
        .ok(StatusCode::OK);
    let revoked = app.post(&revoke, Some(&app.world.alice), json!({})).await;
    assert_eq!(revoked.ok(StatusCode::OK)["status"], "revoked");
    // A JSON subtype and parameters are still JSON.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/invitations/view")
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(json!({"token": token}).to_string()))
        .unwrap();
    app.raw(request).await.ok(StatusCode::OK);
}

async fn expires_in_seconds_takes_whole_numbers_in_any_spelling(app: App) {
    // rule S6 and the document: `expires_in_seconds` is a JSON Schema integer, which
    // `3600.0` and `3.6e3` are; the server takes every value the document calls valid,
    // including the bounds themselves and null (the default).
    let uri = app.acme_invitations();
    let alice = Some(&app.world.alice);
    for (contact, ttl, hours) in [
        ("a@example.com", json!(3600), 1),
        ("b@example.com", json!(3600.0), 1),
        (
            "c@example.com",
            serde_json::from_str::<serde_json::Value>("3.6e3").unwrap(),
            1,
        ),
        ("d@example.com", json!(60), 0),
        ("e@example.com", json!(30 * 24 * 3600), 720),
        ("f@example.com", json!(null), 168),
    ] {
        let answer = app
            .post(
                &uri,
                alice,
                json!({"contact": contact, "role": "member", "expires_in_seconds": ttl}),
            )
            .await;
        let body = answer.ok(StatusCode::CREATED);
        let sent = DateTime::parse_from_rfc3339(body["sent_at"].as_str().unwrap()).unwrap();
        let expires = DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
        if hours == 0 {
            assert_eq!(expires - sent, TimeDelta::seconds(60), "{ttl}");
        } else {
            assert_eq!(expires - sent, TimeDelta::hours(hours), "{ttl}");
        }
    }
    // One below and one above the bounds the document states.
    for ttl in [json!(59), json!(30 * 24 * 3600 + 1), json!(59.0)] {
        app.post(
            &uri,
            alice,
            json!({"contact": "g@example.com", "role": "member", "expires_in_seconds": ttl}),
        )
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
    }
}

async fn invite_url_ignores_host_header(app: App) {
    // rule X10: the link comes from the configured base URL, never the Host header.
    let request = Request::builder()
        .method(Method::POST)
        .uri(app.acme_invitations())
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("x-user-id", app.world.alice.id.to_string())
        .header("content-type", "application/json")
        .body(Body::from(r#"{"contact": "bob@example.com", "role": "member"}"#))
        .unwrap();
    let answer = app.raw(request).await;
    let body = answer.ok(StatusCode::CREATED);
    assert!(body["invite_url"].as_str().unwrap().starts_with(BASE_URL));
    assert!(!body.to_string().contains("evil"));
}

#[tokio::test]
async fn internal_errors_say_nothing() {
    // rules §6 error table: internal 500 with no details (STYLE 5)
    let store = Arc::new(common::flaky::FlakyStore::default());
    let app = common::app_with(store.clone(), |api| api).await;
    let token = app.invite("bob@example.com", "member").await.token();
    store.failing.store(true, Ordering::SeqCst);
    for answer in [
        app.post("/invitations/view", None, json!({"token": token})).await,
        app.post(
            "/invitations/accept",
            Some(&app.world.bob),
            json!({"token": token}),
        )
        .await,
        app.get(&app.acme_invitations(), Some(&app.world.alice)).await,
    ] {
        answer.error(StatusCode::INTERNAL_SERVER_ERROR, "internal");
        assert_eq!(answer.body["error"]["message"], "internal error");
        assert!(!answer.body.to_string().contains("reset"));
    }
    store.failing.store(false, Ordering::SeqCst);
    let view = app.post("/invitations/view", None, json!({"token": token})).await;
    assert_eq!(view.ok(StatusCode::OK)["state"], "invitation_info");
}

#[tokio::test]
async fn token_lookups_are_rate_limited_per_client() {
    // rule X6, error table: rate_limited 429
    let app = common::rate_limited(3).await;
    let view = |client: &'static str| {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/invitations/view")
            .header("content-type", "application/json")
            .header("x-client", client)
            .body(Body::from(r#"{"token": "x"}"#))
            .unwrap();
        app.raw(request)
    };
    for _ in 0..3 {
        assert_eq!(view("a").await.ok(StatusCode::OK)["state"], "invalid_or_expired");
    }
    let limited = view("a").await;
    limited.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    limited.no_store();
    // Another client is not affected.
    assert_eq!(view("b").await.ok(StatusCode::OK)["state"], "invalid_or_expired");
    // Accept and reject share the limit; inviter routes are not limited.
    let accept = Request::builder()
        .method(Method::POST)
        .uri("/invitations/accept")
        .header("content-type", "application/json")
        .header("x-client", "a")
        .body(Body::from(r#"{"token": "x"}"#))
        .unwrap();
    app.raw(accept)
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    for _ in 0..5 {
        app.get(&app.acme_invitations(), Some(&app.world.alice))
            .await
            .ok(StatusCode::OK);
    }
}

#[tokio::test]
async fn an_explicitly_disabled_rate_limit_lets_everything_through() {
    // rule X6: the host may turn the limit off (a proxy limits, or a load generator runs)
    let app = common::memory_with(MemoryStore::default(), |api| api.without_rate_limit()).await;
    for _ in 0..100 {
        let view = app.raw(from_client(view_request(), "192.0.2.1:4000")).await;
        assert_eq!(view.ok(StatusCode::OK)["state"], "invalid_or_expired");
    }
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    // rules §6 route table, as an OpenAPI 3.1 document
    let app = common::memory().await;
    let answer = app.get("/openapi.json", None).await;
    let doc = answer.ok(StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/enterprises/{enterprise_id}/invitations", "post"),
        ("/enterprises/{enterprise_id}/invitations", "get"),
        ("/enterprises/{enterprise_id}/invitations/{id}/revoke", "post"),
        ("/enterprises/{enterprise_id}/invitations/{id}/resend", "post"),
        ("/invitations/view", "post"),
        ("/invitations/accept", "post"),
        ("/invitations/reject", "post"),
        // rules B1, B2
        ("/enterprises/{enterprise_id}/invitations/bulk", "post"),
        ("/invitations/mine", "get"),
        ("/invitations/mine/{id}/accept", "post"),
        ("/invitations/mine/{id}/reject", "post"),
    ] {
        assert!(paths[path].get(method).is_some(), "{method} {path}");
    }
    assert!(paths["/openapi.json"].get("get").is_some());
    assert_eq!(paths.len(), 11);
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn notifier_failure_is_visible_and_resendable() {
    // rule S8: delivery failed, invitation kept, resend works
    let app = common::memory().await;
    app.notifier.fail(true);
    let sent = app.invite("bob@example.com", "member").await;
    assert_eq!(sent.body["delivery"], "failed");
    app.notifier.fail(false);
    let uri = format!(
        "{}/{}/resend",
        app.acme_invitations(),
        sent.body["id"].as_str().unwrap()
    );
    let resent = app.post(&uri, Some(&app.world.alice), json!({})).await;
    assert_eq!(resent.ok(StatusCode::OK)["delivery"], "delivered");
}

#[tokio::test]
async fn integer_keyed_host_uses_its_own_ids_in_paths_and_json() {
    // rule H3: an integer-keyed host's enterprise id appears in the path as the integer
    // itself (`/enterprises/1/invitations`); rule H7: ids in JSON keep their natural
    // form, a number for an integer key. The invitation id stays a UUID string.
    let app = common::memory_int_keys().await;
    assert_eq!(app.invitations.key_kinds().enterprise, KeyKind::Int);
    let acme = int_key(app.world.acme.id.key());
    let alice = int_key(app.world.alice.id.key());
    let bob = int_key(app.world.bob.id.key());
    let uri = format!("/enterprises/{acme}/invitations");

    let sent = app
        .post(
            &uri,
            Some(&app.world.alice),
            json!({"contact": "bob@example.com", "role": "dev_admin"}),
        )
        .await;
    let body = sent.ok(StatusCode::CREATED).clone();
    assert!(body["enterprise_id"].is_number(), "rule H7: {body}");
    assert_eq!(body["enterprise_id"], json!(acme));
    assert!(body["invited_by"]["user_id"].is_number(), "rule H7: {body}");
    assert_eq!(body["invited_by"]["user_id"], json!(alice));
    let id = body["id"].as_str().expect("the invitation id is a UUID string");
    assert!(Uuid::parse_str(id).is_ok());

    // rule R1 over the integer path: the row, with its ids as numbers.
    let page = app.get(&uri, Some(&app.world.alice)).await;
    let items = page.ok(StatusCode::OK)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["enterprise_id"], json!(acme));
    assert_eq!(items[0]["invited_by"]["user_id"], json!(alice));

    // Resend under the integer path (rule R3), then Bob accepts (rule A5): the membership
    // answer and the host's directory speak the same integer keys.
    let resent = app
        .post(&format!("{uri}/{id}/resend"), Some(&app.world.alice), json!({}))
        .await;
    assert_eq!(resent.ok(StatusCode::OK)["enterprise_id"], json!(acme));
    let accepted = app
        .post(
            "/invitations/accept",
            Some(&app.world.bob),
            json!({"token": resent.token()}),
        )
        .await;
    let body = accepted.ok(StatusCode::OK);
    assert_eq!(body["enterprise_id"], json!(acme));
    assert_eq!(body["invitation"]["invited_by"]["user_id"], json!(alice));
    let role = app
        .invitations
        .directory()
        .role_of(&acme.into(), &bob.into())
        .await
        .unwrap();
    assert_eq!(role, Some(Role::DevAdmin));

    // Revoke under the integer path (rule R2).
    let second = app.invite("mallory@example.com", "member").await;
    let second_id = second.body["id"].as_str().unwrap();
    let revoked = app
        .post(
            &format!("{uri}/{second_id}/revoke"),
            Some(&app.world.alice),
            json!({}),
        )
        .await;
    assert_eq!(revoked.ok(StatusCode::OK)["status"], "revoked");
}

#[tokio::test]
async fn enterprise_id_of_the_wrong_shape_is_invalid_request_for_an_int_keyed_host() {
    // rule H3 decision: a path segment that does not parse as the host's key kind is
    // `invalid_request` (400), not `forbidden`: such a segment names no enterprise of any
    // host of this kind, so refusing it as malformed input (rule X4) reveals nothing
    // about which ids exist. A well-formed id of no enterprise stays `forbidden` (rule S1
    // decision), so ids still cannot be probed.
    let app = common::memory_int_keys().await;
    let alice = Some(&app.world.alice);
    let invitation = Uuid::new_v4();
    let wrong_shape = [
        "abc".to_owned(),
        Uuid::new_v4().to_string(),
        "4.2".to_owned(),
        "1x".to_owned(),
        "99999999999999999999".to_owned(), // beyond i64
        "%20".to_owned(),
    ];
    for segment in &wrong_shape {
        let list = format!("/enterprises/{segment}/invitations");
        app.get(&list, alice)
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_request");
        app.post(
            &list,
            alice,
            json!({"contact": "bob@example.com", "role": "member"}),
        )
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
        for action in ["revoke", "resend"] {
            app.post(&format!("{list}/{invitation}/{action}"), alice, json!({}))
                .await
                .error(StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
    // Nothing was written for any of them.
    assert!(app.notifier.deliveries().is_empty());
    // A well-formed integer that is no enterprise of Alice's: forbidden (rule S1).
    app.get(
        &format!("/enterprises/{}/invitations", app.unknown_enterprise()),
        alice,
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn openapi_document_describes_host_keys() {
    // rule H3: `{enterprise_id}` is the host's key, described as the kind the host declared
    // (here UUIDs; integers in openapi_document_of_an_integer_keyed_host); rule H7: JSON ids
    // are a number or a string. `{id}` stays a UUID.
    let app = common::memory().await;
    let answer = app.get("/openapi.json", None).await;
    let doc = answer.ok(StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/enterprises/{enterprise_id}/invitations", "post"),
        ("/enterprises/{enterprise_id}/invitations", "get"),
        ("/enterprises/{enterprise_id}/invitations/{id}/revoke", "post"),
        ("/enterprises/{enterprise_id}/invitations/{id}/resend", "post"),
    ] {
        let params = paths[path][method]["parameters"].as_array().unwrap();
        let param = |name: &str| {
            params
                .iter()
                .find(|p| p["name"] == name && p["in"] == "path")
                .unwrap_or_else(|| panic!("{method} {path}: no path parameter {name}"))
                .clone()
        };
        let enterprise = param("enterprise_id");
        assert_eq!(enterprise["schema"]["type"], "string", "{method} {path}");
        assert_eq!(
            enterprise["schema"]["format"], "uuid",
            "{method} {path}: {enterprise}"
        );
        if path.contains("{id}") {
            assert_eq!(param("id")["schema"]["format"], "uuid", "{method} {path}");
        }
    }
    let schemas = &doc["components"]["schemas"];
    let host_key = &schemas["HostKey"]["oneOf"];
    let types: Vec<_> = host_key
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["integer", "string"]);
    for (schema, field) in [
        ("InvitationJson", "enterprise_id"),
        ("InviterJson", "user_id"),
        ("AcceptedJson", "enterprise_id"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["$ref"], "#/components/schemas/HostKey",
            "{schema}.{field}"
        );
    }
    assert_eq!(schemas["InvitationJson"]["properties"]["id"]["format"], "uuid");
}

/// A signed-out host: enough for `view`, which needs nobody.
#[derive(Clone)]
struct NobodySignedIn;

impl Identify for NobodySignedIn {
    async fn current_user(&self, _: &mut Parts, _: &Invitations) -> Option<User> {
        None
    }
}

/// `POST /invitations/view` for an unknown token.
fn view_request() -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/invitations/view")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"token": "x"}"#))
        .unwrap()
}

/// `request` as the server sees it from the peer `addr` when served with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
fn from_client(mut request: Request<Body>, addr: &str) -> Request<Body> {
    let addr: SocketAddr = addr.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

/// How many views in a row `addr` gets before the first `rate_limited`, up to `max`.
async fn views_before_limited(app: &App, addr: &str, max: usize) -> usize {
    for n in 0..max {
        let answer = app.raw(from_client(view_request(), addr)).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            answer.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            return n;
        }
        answer.ok(StatusCode::OK);
    }
    max
}

#[tokio::test]
async fn rate_limit_is_on_by_default_per_client_address() {
    // rule X6: token lookups are limited per client, and `router()` — the default a host
    // mounts — does it without being asked (60 a minute in bursts of 30, keyed by the peer
    // address of `into_make_service_with_connect_info`).
    let app = common::memory().await;
    let router: axum::Router = invite_axum::router(app.invitations.clone(), NobodySignedIn);
    let app = App { router, ..app };
    // 30 at once; a slow machine may earn one back each second it takes.
    let burst = views_before_limited(&app, "192.0.2.1:4000", 100).await;
    assert!((30..=35).contains(&burst), "{burst}");
    // Another port of the same address is the same client; another address is not.
    assert_eq!(views_before_limited(&app, "192.0.2.1:4001", 5).await, 0);
    assert_eq!(views_before_limited(&app, "192.0.2.2:4000", 5).await, 5);
    // Accept and reject share the limit.
    let accept = Request::builder()
        .method(Method::POST)
        .uri("/invitations/accept")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"token": "x"}"#))
        .unwrap();
    app.raw(from_client(accept, "192.0.2.1:4000"))
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn requests_without_a_client_address_share_no_bucket() {
    // rule X6: when no key can be made for a request, it is not limited — one shared
    // bucket for all of them would let one client lock every invitee out.
    let app = common::memory_with(MemoryStore::default(), |api| {
        api.rate_limit(RateLimit::per_minute(1).burst(1))
    })
    .await;
    for _ in 0..20 {
        let view = app.raw(view_request()).await;
        assert_eq!(view.ok(StatusCode::OK)["state"], "invalid_or_expired");
    }
    // A client with an address is still limited, and is not slowed by the others.
    assert_eq!(views_before_limited(&app, "192.0.2.1:4000", 5).await, 1);
    // Nor is one whose key function finds nothing.
    let app = common::memory_with(MemoryStore::default(), |api| {
        api.rate_limit(RateLimit::per_minute(1).burst(1).key_by(|_| None))
    })
    .await;
    assert_eq!(views_before_limited(&app, "192.0.2.1:4000", 20).await, 20);
}

#[tokio::test]
async fn ipv6_clients_are_limited_per_64() {
    // rule X6: an IPv6 client holds a whole /64, so the bucket is the /64; IPv4 clients
    // seen through a dual-stack listener (IPv4-mapped) keep a bucket each.
    let app = common::memory_with(MemoryStore::default(), |api| {
        api.rate_limit(RateLimit::per_minute(2).burst(2))
    })
    .await;
    assert_eq!(views_before_limited(&app, "[2001:db8:0:7::1]:4000", 5).await, 2);
    assert_eq!(
        views_before_limited(&app, "[2001:db8:0:7:ffff::2]:4000", 5).await,
        0
    );
    assert_eq!(views_before_limited(&app, "[2001:db8:0:8::1]:4000", 5).await, 2);
    assert_eq!(views_before_limited(&app, "[::ffff:192.0.2.1]:4000", 5).await, 2);
    assert_eq!(views_before_limited(&app, "[::ffff:192.0.2.2]:4000", 5).await, 2);
    assert_eq!(views_before_limited(&app, "192.0.2.2:4000", 5).await, 0);
}
