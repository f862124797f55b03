//! The JSON of rules §6: request bodies (which refuse unknown fields, rule X9) and answers.
//!
//! These are the wire types of the routes' bodies, written down in one place; each answer
//! type derives `Deserialize` too, for hosts and tests that read answers. The enums inside
//! them are the domain's own (`Role`, `InvitationStatus`, …: invite-core's `openapi`
//! feature gives them their schemas), so there is one definition of each.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use invite_core::{
    Accepted, ContactKind, DeliveryStatus, EnterpriseId, Invitation, InvitationInfo, InvitationStatus,
    InvitationView, MyInvitation, Role, UserId, ViewState, Viewer,
};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AnyOfBuilder, Array, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Ref, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

/// The OpenAPI schema of a host key (rules H3, H7): an enterprise or user id in the host's
/// own form, a JSON number for an integer key and a string for a UUID or text key. Only a
/// schema: the wire fields hold [`EnterpriseId`] and [`UserId`], which serialize that way.
#[derive(Clone, Copy, Debug)]
pub struct HostKey;

impl PartialSchema for HostKey {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .description(Some("An integer key of the host")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("A UUID or text key of the host")),
            )
            .description(Some(
                "The host's key of an enterprise or user (rule H3), in its natural JSON form (rule H7): a number for an integer key, a string for a UUID or text key.",
            ))
            .into()
    }
}

impl ToSchema for HostKey {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("HostKey")
    }
}

/// `POST /enterprises/{enterprise_id}/invitations` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// One email address or one phone number (rule S3, X8: an array is refused). Which
    /// strings are contacts no JSON Schema can say (IDNA domains, E.164 numbers, no quoted
    /// local parts): any other string is `invalid_contact` (422).
    #[schema(example = "bob@example.com")]
    pub contact: String,
    /// The role offered (rule S4): one of the host's assignable roles, by default
    /// `finance_admin`, `dev_admin` or `member`. Any other name is `role_not_assignable`
    /// (422).
    #[schema(example = "dev_admin")]
    pub role: String,
    /// Time-to-live of the link in whole seconds, within the host's bounds (rule S6); the
    /// host's default when absent or null. A number with a zero fraction (`3600.0`) is the
    /// same whole number, as JSON Schema reads it.
    #[serde(default, deserialize_with = "whole_seconds")]
    #[schema(example = 604_800, minimum = 0)]
    pub expires_in_seconds: Option<u64>,
}

/// Reads a count of seconds the way JSON Schema's `integer` reads a number: `3600` and
/// `3600.0` (or `3.6e3`) alike; a fraction, a negative number or one beyond `u64` is
/// refused (`invalid_request`).
fn whole_seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct Seconds;

    impl serde::de::Visitor<'_> for Seconds {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a whole number of seconds, at least 0, or null")
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // 2^64: the first whole number beyond u64 (exactly representable as f64).
            const BEYOND_U64: f64 = 18_446_744_073_709_551_616.0;
            if v.fract() == 0.0 && (0.0..BEYOND_U64).contains(&v) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(Some(v as u64))
            } else {
                Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
            }
        }
    }

    deserializer.deserialize_any(Seconds)
}

/// The body of a POST that needs no input (revoke, resend): `{}`. Like every POST body it
/// is sent as `application/json` (rules §6), so no cross-site form can make the request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyRequest {}

/// `POST /invitations/{view,accept,reject}` body: the token travels in the body, never in
/// the URL (rule X2).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token of the invitation link: the `token` parameter of `invite_url`.
    pub token: String,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // rule X1: never in Debug output.
        f.write_str("TokenRequest { token: <redacted> }")
    }
}

/// Query of `GET /enterprises/{enterprise_id}/invitations` (rule R1). Each parameter is
/// optional; one that is present must hold a value (`?status=` is `invalid_request`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only invitations with this status; `expired` includes pending ones past their
    /// expiry (rules §1).
    pub status: Option<InvitationStatus>,
    /// Rows per page; default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page, as it was given (opaque).
    #[param(min_length = 1)]
    pub cursor: Option<String>,
}

/// Who sent an invitation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InviterJson {
    /// The inviter's account id: the host's key, a number for an integer key (rule H7).
    #[schema(value_type = HostKey)]
    pub user_id: UserId,
    /// Their name when they sent it.
    pub name: String,
}

