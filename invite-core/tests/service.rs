//! The service against the rules, rule by rule, over the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use common::App;
use invite_core::Accounts;
use invite_core::testing::MemoryStore;
use invite_core::{
    DeliveryStatus, Directory, EventKind, InvitationStatus, InviteError, ListInvitations, Role, RolePolicy,
    SendInvitation, TtlPolicy, ViewState, Viewer,
};

#[tokio::test]
async fn only_a_super_admin_of_that_enterprise_may_invite() {
    // rule S1
    let app = App::new().await;
    let w = &app.world;
    let send = |user, enterprise| {
        app.invitations
            .send(user, enterprise, SendInvitation::new("bob@example.com", "member"))
    };
    assert!(matches!(
        send(&w.grace, &w.acme.id).await,
        Err(InviteError::Forbidden)
    ));
    assert!(matches!(
        send(&w.bob, &w.acme.id).await,
        Err(InviteError::Forbidden)
    ));
    app.store
        .add_member(&w.acme.id, &w.carol.id, Role::FinanceAdmin)
        .await
        .unwrap();
    assert!(matches!(
        send(&w.carol, &w.acme.id).await,
        Err(InviteError::Forbidden)
    ));
    assert!(matches!(
        send(&w.alice, &invite_core::EnterpriseId::new()).await,
        Err(InviteError::Forbidden)
    ));
    // The same holds for list, revoke and resend.
    let (sent, _) = app.invite_bob().await;
    let id = sent.invitation.id;
    assert!(matches!(
        app.invitations
            .list(&w.grace, &w.acme.id, ListInvitations::default())
            .await,
        Err(InviteError::Forbidden)
    ));
    assert!(matches!(
        app.invitations.revoke(&w.grace, &w.acme.id, id).await,
        Err(InviteError::Forbidden)
    ));
    assert!(matches!(
        app.invitations.resend(&w.grace, &w.acme.id, id).await,
        Err(InviteError::Forbidden)
    ));
    assert!(matches!(
        app.invitations.events(&w.grace, &w.acme.id, id).await,
        Err(InviteError::Forbidden)
    ));
}

#[tokio::test]
async fn uncertified_enterprise_writes_and_sends_nothing() {
    // rule S2
    let app = App::new().await;
    let w = &app.world;
    let result = app
        .invitations
        .send(
            &w.uma,
            &w.unverified.id,
            SendInvitation::new("bob@example.com", "member"),
        )
        .await;
    assert!(matches!(result, Err(InviteError::EnterpriseNotCertified)));
    let page = app
        .invitations
        .list(&w.uma, &w.unverified.id, ListInvitations::default())
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert!(app.notifier.deliveries().is_empty());
}

#[tokio::test]
async fn contacts_are_validated_and_normalized() {
    // rule S3, X8
    let app = App::new().await;
    for bad in [
        "",
        "bob",
        "bob@",
        "4155550100",
        "+1",
        "bob@example.com, carol@example.com",
        "ıan@example.com",
    ] {
        assert!(
            matches!(
                app.invite(bad, "member").await,
                Err(InviteError::InvalidContact(_))
            ),
            "{bad:?}"
        );
    }
    app.invite(" Bob@Example.COM ", "member").await.unwrap();
    // The same person written two ways is the same contact.
    assert!(matches!(
        app.invite("bob@example.com", "member").await,
        Err(InviteError::DuplicatePending)
    ));
    app.invite("+1 (212) 555-0123", "member").await.unwrap();
    assert!(matches!(
        app.invite("+12125550123", "member").await,
        Err(InviteError::DuplicatePending)
    ));
}

#[tokio::test]
async fn default_region_reads_numbers_without_country_code() {
    // rule S3
    let contacts = invite_core::ContactPolicy::default()
        .with_default_region("US")
        .unwrap();
    let app = App::with(|b| b.contacts(contacts)).await;
    let sent = app.invite("(212) 555-0123", "member").await.unwrap();
    assert_eq!(sent.invitation.contact.normalized(), "+12125550123");
}

