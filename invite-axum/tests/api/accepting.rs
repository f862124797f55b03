//! The invitee's side (rules A1–A9): the invitee page's model, accept, reject and their
//! refusals.

use super::*;

crate::every_backend!(
    view_states_and_viewers,
    accept_makes_member_then_already_accepted,
    reject_then_already_rejected,
    wrong_account_is_account_mismatch,
    accept_when_already_member,
    expired_links_are_gone,
);

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