/// An invitation (rules §6 invitation JSON). Never a token or digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvitationJson {
    /// Its id.
    pub id: Uuid,
    /// The enterprise: the host's key, a number for an integer key (rule H7).
    #[schema(value_type = HostKey)]
    pub enterprise_id: EnterpriseId,
    /// The contact as entered.
    pub contact: String,
    /// `email` or `phone`.
    pub contact_kind: ContactKind,
    /// The role offered.
    pub role: Role,
    /// The status now (a pending invitation past its expiry is `expired`).
    pub status: InvitationStatus,
    /// Who sent it.
    pub invited_by: InviterJson,
    /// When it was first sent (RFC 3339, UTC).
    pub sent_at: DateTime<Utc>,
    /// When the current link was sent (differs from `sent_at` after a resend).
    pub last_sent_at: DateTime<Utc>,
    /// When the current link expires.
    pub expires_at: DateTime<Utc>,
    /// When it was accepted or rejected, or null.
    pub responded_at: Option<DateTime<Utc>>,
    /// Whether the notifier took the current link.
    pub delivery: DeliveryStatus,
    /// Attempts made to deliver the current link (rule D1); a resend starts from 0.
    #[serde(default)]
    pub delivery_attempts: u32,
}

/// An invitation with its link: the answer of create (201) and resend (200). The only
/// time the link is shown (rule S5).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SentInvitationJson {
    /// The invitation.
    #[serde(flatten)]
    pub invitation: InvitationJson,
    /// `{base_url}/invite?token=…`, built from the configured base URL (rule X10).
    pub invite_url: String,
}

impl std::fmt::Debug for SentInvitationJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentInvitationJson")
            .field("invitation", &self.invitation)
            .field("invite_url", &"<redacted>")
            .finish()
    }
}

/// One page of the records table (rule R1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvitationPage {
    /// Newest first.
    pub items: Vec<InvitationJson>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// The details shown with `invitation_info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvitationInfoJson {
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

/// The answer of `POST /invitations/view` (rules §6 view JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ViewJson {
    /// Which state to show.
    pub state: ViewState,
    /// Only with `invitation_info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<InvitationInfoJson>,
    /// Who is looking.
    pub viewer: Viewer,
}

/// The answer of `POST /invitations/accept`: the new membership (rule A5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AcceptedJson {
    /// The enterprise joined: the host's key, a number for an integer key (rule H7).
    #[schema(value_type = HostKey)]
    pub enterprise_id: EnterpriseId,
    /// Its name.
    pub enterprise_name: String,
    /// The role received.
    pub role: Role,
    /// The invitation, now accepted.
    pub invitation: InvitationJson,
}

/// The answer of `POST /invitations/reject` (rule A7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RejectedJson {
    /// The invitation, now rejected.
    pub invitation: InvitationJson,
}

impl InvitationJson {
    /// The JSON of `invitation` with its status derived at `now` (rules §1: a pending
    /// invitation past its expiry *is* expired on every read path).
    #[must_use]
    pub fn at(invitation: &Invitation, now: DateTime<Utc>) -> Self {
        Self {
            id: invitation.id.as_uuid(),
            enterprise_id: invitation.enterprise_id.clone(),
            contact: invitation.contact.entered().to_owned(),
            contact_kind: invitation.contact.kind(),
            role: invitation.role,
            status: invitation.status_at(now),
            invited_by: InviterJson {
                user_id: invitation.invited_by.user_id.clone(),
                name: invitation.invited_by.name.clone(),
            },
            sent_at: invitation.sent_at,
            last_sent_at: invitation.last_sent_at,
            expires_at: invitation.expires_at,
            responded_at: invitation.responded_at,
            delivery: invitation.delivery,
            delivery_attempts: invitation.delivery_attempts,
        }
    }
}

impl From<&InvitationInfo> for InvitationInfoJson {
    fn from(info: &InvitationInfo) -> Self {
        Self {
            enterprise_name: info.enterprise_name.clone(),
            inviter_name: info.inviter_name.clone(),
            role: info.role,
            contact_masked: info.contact_masked.clone(),
            expires_at: info.expires_at,
        }
    }
}

impl From<&InvitationView> for ViewJson {
    fn from(view: &InvitationView) -> Self {
        Self {
            state: view.state,
            invitation: view.invitation.as_ref().map(InvitationInfoJson::from),
            viewer: view.viewer,
        }
    }
}

impl AcceptedJson {
    /// The JSON of an accept's outcome, statuses derived at `now`.
    #[must_use]
    pub fn at(accepted: &Accepted, now: DateTime<Utc>) -> Self {
        Self {
            enterprise_id: accepted.enterprise.id.clone(),
            enterprise_name: accepted.enterprise.name.clone(),
            role: accepted.role,
            invitation: InvitationJson::at(&accepted.invitation, now),
        }
    }
}

