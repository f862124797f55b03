//! An invitee's answer as a store decides it (rules A3–A9, B1): which invitation, who
//! answers, what the service still allows, and the order in which the refusals are told.
//!
//! A store decides an answer in one step (one transaction, or one lock): it moves the
//! invitation out of `pending` with a conditional write, reads what the decision needs
//! under the same lock, and keeps the change only if [`Answer`] finds nothing to refuse.
//! The service reads nothing beforehand, so an accept costs the store's one transaction
//! and no round trip more (issue #11); the refusals and their order are the same as if the
//! service had checked first, because [`Answer`] is the one place that tells them.

use chrono::{DateTime, Utc};

use super::{Clock, StoreError};
use crate::account::{Enterprise, User};
use crate::ids::InvitationId;
use crate::invitation::{Invitation, TransitionError};
use crate::role::{Role, RolePolicy};
use crate::token::TokenDigest;

/// Which invitation an answer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// The one whose current token has this digest: the link (rules A1–A9). A token no
    /// invitation holds is `invalid_or_expired`.
    Token(&'a TokenDigest),
    /// The signed-in user's own invitation with this id, answered without its token (rule
    /// B1). An id that does not exist, or is not addressed to the user, is `not_found`,
    /// before anything about its state is said.
    Mine(InvitationId),
}

/// An answer to decide: the [`Target`], the signed-in user who answers, the roles the
/// service still assigns, and the clock the store reads once it holds its lock (rules §1,
/// "one instant").
#[derive(Clone, Copy)]
pub struct Answer<'a> {
    /// The invitation answered.
    pub target: Target<'a>,
    /// The signed-in user who answers.
    pub user: &'a User,
    /// The roles an accept may still give (rule A9); `None` gives any role.
    pub roles: Option<&'a RolePolicy>,
    /// Read once, under the decision's lock.
    pub clock: &'a dyn Clock,
}

impl std::fmt::Debug for Answer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("target", &self.target)
            .field("user", &self.user.id)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl<'a> Answer<'a> {
    /// An answer by `user` to `target`, judged at `clock`, that may give any role.
    #[must_use]
    pub fn new(target: Target<'a>, user: &'a User, clock: &'a dyn Clock) -> Self {
        Answer {
            target,
            user,
            roles: None,
            clock,
        }
    }

    /// Refuses an accept of an invitation whose role `roles` no longer allows (rule A9).
    #[must_use]
    pub fn roles(mut self, roles: &'a RolePolicy) -> Self {
        self.roles = Some(roles);
        self
    }

    /// Why the conditional write changed nothing, from the row `current` the target names
    /// now (`None`: there is none) at `now`: no such invitation (`invalid_or_expired` for
    /// a token, `not_found` for an id), not the user's own (`not_found`, for an id only,
    /// and before its state), or its state (`already_accepted`, `already_rejected`,
    /// `invalid_or_expired`) (rules A1, A6, B1).
    #[must_use]
    pub fn unchanged(&self, current: Option<&Invitation>, now: DateTime<Utc>) -> StoreError {
        let Some(current) = current.filter(|c| self.may_see(c)) else {
            return self.unknown();
        };
        current
            .check_answerable(now)
            .err()
            .unwrap_or(TransitionError::InvalidOrExpired)
            .into()
    }

    /// Whether a reject of `invitation`, just moved out of `pending`, stands: the user
    /// must be its addressee (rule A4; for an id, rule B1).
    ///
    /// # Errors
    /// [`StoreError::AccountMismatch`] for a token, [`StoreError::NotFound`] for an id.
    pub fn vet_reject(&self, invitation: &Invitation) -> Result<(), StoreError> {
        if self.user.is_reached_by(&invitation.contact) {
            Ok(())
        } else {
            Err(self.mismatch())
        }
    }

    /// Whether an accept of `invitation`, just moved out of `pending`, stands, given its
    /// `enterprise` as the host's directory has it under the decision's lock (answered
    /// back when it does): the
    /// addressee (rule A4, B1), an enterprise the directory still knows, a role the
    /// service still gives, a certified enterprise (rule A9), in this order. The one
    /// refusal left, `already_member` (rule A8), is the membership insert's.
    ///
    /// # Errors
    /// As [`Answer::vet_reject`], then `invalid_or_expired` for an enterprise the directory
    /// no longer has, [`StoreError::RoleNotAssignable`],
    /// [`StoreError::EnterpriseNotCertified`].
    pub fn vet_accept(
        &self,
        invitation: &Invitation,
        enterprise: Option<Enterprise>,
    ) -> Result<Enterprise, StoreError> {
        self.vet_reject(invitation)?;
        let enterprise = enterprise.ok_or(StoreError::Transition(TransitionError::InvalidOrExpired))?;
        if let Some(roles) = self.roles {
            roles
                .check(invitation.role)
                .map_err(|_| StoreError::RoleNotAssignable)?;
        }
        if !enterprise.certified {
            return Err(StoreError::EnterpriseNotCertified);
        }
        Ok(enterprise)
    }

    /// An invitation found by id is told about only to its addressee (rule B1).
    fn may_see(&self, invitation: &Invitation) -> bool {
        match self.target {
            Target::Token(_) => true,
            Target::Mine(_) => self.user.is_reached_by(&invitation.contact),
        }
    }

    /// What "no such invitation" answers: an unknown token is `invalid_or_expired` (rule
    /// A1), an unknown id `not_found` (rule B1).
    fn unknown(&self) -> StoreError {
        match self.target {
            Target::Token(_) => StoreError::Transition(TransitionError::InvalidOrExpired),
            Target::Mine(_) => StoreError::NotFound,
        }
    }

    /// The user is not the addressee: `account_mismatch` by token (rule A4), `not_found`
    /// by id (rule B1).
    fn mismatch(&self) -> StoreError {
        match self.target {
            Target::Token(_) => StoreError::AccountMismatch,
            Target::Mine(_) => StoreError::NotFound,
        }
    }
}

