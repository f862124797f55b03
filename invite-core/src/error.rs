//! The domain error: one variant per error code of rules §6.

use crate::contact::ContactError;
use crate::expiry::TtlError;
use crate::invitation::{InvitationStatus, TransitionError};
use crate::page::CursorError;
use crate::ports::StoreError;
use crate::role::RoleError;

/// Every outcome of the service that is not a success. Each variant is one rules' error
/// code ([`InviteError::code`]); the HTTP adapter maps them to statuses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InviteError {
    /// `invalid_request`: the request is malformed (bad cursor, expiry out of bounds, …).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// `not_authenticated`: this action needs a signed-in user.
    #[error("sign in to continue")]
    NotAuthenticated,
    /// `forbidden`: only a super_admin of this enterprise may do this (rule S1).
    #[error("only a super admin of this enterprise may do this")]
    Forbidden,
    /// `enterprise_not_certified` (rule S2, A9).
    #[error("the enterprise is not certified")]
    EnterpriseNotCertified,
    /// `account_mismatch`: the signed-in account is not the invited contact (rule A4).
    #[error("this invitation was sent to another email or phone")]
    AccountMismatch,
    /// `not_found`: no such invitation in this enterprise (rule X3), or no such enterprise.
    #[error("not found")]
    NotFound,
    /// `already_member` (rule S7, A8).
    #[error("this contact is already a member of the enterprise")]
    AlreadyMember,
    /// `duplicate_pending`: a pending invitation exists; resend it instead (rule S7).
    #[error("a pending invitation to this contact exists; resend it instead")]
    DuplicatePending,
    /// `invitation_not_pending` (rule R2, R3).
    #[error("the invitation is {0}, not pending")]
    InvitationNotPending(InvitationStatus),
    /// `already_accepted` (rule A6).
    #[error("the invitation was already accepted")]
    AlreadyAccepted,
    /// `already_rejected` (rule A6).
    #[error("the invitation was already rejected")]
    AlreadyRejected,
    /// `invalid_or_expired`: unknown, expired, revoked or superseded token (rule A1).
    #[error("the invitation link is invalid or has expired")]
    InvalidOrExpired,
    /// `invalid_contact` (rule S3, X8).
    #[error("invalid contact: {0}")]
    InvalidContact(#[from] ContactError),
    /// `role_not_assignable` (rule S4, A9).
    #[error("this role cannot be assigned by invitation")]
    RoleNotAssignable,
    /// `rate_limited` (rule X6). Produced by adapters, not by the service.
    #[error("too many requests; try again later")]
    RateLimited,
    /// `internal`: storage or another port failed. The cause is kept for logs; clients
    /// see no details.
    #[error("internal error")]
    Internal(#[source] StoreError),
}

impl InviteError {
    /// The rules §6 error code of this outcome.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            InviteError::InvalidRequest(_) => "invalid_request",
            InviteError::NotAuthenticated => "not_authenticated",
            InviteError::Forbidden => "forbidden",
            InviteError::EnterpriseNotCertified => "enterprise_not_certified",
            InviteError::AccountMismatch => "account_mismatch",
            InviteError::NotFound => "not_found",
            InviteError::AlreadyMember => "already_member",
            InviteError::DuplicatePending => "duplicate_pending",
            InviteError::InvitationNotPending(_) => "invitation_not_pending",
            InviteError::AlreadyAccepted => "already_accepted",
            InviteError::AlreadyRejected => "already_rejected",
            InviteError::InvalidOrExpired => "invalid_or_expired",
            InviteError::InvalidContact(_) => "invalid_contact",
            InviteError::RoleNotAssignable => "role_not_assignable",
            InviteError::RateLimited => "rate_limited",
            InviteError::Internal(_) => "internal",
        }
    }
}

impl From<TransitionError> for InviteError {
    fn from(err: TransitionError) -> Self {
        match err {
            TransitionError::NotPending(status) => InviteError::InvitationNotPending(status),
            TransitionError::AlreadyAccepted => InviteError::AlreadyAccepted,
            TransitionError::AlreadyRejected => InviteError::AlreadyRejected,
            TransitionError::InvalidOrExpired => InviteError::InvalidOrExpired,
        }
    }
}

impl From<StoreError> for InviteError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::AlreadyMember => InviteError::AlreadyMember,
            StoreError::DuplicatePending => InviteError::DuplicatePending,
            StoreError::NotFound => InviteError::NotFound,
            StoreError::EnterpriseNotCertified => InviteError::EnterpriseNotCertified,
            StoreError::AccountMismatch => InviteError::AccountMismatch,
            StoreError::RoleNotAssignable => InviteError::RoleNotAssignable,
            StoreError::Transition(refused) => refused.into(),
            other @ StoreError::Backend(_) => InviteError::Internal(other),
        }
    }
}

impl From<RoleError> for InviteError {
    fn from(_: RoleError) -> Self {
        InviteError::RoleNotAssignable
    }
}

impl From<TtlError> for InviteError {
    fn from(err: TtlError) -> Self {
        InviteError::InvalidRequest(err.to_string())
    }
}

impl From<CursorError> for InviteError {
    fn from(err: CursorError) -> Self {
        InviteError::InvalidRequest(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_spec_codes() {
        // rules §6 error table
        let cases = [
            (InviteError::InvalidRequest(String::new()), "invalid_request"),
            (InviteError::NotAuthenticated, "not_authenticated"),
            (InviteError::Forbidden, "forbidden"),
            (InviteError::EnterpriseNotCertified, "enterprise_not_certified"),
            (InviteError::AccountMismatch, "account_mismatch"),
            (InviteError::NotFound, "not_found"),
            (InviteError::AlreadyMember, "already_member"),
            (InviteError::DuplicatePending, "duplicate_pending"),
            (
                InviteError::InvitationNotPending(InvitationStatus::Accepted),
                "invitation_not_pending",
            ),
            (InviteError::AlreadyAccepted, "already_accepted"),
            (InviteError::AlreadyRejected, "already_rejected"),
            (InviteError::InvalidOrExpired, "invalid_or_expired"),
            (
                InviteError::InvalidContact(ContactError::Empty),
                "invalid_contact",
            ),
            (InviteError::RoleNotAssignable, "role_not_assignable"),
            (InviteError::RateLimited, "rate_limited"),
            (
                InviteError::Internal(StoreError::backend(std::io::Error::other("disk"))),
                "internal",
            ),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn internal_keeps_its_source_chain() {
        use std::error::Error as _;
        let err = InviteError::from(StoreError::backend(std::io::Error::other("disk on fire")));
        assert_eq!(err.to_string(), "internal error");
        let source = err.source().and_then(|s| s.source()).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
    }
}
