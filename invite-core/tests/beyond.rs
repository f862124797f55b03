//! The service's "beyond the guide" use cases (rules B1, B2) over the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::TimeDelta;
use common::App;
use invite_core::{
    Accounts, DeliveryOutbox, DeliveryStatus, Directory, InvitationId, InviteError, OutboxKey, Role,
    SendInvitation, User,
};

fn rows(rows: &[(&str, &str)]) -> Vec<Result<SendInvitation, InviteError>> {
    rows.iter()
        .map(|(contact, role)| Ok(SendInvitation::new(*contact, *role)))
        .collect()
}

#[tokio::test]
async fn mine_lists_pending_invitations_to_verified_contacts_across_enterprises() {
    // rule B1
    let app = App::new().await;
    let w = &app.world;
    let acme = app.invite("Bob@Example.com", "dev_admin").await.unwrap();
    app.clock.advance(TimeDelta::minutes(1));
    let globex = app
        .invitations
        .send(
            &w.grace,
            &w.globex.id,
            SendInvitation::new("bob@example.com", "member"),
        )
        .await
        .unwrap();
    // Not Bob's: Mallory's, and one revoked.
    app.invite("mallory@example.com", "member").await.unwrap();
    let mine = app.invitations.mine(&w.bob).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].id, acme.invitation.id);
    assert_eq!(mine[0].enterprise_name, "Acme Robotics");
    assert_eq!(mine[0].inviter_name, w.alice.name);
    assert_eq!(mine[0].role, Role::DevAdmin);
    assert_eq!(mine[0].expires_at, acme.invitation.expires_at);
    assert_eq!(mine[1].id, globex.invitation.id);
    assert_eq!(mine[1].enterprise_name, "Globex");
    app.invitations
        .revoke(&w.grace, &w.globex.id, globex.invitation.id)
        .await
        .unwrap();
    let mine = app.invitations.mine(&w.bob).await.unwrap();
    assert_eq!(
        mine.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![acme.invitation.id]
    );
    // Mallory sees only hers; an expired one is gone.
    assert_eq!(app.invitations.mine(&w.mallory).await.unwrap().len(), 1);
    app.clock.advance(TimeDelta::days(8));
    assert!(app.invitations.mine(&w.bob).await.unwrap().is_empty());
}

#[tokio::test]
async fn only_verified_contacts_count() {
    // rule B1: a contact the host has not verified is not set on the User, so it reaches
    // nothing.
    let app = App::new().await;
    app.invite("bob@example.com", "member").await.unwrap();
    let unverified = User {
        email: None,
        ..app.world.bob.clone()
    };
    assert!(app.invitations.mine(&unverified).await.unwrap().is_empty());
    let id = app.invitations.mine(&app.world.bob).await.unwrap()[0].id;
    assert!(matches!(
        app.invitations.accept_mine(&unverified, id).await,
        Err(InviteError::NotFound)
    ));
}

