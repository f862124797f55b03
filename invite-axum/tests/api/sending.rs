//! The inviter's side (rules S1–S8, R1–R3, X3, X10): send, the records table, revoke,
//! resend, tenant isolation and the refusals of a send.

use super::*;

crate::every_backend!(
    create_answers_201_with_link_once,
    list_pages_newest_first_with_derived_status,
    revoke_then_not_pending,
    resend_issues_new_link_and_kills_old,
    tenant_isolation,
    uncertified_enterprise,
    contact_and_role_errors,
    duplicates_and_members,
    invite_url_ignores_host_header,
    expires_in_seconds_takes_whole_numbers_in_any_spelling,
);

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
