//! The OpenAPI document as a client sees it (rules §6): every operation lists every status it
//! can answer with the error body, parameters and bodies say exactly what the server
//! takes (enums, bounds, the host's key kind, TTL policy and roles), each request body has
//! examples the server accepts, and create links to revoke and resend by `id`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::http::request::Parts;
use common::App;
use invite_axum::utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use invite_axum::{IdentityError, InviteApi};
use invite_core::testing::MemoryStore;
use invite_core::{Invitations, KeyKind, KeyKinds, Role, RolePolicy, TtlPolicy, User};
use serde_json::{Value, json};

/// `(operationId, method, path, statuses)`: what each route can answer, read off its
/// handler, the extractors it runs and the core calls it makes. (Resend before revoke: the
/// examples test sends them in this order.)
const OPERATIONS: [(&str, &str, &str, &[u16]); 12] = [
    (
        "create_invitation",
        "post",
        "/enterprises/{enterprise_id}/invitations",
        &[201, 400, 401, 403, 409, 415, 422, 500],
    ),
    (
        "list_invitations",
        "get",
        "/enterprises/{enterprise_id}/invitations",
        &[200, 400, 401, 403, 500],
    ),
    (
        "resend_invitation",
        "post",
        "/enterprises/{enterprise_id}/invitations/{id}/resend",
        &[200, 400, 401, 403, 404, 409, 415, 500],
    ),
    (
        "revoke_invitation",
        "post",
        "/enterprises/{enterprise_id}/invitations/{id}/revoke",
        &[200, 400, 401, 403, 404, 409, 415, 500],
    ),
    (
        "view_invitation",
        "post",
        "/invitations/view",
        &[200, 400, 415, 429, 500],
    ),
    (
        "accept_invitation",
        "post",
        "/invitations/accept",
        &[200, 400, 401, 403, 409, 410, 415, 422, 429, 500],
    ),
    (
        "reject_invitation",
        "post",
        "/invitations/reject",
        &[200, 400, 401, 403, 409, 410, 415, 429, 500],
    ),
    // rule B2
    (
        "bulk_create_invitations",
        "post",
        "/enterprises/{enterprise_id}/invitations/bulk",
        &[200, 400, 401, 403, 415, 500],
    ),
    // rule B1
    (
        "list_my_invitations",
        "get",
        "/invitations/mine",
        &[200, 401, 500],
    ),
    (
        "accept_my_invitation",
        "post",
        "/invitations/mine/{id}/accept",
        &[200, 400, 401, 403, 404, 409, 410, 415, 422, 429, 500],
    ),
    (
        "reject_my_invitation",
        "post",
        "/invitations/mine/{id}/reject",
        &[200, 400, 401, 404, 409, 410, 415, 429, 500],
    ),
    ("openapi_document", "get", "/openapi.json", &[200]),
];

async fn document(app: &App) -> Value {
    let answer = app.get("/openapi.json", None).await;
    assert_eq!(answer.headers["content-type"], "application/json");
    answer.ok(StatusCode::OK).clone()
}

fn operation<'a>(doc: &'a Value, id: &str) -> &'a Value {
    let (_, method, path, _) = OPERATIONS.iter().find(|(op, ..)| *op == id).unwrap();
    let operation = &doc["paths"][*path][*method];
    assert_eq!(operation["operationId"], id);
    operation
}

#[tokio::test]
async fn every_operation_lists_every_status_it_answers_with_the_error_body() {
    // rules §6 error table, per route
    let app = common::memory().await;
    let doc = document(&app).await;
    let mut listed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        listed += item.as_object().unwrap().len();
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            let (_, m, p, statuses) = OPERATIONS
                .iter()
                .find(|(op, ..)| *op == id)
                .unwrap_or_else(|| panic!("{method} {path}: {id} is not in the table"));
            assert_eq!((*m, *p), (method.as_str(), path.as_str()));
            let documented: BTreeSet<u16> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.parse().unwrap())
                .collect();
            let expected: BTreeSet<u16> = statuses.iter().copied().collect();
            assert_eq!(documented, expected, "{method} {path}");
            for status in statuses.iter().filter(|s| **s >= 400) {
                let response = &operation["responses"][status.to_string()];
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
    assert_eq!(listed, OPERATIONS.len());
    let error = &doc["components"]["schemas"]["ErrorDetail"];
    assert_eq!(error["required"], json!(["code", "message"]));
}

