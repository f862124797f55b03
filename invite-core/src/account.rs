//! Enterprises, users and memberships as the service sees them: what the host's
//! [`Directory`](crate::Directory) answers, and what the store writes a membership for
//! when an invitation is accepted.

use serde::{Deserialize, Serialize};

use crate::contact::{Contact, Email, Phone};
use crate::ids::{EnterpriseId, UserId};
use crate::role::Role;

/// An enterprise (the tenant), rules §1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    /// Its id.
    pub id: EnterpriseId,
    /// Its display name.
    pub name: String,
    /// Only certified enterprises may invite (rule S2, A9).
    pub certified: bool,
}

/// A user account, rules §1: the signed-in user the host hands to the service, and the
/// account a membership belongs to.
///
/// **`email` and `phone` are the account's *verified* contacts** (rule B1). The host
/// vouches for them: set only the ones the account has proved it controls, and leave an
/// unverified address or number out (`None`). The service trusts them without asking
/// again: an invitation addressed to one of them may be answered *by id*, without its
/// token ([`Invitations::mine`](crate::Invitations::mine),
/// [`Invitations::accept_mine`](crate::Invitations::accept_mine)), and it is what the
/// account-match check of the token routes compares (rule A4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The account id, the host's.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// The account's verified email, if any; `None` when the account has none or has not
    /// verified it (rule B1).
    pub email: Option<Email>,
    /// The account's verified phone, if any; `None` when the account has none or has not
    /// verified it (rule B1).
    pub phone: Option<Phone>,
}

impl User {
    /// Whether this account is the one an invitation to `contact` was sent to (rule A4).
    #[must_use]
    pub fn is_reached_by(&self, contact: &Contact) -> bool {
        contact.matches(self.email.as_ref(), self.phone.as_ref())
    }

    /// The account's verified contacts (rule B1): its email, then its phone, those it has.
    /// Invitations to these are the user's own ([`Invitations::mine`](crate::Invitations::mine)).
    #[must_use]
    pub fn verified_contacts(&self) -> Vec<Contact> {
        let email = self.email.clone().map(Contact::Email);
        let phone = self.phone.clone().map(Contact::Phone);
        email.into_iter().chain(phone).collect()
    }
}

/// A member of an enterprise with a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member's account.
    pub user: User,
    /// Their role in the enterprise.
    pub role: Role,
}

/// An enterprise a user belongs to, with the user's role there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The enterprise.
    pub enterprise: Enterprise,
    /// The user's role in it.
    pub role: Role,
}
