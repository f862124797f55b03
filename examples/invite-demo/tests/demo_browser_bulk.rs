//! Many invitations at once from the members page's drawer (rule B2), clicked through in
//! headless Chromium, with axe-core on every state. Opt-in with `INVITE_E2E_BROWSER=1`,
//! like `demo_browser.rs`; screenshots go to `docs/screenshots/` only with
//! `INVITE_E2E_SCREENSHOTS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::browser::{Browser, enabled};
use common::{DemoServer, Http, enterprise_id};
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json;

/// One line of the drawer's results table, as the page shows it.
#[derive(Debug, Deserialize)]
struct ResultRow {
    line: String,
    contact: String,
    outcome: String,
    code: String,
    message: String,
    link: String,
    role: String,
}

/// The rows of the results table, in the order shown.
async fn result_rows(b: &Browser) -> Vec<ResultRow> {
    let rows = b
        .script(
            "return [...document.querySelectorAll('[data-testid=bulk-result]')].map((tr) => ({
                line: tr.dataset.line, contact: tr.dataset.contact, outcome: tr.dataset.outcome,
                code: tr.dataset.code,
                message: tr.querySelector('[data-testid=bulk-result-message]')?.textContent ?? '',
                link: tr.querySelector('[data-testid=bulk-result-link]')?.value ?? '',
                role: tr.querySelector('.badge-role')?.textContent ?? '',
            }))",
        )
        .await;
    serde_json::from_value(rows).unwrap()
}