#[tokio::test]
async fn parameters_say_exactly_what_the_server_takes() {
    // rule R1: status is one of five, limit 1 to the core's page maximum; rule S4, S6: the
    // default policies' roles and TTL bounds; rule H3: a UUID host's key is a UUID.
    let app = common::memory().await;
    let doc = document(&app).await;
    let params = operation(&doc, "list_invitations")["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| params.iter().find(|p| p["name"] == name).unwrap().clone();
    assert_eq!(
        param("status")["schema"]["$ref"],
        "#/components/schemas/InvitationStatus"
    );
    assert_eq!(
        doc["components"]["schemas"]["InvitationStatus"]["enum"],
        json!(["pending", "accepted", "rejected", "expired", "revoked"])
    );
    assert_eq!(param("limit")["schema"]["type"], "integer");
    assert_eq!(param("limit")["schema"]["minimum"], 1);
    assert_eq!(
        param("limit")["schema"]["maximum"],
        json!(invite_core::page::MAX_PAGE_SIZE)
    );
    assert_eq!(param("cursor")["schema"]["minLength"], 1);
    assert_eq!(param("enterprise_id")["schema"]["format"], "uuid");

    let create = &doc["components"]["schemas"]["CreateInvitationRequest"];
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(create["required"], json!(["contact", "role"]));
    let ttl = &create["properties"]["expires_in_seconds"];
    assert_eq!(
        (ttl["minimum"].clone(), ttl["maximum"].clone()),
        (json!(60), json!(30 * 86_400))
    );
    assert_eq!(
        create["properties"]["role"]["enum"],
        json!(["finance_admin", "dev_admin", "member"])
    );
    for body in ["EmptyRequest", "TokenRequest"] {
        let schema = &doc["components"]["schemas"][body];
        assert_eq!(schema["type"], "object", "{body}");
        assert_eq!(schema["additionalProperties"], false, "{body}");
    }
    // No security scheme given: no requirements; no servers given: none.
    assert!(doc.get("servers").is_none());
    assert!(operation(&doc, "create_invitation").get("security").is_none());
}

/// A host's own settings: integer keys, its TTL policy and roles, its server prefix and
/// its session cookie.
fn host_api() -> InviteApi<SignedOut> {
    let store = Arc::new(MemoryStore::with_key_kinds(KeyKinds::both(KeyKind::Int)));
    let invitations = Invitations::builder(store)
        .ttl(
            TtlPolicy::new(
                Duration::from_secs(3600),
                Duration::from_millis(90_500),
                Duration::from_secs(2 * 86_400),
            )
            .unwrap(),
        )
        .roles(RolePolicy::new([Role::Member, Role::DevAdmin]))
        .build();
    InviteApi::new(invitations, SignedOut)
        .openapi_server("/api")
        .openapi_security(SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
            "host_session",
        ))))
}

#[derive(Clone)]
struct SignedOut;

impl invite_axum::Identify for SignedOut {
    async fn current_user(&self, _: &mut Parts, _: &Invitations) -> Result<Option<User>, IdentityError> {
        Ok(None)
    }
}

#[tokio::test]
async fn the_document_is_built_from_the_hosts_settings() {
    // rule H3 (the key kind), rule S6 (the TTL policy's bounds in whole seconds), rule S4
    // (the host's roles), and the host's servers and security scheme
    let api = host_api();
    let served_by_api = api.openapi();
    let app = App {
        router: api.into_router(),
        ..common::memory().await
    };
    let doc = document(&app).await;
    assert_eq!(doc, served_by_api, "the router serves InviteApi::openapi()");
    for (id, ..) in OPERATIONS.iter().take(4) {
        let params = operation(&doc, id)["parameters"].as_array().unwrap();
        let enterprise = params.iter().find(|p| p["name"] == "enterprise_id").unwrap();
        assert_eq!(enterprise["schema"]["type"], "integer", "{id}");
        assert_eq!(enterprise["schema"]["format"], "int64", "{id}");
    }
    let create = &doc["components"]["schemas"]["CreateInvitationRequest"];
    let ttl = &create["properties"]["expires_in_seconds"];
    // 90.5 s is no whole number of seconds: the least whole one is 91.
    assert_eq!(
        (ttl["minimum"].clone(), ttl["maximum"].clone()),
        (json!(91), json!(2 * 86_400))
    );
    assert_eq!(
        create["properties"]["role"]["enum"],
        json!(["dev_admin", "member"])
    );
    // The example asks for the host's default, which its bounds admit.
    let example = &operation(&doc, "create_invitation")["requestBody"]["content"]["application/json"]["examples"]
        ["email"]["value"];
    assert_eq!(example["expires_in_seconds"], 3600);

    assert_eq!(doc["servers"], json!([{"url": "/api"}]));
    assert_eq!(
        doc["components"]["securitySchemes"]["session"],
        json!({"type": "apiKey", "in": "cookie", "name": "host_session"})
    );
    for (id, ..) in OPERATIONS {
        let security = operation(&doc, id).get("security").cloned();
        let expected = match id {
            "view_invitation" => Some(json!([{}, {"session": []}])),
            "openapi_document" => None,
            _ => Some(json!([{"session": []}])),
        };
        assert_eq!(security, expected, "{id}");
    }
}

