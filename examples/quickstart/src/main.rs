//! The guide, played end to end: Alice invites Bob, the records table, the invitee page
//! as seen signed out / by the wrong account / by Bob, accept, revoke, and expiry.
//!
//! It runs on the real SQLite store, in memory (`sqlite::memory:`), in its self-contained
//! layout: the accounts are created through [`invite_core::Accounts`]. A clock the example
//! moves by hand shows expiry without waiting seven days, and a notifier prints what it
//! would send. Run it with `cargo run -p quickstart`.

use std::error::Error;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use invite_core::{
    Accounts, Clock, Delivery, Enterprise, EnterpriseId, InvitationView, Invitations, InviteError,
    ListInvitations, Notifier, NotifyError, OutboxKey, Page, Role, SendInvitation, User, UserId,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let store = Arc::new(invite_store_sqlx::SqliteStore::connect("sqlite::memory:").await?);
    store.migrate().await?;
    let clock = HandClock::default();
    let invitations = Invitations::builder(store.clone())
        .base_url("https://platform.example.com")
        .clock(Arc::new(clock.clone()))
        .notifier(Arc::new(PrintNotifier))
        // rule D1: each send writes its delivery into the outbox, in its own transaction;
        // a real host loads its 32-byte key from where it keeps secrets.
        .outbox(OutboxKey::generate())
        .build();
    // A host spawns `worker.run(shutdown)`; this walk-through drains by hand.
    let worker = invitations.delivery_worker().ok_or("the outbox is on")?;

    // The accounts: Acme Robotics with Alice as its super admin; Bob and Mallory, members
    // of nothing.
    let acme = Enterprise {
        id: EnterpriseId::new(),
        name: "Acme Robotics".to_owned(),
        certified: true,
    };
    store.save_enterprise(&acme).await?;
    let account = |name: &str, email: &str| -> Result<User, Box<dyn Error>> {
        Ok(User {
            id: UserId::new(),
            name: name.to_owned(),
            email: Some(invitations.config().contacts.parse_email(email)?),
            phone: None,
        })
    };
    let (alice, bob, mallory) = (
        account("Alice Admin", "alice@example.com")?,
        account("Bob Builder", "bob@example.com")?,
        account("Mallory", "mallory@example.com")?,
    );
    for user in [&alice, &bob, &mallory] {
        store.save_user(user).await?;
    }
    store.add_member(&acme.id, &alice.id, Role::SuperAdmin).await?;
    let (alice, bob, mallory, acme) = (&alice, &bob, &mallory, &acme.id);

    step("1. Alice (super_admin of Acme Robotics) invites bob@example.com as dev_admin");
    let sent = invitations
        .send(alice, acme, SendInvitation::new("bob@example.com", "dev_admin"))
        .await?;
    println!("   delivery: {}", sent.invitation.delivery.as_str());
    worker.drain_once().await?;
    println!("   link, shown once: {}", sent.link.expose_secret());
    let token = sent.link.token().to_owned();

    step("2. Sending again to BOB@EXAMPLE.COM is the same contact");
    let again = invitations
        .send(alice, acme, SendInvitation::new("BOB@EXAMPLE.COM", "member"))
        .await;
    println!("   -> {}", outcome(&again));

    step("3. Alice invites Carol by phone, and Carol's link is revoked");
    clock.advance(TimeDelta::minutes(5));
    let carol = invitations
        .send(
            alice,
            acme,
            SendInvitation::new("+1 (415) 555-0100", "finance_admin"),
        )
        .await?;
    invitations.revoke(alice, acme, carol.invitation.id).await?;
    records(&invitations.list(alice, acme, ListInvitations::default()).await?);

    step("4. Bob's link, opened signed out / by Mallory / by Bob");
    show("signed out", &invitations.view(&token, None).await?);
    show("Mallory", &invitations.view(&token, Some(mallory)).await?);
    show("Bob", &invitations.view(&token, Some(bob)).await?);
    println!(
        "   Mallory accepts -> {}",
        outcome(&invitations.accept(&token, mallory).await)
    );

    step("5. Bob accepts");
    let accepted = invitations.accept(&token, bob).await?;
    println!("   Bob is now {} of {}", accepted.role, accepted.enterprise.name);
    println!(
        "   accepting again -> {}",
        outcome(&invitations.accept(&token, bob).await)
    );
    show("Bob, afterwards", &invitations.view(&token, Some(bob)).await?);
    show(
        "Carol's revoked link",
        &invitations.view(carol.link.token(), None).await?,
    );

    step("6. An invitation to Dave expires after 7 days");
    clock.advance(TimeDelta::minutes(5));
    let dave = invitations
        .send(alice, acme, SendInvitation::new("dave@example.com", "member"))
        .await?;
    clock.advance(TimeDelta::days(7));
    show(
        "Dave's link 7 days later",
        &invitations.view(dave.link.token(), None).await?,
    );
    records(&invitations.list(alice, acme, ListInvitations::default()).await?);
    Ok(())
}

/// A clock that stands at 2030-01-01T00:00:00Z until the example moves it.
#[derive(Clone, Default)]
struct HandClock(Arc<Mutex<TimeDelta>>);

impl HandClock {
    fn advance(&self, by: TimeDelta) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Clock for HandClock {
    fn now(&self) -> DateTime<Utc> {
        let start = DateTime::from_timestamp(1_893_456_000, 0).unwrap_or_default();
        start + *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Prints what an email or SMS notifier would send (the link is shown by step 1 already).
struct PrintNotifier;

#[async_trait::async_trait]
impl Notifier for PrintNotifier {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        println!(
            "   notifier: to {}, {} invites them to {} as {}",
            delivery.contact.entered(),
            delivery.inviter_name,
            delivery.enterprise_name,
            delivery.role
        );
        Ok(())
    }
}

fn step(title: &str) {
    println!("\n{title}");
}

fn outcome<T>(result: &Result<T, InviteError>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(err) => format!("{} ({err})", err.code()),
    }
}

fn show(who: &str, view: &InvitationView) {
    let details = view
        .invitation
        .as_ref()
        .map(|i| {
            format!(
                ", {} invites {} as {} (sent by {})",
                i.enterprise_name, i.contact_masked, i.role, i.inviter_name
            )
        })
        .unwrap_or_default();
    println!(
        "   {who:<26} state={:?} viewer={:?}{details}",
        view.state, view.viewer
    );
}

fn records(page: &Page) {
    println!(
        "   {:<22} {:<14} {:<9} Sent Date",
        "Email / Phone", "Role", "Status"
    );
    for i in &page.items {
        let status = i.status_at(page.as_of);
        println!(
            "   {:<22} {:<14} {:<9} {}",
            i.contact.entered(),
            i.role,
            status,
            i.sent_at.format("%Y-%m-%d %H:%M")
        );
    }
}
