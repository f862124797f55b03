//! The demo data of rules §7, created through the self-contained layout's [`Accounts`]
//! when the database has none.
//!
//! | enterprise | certified | super_admin |
//! |---|---|---|
//! | Acme Robotics | yes | Alice Admin, `alice@example.com` |
//! | Globex | yes | Grace Hopper, `grace@example.com` |
//! | Unverified Labs | no | Uma Owner, `uma@example.com` |
//!
//! Users without membership: Bob Builder `bob@example.com`, Carol Chen `+14155550100`,
//! Mallory `mallory@example.com`.

use invite_core::{
    Accounts, Contact, ContactPolicy, Enterprise, EnterpriseId, Role, StoreError, User, UserId,
};

/// The enterprises: name, certified, and the name and contact of the super admin.
const ENTERPRISES: [(&str, bool, &str, &str); 3] = [
    ("Acme Robotics", true, "Alice Admin", "alice@example.com"),
    ("Globex", true, "Grace Hopper", "grace@example.com"),
    ("Unverified Labs", false, "Uma Owner", "uma@example.com"),
];

/// The users who belong to no enterprise: name and contact.
const LONERS: [(&str, &str); 3] = [
    ("Bob Builder", "bob@example.com"),
    ("Carol Chen", "+14155550100"),
    ("Mallory", "mallory@example.com"),
];

/// Creates the demo enterprises and users unless Alice Admin already exists; returns
/// whether it created them.
///
/// # Errors
/// Whatever the accounts answer.
pub async fn seed_if_empty(accounts: &dyn Accounts) -> Result<bool, StoreError> {
    if accounts
        .find_user(&contact("alice@example.com")?)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    for (name, certified, owner, owner_contact) in ENTERPRISES {
        let enterprise = Enterprise {
            id: EnterpriseId::new(),
            name: name.to_owned(),
            certified,
        };
        accounts.save_enterprise(&enterprise).await?;
        let owner = save_user(accounts, owner, owner_contact).await?;
        accounts
            .add_member(&enterprise.id, &owner.id, Role::SuperAdmin)
            .await?;
    }
    for (name, raw) in LONERS {
        save_user(accounts, name, raw).await?;
    }
    Ok(true)
}

/// A new account (a fresh UUID key) reached at `contact`, not saved yet.
pub fn new_user(name: &str, contact: Contact) -> User {
    let (email, phone) = match contact {
        Contact::Email(email) => (Some(email), None),
        Contact::Phone(phone) => (None, Some(phone)),
    };
    User {
        id: UserId::new(),
        name: name.to_owned(),
        email,
        phone,
    }
}

async fn save_user(accounts: &dyn Accounts, name: &str, raw: &str) -> Result<User, StoreError> {
    let user = new_user(name, contact(raw)?);
    accounts.save_user(&user).await?;
    Ok(user)
}

fn contact(raw: &str) -> Result<Contact, StoreError> {
    ContactPolicy::default().parse(raw).map_err(StoreError::backend)
}
