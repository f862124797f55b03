//! What the invitee page shows (rule A1–A4), decided without changing anything (A9).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::{Enterprise, User};
use crate::invitation::{Invitation, InvitationStatus};
use crate::role::Role;

/// The state of the invitee page (rule A1). `loading` is the client's own, while it asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ViewState {
    /// A pending invitation: show who invites to what.
    InvitationInfo,
    /// Already accepted.
    Accepted,
    /// Already rejected.
    Rejected,
    /// Unknown token, expired, revoked or superseded: deliberately one state.
    InvalidOrExpired,
}

/// Who is looking (rule A2–A4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Viewer {
    /// Nobody is signed in: offer Login and Register (rule A2).
    SignedOut,
    /// The invited account: offer Accept and Reject (rule A3).
    Matching,
    /// Another account: warn, offer neither (rule A4).
    Mismatch,
}

/// The details shown with `invitation_info` (rules §6 view JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationInfo {
    /// Who invites.
    pub enterprise_name: String,
    /// Who sent it.
    pub inviter_name: String,
    /// The role offered.
    pub role: Role,
    /// The invited contact, masked (`b***@example.com`).
    pub contact_masked: String,
    /// When the link expires.
    pub expires_at: DateTime<Utc>,
}

/// The invitee page's model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    /// Which state to show.
    pub state: ViewState,
    /// Who is looking.
    pub viewer: Viewer,
    /// Details, only with [`ViewState::InvitationInfo`].
    pub invitation: Option<InvitationInfo>,
}

impl InvitationView {
    /// The view of an unknown token.
    #[must_use]
    pub fn invalid(viewer: Option<&User>) -> Self {
        Self {
            state: ViewState::InvalidOrExpired,
            viewer: viewer_kind(None, viewer),
            invitation: None,
        }
    }

    /// The view of `invitation` of `enterprise` at `now`, for `viewer`.
    #[must_use]
    pub fn of(
        invitation: &Invitation,
        enterprise: &Enterprise,
        viewer: Option<&User>,
        now: DateTime<Utc>,
    ) -> Self {
        let viewer = viewer_kind(Some(invitation), viewer);
        let state = match invitation.status_at(now) {
            InvitationStatus::Pending => ViewState::InvitationInfo,
            InvitationStatus::Accepted => ViewState::Accepted,
            InvitationStatus::Rejected => ViewState::Rejected,
            InvitationStatus::Expired | InvitationStatus::Revoked => ViewState::InvalidOrExpired,
        };
        let info = (state == ViewState::InvitationInfo).then(|| InvitationInfo {
            enterprise_name: enterprise.name.clone(),
            inviter_name: invitation.invited_by.name.clone(),
            role: invitation.role,
            contact_masked: invitation.contact.masked(),
            expires_at: invitation.expires_at,
        });
        Self {
            state,
            viewer,
            invitation: info,
        }
    }
}

fn viewer_kind(invitation: Option<&Invitation>, viewer: Option<&User>) -> Viewer {
    match (invitation, viewer) {
        (_, None) => Viewer::SignedOut,
        (Some(inv), Some(user)) if user.is_reached_by(&inv.contact) => Viewer::Matching,
        (_, Some(_)) => Viewer::Mismatch,
    }
}