#[tokio::test]
async fn create_links_to_revoke_and_resend_by_id_never_by_token() {
    // OpenAPI links let stateful clients chain calls (and the list of the enterprise); the
    // token stays inside invite_url (rule S5, X2), so no link reads it.
    let app = common::memory().await;
    let doc = document(&app).await;
    let links = &operation(&doc, "create_invitation")["responses"]["201"]["links"];
    for (name, target) in [("revoke", "revoke_invitation"), ("resend", "resend_invitation")] {
        let link = &links[name];
        assert_eq!(link["operationId"], target, "{link}");
        assert_eq!(
            link["parameters"],
            json!({"enterprise_id": "$request.path.enterprise_id", "id": "$response.body#/id"})
        );
        assert_eq!(link["requestBody"], json!({}));
        assert!(link.get("operation_id").is_none(), "OpenAPI field names: {link}");
    }
    assert_eq!(links["list"]["operationId"], "list_invitations");
    assert_eq!(
        links["list"]["parameters"],
        json!({"enterprise_id": "$request.path.enterprise_id"})
    );
    let resend_links = &operation(&doc, "resend_invitation")["responses"]["200"]["links"];
    assert_eq!(resend_links["revoke"]["operationId"], "revoke_invitation");
    let text = doc["paths"].to_string();
    for (_, item) in doc["paths"].as_object().unwrap() {
        for (_, operation) in item.as_object().unwrap() {
            for (_, response) in operation["responses"].as_object().unwrap() {
                let links = response.get("links").map(Value::to_string).unwrap_or_default();
                assert!(
                    !links.contains("invite_url") && !links.contains("token"),
                    "{links}"
                );
            }
        }
    }
    assert!(text.contains("$response.body#/id"));
}

#[tokio::test]
async fn every_request_body_has_examples_the_server_accepts() {
    // The document's examples are requests the server takes as they are: not one of them
    // is refused as malformed (400) or as not JSON (415).
    let app = common::memory().await;
    let doc = document(&app).await;
    let sent = app.invite("grace@example.com", "member").await;
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let acme = app.acme_invitations();
    for (op, method, path, _) in OPERATIONS {
        if method != "post" {
            continue;
        }
        let examples = operation(&doc, op)["requestBody"]["content"]["application/json"]["examples"]
            .as_object()
            .unwrap_or_else(|| panic!("{op}: no examples"))
            .clone();
        assert!(!examples.is_empty(), "{op}");
        // rule B1: Mallory's own invitation, one per answer (Acme's, then Globex's).
        let id = if op == "accept_my_invitation" {
            app.invite("mallory@example.com", "member").await.body["id"]
                .as_str()
                .unwrap()
                .to_owned()
        } else if op == "reject_my_invitation" {
            let globex = format!("/enterprises/{}/invitations", app.world.globex.id);
            let sent = app
                .post(
                    &globex,
                    Some(&app.world.grace),
                    json!({"contact": "mallory@example.com", "role": "member"}),
                )
                .await;
            sent.ok(StatusCode::CREATED)["id"].as_str().unwrap().to_owned()
        } else {
            id.clone()
        };
        let uri = path
            .replace("/enterprises/{enterprise_id}/invitations", &acme)
            .replace("{id}", &id);
        for (name, example) in examples {
            let user = if path.starts_with("/invitations/mine") {
                &app.world.mallory
            } else if path.starts_with("/invitations") {
                &app.world.bob
            } else {
                &app.world.alice
            };
            let answer = app.post(&uri, Some(user), example["value"].clone()).await;
            assert!(
                answer.status.is_success() || answer.status == StatusCode::GONE,
                "{op} {name}: {answer:?}"
            );
        }
    }
}

#[tokio::test]
async fn bulk_rows_are_documented_as_the_server_reads_them() {
    // rule B2: a row of the wrong shape is answered with an error row (200), not a refused
    // request, so the document admits any row value and names the row's shape first.
    let app = common::memory().await;
    let doc = document(&app).await;
    let rows = &doc["components"]["schemas"]["BulkInvitationsRequest"]["properties"]["invitations"];
    assert_eq!(rows["type"], "array");
    assert_eq!(
        (rows["minItems"].clone(), rows["maxItems"].clone()),
        (json!(1), json!(100))
    );
    let any_of = rows["items"]["anyOf"].as_array().unwrap();
    assert_eq!(any_of[0]["$ref"], "#/components/schemas/BulkInvitationRow");
    assert!(any_of[1].get("type").is_none(), "any value: {}", any_of[1]);
    // And the server does take such a row.
    let answer = app
        .post(
            &format!("{}/bulk", app.acme_invitations()),
            Some(&app.world.alice),
            json!({"invitations": [[null, null], {"contact": "bob@example.com", "role": "member"}]}),
        )
        .await;
    let results = answer.ok(StatusCode::OK)["results"].clone();
    assert_eq!(results[0]["error"]["code"], "invalid_request");
    assert!(results[1]["invite_url"].is_string(), "{results}");
}