/// The outcome of an accept: the new membership (rule A5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The invitation, now accepted.
    pub invitation: Invitation,
    /// The enterprise joined.
    pub enterprise: Enterprise,
    /// The role received.
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::contact::ContactPolicy;
    use crate::ids::{EnterpriseId, UserId};
    use crate::invitation::{InvitationStatus, Inviter};
    use crate::ports::{NewInvitation, SystemClock};
    use crate::token::InviteToken;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000, 0).unwrap_or_default()
    }

    fn person(contact: &str) -> User {
        let mut user = User {
            id: UserId::new(),
            name: contact.to_owned(),
            email: None,
            phone: None,
        };
        match ContactPolicy::default().parse(contact) {
            Ok(crate::contact::Contact::Email(email)) => user.email = Some(email),
            Ok(crate::contact::Contact::Phone(phone)) => user.phone = Some(phone),
            Err(err) => panic!("{contact}: {err}"),
        }
        user
    }

    fn invitation(to: &str, role: Role, status: InvitationStatus) -> Invitation {
        let mut invitation = NewInvitation {
            id: InvitationId::new(),
            enterprise_id: EnterpriseId::new(),
            contact: ContactPolicy::default()
                .parse(to)
                .unwrap_or_else(|e| panic!("{e}")),
            role,
            invited_by: Inviter {
                user_id: UserId::new(),
                name: "Alice".to_owned(),
            },
            token_digest: InviteToken::generate().digest(),
            sent_at: now() - TimeDelta::hours(1),
            expires_at: now() + TimeDelta::days(1),
        }
        .into_invitation();
        invitation.status = status;
        invitation
    }

    fn enterprise(certified: bool) -> Enterprise {
        Enterprise {
            id: EnterpriseId::new(),
            name: "Acme".to_owned(),
            certified,
        }
    }

    #[test]
    fn an_unchanged_row_is_explained_by_token_state_first() {
        // rules A1, A6: by token, no row is invalid_or_expired; a row's state is told to
        // anyone (the token is the key), and a pending row cannot explain a refusal
        let digest = InviteToken::generate().digest();
        let bob = person("bob@example.com");
        let mallory = person("mallory@example.com");
        let answer = Answer::new(Target::Token(&digest), &mallory, &SystemClock);
        let refusal = |e: StoreError| match e {
            StoreError::Transition(t) => Some(t),
            _ => None,
        };
        assert_eq!(
            refusal(answer.unchanged(None, now())),
            Some(TransitionError::InvalidOrExpired)
        );
        let accepted = invitation("bob@example.com", Role::Member, InvitationStatus::Accepted);
        assert_eq!(
            refusal(answer.unchanged(Some(&accepted), now())),
            Some(TransitionError::AlreadyAccepted)
        );
        let rejected = invitation("bob@example.com", Role::Member, InvitationStatus::Rejected);
        assert_eq!(
            refusal(answer.unchanged(Some(&rejected), now())),
            Some(TransitionError::AlreadyRejected)
        );
        let pending = invitation("bob@example.com", Role::Member, InvitationStatus::Pending);
        assert_eq!(
            refusal(answer.unchanged(Some(&pending), now())),
            Some(TransitionError::InvalidOrExpired)
        );
        assert_eq!(
            refusal(answer.unchanged(Some(&pending), pending.expires_at)),
            Some(TransitionError::InvalidOrExpired)
        );
        let by_bob = Answer::new(Target::Token(&digest), &bob, &SystemClock);
        assert_eq!(
            refusal(by_bob.unchanged(Some(&accepted), now())),
            Some(TransitionError::AlreadyAccepted)
        );
    }

    #[test]
    fn an_unchanged_row_by_id_is_not_found_unless_it_is_the_users() {
        // rule B1: by id, a row not addressed to the user is not_found before its state
        let bob = person("bob@example.com");
        let mallory = person("mallory@example.com");
        let accepted = invitation("bob@example.com", Role::Member, InvitationStatus::Accepted);
        let theirs = Answer::new(Target::Mine(accepted.id), &mallory, &SystemClock);
        assert!(matches!(theirs.unchanged(None, now()), StoreError::NotFound));
        assert!(matches!(
            theirs.unchanged(Some(&accepted), now()),
            StoreError::NotFound
        ));
        let his = Answer::new(Target::Mine(accepted.id), &bob, &SystemClock);
        assert!(matches!(his.unchanged(None, now()), StoreError::NotFound));
        assert!(matches!(
            his.unchanged(Some(&accepted), now()),
            StoreError::Transition(TransitionError::AlreadyAccepted)
        ));
    }

    #[test]
    fn only_the_addressee_answers() {
        // rule A4 by token, rule B1 by id
        let bob = person("bob@example.com");
        let mallory = person("mallory@example.com");
        let pending = invitation("bob@example.com", Role::Member, InvitationStatus::Pending);
        let digest = pending.token_digest;
        for target in [Target::Token(&digest), Target::Mine(pending.id)] {
            assert!(
                Answer::new(target, &bob, &SystemClock)
                    .vet_reject(&pending)
                    .is_ok()
            );
        }
        assert!(matches!(
            Answer::new(Target::Token(&digest), &mallory, &SystemClock).vet_reject(&pending),
            Err(StoreError::AccountMismatch)
        ));
        assert!(matches!(
            Answer::new(Target::Mine(pending.id), &mallory, &SystemClock).vet_reject(&pending),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            Answer::new(Target::Token(&digest), &mallory, &SystemClock)
                .vet_accept(&pending, Some(enterprise(true))),
            Err(StoreError::AccountMismatch)
        ));
    }

    #[test]
    fn an_accept_is_vetted_in_the_rules_order() {
        // rules A4, A9: addressee, then an enterprise the directory has, then a role the
        // service gives, then certification; the enterprise comes back when all pass
        let bob = person("bob@example.com");
        let mallory = person("mallory@example.com");
        let finance = invitation("bob@example.com", Role::FinanceAdmin, InvitationStatus::Pending);
        let digest = finance.token_digest;
        let members_only = RolePolicy::new([Role::Member]);
        let strict = Answer::new(Target::Token(&digest), &bob, &SystemClock).roles(&members_only);
        let strict_mallory = Answer::new(Target::Token(&digest), &mallory, &SystemClock).roles(&members_only);

        assert!(matches!(
            strict_mallory.vet_accept(&finance, None),
            Err(StoreError::AccountMismatch)
        ));
        assert!(matches!(
            strict.vet_accept(&finance, None),
            Err(StoreError::Transition(TransitionError::InvalidOrExpired))
        ));
        assert!(matches!(
            strict.vet_accept(&finance, Some(enterprise(false))),
            Err(StoreError::RoleNotAssignable)
        ));
        let any_role = Answer::new(Target::Token(&digest), &bob, &SystemClock);
        assert!(matches!(
            any_role.vet_accept(&finance, Some(enterprise(false))),
            Err(StoreError::EnterpriseNotCertified)
        ));
        let acme = enterprise(true);
        assert_eq!(
            any_role.vet_accept(&finance, Some(acme.clone())).ok(),
            Some(acme.clone())
        );
        let member = invitation("bob@example.com", Role::Member, InvitationStatus::Pending);
        assert_eq!(strict.vet_accept(&member, Some(acme.clone())).ok(), Some(acme));
        assert!(format!("{strict:?}").contains("Token"));
    }
}
