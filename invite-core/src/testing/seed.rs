//! The demo data of SPEC §7, written through the [`Directory`] port.
//!
//! | enterprise | certified | super_admin |
//! |---|---|---|
//! | Acme Robotics | yes | Alice Admin, `alice@example.com` |
//! | Globex | yes | Grace Hopper, `grace@example.com` |
//! | Unverified Labs | no | Uma Owner, `uma@example.com` |
//!
//! Users without membership: Bob Builder `bob@example.com`, Carol Chen `+14155550100`,
//! Mallory `mallory@example.com`.

use crate::contact::ContactPolicy;
use crate::directory::{Enterprise, User};
use crate::ids::{EnterpriseId, UserId};
use crate::ports::{Directory, StoreError};
use crate::role::Role;

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

/// A user with an email or a phone (whichever `contact` is), parsed with the default
/// policy.
///
/// # Errors
/// [`StoreError::Backend`] wrapping the parse error if `contact` is not valid.
pub fn user(name: &str, contact: &str) -> Result<User, StoreError> {
    let policy = ContactPolicy::default();
    let mut user = User {
        id: UserId::new(),
        name: name.to_owned(),
        email: None,
        phone: None,
    };
    match policy.parse(contact).map_err(StoreError::backend)? {
        crate::Contact::Email(email) => user.email = Some(email),
        crate::Contact::Phone(phone) => user.phone = Some(phone),
    }
    Ok(user)
}

/// An enterprise with a fresh id.
#[must_use]
pub fn enterprise(name: &str, certified: bool) -> Enterprise {
    Enterprise {
        id: EnterpriseId::new(),
        name: name.to_owned(),
        certified,
    }
}

/// Creates the demo data of SPEC §7.
///
/// # Errors
/// Whatever the directory answers.
pub async fn demo<D: Directory + ?Sized>(directory: &D) -> Result<World, StoreError> {
    let world = World {
        acme: enterprise("Acme Robotics", true),
        globex: enterprise("Globex", true),
        unverified: enterprise("Unverified Labs", false),
        alice: user("Alice Admin", "alice@example.com")?,
        grace: user("Grace Hopper", "grace@example.com")?,
        uma: user("Uma Owner", "uma@example.com")?,
        bob: user("Bob Builder", "bob@example.com")?,
        carol: user("Carol Chen", "+14155550100")?,
        mallory: user("Mallory", "mallory@example.com")?,
    };
    for e in [&world.acme, &world.globex, &world.unverified] {
        directory.save_enterprise(e).await?;
    }
    for u in [
        &world.alice,
        &world.grace,
        &world.uma,
        &world.bob,
        &world.carol,
        &world.mallory,
    ] {
        directory.save_user(u).await?;
    }
    for (e, u) in [
        (&world.acme, &world.alice),
        (&world.globex, &world.grace),
        (&world.unverified, &world.uma),
    ] {
        directory.add_member(e.id, u.id, Role::SuperAdmin).await?;
    }
    Ok(world)
}
