//! The HTTP contract of rules B1 (the invitee's own invitations) and B2 (bulk invite), in
//! process, against the in-memory store and SQLite (and an integer-keyed host).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::App;
use serde_json::{Value, json};
use uuid::Uuid;

crate::every_backend!(
    mine_lists_pending_invitations_across_enterprises,
    accept_mine_makes_a_member_once,
    reject_mine_makes_no_member,
    another_users_invitation_is_not_found,
    mine_refusals_are_the_spec_errors,
    bulk_answers_one_result_per_row_in_order,
    bulk_refuses_the_whole_request_on_s1_s2_and_size,
    bulk_rows_of_the_wrong_shape_are_error_rows,
);

fn bulk_uri(app: &App) -> String {
    format!("{}/bulk", app.acme_invitations())
}

/// Grace invites `contact` to Globex as a member.
async fn globex_invite(app: &App, contact: &str) -> Value {
    let answer = app
        .post(
            &format!("/enterprises/{}/invitations", app.world.globex.id),
            Some(&app.world.grace),
            json!({"contact": contact, "role": "member"}),
        )
        .await;
    answer.ok(StatusCode::CREATED).clone()
}

async fn mine_lists_pending_invitations_across_enterprises(app: App) {
    // rule B1
    let acme = app.invite("Bob@Example.com", "dev_admin").await.body.clone();
    app.clock.advance(chrono::TimeDelta::seconds(1));
    let globex = globex_invite(&app, "bob@example.com").await;
    app.invite("mallory@example.com", "member").await;
    let answer = app.get("/invitations/mine", Some(&app.world.bob)).await;
    answer.no_store();
    let body = answer.ok(StatusCode::OK);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    assert_eq!(items[0]["id"], acme["id"]);
    assert_eq!(items[0]["enterprise_id"], json!(app.world.acme.id));
    assert_eq!(items[0]["enterprise_name"], "Acme Robotics");
    assert_eq!(items[0]["inviter_name"], "Alice Admin");
    assert_eq!(items[0]["role"], "dev_admin");
    assert_eq!(items[0]["expires_at"], acme["expires_at"]);
    let keys: Vec<&String> = items[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys.len(),
        6,
        "exactly id, enterprise_id, enterprise_name, inviter_name, role, expires_at: {keys:?}"
    );
    assert_eq!(items[1]["id"], globex["id"]);
    assert_eq!(items[1]["enterprise_name"], "Globex");
    // Nobody else's: Carol has none, and never sees Bob's.
    let carol = app.get("/invitations/mine", Some(&app.world.carol)).await;
    assert_eq!(carol.ok(StatusCode::OK)["items"], json!([]));
}

async fn accept_mine_makes_a_member_once(app: App) {
    // rules B1, A5, A6
    let sent = app.invite("bob@example.com", "finance_admin").await.body.clone();
    let uri = format!("/invitations/mine/{}/accept", sent["id"].as_str().unwrap());
    let answer = app.post(&uri, Some(&app.world.bob), json!({})).await;
    answer.no_store();
    let body = answer.ok(StatusCode::OK);
    assert_eq!(body["enterprise_id"], json!(app.world.acme.id));
    assert_eq!(body["enterprise_name"], "Acme Robotics");
    assert_eq!(body["role"], "finance_admin");
    assert_eq!(body["invitation"]["status"], "accepted");
    app.post(&uri, Some(&app.world.bob), json!({}))
        .await
        .error(StatusCode::CONFLICT, "already_accepted");
    let reject = format!("/invitations/mine/{}/reject", sent["id"].as_str().unwrap());
    app.post(&reject, Some(&app.world.bob), json!({}))
        .await
        .error(StatusCode::CONFLICT, "already_accepted");
    let mine = app.get("/invitations/mine", Some(&app.world.bob)).await;
    assert_eq!(mine.ok(StatusCode::OK)["items"], json!([]));
    // A8: a second invitation to a member is refused at send already (S7).
    let again = app
        .post(
            &app.acme_invitations(),
            Some(&app.world.alice),
            json!({"contact": "bob@example.com", "role": "member"}),
        )
        .await;
    again.error(StatusCode::CONFLICT, "already_member");
}

