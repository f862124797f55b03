//! The demo data of rules §7, written through a [`HostFixture`].
//!
//! | enterprise | certified | super_admin |
//! |---|---|---|
//! | Acme Robotics | yes | Alice Admin, `alice@example.com` |
//! | Globex | yes | Grace Hopper, `grace@example.com` |
//! | Unverified Labs | no | Uma Owner, `uma@example.com` |
//!
//! Users without membership: Bob Builder `bob@example.com`, Carol Chen `+14155550100`,
//! Mallory `mallory@example.com`.

use crate::account::{Enterprise, User};
use crate::ports::StoreError;
use crate::role::Role;
use crate::testing::host::{AccountsFixture, HostFixture, contact};

/// Everything [`demo`] created.
#[derive(Clone, Debug)]
pub struct World {
    /// Acme Robotics, certified; Alice is its super admin.
    pub acme: Enterprise,
    /// Globex, certified; Grace is its super admin.
    pub globex: Enterprise,
    /// Unverified Labs, not certified; Uma is its super admin.
    pub unverified: Enterprise,
    /// Alice Admin, `alice@example.com`.
    pub alice: User,
    /// Grace Hopper, `grace@example.com`.
    pub grace: User,
    /// Uma Owner, `uma@example.com`.
    pub uma: User,
    /// Bob Builder, `bob@example.com`, no membership.
    pub bob: User,
    /// Carol Chen, `+14155550100`, no membership.
    pub carol: User,
    /// Mallory, `mallory@example.com`, no membership.
    pub mallory: User,
}

/// Creates the demo data of rules §7 through the host's side of a store.
///
/// # Errors
/// Whatever the host fixture answers.
pub async fn demo<H: HostFixture + ?Sized>(host: &H) -> Result<World, StoreError> {
    let user =
        |name: &'static str, raw: &'static str| async move { host.create_user(name, &contact(raw)?).await };
    let world = World {
        acme: host.create_enterprise("Acme Robotics", true).await?,
        globex: host.create_enterprise("Globex", true).await?,
        unverified: host.create_enterprise("Unverified Labs", false).await?,
        alice: user("Alice Admin", "alice@example.com").await?,
        grace: user("Grace Hopper", "grace@example.com").await?,
        uma: user("Uma Owner", "uma@example.com").await?,
        bob: user("Bob Builder", "bob@example.com").await?,
        carol: user("Carol Chen", "+14155550100").await?,
        mallory: user("Mallory", "mallory@example.com").await?,
    };
    for (e, u) in [
        (&world.acme, &world.alice),
        (&world.globex, &world.grace),
        (&world.unverified, &world.uma),
    ] {
        host.insert_member(&e.id, u, Role::SuperAdmin).await?;
    }
    Ok(world)
}

/// Creates the demo data in a self-contained layout's [`Accounts`](crate::Accounts).
///
/// # Errors
/// Whatever the accounts answer.
pub async fn demo_accounts<A: crate::Accounts + ?Sized>(
    accounts: std::sync::Arc<A>,
) -> Result<World, StoreError> {
    demo(&AccountsFixture::new(accounts)).await
}

/// A user with a new UUID key and an email or a phone (whichever `contact` is), parsed
/// with the default policy; not saved anywhere.
///
/// # Errors
/// [`StoreError::Backend`] wrapping the parse error if `contact` is not valid.
pub fn user(name: &str, raw_contact: &str) -> Result<User, StoreError> {
    Ok(crate::testing::host::user_with(
        crate::ids::UserId::new(),
        name,
        &contact(raw_contact)?,
    ))
}
