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
    b.assert_accessible("start page, your invitations").await;

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
    b.assert_accessible("start page, an invitation accepted").await;
    let memberships = b.text("[data-testid=membership-list]").await;
    assert!(memberships.contains("Acme Robotics"), "{memberships}");
    // Reject Globex's: nothing is left.
    b.click("[data-testid=my-invitation][data-enterprise='Globex'] [data-testid=my-invitation-reject]")
        .await;
    b.visible("[data-testid=my-invitations-empty]").await;
    let memberships = b.text("[data-testid=membership-list]").await;
    assert!(!memberships.contains("Globex"), "{memberships}");
    b.screenshot("15-your-invitations-answered").await;
    b.assert_accessible("start page, no invitations left").await;

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

#[tokio::test]
async fn an_invitation_to_another_contact_is_never_shown_as_yours() {
    // rule B1: matched by the signed-in account's own verified contact, normalized (S3),
    // never by a look-alike: another domain, a plus address, another enterprise's invitee,
    // a phone number.
    if !enabled("an_invitation_to_another_contact_is_never_shown_as_yours") {
        return;
    }
    let server = DemoServer::start(&[]);
    let base = server.base_url.clone();
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");
    // One bulk request (rule B2): Bob's own address spelled in capitals, and others'.
    let reply = alice
        .post(
            &format!("/api/enterprises/{acme}/invitations/bulk"),
            &json!({"invitations": [
                {"contact": "bob@example.org", "role": "member"},
                {"contact": "bob+team@example.com", "role": "member"},
                {"contact": "BOB@Example.COM", "role": "dev_admin"},
                {"contact": "mallory@example.com", "role": "member"},
                {"contact": "+1 (415) 555-0100", "role": "finance_admin"},
                {"contact": "obo@example.com", "role": "member"},
            ]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let results = reply.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 6);
    let id_of = |n: usize| {
        results[n]["invitation"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("row {n} was not sent: {}", results[n]))
            .to_owned()
    };
    let (bobs, carols) = (id_of(2), id_of(4));

    /// The ids of the invitations listed under "Your invitations", once it has loaded.
    async fn shown(b: &Browser) -> Vec<String> {
        b.visible("[data-testid=my-invitations]").await;
        let ids = b
            .script(
                "return [...document.querySelectorAll('[data-testid=my-invitation]')].map((li) => li.dataset.id)",
            )
            .await;
        serde_json::from_value(ids).unwrap()
    }

    let b = Browser::start().await;
    b.sign_in(&base, "bob@example.com").await;
    b.visible("[data-testid=my-invitation]").await;
    assert_eq!(shown(&b).await, [bobs], "only Bob's own");
    assert_eq!(
        b.text("[data-testid=my-invitation] .badge-role").await,
        "dev_admin"
    );
    b.assert_accessible("start page, one invitation of several").await;
    // Bob is no super admin: the members page says so, and is accessible too.
    b.goto(&format!("{base}/enterprise/members")).await;
    b.visible("[data-testid=not-admin]").await;
    b.assert_accessible("members page, not a super admin").await;

    // Carol, by phone, sees hers, spelled another way by the inviter.
    b.sign_in(&base, "+14155550100").await;
    b.visible("[data-testid=my-invitation]").await;
    assert_eq!(shown(&b).await, [carols], "only Carol's own");

    // Grace has none of them, though she administers another enterprise.
    b.sign_in(&base, "grace@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    b.goto(&format!("{base}/")).await;
    b.visible("[data-testid=my-invitations-empty]").await;
    assert!(shown(&b).await.is_empty());
    b.assert_accessible("start page, super admin without invitations")
        .await;

    // Bob answers his; the look-alikes stay pending, still not his.
    b.sign_in(&base, "bob@example.com").await;
    b.click("[data-testid=my-invitation] [data-testid=my-invitation-reject]")
        .await;
    b.visible("[data-testid=my-invitations-empty]").await;
    assert!(shown(&b).await.is_empty());
    let pending = alice
        .get(&format!("/api/enterprises/{acme}/invitations?status=pending"))
        .await
        .json();
    assert_eq!(pending["items"].as_array().unwrap().len(), 5, "{pending}");
    b.close().await;
}