async fn reject_mine_makes_no_member(app: App) {
    // rules B1, A7
    let sent = app.invite("+14155550100", "member").await.body.clone();
    let id = sent["id"].as_str().unwrap();
    let answer = app
        .post(
            &format!("/invitations/mine/{id}/reject"),
            Some(&app.world.carol),
            json!({}),
        )
        .await;
    assert_eq!(answer.ok(StatusCode::OK)["invitation"]["status"], "rejected");
    app.post(
        &format!("/invitations/mine/{id}/accept"),
        Some(&app.world.carol),
        json!({}),
    )
    .await
    .error(StatusCode::CONFLICT, "already_rejected");
    let list = app
        .get(
            &format!("{}?status=rejected", app.acme_invitations()),
            Some(&app.world.alice),
        )
        .await;
    assert_eq!(list.ok(StatusCode::OK)["items"][0]["id"], sent["id"]);
}

async fn another_users_invitation_is_not_found(app: App) {
    // rules B1, X3: never a hint that it exists
    let sent = app.invite("bob@example.com", "member").await.body.clone();
    let id = sent["id"].as_str().unwrap();
    for action in ["accept", "reject"] {
        let uri = format!("/invitations/mine/{id}/{action}");
        let foreign = app.post(&uri, Some(&app.world.mallory), json!({})).await;
        foreign.error(StatusCode::NOT_FOUND, "not_found");
        let unknown = app
            .post(
                &format!("/invitations/mine/{}/{action}", Uuid::new_v4()),
                Some(&app.world.mallory),
                json!({}),
            )
            .await;
        unknown.error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(foreign.body, unknown.body, "the same answer, word for word");
    }
    let mine = app.get("/invitations/mine", Some(&app.world.mallory)).await;
    assert_eq!(mine.ok(StatusCode::OK)["items"], json!([]));
    // Bob's is untouched.
    let bob = app.get("/invitations/mine", Some(&app.world.bob)).await;
    assert_eq!(bob.ok(StatusCode::OK)["items"][0]["id"], sent["id"]);
}

async fn mine_refusals_are_the_spec_errors(app: App) {
    // rule B1, rules §6, X4, X9
    let sent = app.invite("bob@example.com", "member").await.body.clone();
    let uri = format!("/invitations/mine/{}/accept", sent["id"].as_str().unwrap());
    app.get("/invitations/mine", None)
        .await
        .error(StatusCode::UNAUTHORIZED, "not_authenticated");
    app.post(&uri, None, json!({}))
        .await
        .error(StatusCode::UNAUTHORIZED, "not_authenticated");
    app.post(&uri, Some(&app.world.bob), json!({"token": "x"}))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
    app.post(
        "/invitations/mine/not-a-uuid/accept",
        Some(&app.world.bob),
        json!({}),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invalid_request");
    let form = Request::builder()
        .method(Method::POST)
        .uri(&uri)
        .header("x-user-id", app.world.bob.id.to_string())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(""))
        .unwrap();
    app.raw(form)
        .await
        .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    app.call(Method::GET, &uri, Some(&app.world.bob), None)
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    // Revoked: gone, as for a link.
    app.post(
        &format!(
            "{}/{}/revoke",
            app.acme_invitations(),
            sent["id"].as_str().unwrap()
        ),
        Some(&app.world.alice),
        json!({}),
    )
    .await
    .ok(StatusCode::OK);
    app.post(&uri, Some(&app.world.bob), json!({}))
        .await
        .error(StatusCode::GONE, "invalid_or_expired");
}

