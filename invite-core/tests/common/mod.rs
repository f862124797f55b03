//! A service over the in-memory store with a manual clock and a recording notifier.
#![allow(dead_code)]

use std::sync::Arc;

use invite_core::testing::{ManualClock, MemoryStore, RecordingNotifier, World, seed};
use invite_core::{Invitations, InvitationsBuilder, InviteError, SendInvitation, SentInvitation, User};

pub struct App {
    pub store: Arc<MemoryStore>,
    pub clock: ManualClock,
    pub notifier: Arc<RecordingNotifier>,
    pub world: World,
    pub invitations: Invitations,
}

impl App {
    pub async fn new() -> Self {
        Self::with(|b| b).await
    }

    pub async fn with(configure: impl FnOnce(InvitationsBuilder) -> InvitationsBuilder) -> Self {
        let store = Arc::new(MemoryStore::default());
        let clock = ManualClock::default();
        let notifier = Arc::new(RecordingNotifier::default());
        let world = seed::demo(&*store).await.expect("seed");
        let builder = Invitations::builder(store.clone())
            .base_url("https://app.example")
            .clock(Arc::new(clock.clone()))
            .notifier(notifier.clone());
        let invitations = configure(builder).build();
        Self {
            store,
            clock,
            notifier,
            world,
            invitations,
        }
    }

    /// Alice invites `contact` to Acme as `role`.
    pub async fn invite(&self, contact: &str, role: &str) -> Result<SentInvitation, InviteError> {
        self.invitations
            .send(
                &self.world.alice,
                &self.world.acme.id,
                SendInvitation::new(contact, role),
            )
            .await
    }

    /// Alice invites Bob to Acme as dev_admin; returns the token.
    pub async fn invite_bob(&self) -> (SentInvitation, String) {
        let sent = self.invite("bob@example.com", "dev_admin").await.expect("send");
        let token = sent.link.token().to_owned();
        (sent, token)
    }

    pub fn user(&self, name: &str, contact: &str) -> User {
        invite_core::testing::seed::user(name, contact).expect("user")
    }
}