#[tokio::test]
async fn mail_goes_to_the_address_as_entered() {
    // rule X8
    let app = App::new().await;
    app.invite("Anna@Bücher.example", "member").await.unwrap();
    let delivery = app.notifier.deliveries().pop().unwrap();
    assert_eq!(delivery.contact.entered(), "Anna@Bücher.example");
    assert_eq!(delivery.contact.normalized(), "anna@xn--bcher-kva.example");
}

#[tokio::test]
async fn only_three_roles_are_assignable() {
    // rule S4
    let app = App::new().await;
    for bad in ["super_admin", "owner", "", "MEMBER"] {
        assert!(
            matches!(
                app.invite("bob@example.com", bad).await,
                Err(InviteError::RoleNotAssignable)
            ),
            "{bad}"
        );
    }
    for (i, role) in ["finance_admin", "dev_admin", "member"].into_iter().enumerate() {
        let sent = app.invite(&format!("user{i}@example.com"), role).await.unwrap();
        assert_eq!(sent.invitation.role.as_str(), role);
    }
}

#[tokio::test]
async fn sending_makes_a_pending_invitation_and_one_link() {
    // rule S5, X1, X10
    let app = App::new().await;
    let (sent, token) = app.invite_bob().await;
    assert_eq!(sent.invitation.status, InvitationStatus::Pending);
    assert!(
        sent.link
            .expose_secret()
            .starts_with("https://app.example/invite?token=")
    );
    assert_eq!(token.len(), 43);
    let deliveries = app.notifier.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].link, sent.link);
    assert_eq!(deliveries[0].enterprise_name, "Acme Robotics");
    assert_eq!(sent.invitation.delivery, DeliveryStatus::Delivered);
    // Only the digest is stored.
    let stored = app.store_invitation(sent.invitation.id).await;
    assert_eq!(
        stored.token_digest,
        invite_core::InviteToken::parse(&token).unwrap().digest()
    );
    assert!(!format!("{stored:?}").contains(&token));
}

#[tokio::test]
async fn expiry_defaults_to_seven_days_and_is_bounded() {
    // rule S6
    let app = App::new().await;
    let (sent, _) = app.invite_bob().await;
    assert_eq!(
        sent.invitation.expires_at - sent.invitation.sent_at,
        TimeDelta::days(7)
    );
    let w = &app.world;
    let short = SendInvitation::new("carol@example.com", "member").expires_in(Duration::from_secs(3600));
    let sent = app.invitations.send(&w.alice, &w.acme.id, short).await.unwrap();
    assert_eq!(
        sent.invitation.expires_at - sent.invitation.sent_at,
        TimeDelta::hours(1)
    );
    let too_long =
        SendInvitation::new("dave@example.com", "member").expires_in(Duration::from_secs(40 * 86400));
    assert!(matches!(
        app.invitations.send(&w.alice, &w.acme.id, too_long).await,
        Err(InviteError::InvalidRequest(_))
    ));
    let ttl = TtlPolicy::new(
        Duration::from_secs(3),
        Duration::from_secs(1),
        Duration::from_secs(10),
    )
    .unwrap();
    let app = App::with(|b| b.ttl(ttl)).await;
    let (sent, _) = app.invite_bob().await;
    assert_eq!(
        sent.invitation.expires_at - sent.invitation.sent_at,
        TimeDelta::seconds(3)
    );
}

#[tokio::test]
async fn members_and_pending_contacts_are_refused() {
    // rule S7
    let app = App::new().await;
    assert!(matches!(
        app.invite("alice@example.com", "member").await,
        Err(InviteError::AlreadyMember)
    ));
    app.invite_bob().await;
    assert!(matches!(
        app.invite("BOB@example.com", "member").await,
        Err(InviteError::DuplicatePending)
    ));
    // Once expired, a new invitation may be sent.
    app.clock.advance(TimeDelta::days(7));
    app.invite("bob@example.com", "member").await.unwrap();
}