async fn bulk_answers_one_result_per_row_in_order(app: App) {
    // rule B2
    let answer = app
        .post(
            &bulk_uri(&app),
            Some(&app.world.alice),
            json!({"invitations": [
                {"contact": "bob@example.com", "role": "dev_admin"},
                {"contact": "not a contact", "role": "member"},
                {"contact": "carol@example.com", "role": "super_admin"},
                {"contact": "alice@example.com", "role": "member"},
                {"contact": "BOB@example.com", "role": "member"},
                {"contact": "+14155550100", "role": "member"}
            ]}),
        )
        .await;
    answer.no_store();
    let body = answer.ok(StatusCode::OK);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0]["invitation"]["contact"], "bob@example.com");
    assert_eq!(results[0]["invitation"]["status"], "pending");
    assert!(
        results[0]["invite_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/invite?token=", common::BASE_URL))
    );
    let errors: Vec<(&Value, &Value)> = results[1..5]
        .iter()
        .map(|r| (&r["contact"], &r["error"]["code"]))
        .collect();
    assert_eq!(
        errors,
        vec![
            (&json!("not a contact"), &json!("invalid_contact")),
            (&json!("carol@example.com"), &json!("role_not_assignable")),
            (&json!("alice@example.com"), &json!("already_member")),
            (&json!("BOB@example.com"), &json!("duplicate_pending")),
        ]
    );
    assert!(results[1]["error"]["message"].as_str().unwrap().len() > 3);
    assert_eq!(results[5]["invitation"]["contact_kind"], "phone");
    // The good rows are in the records table and were delivered like single sends.
    let list = app.get(&app.acme_invitations(), Some(&app.world.alice)).await;
    assert_eq!(list.ok(StatusCode::OK)["items"].as_array().unwrap().len(), 2);
    assert_eq!(app.notifier.deliveries().len(), 2);
}

async fn bulk_refuses_the_whole_request_on_s1_s2_and_size(app: App) {
    // rules B2, S1, S2
    let one = json!({"invitations": [{"contact": "bob@example.com", "role": "member"}]});
    app.post(&bulk_uri(&app), Some(&app.world.grace), one.clone())
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.post(&bulk_uri(&app), None, one.clone())
        .await
        .error(StatusCode::UNAUTHORIZED, "not_authenticated");
    let unverified = format!("/enterprises/{}/invitations/bulk", app.world.unverified.id);
    app.post(&unverified, Some(&app.world.uma), one.clone())
        .await
        .error(StatusCode::FORBIDDEN, "enterprise_not_certified");
    // S1 before the input: a non-admin's empty request is forbidden, not invalid.
    app.post(
        &bulk_uri(&app),
        Some(&app.world.grace),
        json!({"invitations": []}),
    )
    .await
    .error(StatusCode::FORBIDDEN, "forbidden");
    app.post(
        &bulk_uri(&app),
        Some(&app.world.alice),
        json!({"invitations": []}),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invalid_request");
    let rows = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"contact": format!("user{i}@example.com"), "role": "member"}))
            .collect()
    };
    app.post(
        &bulk_uri(&app),
        Some(&app.world.alice),
        json!({"invitations": rows(101)}),
    )
    .await
    .error(StatusCode::BAD_REQUEST, "invalid_request");
    for body in [
        json!({}),
        json!({"invitations": {"contact": "bob@example.com", "role": "member"}}),
        json!({"invitations": [], "extra": 1}),
    ] {
        app.post(&bulk_uri(&app), Some(&app.world.alice), body)
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    // Nothing was written by the refusals; 100 rows is fine.
    let list = app.get(&app.acme_invitations(), Some(&app.world.alice)).await;
    assert_eq!(list.ok(StatusCode::OK)["items"], json!([]));
    let hundred = app
        .post(
            &bulk_uri(&app),
            Some(&app.world.alice),
            json!({"invitations": rows(100)}),
        )
        .await;
    let results = hundred.ok(StatusCode::OK)["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 100);
    assert!(results.iter().all(|r| r.get("invite_url").is_some()));
}

async fn bulk_rows_of_the_wrong_shape_are_error_rows(app: App) {
    // rules B2, X4, X9
    let answer = app
        .post(
            &bulk_uri(&app),
            Some(&app.world.alice),
            json!({"invitations": [
                {"role": "member"},
                {"contact": "bob@example.com"},
                {"contact": ["bob@example.com"], "role": "member"},
                {"contact": "carol@example.com", "role": "member", "status": "accepted"},
                "mallory@example.com",
                null,
                {"contact": "dave@example.com", "role": "member"}
            ]}),
        )
        .await;
    let body = answer.ok(StatusCode::OK);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 7);
    for (i, contact) in [
        json!(null),
        json!("bob@example.com"),
        json!(null),
        json!("carol@example.com"),
        json!(null),
        json!(null),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            results[i]["error"]["code"], "invalid_request",
            "row {i}: {}",
            results[i]
        );
        assert_eq!(&results[i]["contact"], contact, "row {i}");
    }
    assert_eq!(results[6]["invitation"]["contact"], "dave@example.com");
}

