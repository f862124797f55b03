//! The guide, played end to end in memory: Alice invites Bob, the records table, the
//! invitee page as seen signed out / by the wrong account / by Bob, accept, revoke, and
//! expiry. Run it with `cargo run -p quickstart`.

use std::sync::Arc;

use chrono::TimeDelta;
use invite_core::testing::{ManualClock, MemoryStore, RecordingNotifier, seed};
use invite_core::{InvitationView, Invitations, InviteError, ListInvitations, Page, SendInvitation};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), InviteError> {
    let store = Arc::new(MemoryStore::default());
    let clock = ManualClock::default();
    let notifier = Arc::new(RecordingNotifier::default());
    let world = seed::demo(&*store).await?;
    let invitations = Invitations::builder(store)
        .base_url("https://platform.example.com")
        .clock(Arc::new(clock.clone()))
        .notifier(notifier.clone())
        .build();
    let (alice, bob, mallory, acme) = (&world.alice, &world.bob, &world.mallory, world.acme.id);

    step("1. Alice (super_admin of Acme Robotics) invites bob@example.com as dev_admin");
    let sent = invitations
        .send(alice, acme, SendInvitation::new("bob@example.com", "dev_admin"))
        .await?;
    println!("   link, shown once: {}", sent.link.expose_secret());
    println!("   notifier delivered {} message(s)", notifier.deliveries().len());
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
    records(
        &invitations.list(alice, acme, ListInvitations::default()).await?,
        &invitations,
    );

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
    records(
        &invitations.list(alice, acme, ListInvitations::default()).await?,
        &invitations,
    );
    Ok(())
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

fn records(page: &Page, invitations: &Invitations) {
    println!(
        "   {:<22} {:<14} {:<9} Sent Date",
        "Email / Phone", "Role", "Status"
    );
    for i in &page.items {
        let status = i.status_at(invitations.now());
        println!(
            "   {:<22} {:<14} {:<9} {}",
            i.contact.entered(),
            i.role,
            status,
            i.sent_at.format("%Y-%m-%d %H:%M")
        );
    }
}
