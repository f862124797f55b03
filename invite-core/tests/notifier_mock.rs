//! The service against a mocked notifier (mockall): what it hands over, and what a failure
//! leaves behind (rule S5, S8, X8).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use invite_core::testing::{ManualClock, MemoryStore, seed};
use invite_core::{
    Delivery, DeliveryStatus, InvitationStatus, InvitationStore, Invitations, Notifier, NotifyError,
    SendInvitation, ViewState,
};
use mockall::{Sequence, mock};

mock! {
    pub Mailer {}
    #[async_trait]
    impl Notifier for Mailer {
        async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError>;
    }
}

#[tokio::test]
async fn failed_delivery_keeps_the_invitation_and_resend_delivers_a_new_link() {
    // rule S8
    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.unwrap();
    let mut mailer = MockMailer::new();
    let mut order = Sequence::new();
    mailer
        .expect_deliver()
        .withf(|d| d.contact.entered() == "Bob@Example.com" && d.enterprise_name == "Acme Robotics")
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Err(NotifyError::transient("smtp down")));
    mailer
        .expect_deliver()
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(()));
    let invitations = Invitations::builder(store.clone())
        .clock(Arc::new(ManualClock::default()))
        .notifier(Arc::new(mailer))
        .build();

    let sent = invitations
        .send(
            &world.alice,
            &world.acme.id,
            SendInvitation::new("Bob@Example.com", "member"),
        )
        .await
        .expect("a delivery failure is not a send failure");
    assert_eq!(sent.invitation.delivery, DeliveryStatus::Failed);
    let stored = store
        .get(&world.acme.id, sent.invitation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.status, stored.delivery),
        (InvitationStatus::Pending, DeliveryStatus::Failed)
    );
    // The link returned once to the inviter still works.
    let view = invitations.view(sent.link.token(), None).await.unwrap();
    assert_eq!(view.state, ViewState::InvitationInfo);

    let resent = invitations
        .resend(&world.alice, &world.acme.id, sent.invitation.id)
        .await
        .unwrap();
    assert_eq!(resent.invitation.delivery, DeliveryStatus::Delivered);
    let stored = store
        .get(&world.acme.id, sent.invitation.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.delivery, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn the_notifier_gets_the_same_link_the_inviter_sees() {
    // rule S5
    let store = Arc::new(MemoryStore::default());
    let world = seed::demo(&*store).await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new(None));
    let mut mailer = MockMailer::new();
    let sink = seen.clone();
    mailer.expect_deliver().times(1).returning(move |d| {
        *sink.lock().unwrap() = Some(d.link.clone());
        Ok(())
    });
    let invitations = Invitations::builder(store)
        .base_url("https://hr.example/")
        .notifier(Arc::new(mailer))
        .build();
    let sent = invitations
        .send(
            &world.alice,
            &world.acme.id,
            SendInvitation::new("+1 415 555 0100", "finance_admin"),
        )
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().clone(), Some(sent.link.clone()));
    assert!(
        sent.link
            .expose_secret()
            .starts_with("https://hr.example/invite?token=")
    );
}
