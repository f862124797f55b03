//! Requests the router refuses before any rule runs (rules X4, X9, §6): signed out,
//! malformed bodies, unknown routes, wrong methods and content types, and internal errors
//! that say nothing.

use super::*;

crate::every_backend!(
    signed_out_is_not_authenticated_except_view,
    malformed_requests_are_invalid_request,
    unknown_routes_are_not_found,
    wrong_method_is_method_not_allowed,
    posts_that_are_not_json_are_unsupported_media_type,
);

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

/// A host whose session backend is down: it cannot tell who is signed in.
#[derive(Clone)]
struct SessionsDown;

impl Identify for SessionsDown {
    async fn current_user(&self, _: &mut Parts, _: &Invitations) -> Result<Option<User>, IdentityError> {
        Err(IdentityError::new(std::io::Error::other(
            "session store: connection reset",
        )))
    }
}

#[tokio::test]
async fn a_host_that_cannot_tell_who_is_signed_in_gets_internal_not_signed_out() {
    // rules A2, §6: an identity error is `internal` (500) on every route, `view` included —
    // never "signed out" (401 `not_authenticated`, viewer `signed_out`), and its cause is
    // not in the body.
    let app = common::memory().await;
    let token = app.invite("bob@example.com", "member").await.token();
    let router = invite_axum::InviteApi::new(app.invitations.clone(), SessionsDown).into_router();
    let enterprise = app.world.acme.id.to_string();
    for (method, uri, body) in [
        (
            Method::POST,
            "/invitations/view".to_owned(),
            json!({"token": token}),
        ),
        (
            Method::POST,
            "/invitations/accept".to_owned(),
            json!({"token": token}),
        ),
        (
            Method::GET,
            format!("/enterprises/{enterprise}/invitations"),
            Value::Null,
        ),
        (Method::GET, "/invitations/mine".to_owned(), Value::Null),
    ] {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .extension(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let body = if body.is_null() {
            Body::empty()
        } else {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        };
        let response = router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{method} {uri}"
        );
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(answer["error"]["code"], "internal", "{method} {uri}: {answer}");
        assert!(!answer.to_string().contains("reset"), "{answer}");
    }
    // Nothing was answered on the user's behalf.
    let view = app
        .post("/invitations/view", Some(&app.world.bob), json!({"token": token}))
        .await;
    assert_eq!(view.ok(StatusCode::OK)["state"], "invitation_info");
}
