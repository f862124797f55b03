//! rule X4: no request body, header, path, query or token of any shape makes the router
//! panic or answer 5xx; whatever it refuses, it refuses in the rules error body.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use common::App;
use proptest::prelude::*;
use serde_json::{Value, json};

const CODES: [&str; 18] = [
    "invalid_request",
    "not_authenticated",
    "forbidden",
    "enterprise_not_certified",
    "account_mismatch",
    "not_found",
    "method_not_allowed",
    "unsupported_media_type",
    "already_member",
    "duplicate_pending",
    "invitation_not_pending",
    "already_accepted",
    "already_rejected",
    "invalid_or_expired",
    "invalid_contact",
    "role_not_assignable",
    "rate_limited",
    "internal",
];

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: App,
    /// A live token and invitation id, so that some cases hit real rows.
    token: String,
    invitation_id: String,
}

/// The host with UUID keys.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| build_fixture(false))
}

/// The host with integer keys (rule H3).
fn int_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| build_fixture(true))
}

fn build_fixture(int_keys: bool) -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (app, token, invitation_id) = runtime.block_on(async {
        let app = if int_keys {
            common::memory_int_keys().await
        } else {
            common::memory().await
        };
        let sent = app.invite("bob@example.com", "member").await;
        let id = sent.body["id"].as_str().unwrap().to_owned();
        let token = sent.token();
        (app, token, id)
    });
    Fixture {
        runtime,
        app,
        token,
        invitation_id,
    }
}

/// Text of any shape, biased toward the characters that break parsers.
fn junk() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-zA-Z0-9_\\-%./?=&{}\\[\\]\"'\\\\:;,+ ]{0,60}",
        Just(String::new()),
        Just("%00".to_owned()),
        Just("..".to_owned()),
        Just("{id}".to_owned()),
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ]
}

/// A path segment: a real id, a random UUID, an integer of any size (rule H3), or junk.
fn segment(f: &'static Fixture) -> impl Strategy<Value = String> {
    let acme = f.app.world.acme.id.to_string();
    let globex = f.app.world.globex.id.to_string();
    let invitation = f.invitation_id.clone();
    prop_oneof![
        Just(acme),
        Just(globex),
        Just(invitation),
        any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u128>().prop_map(|n| n.to_string()),
        junk(),
    ]
}

fn path(f: &'static Fixture) -> impl Strategy<Value = String> {
    (segment(f), segment(f), 0..8_u8, junk()).prop_map(|(e, i, shape, extra)| match shape {
        0 => format!("/enterprises/{e}/invitations"),
        1 => format!("/enterprises/{e}/invitations/{i}/revoke"),
        2 => format!("/enterprises/{e}/invitations/{i}/resend"),
        3 => "/invitations/view".to_owned(),
        4 => "/invitations/accept".to_owned(),
        5 => "/invitations/reject".to_owned(),
        6 => "/openapi.json".to_owned(),
        _ => format!("/{extra}"),
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        junk().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(junk(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body(f: &'static Fixture) -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        Just("contact".to_owned()),
        Just("role".to_owned()),
        Just("token".to_owned()),
        Just("expires_in_seconds".to_owned()),
        Just("status".to_owned()),
        junk(),
    ];
    let value = prop_oneof![
        json_value(),
        Just(Value::from(f.token.clone())),
        invite_core::testing::strategies::contact().prop_map(Value::from),
        invite_core::testing::strategies::role_name().prop_map(Value::from),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::btree_map(field, value, 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()).to_string().into_bytes()),
    ]
}

fn headers(f: &'static Fixture) -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let user = prop_oneof![
        Just(f.app.world.alice.id.to_string()),
        Just(f.app.world.bob.id.to_string()),
        Just(f.app.world.grace.id.to_string()),
        junk(),
    ];
    let content_type = prop_oneof![
        Just("application/json".to_owned()),
        Just("application/json; charset=utf-8".to_owned()),
        Just("text/plain".to_owned()),
        junk(),
    ];
    let name = prop_oneof![
        Just("x-user-id".to_owned()),
        Just("content-type".to_owned()),
        Just("content-length".to_owned()),
        Just("host".to_owned()),
        Just("cookie".to_owned()),
        "[a-z\\-]{1,20}",
    ];
    (
        prop::option::of(user),
        prop::option::of(content_type),
        prop::collection::vec((name, prop::collection::vec(any::<u8>(), 0..40)), 0..3),
    )
        .prop_map(|(user, content_type, mut extra)| {
            if let Some(user) = user {
                extra.push(("x-user-id".to_owned(), user.into_bytes()));
            }
            if let Some(ct) = content_type {
                extra.push(("content-type".to_owned(), ct.into_bytes()));
            }
            extra
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::DELETE),
        Just(Method::PATCH),
        Just(Method::OPTIONS),
        Just(Method::HEAD),
    ]
}

fn check(f: &Fixture, request: Request<Body>) -> Result<(), TestCaseError> {
    let head = request.method() == Method::HEAD;
    let answer = f.runtime.block_on(f.app.raw_any(request));
    prop_assert!(answer.status.as_u16() < 500, "{answer:?}");
    // Every refusal is a rules' error body (a HEAD answer has no body to read).
    if answer.status.is_client_error() && !head {
        let code = answer.body["error"]["code"].as_str().unwrap_or_default();
        prop_assert!(CODES.contains(&code), "{answer:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_no_5xx_and_no_panic(
        method in method(),
        path in path(fixture()),
        query in prop::option::of(junk()),
        headers in headers(fixture()),
        body in body(fixture()),
    ) {
        // rule X4
        let f = fixture();
        let uri = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut builder = Request::builder().method(method).uri(uri.as_str());
        for (name, value) in &headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_bytes(value)) {
                builder = builder.header(name, value);
            }
        }
        // A URI the HTTP layer itself refuses never reaches the router.
        if let Ok(request) = builder.body(Body::from(body)) {
            check(f, request)?;
        }
    }

    #[test]
    fn any_request_to_an_int_keyed_host_gets_no_5xx_and_no_panic(
        method in method(),
        path in path(int_fixture()),
        query in prop::option::of(junk()),
        headers in headers(int_fixture()),
        body in body(int_fixture()),
    ) {
        // rule X4, rule H3: path segments of every shape against integer keys
        let f = int_fixture();
        let uri = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut builder = Request::builder().method(method).uri(uri.as_str());
        for (name, value) in &headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_bytes(value)) {
                builder = builder.header(name, value);
            }
        }
        // A URI the HTTP layer itself refuses never reaches the router.
        if let Ok(request) = builder.body(Body::from(body)) {
            check(f, request)?;
        }
    }

    #[test]
    fn any_token_gets_no_5xx(token in prop_oneof![junk(), ".{0,200}", "[A-Za-z0-9_-]{43}"], route in 0..3_usize) {
        // rule X4, A1: every token shape is a state or a rules' error, never a crash
        let f = fixture();
        let routes = ["/invitations/view", "/invitations/accept", "/invitations/reject"];
        let request = Request::builder()
            .method(Method::POST)
            .uri(routes[route])
            .header("content-type", "application/json")
            .header("x-user-id", f.app.world.mallory.id.to_string())
            .body(Body::from(json!({"token": token}).to_string()))
            .unwrap();
        check(f, request)?;
    }
}
