//! The host's directory as the service reads it ([`Directory`]), and the self-contained
//! layout's own accounts ([`Accounts`]).

use async_trait::async_trait;

use super::store::StoreError;
use crate::account::{Enterprise, Member, Membership, User};
use crate::contact::Contact;
use crate::ids::{EnterpriseId, KeyKinds, UserId};
use crate::role::Role;

/// What the service reads of the host's directory (rule H1): an enterprise with its
/// certified flag, and a user's role in it. The host's tables stay the host's.
///
/// A storage adapter implements this port together with
/// [`InvitationStore`](super::InvitationStore), over the same
/// database, because `create` and `accept` must check and write memberships in the same
/// transaction as the invitation (rule H2): see `invite-store-sqlx`'s `HostDirectory`
/// for the host's side of that, and its `TableMapping` for the declarative form.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// How the host keys enterprises and users (rule H3): paths are parsed with these
    /// kinds. The default is UUIDs for both.
    fn key_kinds(&self) -> KeyKinds {
        KeyKinds::default()
    }

    /// The enterprise `id`, if it exists.
    async fn enterprise(&self, id: &EnterpriseId) -> Result<Option<Enterprise>, StoreError>;

    /// The role of `user` in `enterprise`, if a member (host role names mapped to the
    /// library's, rule H4; a host role with no mapping reads as no role).
    async fn role_of(&self, enterprise: &EnterpriseId, user: &UserId) -> Result<Option<Role>, StoreError>;
}

/// The self-contained layout's accounts (rule H6): enterprises, users and members kept by
/// the library itself, for the demo, the quickstart and hosts that have no tables of their
/// own yet. A host with its own schema never needs this.
#[async_trait]
pub trait Accounts: Directory {
    /// The user `id`, if known.
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError>;

    /// The user whose email or phone is `contact` (normalized), if any.
    async fn find_user(&self, contact: &Contact) -> Result<Option<User>, StoreError>;

    /// The members of `enterprise`, by name.
    async fn members(&self, enterprise: &EnterpriseId) -> Result<Vec<Member>, StoreError>;

    /// The enterprises `user` belongs to, with the role there, by enterprise name.
    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, StoreError>;

    /// Creates or updates an enterprise.
    async fn save_enterprise(&self, enterprise: &Enterprise) -> Result<(), StoreError>;

    /// Creates or updates a user.
    async fn save_user(&self, user: &User) -> Result<(), StoreError>;

    /// Makes the (saved) `user` a member of `enterprise` with `role`;
    /// [`StoreError::AlreadyMember`] if they are one.
    async fn add_member(
        &self,
        enterprise: &EnterpriseId,
        user: &UserId,
        role: Role,
    ) -> Result<(), StoreError>;
}