#[tokio::test]
async fn accept_and_reject_mine_are_rate_limited_like_token_routes() {
    // rules B1, X6
    let app = common::rate_limited(2).await;
    let sent = app.invite("bob@example.com", "member").await.body.clone();
    let post = |action: &str| {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!(
                "/invitations/mine/{}/{action}",
                sent["id"].as_str().unwrap()
            ))
            .header("content-type", "application/json")
            .header("x-user-id", app.world.mallory.id.to_string())
            .header("x-client", "a")
            .body(Body::from("{}"))
            .unwrap();
        app.raw(request)
    };
    post("accept").await.error(StatusCode::NOT_FOUND, "not_found");
    post("reject").await.error(StatusCode::NOT_FOUND, "not_found");
    post("accept")
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    post("reject")
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn openapi_describes_the_b1_and_b2_routes() {
    // rules B1, B2: the document covers the new routes, every status with the error body
    let app = common::memory().await;
    let doc = app.get("/openapi.json", None).await.ok(StatusCode::OK).clone();
    let paths = &doc["paths"];
    let error_ref = json!("#/components/schemas/ErrorBody");
    let expect = [
        (
            "/enterprises/{enterprise_id}/invitations/bulk",
            "post",
            vec!["200", "400", "401", "403", "415", "500"],
        ),
        ("/invitations/mine", "get", vec!["200", "401", "500"]),
        (
            "/invitations/mine/{id}/accept",
            "post",
            vec![
                "200", "400", "401", "403", "404", "409", "410", "415", "422", "429", "500",
            ],
        ),
        (
            "/invitations/mine/{id}/reject",
            "post",
            vec!["200", "400", "401", "404", "409", "410", "415", "429", "500"],
        ),
    ];
    for (path, method, statuses) in expect {
        let operation = &paths[path][method];
        let responses = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{path}"));
        let mut got: Vec<&str> = responses.keys().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, statuses, "{path}");
        for (status, response) in responses {
            if status != "200" {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"], error_ref,
                    "{path} {status}"
                );
            }
        }
    }
    let bulk = &paths["/enterprises/{enterprise_id}/invitations/bulk"]["post"];
    let examples = &bulk["requestBody"]["content"]["application/json"]["examples"];
    assert!(examples.as_object().is_some_and(|e| !e.is_empty()));
    let schemas = &doc["components"]["schemas"];
    let rows = &schemas["BulkInvitationsRequest"]["properties"]["invitations"];
    assert_eq!(rows["minItems"], 1);
    assert_eq!(rows["maxItems"], 100);
    assert_eq!(
        schemas["BulkInvitationRow"]["properties"]["role"]["enum"],
        json!(["finance_admin", "dev_admin", "member"])
    );
    assert!(
        schemas["BulkResultJson"]["oneOf"]
            .as_array()
            .is_some_and(|o| o.len() == 2)
    );
    for field in [
        "id",
        "enterprise_id",
        "enterprise_name",
        "inviter_name",
        "role",
        "expires_at",
    ] {
        assert!(
            schemas["MyInvitationJson"]["required"]
                .as_array()
                .unwrap()
                .contains(&json!(field)),
            "{field}"
        );
    }
}
