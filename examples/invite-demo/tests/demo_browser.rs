//! The guide, clicked through in a real headless Chromium (rules §7 pages; A1–A4 states).
//!
//! Opt-in: these run only with `INVITE_E2E_BROWSER=1` (and `chromium` + `chromium-driver`
//! installed: `/usr/bin/chromium`, `/usr/bin/chromedriver`). Then they fail, never skip,
//! when the browser or driver cannot start. Without the variable they say on stderr that
//! they did not run, and pass. Each run takes screenshots of every page state; with
//! `INVITE_E2E_SCREENSHOTS=1` they replace those in `docs/screenshots/` (shown in the
//! README), otherwise they go to `target/tmp/screenshots/`. Every state they reach must
//! pass axe-core (`Browser::assert_accessible`: WCAG 2.0/2.1 A and AA, best practices).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use common::browser::{Browser, enabled};
use common::{DemoServer, Http, enterprise_id, token_of};
use serde_json::json;

/// Sends an invitation through the drawer and returns the link shown once.
async fn invite(b: &Browser, contact: &str, role: &str, screenshots: Option<(&str, &str)>) -> String {
    b.click("[data-testid=invite-button]").await;
    b.visible("[data-testid=invite-drawer]").await;
    b.fill("[data-testid=invite-contact]", contact).await;
    b.click(&format!("[data-testid=role-{role}]")).await;
    if let Some((drawer, _)) = screenshots {
        b.screenshot(drawer).await;
        b.assert_accessible("invite drawer open").await;
    }
    b.click("[data-testid=invite-send]").await;
    b.visible("[data-testid=invite-link-panel]").await;
    let link = b.value("[data-testid=invite-link]").await;
    assert!(link.contains("/invite?token="), "{link}");
    b.wait_record(contact, "pending").await;
    if let Some((_, shown)) = screenshots {
        b.screenshot(shown).await;
        b.assert_accessible("invite drawer, link shown").await;
    }
    b.click("[data-testid=drawer-close]").await;
    link
}

/// Waits for the invitee page to leave Loading for `state` (rule A1).
async fn invitee_state(b: &Browser, state: &str) {
    b.visible(&format!("#invite-card[data-state={state}]")).await;
    b.visible(&format!("[data-testid=state-{}]", state.replace('_', "-")))
        .await;
}