#[tokio::test]
async fn a_failing_notifier_leaves_a_resendable_invitation() {
    // rule S8
    let app = App::new().await;
    app.notifier.fail(true);
    let (sent, token) = app.invite_bob().await;
    assert_eq!(sent.invitation.delivery, DeliveryStatus::Failed);
    let stored = app.store_invitation(sent.invitation.id).await;
    assert_eq!(stored.delivery, DeliveryStatus::Failed);
    assert_eq!(stored.status, InvitationStatus::Pending);
    app.notifier.fail(false);
    let resent = app
        .invitations
        .resend(&app.world.alice, &app.world.acme.id, sent.invitation.id)
        .await
        .unwrap();
    assert_eq!(resent.invitation.delivery, DeliveryStatus::Delivered);
    assert_ne!(resent.link.token(), token);
    assert_eq!(app.notifier.deliveries().len(), 1);
}

#[tokio::test]
async fn records_are_newest_first_filtered_and_paged() {
    // rule R1
    let app = App::new().await;
    let w = &app.world;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.invite(&format!("user{i}@example.com"), "member")
                .await
                .unwrap()
                .invitation
                .id,
        );
        app.clock.advance(TimeDelta::seconds(1));
    }
    ids.reverse();
    let first = app
        .invitations
        .list(
            &w.alice,
            &w.acme.id,
            ListInvitations {
                limit: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.items.iter().map(|i| i.id).collect::<Vec<_>>(), ids[..2]);
    let cursor = first.next_cursor.clone().unwrap();
    let second = app
        .invitations
        .list(
            &w.alice,
            &w.acme.id,
            ListInvitations {
                limit: Some(2),
                cursor: Some(cursor),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.items.iter().map(|i| i.id).collect::<Vec<_>>(), ids[2..4]);
    let third = app
        .invitations
        .list(
            &w.alice,
            &w.acme.id,
            ListInvitations {
                limit: Some(2),
                cursor: second.next_cursor,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(third.items.iter().map(|i| i.id).collect::<Vec<_>>(), ids[4..]);
    assert_eq!(third.next_cursor, None);
    // Filter by derived status.
    app.invitations
        .revoke(&w.alice, &w.acme.id, ids[0])
        .await
        .unwrap();
    let revoked = app
        .invitations
        .list(
            &w.alice,
            &w.acme.id,
            ListInvitations {
                status: Some(InvitationStatus::Revoked),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        revoked.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    app.clock.advance(TimeDelta::days(8));
    let expired = app
        .invitations
        .list(
            &w.alice,
            &w.acme.id,
            ListInvitations {
                status: Some(InvitationStatus::Expired),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(expired.items.len(), 4);
    for bad in [Some(0), Some(101)] {
        let r = app
            .invitations
            .list(
                &w.alice,
                &w.acme.id,
                ListInvitations {
                    limit: bad,
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(r, Err(InviteError::InvalidRequest(_))));
    }
    let r = app
        .invitations
        .list(
            &w.alice,
            &w.acme.id,
            ListInvitations {
                cursor: Some("garbage".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(r, Err(InviteError::InvalidRequest(_))));
}

#[tokio::test]
async fn revoke_kills_the_link_at_once() {
    // rule R2
    let app = App::new().await;
    let w = &app.world;
    let (sent, token) = app.invite_bob().await;
    let revoked = app
        .invitations
        .revoke(&w.alice, &w.acme.id, sent.invitation.id)
        .await
        .unwrap();
    assert_eq!(revoked.status, InvitationStatus::Revoked);
    let view = app.invitations.view(&token, Some(&w.bob)).await.unwrap();
    assert_eq!(view.state, ViewState::InvalidOrExpired);
    assert!(matches!(
        app.invitations.accept(&token, &w.bob).await,
        Err(InviteError::InvalidOrExpired)
    ));
    assert!(matches!(
        app.invitations
            .revoke(&w.alice, &w.acme.id, sent.invitation.id)
            .await,
        Err(InviteError::InvitationNotPending(InvitationStatus::Revoked))
    ));
}

#[tokio::test]
async fn resend_issues_a_new_link_and_resets_expiry() {
    // rule R3
    let app = App::new().await;
    let w = &app.world;
    let (sent, old_token) = app.invite_bob().await;
    app.clock.advance(TimeDelta::days(8));
    assert_eq!(
        app.invitations.view(&old_token, None).await.unwrap().state,
        ViewState::InvalidOrExpired
    );
    let resent = app
        .invitations
        .resend(&w.alice, &w.acme.id, sent.invitation.id)
        .await
        .unwrap();
    let new_token = resent.link.token().to_owned();
    assert_eq!(
        resent.invitation.expires_at,
        app.invitations.now() + TimeDelta::days(7)
    );
    assert_eq!(
        app.invitations.view(&old_token, None).await.unwrap().state,
        ViewState::InvalidOrExpired
    );
    assert_eq!(
        app.invitations.view(&new_token, None).await.unwrap().state,
        ViewState::InvitationInfo
    );
    assert_eq!(app.notifier.deliveries().len(), 2);
    app.invitations.accept(&new_token, &w.bob).await.unwrap();
    assert!(matches!(
        app.invitations
            .resend(&w.alice, &w.acme.id, sent.invitation.id)
            .await,
        Err(InviteError::InvitationNotPending(InvitationStatus::Accepted))
    ));
}

#[tokio::test]
async fn the_page_shows_each_state() {
    // rule A1, A2, A3, A4
    let app = App::new().await;
    let w = &app.world;
    let (_, token) = app.invite_bob().await;
    let signed_out = app.invitations.view(&token, None).await.unwrap();
    assert_eq!(
        (signed_out.state, signed_out.viewer),
        (ViewState::InvitationInfo, Viewer::SignedOut)
    );
    let info = signed_out.invitation.unwrap();
    assert_eq!(info.enterprise_name, "Acme Robotics");
    assert_eq!(info.inviter_name, "Alice Admin");
    assert_eq!(info.role, Role::DevAdmin);
    assert_eq!(info.contact_masked, "b***@example.com");
    assert_eq!(
        app.invitations.view(&token, Some(&w.bob)).await.unwrap().viewer,
        Viewer::Matching
    );
    assert_eq!(
        app.invitations
            .view(&token, Some(&w.mallory))
            .await
            .unwrap()
            .viewer,
        Viewer::Mismatch
    );
    for junk in ["", "nope", &"x".repeat(10_000), "%00", "../invite"] {
        let view = app.invitations.view(junk, None).await.unwrap();
        assert_eq!((view.state, view.invitation), (ViewState::InvalidOrExpired, None));
    }
    app.invitations.accept(&token, &w.bob).await.unwrap();
    let accepted = app.invitations.view(&token, Some(&w.bob)).await.unwrap();
    assert_eq!((accepted.state, accepted.invitation), (ViewState::Accepted, None));
    let (_, carol_token) = app
        .invite("+14155550100", "member")
        .await
        .map(|s| {
            let t = s.link.token().to_owned();
            (s, t)
        })
        .unwrap();
    app.invitations.reject(&carol_token, &w.carol).await.unwrap();
    assert_eq!(
        app.invitations.view(&carol_token, None).await.unwrap().state,
        ViewState::Rejected
    );
}

#[tokio::test]
async fn wrong_account_gets_account_mismatch_and_changes_nothing() {
    // rule A4, A9
    let app = App::new().await;
    let w = &app.world;
    let (sent, token) = app.invite_bob().await;
    assert!(matches!(
        app.invitations.accept(&token, &w.mallory).await,
        Err(InviteError::AccountMismatch)
    ));
    assert!(matches!(
        app.invitations.reject(&token, &w.mallory).await,
        Err(InviteError::AccountMismatch)
    ));
    assert_eq!(
        app.store_invitation(sent.invitation.id).await.status,
        InvitationStatus::Pending
    );
    // Another spelling of Bob's address is Bob.
    let bob_again = invite_core::User {
        email: Some(
            invite_core::ContactPolicy::default()
                .parse_email("BOB@EXAMPLE.COM")
                .unwrap(),
        ),
        ..w.bob.clone()
    };
    app.invitations.accept(&token, &bob_again).await.unwrap();
}

#[tokio::test]
async fn accept_makes_a_member_with_the_invited_role() {
    // rule A5, A6
    let app = App::new().await;
    let w = &app.world;
    let (_, token) = app.invite_bob().await;
    let accepted = app.invitations.accept(&token, &w.bob).await.unwrap();
    assert_eq!(accepted.role, Role::DevAdmin);
    assert_eq!(accepted.enterprise.id, w.acme.id);
    assert_eq!(
        app.store.role_of(&w.acme.id, &w.bob.id).await.unwrap(),
        Some(Role::DevAdmin)
    );
    assert!(matches!(
        app.invitations.accept(&token, &w.bob).await,
        Err(InviteError::AlreadyAccepted)
    ));
    assert!(matches!(
        app.invitations.reject(&token, &w.bob).await,
        Err(InviteError::AlreadyAccepted)
    ));
}

#[tokio::test]
async fn reject_makes_no_member() {
    // rule A7
    let app = App::new().await;
    let w = &app.world;
    let (_, token) = app.invite_bob().await;
    let rejected = app.invitations.reject(&token, &w.bob).await.unwrap();
    assert_eq!(rejected.status, InvitationStatus::Rejected);
    assert_eq!(app.store.role_of(&w.acme.id, &w.bob.id).await.unwrap(), None);
    assert!(matches!(
        app.invitations.accept(&token, &w.bob).await,
        Err(InviteError::AlreadyRejected)
    ));
}

#[tokio::test]
async fn a_member_who_joined_meanwhile_keeps_their_role() {
    // rule A8
    let app = App::new().await;
    let w = &app.world;
    let (_, token) = app.invite_bob().await;
    app.store
        .add_member(&w.acme.id, &w.bob.id, Role::FinanceAdmin)
        .await
        .unwrap();
    assert!(matches!(
        app.invitations.accept(&token, &w.bob).await,
        Err(InviteError::AlreadyMember)
    ));
    assert_eq!(
        app.store.role_of(&w.acme.id, &w.bob.id).await.unwrap(),
        Some(Role::FinanceAdmin)
    );
}

#[tokio::test]
async fn accept_rechecks_certification_and_role() {
    // rule A9
    let app = App::new().await;
    let w = &app.world;
    let (_, token) = app.invite_bob().await;
    let decertified = invite_core::Enterprise {
        certified: false,
        ..w.acme.clone()
    };
    app.store.save_enterprise(&decertified).await.unwrap();
    assert!(matches!(
        app.invitations.accept(&token, &w.bob).await,
        Err(InviteError::EnterpriseNotCertified)
    ));
    app.store.save_enterprise(&w.acme).await.unwrap();

    // The host narrows the assignable roles after sending: accept refuses the old role.
    let narrowed = app.invitations.clone();
    let store: Arc<MemoryStore> = app.store.clone();
    let narrowed_service = invite_core::Invitations::builder(store)
        .clock(Arc::new(app.clock.clone()))
        .roles(RolePolicy::new([Role::Member]))
        .build();
    assert!(matches!(
        narrowed_service.accept(&token, &w.bob).await,
        Err(InviteError::RoleNotAssignable)
    ));
    narrowed.accept(&token, &w.bob).await.unwrap();
}

#[tokio::test]
async fn viewing_never_uses_up_the_link() {
    // rule A9
    let app = App::new().await;
    let w = &app.world;
    let (sent, token) = app.invite_bob().await;
    for viewer in [None, Some(&w.mallory), Some(&w.bob)] {
        for _ in 0..3 {
            app.invitations.view(&token, viewer).await.unwrap();
        }
    }
    let events = app
        .invitations
        .events(&w.alice, &w.acme.id, sent.invitation.id)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    app.invitations.accept(&token, &w.bob).await.unwrap();
}

#[tokio::test]
async fn every_change_is_an_event_with_actor_and_time() {
    // rule X5
    let app = App::new().await;
    let w = &app.world;
    let (sent, _) = app.invite_bob().await;
    let t0 = app.invitations.now();
    app.clock.advance(TimeDelta::seconds(5));
    let resent = app
        .invitations
        .resend(&w.alice, &w.acme.id, sent.invitation.id)
        .await
        .unwrap();
    app.clock.advance(TimeDelta::seconds(5));
    app.invitations.accept(resent.link.token(), &w.bob).await.unwrap();
    let events = app
        .invitations
        .events(&w.alice, &w.acme.id, sent.invitation.id)
        .await
        .unwrap();
    let got: Vec<_> = events.iter().map(|e| (e.kind, e.actor.as_ref(), e.at)).collect();
    assert_eq!(
        got,
        vec![
            (EventKind::Sent, Some(&w.alice.id), t0),
            (EventKind::Resent, Some(&w.alice.id), t0 + TimeDelta::seconds(5)),
            (EventKind::Accepted, Some(&w.bob.id), t0 + TimeDelta::seconds(10)),
        ]
    );
    // Sweeping writes `expired` down as an event too.
    let (other, _) = app
        .invite("carol@example.com", "member")
        .await
        .map(|s| {
            let t = s.link.token().to_owned();
            (s, t)
        })
        .unwrap();
    app.clock.advance(TimeDelta::days(8));
    assert_eq!(app.invitations.sweep_expired(100).await.unwrap(), 1);
    let events = app
        .invitations
        .events(&w.alice, &w.acme.id, other.invitation.id)
        .await
        .unwrap();
    assert_eq!(
        events.last().map(|e| (e.kind, e.actor.clone())),
        Some((EventKind::Expired, None))
    );
}

#[tokio::test]
async fn tenant_isolation_hides_foreign_ids() {
    // rule X3
    let app = App::new().await;
    let w = &app.world;
    let (sent, _) = app.invite_bob().await;
    let id = sent.invitation.id;
    assert!(matches!(
        app.invitations.get(&w.grace, &w.globex.id, id).await,
        Err(InviteError::NotFound)
    ));
    assert!(matches!(
        app.invitations.revoke(&w.grace, &w.globex.id, id).await,
        Err(InviteError::NotFound)
    ));
    assert!(matches!(
        app.invitations.resend(&w.grace, &w.globex.id, id).await,
        Err(InviteError::NotFound)
    ));
    assert!(matches!(
        app.invitations.events(&w.grace, &w.globex.id, id).await,
        Err(InviteError::NotFound)
    ));
    assert_eq!(app.store_invitation(id).await.status, InvitationStatus::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_concurrent_accepts_have_one_winner() {
    // rule A6
    let app = Arc::new(App::new().await);
    let (sent, token) = app.invite_bob().await;
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move {
                if i % 4 == 0 {
                    let outcome = app.invitations.reject(&token, &app.world.bob).await.map(|_| ());
                    (InvitationStatus::Rejected, outcome)
                } else {
                    let outcome = app.invitations.accept(&token, &app.world.bob).await.map(|_| ());
                    (InvitationStatus::Accepted, outcome)
                }
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (answer, Ok(())) => winners.push(answer),
            (_, Err(err)) => losers.push(err.code()),
        }
    }
    // Exactly one answer won; every other one was told which.
    assert_eq!(winners.len(), 1);
    let winner = winners[0];
    let expected = if winner == InvitationStatus::Accepted {
        "already_accepted"
    } else {
        "already_rejected"
    };
    assert!(losers.iter().all(|code| *code == expected), "{losers:?}");
    assert_eq!(app.store_invitation(sent.invitation.id).await.status, winner);
    let members = app.store.memberships(&app.world.bob.id).await.unwrap().len();
    assert_eq!(members, usize::from(winner == InvitationStatus::Accepted));
}

impl App {
    async fn store_invitation(&self, id: invite_core::InvitationId) -> invite_core::Invitation {
        use invite_core::InvitationStore;
        self.store.get(&self.world.acme.id, id).await.unwrap().unwrap()
    }
}

#[tokio::test]
async fn inviter_status_and_expiry_come_from_the_service() {
    // rule X9: a request names only contact, role and a bounded expiry; the inviter is the
    // signed-in actor, the status is pending, the enterprise is the path's, the digest is
    // the service's own.
    let app = App::new().await;
    let w = &app.world;
    let request = SendInvitation::new("bob@example.com", "member").expires_in(Duration::from_secs(3600));
    let sent = app.invitations.send(&w.alice, &w.acme.id, request).await.unwrap();
    let i = &sent.invitation;
    assert_eq!(
        (&i.invited_by.user_id, i.invited_by.name.as_str()),
        (&w.alice.id, "Alice Admin")
    );
    assert_eq!(
        (&i.enterprise_id, i.status),
        (&w.acme.id, InvitationStatus::Pending)
    );
    assert_eq!(
        i.token_digest,
        invite_core::InviteToken::parse(sent.link.token())
            .unwrap()
            .digest()
    );
    let beyond =
        SendInvitation::new("carol@example.com", "member").expires_in(Duration::from_secs(u64::MAX / 2));
    assert!(matches!(
        app.invitations.send(&w.alice, &w.acme.id, beyond).await,
        Err(InviteError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn a_page_of_exactly_limit_rows_is_the_last_and_limit_100_is_allowed() {
    // rule R1: 1 to 100 rows a page; a next cursor only when more rows follow.
    let app = App::new().await;
    let w = &app.world;
    for i in 0..3 {
        app.invite(&format!("user{i}@example.com"), "member")
            .await
            .unwrap();
        app.clock.advance(TimeDelta::seconds(1));
    }
    let page = |limit: usize| {
        app.invitations.list(
            &w.alice,
            &w.acme.id,
            ListInvitations {
                limit: Some(limit),
                ..Default::default()
            },
        )
    };
    let exact = page(3).await.unwrap();
    assert_eq!(exact.items.len(), 3);
    assert_eq!(exact.next_cursor, None, "nothing follows a full last page");
    let short = page(2).await.unwrap();
    assert_eq!(short.items.len(), 2);
    assert!(short.next_cursor.is_some());
    let largest = page(invite_core::page::MAX_PAGE_SIZE).await.unwrap();
    assert_eq!(largest.items.len(), 3);
    assert_eq!(largest.next_cursor, None);
    assert!(matches!(
        page(invite_core::page::MAX_PAGE_SIZE + 1).await,
        Err(InviteError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn the_service_says_how_it_delivers_and_reads_ids_as_the_host_keys_them() {
    // rule D1 (outbox or inline), rule H3 (the host's key kinds)
    use invite_core::{EnterpriseId, KeyKind, KeyKinds, OutboxKey, UserId};

    let inline = App::new().await.invitations;
    assert!(!inline.uses_outbox());
    let debug = format!("{inline:?}");
    assert!(debug.starts_with("Invitations {"), "{debug}");
    assert!(debug.contains("outbox: false"), "{debug}");
    assert!(debug.contains("https://app.example"), "{debug}");
    let queued = App::with(|b| b.outbox(OutboxKey::from_bytes([0xab; 32])))
        .await
        .invitations;
    assert!(queued.uses_outbox());
    let debug = format!("{queued:?}");
    assert!(debug.contains("outbox: true"), "{debug}");
    assert!(!debug.contains("171"), "the key stays out of Debug: {debug}");

    let kinds = KeyKinds {
        enterprise: KeyKind::Int,
        user: KeyKind::Text,
    };
    let host = invite_core::Invitations::builder(Arc::new(MemoryStore::with_key_kinds(kinds))).build();
    assert_eq!(host.key_kinds(), kinds);
    assert_eq!(host.enterprise_id("42").unwrap(), EnterpriseId::from(42_i64));
    assert_eq!(host.user_id("alice").unwrap(), UserId::from("alice"));
    for bad in ["", "abc", "042", "6f1c7f3e-53f4-4bd9-9a5b-8f0e0f0e0f0e"] {
        assert!(
            matches!(host.enterprise_id(bad), Err(InviteError::InvalidRequest(_))),
            "{bad:?}"
        );
    }
    for bad in ["", "a\u{0}b"] {
        assert!(
            matches!(host.user_id(bad), Err(InviteError::InvalidRequest(_))),
            "{bad:?}"
        );
    }
    // The self-contained layout keys both with UUIDs.
    let uuid = "6f1c7f3e-53f4-4bd9-9a5b-8f0e0f0e0f0e";
    assert_eq!(inline.key_kinds(), KeyKinds::both(KeyKind::Uuid));
    assert!(inline.enterprise_id(uuid).is_ok());
    assert!(matches!(
        inline.user_id("42"),
        Err(InviteError::InvalidRequest(_))
    ));
}
