//! Rule H3: a host's own key kinds in paths, JSON and the OpenAPI document.

use super::*;

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
