//! "Your invitations" on the start page (rule B1), clicked through in headless Chromium.
//! Opt-in with `INVITE_E2E_BROWSER=1`, like `demo_browser.rs`; screenshots go to
//! `docs/screenshots/` only with `INVITE_E2E_SCREENSHOTS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::browser::{Browser, enabled};
use common::{DemoServer, Http, enterprise_id};
use hyper::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_start_page_lists_and_answers_your_invitations() {
    // rule B1
    if !enabled("the_start_page_lists_and_answers_your_invitations") {
        return;
    }
    let server = DemoServer::start(&[]);
    let base = server.base_url.clone();
    // Alice invites Bob and Mallory to Acme; Grace invites Bob to Globex.
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");
    for contact in ["bob@example.com", "mallory@example.com"] {
        let sent = alice
            .post(
                &format!("/api/enterprises/{acme}/invitations"),
                &json!({"contact": contact, "role": "dev_admin"}),
            )
            .await;
        assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    }
    let mut grace = Http::new(&server);
    let me = grace.login("grace@example.com").await;
    let globex = enterprise_id(&me, "Globex");
    let sent = grace
        .post(
            &format!("/api/enterprises/{globex}/invitations"),
            &json!({"contact": "bob@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let mallorys = alice
        .get(&format!("/api/enterprises/{acme}/invitations"))
        .await
        .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["contact"] == "mallory@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let b = Browser::start().await;
    b.sign_in(&base, "bob@example.com").await;
    b.visible("[data-testid=my-invitations]").await;
    b.visible("[data-testid=my-invitation][data-enterprise='Acme Robotics']")
        .await;
    b.visible("[data-testid=my-invitation][data-enterprise='Globex']")
        .await;
    assert_eq!(b.text("[data-testid=page-title]").await, "Your account");
    // Mallory's invitation is never shown to Bob.
    let shown = b
        .script(
            "return [...document.querySelectorAll('[data-testid=my-invitation]')].map((li) => li.dataset.id)",
        )
        .await;
    let shown: Vec<String> = serde_json::from_value(shown).unwrap();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(!shown.contains(&mallorys), "{shown:?}");
    let text = b.body_text().await;
    assert!(
        text.contains("Your invitations") && text.contains("Alice Admin"),
        "{text}"
    );
    b.screenshot("14-your-invitations").await;

    // Accept Acme's: Bob joins, the list shrinks to Globex's.
    b.click(
        "[data-testid=my-invitation][data-enterprise='Acme Robotics'] [data-testid=my-invitation-accept]",
    )
    .await;
    b.visible("[data-testid=my-invitations-done]").await;
    assert!(
        b.text("[data-testid=my-invitations-done]")
            .await
            .contains("Acme Robotics"),
        "the accept is confirmed"
    );
    let memberships = b.text("[data-testid=membership-list]").await;
    assert!(memberships.contains("Acme Robotics"), "{memberships}");
    // Reject Globex's: nothing is left.
    b.click("[data-testid=my-invitation][data-enterprise='Globex'] [data-testid=my-invitation-reject]")
        .await;
    b.visible("[data-testid=my-invitations-empty]").await;
    let memberships = b.text("[data-testid=membership-list]").await;
    assert!(!memberships.contains("Globex"), "{memberships}");
    b.screenshot("15-your-invitations-answered").await;

    // Mallory sees only hers.
    b.sign_in(&base, "mallory@example.com").await;
    b.visible("[data-testid=my-invitation][data-enterprise='Acme Robotics']")
        .await;
    let shown = b
        .script("return document.querySelectorAll('[data-testid=my-invitation]').length")
        .await;
    assert_eq!(shown, json!(1));
    b.close().await;
}