#[tokio::test]
async fn accept_mine_makes_a_member_with_every_rule_of_accept() {
    // rules B1, A5, A6
    let app = App::new().await;
    let w = &app.world;
    let sent = app.invite("bob@example.com", "finance_admin").await.unwrap();
    let accepted = app
        .invitations
        .accept_mine(&w.bob, sent.invitation.id)
        .await
        .unwrap();
    assert_eq!(accepted.enterprise.name, "Acme Robotics");
    assert_eq!(accepted.role, Role::FinanceAdmin);
    assert_eq!(
        app.store.role_of(&w.acme.id, &w.bob.id).await.unwrap(),
        Some(Role::FinanceAdmin)
    );
    assert!(matches!(
        app.invitations.accept_mine(&w.bob, sent.invitation.id).await,
        Err(InviteError::AlreadyAccepted)
    ));
    assert!(matches!(
        app.invitations.reject_mine(&w.bob, sent.invitation.id).await,
        Err(InviteError::AlreadyAccepted)
    ));
    // The link is used up too (rule A6).
    assert!(matches!(
        app.invitations.accept(sent.link.token(), &w.bob).await,
        Err(InviteError::AlreadyAccepted)
    ));
    assert!(app.invitations.mine(&w.bob).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_id_not_addressed_to_the_user_is_not_found() {
    // rules B1, X3: never a hint that it exists.
    let app = App::new().await;
    let w = &app.world;
    let bobs = app.invite("bob@example.com", "member").await.unwrap();
    for outcome in [
        app.invitations
            .accept_mine(&w.mallory, bobs.invitation.id)
            .await
            .err(),
        app.invitations
            .accept_mine(&w.mallory, InvitationId::new())
            .await
            .err(),
    ] {
        assert!(matches!(outcome, Some(InviteError::NotFound)), "{outcome:?}");
    }
    assert!(matches!(
        app.invitations.reject_mine(&w.mallory, bobs.invitation.id).await,
        Err(InviteError::NotFound)
    ));
    // Still not found once answered or revoked: the state of another's invitation is
    // never told.
    app.invitations
        .revoke(&w.alice, &w.acme.id, bobs.invitation.id)
        .await
        .unwrap();
    assert!(matches!(
        app.invitations.accept_mine(&w.mallory, bobs.invitation.id).await,
        Err(InviteError::NotFound)
    ));
    assert!(matches!(
        app.invitations.accept_mine(&w.bob, bobs.invitation.id).await,
        Err(InviteError::InvalidOrExpired)
    ));
}

#[tokio::test]
async fn accept_mine_refuses_as_accept_does() {
    // rules B1, A8, A9
    let app = App::new().await;
    let w = &app.world;
    let sent = app.invite("bob@example.com", "member").await.unwrap();
    // A9: the enterprise must still be certified.
    let mut acme = w.acme.clone();
    acme.certified = false;
    app.store.save_enterprise(&acme).await.unwrap();
    assert!(matches!(
        app.invitations.accept_mine(&w.bob, sent.invitation.id).await,
        Err(InviteError::EnterpriseNotCertified)
    ));
    acme.certified = true;
    app.store.save_enterprise(&acme).await.unwrap();
    // A8: a member already.
    app.store
        .add_member(&w.acme.id, &w.bob.id, Role::DevAdmin)
        .await
        .unwrap();
    assert!(matches!(
        app.invitations.accept_mine(&w.bob, sent.invitation.id).await,
        Err(InviteError::AlreadyMember)
    ));
    assert_eq!(
        app.store.role_of(&w.acme.id, &w.bob.id).await.unwrap(),
        Some(Role::DevAdmin)
    );
    // Expired: invalid_or_expired.
    let carol = app.invite("+14155550100", "member").await.unwrap();
    app.clock.advance(TimeDelta::days(8));
    assert!(matches!(
        app.invitations.accept_mine(&w.carol, carol.invitation.id).await,
        Err(InviteError::InvalidOrExpired)
    ));
}

#[tokio::test]
async fn reject_mine_makes_no_member() {
    // rules B1, A7
    let app = App::new().await;
    let w = &app.world;
    let sent = app.invite("+1 415 555 0100", "member").await.unwrap();
    let rejected = app
        .invitations
        .reject_mine(&w.carol, sent.invitation.id)
        .await
        .unwrap();
    assert_eq!(rejected.status, invite_core::InvitationStatus::Rejected);
    assert_eq!(app.store.role_of(&w.acme.id, &w.carol.id).await.unwrap(), None);
    assert!(matches!(
        app.invitations.accept_mine(&w.carol, sent.invitation.id).await,
        Err(InviteError::AlreadyRejected)
    ));
}

#[tokio::test]
async fn bulk_send_treats_each_row_on_its_own_in_order() {
    // rule B2
    let app = App::new().await;
    let w = &app.world;
    app.store
        .add_member(&w.acme.id, &w.mallory.id, Role::Member)
        .await
        .unwrap();
    let results = app
        .invitations
        .send_many(
            &w.alice,
            &w.acme.id,
            rows(&[
                ("bob@example.com", "dev_admin"),
                ("not a contact", "member"),
                ("carol@example.com", "super_admin"),
                ("mallory@example.com", "member"),
                ("BOB@example.com", "member"),
                ("+14155550100", "member"),
                ("dave@example.com", "no_such_role"),
                ("Dave@Example.com", "member"),
            ]),
        )
        .await
        .unwrap();
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().err().map_or("ok", InviteError::code))
        .collect();
    assert_eq!(
        codes,
        vec![
            "ok",
            "invalid_contact",     // S3
            "role_not_assignable", // S4
            "already_member",      // S7
            "duplicate_pending",   // B2: the same contact twice
            "ok",
            "role_not_assignable",
            "duplicate_pending" // B2: the second row of a contact, whatever the first's fate
        ]
    );
    let bob = results[0].as_ref().unwrap();
    assert_eq!(bob.invitation.contact.entered(), "bob@example.com");
    assert_eq!(bob.invitation.role, Role::DevAdmin);
    assert_eq!(bob.invitation.delivery, DeliveryStatus::Delivered);
    assert_eq!(app.notifier.deliveries().len(), 2);
    // S7 against what is stored: a second request for Bob is duplicate_pending.
    let again = app
        .invitations
        .send_many(&w.alice, &w.acme.id, rows(&[("bob@example.com", "member")]))
        .await
        .unwrap();
    assert!(matches!(again[0], Err(InviteError::DuplicatePending)));
}

#[tokio::test]
async fn bulk_send_refuses_the_whole_request_on_s1_s2_and_bad_sizes() {
    // rules B2, S1, S2
    let app = App::new().await;
    let w = &app.world;
    let one = || rows(&[("bob@example.com", "member")]);
    assert!(matches!(
        app.invitations.send_many(&w.grace, &w.acme.id, one()).await,
        Err(InviteError::Forbidden)
    ));
    assert!(matches!(
        app.invitations.send_many(&w.uma, &w.unverified.id, one()).await,
        Err(InviteError::EnterpriseNotCertified)
    ));
    // S1 before the input: a non-admin with no rows is still forbidden.
    assert!(matches!(
        app.invitations.send_many(&w.grace, &w.acme.id, Vec::new()).await,
        Err(InviteError::Forbidden)
    ));
    assert!(matches!(
        app.invitations.send_many(&w.alice, &w.acme.id, Vec::new()).await,
        Err(InviteError::InvalidRequest(_))
    ));
    let many: Vec<_> = (0..101)
        .map(|i| Ok(SendInvitation::new(format!("user{i}@example.com"), "member")))
        .collect();
    assert!(matches!(
        app.invitations.send_many(&w.alice, &w.acme.id, many).await,
        Err(InviteError::InvalidRequest(_))
    ));
    let hundred: Vec<_> = (0..100)
        .map(|i| Ok(SendInvitation::new(format!("user{i}@example.com"), "member")))
        .collect();
    let results = app
        .invitations
        .send_many(&w.alice, &w.acme.id, hundred)
        .await
        .unwrap();
    assert_eq!(results.len(), 100);
    assert!(results.iter().all(Result::is_ok));
    // A row the adapter could not read comes back unchanged in its place.
    let mixed = vec![
        Err(InviteError::InvalidRequest("row 0: not an object".into())),
        Ok(SendInvitation::new("zed@example.com", "member")),
    ];
    let results = app
        .invitations
        .send_many(&w.alice, &w.acme.id, mixed)
        .await
        .unwrap();
    assert!(matches!(results[0], Err(InviteError::InvalidRequest(_))));
    assert!(results[1].is_ok());
}

#[tokio::test]
async fn bulk_rows_go_through_the_outbox_like_single_sends() {
    // rules B2, D1
    let app = App::with(|b| b.outbox(OutboxKey::generate())).await;
    let w = &app.world;
    let results = app
        .invitations
        .send_many(
            &w.alice,
            &w.acme.id,
            rows(&[("bob@example.com", "member"), ("carol@example.com", "member")]),
        )
        .await
        .unwrap();
    for result in &results {
        assert_eq!(
            result.as_ref().unwrap().invitation.delivery,
            DeliveryStatus::Queued
        );
    }
    let claimed = app
        .store
        .claim_deliveries(app.invitations.now(), std::time::Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
}