/// The full address in the address bar, as the page sees it.
async fn href(b: &Browser) -> String {
    b.script("return window.location.href")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

/// Asserts that neither the address bar nor `path` holds the token of `link` (rule X2).
async fn no_token_in_the_url(b: &Browser, link: &str, path: &str) {
    let token = token_of(link);
    let href = href(b).await;
    for shown in [href.as_str(), path] {
        assert!(!shown.contains("token") && !shown.contains(&token), "{shown}");
    }
}

/// Waits until the sign-in page is open and returns its path (with query).
async fn sign_in_page(b: &Browser) -> String {
    b.visible("#forms").await;
    b.wait_path("the sign-in page", |p| p == "/" || p.starts_with("/?"))
        .await
}

/// Waits until the invitee page is back at `/invite`, its token out of the URL (rule X2).
async fn back_on_the_invitation(b: &Browser, link: &str) {
    let path = b.wait_path("back to the invitation", |p| p == "/invite").await;
    no_token_in_the_url(b, link, &path).await;
}

/// `text` with every byte but letters and digits percent-encoded, for a query value.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Return targets that leave the site once the browser has read them: the raw forms, and
/// those that only resolve to a path `//host` after `.`/`..` segments, `%2e` and `\` are
/// normalized away.
const OFF_SITE_RETURNS: [&str; 12] = [
    "//example.com/",
    "/\\example.com/",
    "https://example.com/",
    "/\t/example.com/",
    "javascript:alert(1)",
    "/.//example.com",
    "/%2e//example.com",
    "/%2E//example.com",
    "/./\\example.com",
    "/..//example.com",
    "/a/..//example.com",
    "/%2e%2e/\\example.com",
];

/// No `return` leaves the site (no open redirect): `Demo.safeReturn` refuses each, and
/// signing in with one lands where signing in without one does.
async fn refuses_open_redirects(b: &Browser, base: &str) {
    b.goto(&format!("{base}/")).await;
    b.visible("[data-testid=login-form]").await;
    for (target, kept) in [
        ("/invite", "/invite"),
        (
            "/enterprise/members?enterprise=1#records",
            "/enterprise/members?enterprise=1#records",
        ),
        ("/./invite", "/invite"),
    ] {
        let js = format!("return Demo.safeReturn({})", json!(target));
        assert_eq!(b.script(&js).await, json!(kept), "{target:?}");
    }
    for target in OFF_SITE_RETURNS {
        let js = format!("return Demo.safeReturn({})", json!(target));
        assert_eq!(b.script(&js).await, json!(null), "{target:?} is off site");
    }
    for target in OFF_SITE_RETURNS {
        b.forget_session().await;
        b.goto(&format!("{base}/?return={}", query_value(target))).await;
        b.fill("[data-testid=login-contact]", "alice@example.com").await;
        b.click("[data-testid=login-submit]").await;
        b.wait_path(&format!("the members page, not {target:?}"), |p| {
            p == "/enterprise/members"
        })
        .await;
    }
}

#[tokio::test]
async fn inviter_and_invitee_click_through_the_guide() {
    if !enabled("inviter_and_invitee_click_through_the_guide") {
        return;
    }
    let server = DemoServer::start(&[]);
    let base = server.base_url.clone();
    let b = Browser::start().await;

    // Sign in as Alice: a super admin lands on Enterprise > Members.
    b.forget_session().await;
    b.goto(&format!("{base}/")).await;
    b.visible("[data-testid=login-form]").await;
    b.screenshot("01-sign-in").await;
    b.assert_accessible("sign-in page").await;
    b.click("[data-testid=tab-register]").await;
    b.visible("[data-testid=register-form]").await;
    b.assert_accessible("sign-in page, Register tab").await;
    b.sign_in(&base, "alice@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    assert_eq!(b.text("[data-testid=breadcrumb]").await, "Enterprise › Members");
    assert_eq!(b.text("[data-testid=enterprise-name]").await, "Acme Robotics");
    b.visible("[data-testid=records-empty]").await;
    b.assert_accessible("members page, no invitations yet").await;

    // The drawer: Invite by Email or Phone, Select Role (no super_admin, rule S4).
    let bob_link = invite(
        &b,
        "bob@example.com",
        "dev_admin",
        Some(("02-members-invite-drawer", "03-invite-link-shown")),
    )
    .await;
    assert!(!b.is_visible("[data-testid=role-super_admin]").await);
    let carol_link = invite(&b, "+14155550100", "member", None).await;
    let dave_link = invite(&b, "dave@example.com", "finance_admin", None).await;
    assert!(!b.is_visible("[data-testid=invite-drawer]").await);
    // rule S7: a second pending invitation to Bob is refused, readably.
    b.click("[data-testid=invite-button]").await;
    b.fill("[data-testid=invite-contact]", "BOB@example.com").await;
    b.click("[data-testid=invite-send]").await;
    let error = b.text("[data-testid=invite-error]").await;
    assert!(
        error.contains("already exists") && !error.contains("duplicate_pending"),
        "{error}"
    );
    b.assert_accessible("invite drawer, refused").await;
    b.click("[data-testid=drawer-close]").await;

    // The records table: newest first, Pending; revoke Dave's (rule R2).
    b.wait_record("bob@example.com", "pending").await;
    let status = b
        .text("[data-testid=record-row][data-contact='bob@example.com'] [data-testid=record-status]")
        .await;
    assert_eq!(status, "Pending");
    b.screenshot("04-invitation-records").await;
    b.assert_accessible("members page with records").await;
    b.click("[data-testid=record-row][data-contact='dave@example.com'] [data-testid=record-revoke]")
        .await;
    b.wait_record("dave@example.com", "revoked").await;

    // Bob's link, signed out: the info with Login and Register, no Accept (rule A2).
    b.forget_session().await;
    b.goto(&bob_link).await;
    invitee_state(&b, "invitation_info").await;
    // rule X2: once read, the token leaves the address bar and the history entry (it
    // stays in this tab's sessionStorage, so a reload still shows the invitation).
    let path = b.wait_path("the invitee page", |p| p == "/invite").await;
    no_token_in_the_url(&b, &bob_link, &path).await;
    b.refresh().await;
    invitee_state(&b, "invitation_info").await;
    no_token_in_the_url(&b, &bob_link, &b.path().await).await;
    assert_eq!(b.text("[data-testid=info-enterprise]").await, "Acme Robotics");
    assert_eq!(b.text("[data-testid=info-inviter]").await, "Alice Admin");
    assert_eq!(b.text("[data-testid=info-role]").await, "dev_admin");
    b.visible("[data-testid=btn-login]").await;
    b.visible("[data-testid=btn-register]").await;
    assert!(!b.is_visible("[data-testid=btn-accept]").await);
    assert!(!b.is_visible("[data-testid=btn-reject]").await);
    b.screenshot("05-invitee-signed-out").await;
    b.assert_accessible("invitee page, valid token, signed out").await;

    // Login, with the wrong account: the mismatch warning, masked contact, no Accept (rule A4).
    // The sign-in page's URL holds no token either (rule X2), nor does the history entry
    // of the invitee page left behind.
    b.click("[data-testid=btn-login]").await;
    let path = sign_in_page(&b).await;
    no_token_in_the_url(&b, &bob_link, &path).await;
    b.client.back().await.unwrap();
    back_on_the_invitation(&b, &bob_link).await;
    invitee_state(&b, "invitation_info").await;
    b.click("[data-testid=btn-login]").await;
    sign_in_page(&b).await;
    b.visible("[data-testid=return-note]").await;
    b.assert_accessible("sign-in page, on the way to an invitation")
        .await;
    b.fill("[data-testid=login-contact]", "mallory@example.com").await;
    b.click("[data-testid=login-submit]").await;
    back_on_the_invitation(&b, &bob_link).await;
    invitee_state(&b, "invitation_info").await;
    b.visible("[data-testid=mismatch-warning]").await;
    assert_eq!(b.text("[data-testid=mismatch-invited]").await, "b***@example.com");
    assert!(!b.is_visible("[data-testid=btn-accept]").await);
    assert!(!b.is_visible("[data-testid=btn-reject]").await);
    assert!(
        !b.body_text().await.contains("bob@example.com"),
        "the invited contact stays masked"
    );
    b.screenshot("06-invitee-mismatch").await;
    b.assert_accessible("invitee page, account mismatch").await;

    // Switch account: sign out, sign in as Bob, back on the same invitation (rule A3).
    b.click("[data-testid=btn-switch-account]").await;
    let path = b
        .wait_path("the sign-in page", |p| p.starts_with("/?return="))
        .await;
    no_token_in_the_url(&b, &bob_link, &path).await;
    b.fill("[data-testid=login-contact]", "bob@example.com").await;
    b.click("[data-testid=login-submit]").await;
    back_on_the_invitation(&b, &bob_link).await;
    invitee_state(&b, "invitation_info").await;
    b.visible("[data-testid=btn-accept]").await;
    b.visible("[data-testid=btn-reject]").await;
    assert!(!b.is_visible("[data-testid=mismatch-warning]").await);
    b.screenshot("07-invitee-matching").await;
    b.assert_accessible("invitee page, valid token, matching account")
        .await;
    b.click("[data-testid=btn-accept]").await;
    invitee_state(&b, "accepted").await;
    assert_eq!(
        b.text("[data-testid=accepted-message]").await,
        "You joined Acme Robotics as dev_admin."
    );
    b.screenshot("08-invitee-accepted").await;
    b.assert_accessible("invitee page, accepted").await;
    // Reopened, the link says Accepted (rule A1, A6: single use).
    b.goto(&bob_link).await;
    invitee_state(&b, "accepted").await;
    // Bob now belongs to Acme as dev_admin: the start page lists it.
    b.click("#accepted-home").await;
    b.visible("[data-testid=not-super-admin]").await;
    b.assert_accessible("start page, member of an enterprise").await;
    let list = b.text("[data-testid=membership-list]").await;
    assert!(
        list.contains("Acme Robotics") && list.contains("dev_admin"),
        "{list}"
    );

    // A sign-in link of an older page, with the token in its `return`: the sign-in page
    // moves the token to sessionStorage and out of its own URL, then comes back to
    // `/invite` (rule X2).
    b.forget_session().await;
    b.goto(&format!("{base}/")).await;
    b.script("window.sessionStorage.clear(); return null").await;
    let old_return = query_value(&format!("/invite?token={}", token_of(&carol_link)));
    b.goto(&format!("{base}/?return={old_return}")).await;
    let path = sign_in_page(&b).await;
    assert_eq!(path, "/?return=%2Finvite");
    no_token_in_the_url(&b, &carol_link, &path).await;
    b.fill("[data-testid=login-contact]", "+14155550100").await;
    b.click("[data-testid=login-submit]").await;
    back_on_the_invitation(&b, &carol_link).await;
    invitee_state(&b, "invitation_info").await;
    b.visible("[data-testid=btn-reject]").await;

    // Carol (by phone) rejects (rule A7); the link then says Rejected.
    b.forget_session().await;
    b.goto(&carol_link).await;
    invitee_state(&b, "invitation_info").await;
    b.click("[data-testid=btn-login]").await;
    let path = sign_in_page(&b).await;
    no_token_in_the_url(&b, &carol_link, &path).await;
    b.fill("[data-testid=login-contact]", "+1 415 555 0100").await;
    b.click("[data-testid=login-submit]").await;
    back_on_the_invitation(&b, &carol_link).await;
    b.click("[data-testid=btn-reject]").await;
    invitee_state(&b, "rejected").await;
    b.goto(&carol_link).await;
    invitee_state(&b, "rejected").await;
    b.screenshot("09-invitee-rejected").await;
    b.assert_accessible("invitee page, rejected").await;

    // The revoked link is Invalid or Expired (rule R2, A1), as is a made-up token.
    b.goto(&dave_link).await;
    invitee_state(&b, "invalid_or_expired").await;
    b.screenshot("10-invitee-invalid-or-expired").await;
    b.assert_accessible("invitee page, invalid or revoked").await;
    b.goto(&format!("{base}/invite?token=not-a-real-token")).await;
    invitee_state(&b, "invalid_or_expired").await;

    // Erin has no account: Register from the invitation, come back, accept (rule A2, A3).
    b.sign_in(&base, "alice@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    let erin_link = invite(&b, "erin@example.com", "member", None).await;
    b.forget_session().await;
    b.goto(&erin_link).await;
    invitee_state(&b, "invitation_info").await;
    b.click("[data-testid=btn-register]").await;
    let path = sign_in_page(&b).await;
    assert!(path.contains("mode=register"), "{path}");
    no_token_in_the_url(&b, &erin_link, &path).await;
    b.assert_accessible("sign-in page, Register on the way to an invitation")
        .await;
    b.fill("[data-testid=register-name]", "Erin Example").await;
    b.fill("[data-testid=register-contact]", "erin@example.com").await;
    b.click("[data-testid=register-submit]").await;
    back_on_the_invitation(&b, &erin_link).await;
    invitee_state(&b, "invitation_info").await;
    assert_eq!(b.text("[data-testid=info-enterprise]").await, "Acme Robotics");
    b.click("[data-testid=btn-accept]").await;
    invitee_state(&b, "accepted").await;

    // Carol has no enterprise: signing in shows "no enterprise yet".
    b.sign_in(&base, "+14155550100").await;
    b.visible("[data-testid=no-enterprise]").await;
    b.assert_accessible("start page, no enterprise").await;

    // Back to Alice: Bob is a member, the records say Accepted, Rejected, Revoked.
    b.sign_in(&base, "alice@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    b.wait_record("bob@example.com", "accepted").await;
    b.wait_record("+14155550100", "rejected").await;
    b.wait_record("dave@example.com", "revoked").await;
    b.wait_record("erin@example.com", "accepted").await;
    let members = b.text("[data-testid=members-table]").await;
    assert!(
        members.contains("Bob Builder") && members.contains("dev_admin"),
        "{members}"
    );
    assert!(
        !b.is_visible("[data-testid=record-revoke]").await,
        "no pending row left"
    );
    b.screenshot("12-members-and-records").await;
    b.assert_accessible("members page, answered records").await;

    // Paginated records (rule R1): 3 + 9 invitations are two pages of 10.
    let mut alice = Http::new(&server);
    let me = alice.login("alice@example.com").await;
    let acme = enterprise_id(&me, "Acme Robotics");
    for n in 0..9 {
        let reply = alice
            .post(
                &format!("/api/enterprises/{acme}/invitations"),
                &json!({ "contact": format!("user{n}@example.com"), "role": "member" }),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    }
    b.refresh().await;
    b.wait_record("user8@example.com", "pending").await;
    assert!(
        !b.is_visible("[data-testid=record-row][data-contact='bob@example.com']")
            .await
    );
    b.click("[data-testid=records-next]:not([disabled])").await;
    b.wait_record("bob@example.com", "accepted").await;
    assert_eq!(b.text("[data-testid=records-page]").await, "Page 2");
    b.assert_accessible("members page, records page 2").await;
    b.click("[data-testid=records-prev]:not([disabled])").await;
    b.wait_record("user8@example.com", "pending").await;
    // The status filter.
    b.visible("[data-testid=records-status]")
        .await
        .select_by_value("accepted")
        .await
        .unwrap();
    b.wait_record("bob@example.com", "accepted").await;
    assert!(
        !b.is_visible("[data-testid=record-row][data-status=pending]")
            .await
    );

    b.close().await;
}

#[tokio::test]
async fn an_expired_link_is_invalid_resend_brings_a_fresh_one_and_uncertified_cannot_invite() {
    if !enabled("an_expired_link_is_invalid_resend_brings_a_fresh_one_and_uncertified_cannot_invite") {
        return;
    }
    // rules §7 --invite-ttl in seconds; §1 expired is derived; R3 resend; S2 not certified
    let server = DemoServer::start(&["--invite-ttl", "4s"]);
    let base = server.base_url.clone();
    let b = Browser::start().await;

    // A `return` that the browser would read as another site is ignored (no open redirect).
    refuses_open_redirects(&b, &base).await;
    b.sign_in(&base, "alice@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    let old_link = invite(&b, "erin@example.com", "member", None).await;
    tokio::time::sleep(Duration::from_millis(4_500)).await;

    b.forget_session().await;
    b.goto(&old_link).await;
    invitee_state(&b, "invalid_or_expired").await;
    b.screenshot("11-invitee-expired").await;
    b.assert_accessible("invitee page, expired").await;

    // The records say Expired; Resend issues a new link, and the old one stays dead.
    b.sign_in(&base, "alice@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    b.wait_record("erin@example.com", "expired").await;
    b.assert_accessible("members page, an expired record").await;
    b.click("[data-testid=record-row][data-contact='erin@example.com'] [data-testid=record-resend]")
        .await;
    b.visible("[data-testid=resend-panel]").await;
    b.assert_accessible("members page, resend link shown").await;
    let new_link = b.value("[data-testid=resend-link]").await;
    assert_ne!(new_link, old_link);

    // The fresh link works at once (it lives 4 seconds too).
    b.forget_session().await;
    b.goto(&new_link).await;
    invitee_state(&b, "invitation_info").await;
    b.goto(&old_link).await;
    invitee_state(&b, "invalid_or_expired").await;

    // Uma's enterprise is not certified: the page says so, and sending explains why not (rule S2).
    b.sign_in(&base, "uma@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    assert_eq!(b.text("#enterprise-certified").await, "Not certified");
    b.click("[data-testid=invite-button]").await;
    b.visible("[data-testid=invite-uncertified]").await;
    b.fill("[data-testid=invite-contact]", "bob@example.com").await;
    b.click("[data-testid=invite-send]").await;
    let error = b.text("[data-testid=invite-error]").await;
    assert!(error.contains("not certified"), "{error}");
    b.screenshot("13-not-certified").await;
    b.assert_accessible("invite drawer, enterprise not certified")
        .await;

    b.close().await;
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    // rules §6, §7: the page's Sign out posts `{}` as application/json (a bodiless POST is
    // refused with 415), so the server forgets the session, not only the page.
    if !enabled("signing_out_ends_the_session_on_the_server") {
        return;
    }
    let server = DemoServer::start(&[]);
    let base = server.base_url.clone();
    let b = Browser::start().await;
    b.sign_in(&base, "alice@example.com").await;
    b.wait_path("the members page", |p| p == "/enterprise/members")
        .await;
    b.click("[data-testid=logout]").await;
    b.wait_path("the sign-in page", |p| p == "/").await;
    b.visible("[data-testid=login-form]").await;
    let me = b
        .script("return fetch('/me', {credentials: 'same-origin'}).then(r => r.status);")
        .await;
    assert_eq!(me, json!(401), "the server still knows the session");
    // The same from the home page's own Sign out button (Bob, a member of nothing, stays
    // on the home page once signed in).
    b.sign_in(&base, "bob@example.com").await;
    b.visible("[data-testid=signed-in]").await;
    b.click("[data-testid=signed-in-logout]").await;
    b.visible("[data-testid=login-form]").await;
    let me = b
        .script("return fetch('/me', {credentials: 'same-origin'}).then(r => r.status);")
        .await;
    assert_eq!(me, json!(401), "the server still knows the session");
    b.close().await;
}