// --- the invitee's own invitations (rule B1) ---------------------------------------------

/// One of the signed-in user's own invitations (rule B1): pending, unexpired, addressed to
/// one of the account's verified contacts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MyInvitationJson {
    /// The invitation: accept or reject it by this id.
    pub id: Uuid,
    /// The inviting enterprise: the host's key, a number for an integer key (rule H7).
    #[schema(value_type = HostKey)]
    pub enterprise_id: EnterpriseId,
    /// Its name.
    #[schema(example = "Acme Robotics")]
    pub enterprise_name: String,
    /// Who sent it.
    #[schema(example = "Alice Admin")]
    pub inviter_name: String,
    /// The role offered.
    pub role: Role,
    /// When it stops being answerable (RFC 3339, UTC).
    pub expires_at: DateTime<Utc>,
}

impl From<&MyInvitation> for MyInvitationJson {
    fn from(mine: &MyInvitation) -> Self {
        Self {
            id: mine.id.as_uuid(),
            enterprise_id: mine.enterprise_id.clone(),
            enterprise_name: mine.enterprise_name.clone(),
            inviter_name: mine.inviter_name.clone(),
            role: mine.role,
            expires_at: mine.expires_at,
        }
    }
}

/// The answer of `GET /invitations/mine` (rule B1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MyInvitationsJson {
    /// Soonest expiry first; empty when there are none.
    pub items: Vec<MyInvitationJson>,
}

// --- bulk invite (rule B2) ---------------------------------------------------------------

/// One row of a bulk invite (rule B2): who to invite and as what. A row of another shape
/// (missing or unknown fields, wrong types) does not fail the request: it comes back as an
/// error row with `invalid_request`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInvitationRow {
    /// One email address or one phone number (rule S3, X8).
    #[schema(example = "bob@example.com")]
    pub contact: String,
    /// The role offered (rule S4): one of the host's assignable roles.
    #[schema(example = "dev_admin")]
    pub role: String,
}

/// `POST /enterprises/{enterprise_id}/invitations/bulk` body (rule B2): 1 to 100 rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInvitationsRequest {
    /// The rows, each read on its own: a [`BulkInvitationRow`], or any other JSON value,
    /// which is answered with an `invalid_request` error row while the others go ahead.
    #[schema(schema_with = bulk_rows)]
    pub invitations: Vec<serde_json::Value>,
}

/// The OpenAPI schema of the bulk rows, as the server reads them (rule B2): 1 to 100 of
/// anything, each a [`BulkInvitationRow`] or answered with an error row. Describing the rows
/// as `BulkInvitationRow` alone would call a request invalid that the server takes (200,
/// with that row refused).
fn bulk_rows() -> Array {
    ArrayBuilder::new()
        .items(
            AnyOfBuilder::new()
                .item(Ref::from_schema_name("BulkInvitationRow"))
                .item(
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .description(Some(
                            "Any other value: answered with an `invalid_request` error row (rule B2)",
                        )),
                ),
        )
        .min_items(Some(1))
        .max_items(Some(100))
        .build()
}

/// A row of a bulk invite that was sent: the invitation and its link, shown this once
/// (rule S5).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BulkSentJson {
    /// The new invitation.
    pub invitation: InvitationJson,
    /// `{base_url}/invite?token=…` (rule X10).
    pub invite_url: String,
}

impl std::fmt::Debug for BulkSentJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkSentJson")
            .field("invitation", &self.invitation)
            .field("invite_url", &"<redacted>")
            .finish()
    }
}

/// A row of a bulk invite that was refused, and why; the other rows are not affected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BulkErrorJson {
    /// The row's contact as sent, or null when the row had none (or not a string).
    pub contact: Option<String>,
    /// The refusal, with the code a single send would have answered (`invalid_contact`,
    /// `role_not_assignable`, `already_member`, `duplicate_pending`, `invalid_request`, …).
    pub error: crate::error::ErrorDetail,
}

/// The result of one row of a bulk invite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BulkResultJson {
    /// Sent.
    Sent(BulkSentJson),
    /// Refused.
    Error(BulkErrorJson),
}

/// The answer of a bulk invite: one result per row, in the request's order (rule B2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BulkResultsJson {
    /// One per row, in order.
    pub results: Vec<BulkResultJson>,
}