/// The contacts of Acme's invitations with their status, as the API lists them.
async fn acme_records(alice: &Http, acme: &str) -> Vec<(String, String)> {
    let page = alice
        .get(&format!("/api/enterprises/{acme}/invitations?limit=100"))
        .await
        .json();
    let mut records: Vec<(String, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["contact"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    records.sort();
    records
}

/// Opens the drawer on "Many at once" and types `lines` into it, one per line.
async fn open_bulk_drawer(b: &Browser) {
    b.click("[data-testid=invite-button]").await;
    b.visible("[data-testid=invite-drawer]").await;
    b.click("[data-testid=invite-mode-many]").await;
    b.visible("[data-testid=invite-contacts]").await;
    assert_eq!(b.text("[data-testid=invite-send]").await, "Send Invitations");
}

/// Counts the page's POSTs from now on, to tell "nothing was sent" from "sent and refused".
async fn count_posts(b: &Browser) {
    b.script(
        "window.__posts = 0;
         const original = window.fetch;
         window.fetch = (resource, options) => {
           if (options && options.method === 'POST') window.__posts += 1;
           return original(resource, options);
         };
         return null;",
    )
    .await;
}

#[tokio::test]
async fn a_bulk_invite_answers_every_line_in_order_and_a_bad_line_never_blocks_a_good_one() {
    // rule B2 (S3, S4, S7 per row), from the page
    if !enabled("a_bulk_invite_answers_every_line_in_order_and_a_bad_line_never_blocks_a_good_one") {
        return;
    }
    let server = DemoServer::start(&[]);
    let base = server.base_url.clone();
    // Dave already has a pending invitation to Acme.
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");
    let sent = alice
        .post(
            &format!("/api/enterprises/{acme}/invitations"),
            &json!({"contact": "dave@example.com", "role": "member"}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);

    let b = Browser::start().await;
    b.sign_in(&base, "alice@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    b.wait_record("dave@example.com", "pending").await;
    b.assert_accessible("members page").await;
    open_bulk_drawer(&b).await;
    assert_eq!(
        b.text("[data-testid=role-label]").await,
        "Role for lines without one"
    );
    b.assert_accessible("invite drawer, many at once").await;

    // A pasted CSV with its header; lines without a role get the selected one (member).
    let csv = [
        "contact,role",
        "bob@example.com,dev_admin",
        "not-an-email",
        "+1 415 555 0100",
        "dave@example.com,member",
        "",
        "erin@example.com , finance_admin",
        "BOB@example.com",
        "alice@example.com",
        "frank@example.com,super_admin",
        "\"grace@example.org\",\"dev_admin\"",
    ]
    .join("\n");
    b.fill("[data-testid=invite-contacts]", &csv).await;
    b.click("[data-testid=role-member]").await;
    b.screenshot("16-bulk-invite-drawer").await;
    b.click("[data-testid=invite-send]").await;
    b.visible("[data-testid=bulk-results]").await;

    // One result per line, in the order of the lines; the bad ones between the good ones.
    let rows = result_rows(&b).await;
    let got: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.line.as_str(), r.contact.as_str(), r.code.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("2", "bob@example.com", "created"),
            ("3", "not-an-email", "invalid_contact"),
            ("4", "+1 415 555 0100", "created"),
            ("5", "dave@example.com", "duplicate_pending"),
            ("7", "erin@example.com", "created"),
            ("8", "BOB@example.com", "duplicate_pending"),
            ("9", "alice@example.com", "already_member"),
            ("10", "frank@example.com", "role_not_assignable"),
            ("11", "grace@example.org", "created"),
        ]
    );
    let roles: Vec<&str> = rows.iter().map(|r| r.role.as_str()).collect();
    assert_eq!(
        roles,
        [
            "dev_admin",
            "member",
            "member",
            "member",
            "finance_admin",
            "member",
            "member",
            "super_admin",
            "dev_admin"
        ]
    );
    // Each refusal says what it means in words, not only its code; each sent line has its
    // own one-time link (rule S5).
    for row in &rows {
        if row.outcome == "error" {
            assert!(
                row.message.len() > 20 && !row.message.contains('_') && row.link.is_empty(),
                "{row:?}"
            );
        } else {
            assert_eq!(row.outcome, "created", "{row:?}");
            assert!(row.link.contains("/invite?token="), "{row:?}");
            assert!(row.message.is_empty(), "{row:?}");
        }
    }
    let links: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| !r.link.is_empty())
        .map(|r| r.link.as_str())
        .collect();
    assert_eq!(links.len(), 4, "one distinct link per sent line");
    assert!(rows[5].message.contains("line 2"), "{:?}", rows[5]);
    assert!(rows[3].message.contains("Resend"), "{:?}", rows[3]);
    assert_eq!(
        b.text("[data-testid=bulk-summary]").await,
        "4 of 9 invitations sent; 5 refused. The refused lines are left in the box to correct and send again."
    );
    assert_eq!(
        b.value("[data-testid=invite-contacts]").await,
        "not-an-email\ndave@example.com,member\nBOB@example.com\nalice@example.com\nfrank@example.com,super_admin"
    );
    b.screenshot("17-bulk-invite-results").await;
    b.assert_accessible("invite drawer, bulk results shown").await;

    // The records table refreshed behind the drawer: the good lines are there, pending (a
    // contact as it was typed, rule H7).
    for contact in [
        "bob@example.com",
        "+1 415 555 0100",
        "erin@example.com",
        "grace@example.org",
        "dave@example.com",
    ] {
        b.wait_record(contact, "pending").await;
    }
    for contact in ["not-an-email", "frank@example.com", "alice@example.com"] {
        assert!(
            !b.is_visible(&format!("[data-testid=record-row][data-contact='{contact}']"))
                .await,
            "{contact} was refused"
        );
    }
    let pending = |c: &str| (c.to_owned(), "pending".to_owned());
    assert_eq!(
        acme_records(&alice, &acme).await,
        [
            pending("+1 415 555 0100"),
            pending("bob@example.com"),
            pending("dave@example.com"),
            pending("erin@example.com"),
            pending("grace@example.org"),
        ]
    );

    // The one-person flow still works from the same drawer.
    b.click("[data-testid=invite-mode-one]").await;
    assert!(!b.is_visible("[data-testid=invite-contacts]").await);
    b.fill("[data-testid=invite-contact]", "heidi@example.com").await;
    b.click("[data-testid=invite-send]").await;
    b.visible("[data-testid=invite-link-panel]").await;
    b.wait_record("heidi@example.com", "pending").await;
    b.click("[data-testid=drawer-close]").await;
    assert!(!b.is_visible("[data-testid=invite-drawer]").await);

    // A link shown in the results is a real one: Erin's opens her invitation.
    let erin = rows.iter().find(|r| r.contact == "erin@example.com").unwrap();
    b.forget_session().await;
    b.goto(&erin.link).await;
    b.visible("#invite-card[data-state=invitation_info]").await;
    assert_eq!(b.text("[data-testid=info-role]").await, "finance_admin");
    b.close().await;
}

#[tokio::test]
async fn more_than_a_hundred_lines_are_refused_in_the_page_and_a_hundred_go_in_one_request() {
    // rule B2: 1 to 100 rows per request
    if !enabled("more_than_a_hundred_lines_are_refused_in_the_page_and_a_hundred_go_in_one_request") {
        return;
    }
    let server = DemoServer::start(&[]);
    let base = server.base_url.clone();
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");

    let b = Browser::start().await;
    b.sign_in(&base, "alice@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    b.visible("[data-testid=records-empty]").await;
    open_bulk_drawer(&b).await;
    count_posts(&b).await;

    // Nothing typed: said so, nothing sent.
    b.click("[data-testid=invite-send]").await;
    let error = b.text("[data-testid=invite-error]").await;
    assert!(error.contains("at least one"), "{error}");

    // 101 contacts: a clear message, nothing sent.
    let lines: Vec<String> = (0..101).map(|n| format!("user{n}@example.com")).collect();
    b.script(&format!(
        "document.querySelector('[data-testid=invite-contacts]').value = {}; return null",
        json!(lines.join("\n"))
    ))
    .await;
    b.click("[data-testid=invite-send]").await;
    let error = b.text("[data-testid=invite-error]").await;
    assert!(
        error.contains("101") && error.contains("100") && error.contains("Nothing was sent"),
        "{error}"
    );
    assert!(!b.is_visible("[data-testid=bulk-results]").await);
    assert_eq!(b.script("return window.__posts").await, json!(0));
    assert!(acme_records(&alice, &acme).await.is_empty());
    b.assert_accessible("invite drawer, over 100 lines refused").await;

    // 100 contacts: one request, 100 results, all sent.
    b.script(&format!(
        "document.querySelector('[data-testid=invite-contacts]').value = {}; return null",
        json!(lines[..100].join("\n"))
    ))
    .await;
    b.click("[data-testid=invite-send]").await;
    b.visible("[data-testid=bulk-results]").await;
    assert!(!b.is_visible("[data-testid=invite-error]").await);
    assert_eq!(b.script("return window.__posts").await, json!(1));
    let rows = result_rows(&b).await;
    assert_eq!(rows.len(), 100);
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(
            (row.contact.as_str(), row.code.as_str()),
            (lines[n].as_str(), "created"),
            "{row:?}"
        );
    }
    assert_eq!(
        b.text("[data-testid=bulk-summary]").await,
        "100 of 100 invitations sent."
    );
    assert_eq!(b.value("[data-testid=invite-contacts]").await, "");
    assert_eq!(acme_records(&alice, &acme).await.len(), 100);
    b.wait_record("user99@example.com", "pending").await;
    b.assert_accessible("invite drawer, 100 results").await;
    b.close().await;
}
