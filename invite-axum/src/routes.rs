//! The handlers of SPEC §6, one per route, each documented for the OpenAPI document.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use invite_core::{EnterpriseId, InvitationId, InvitationStatus, ListInvitations, SendInvitation};
use serde::Deserialize;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::identity::{MaybeUser, SignedIn};
use crate::model::{
    AcceptedJson, CreateInvitationRequest, InvitationJson, InvitationPage, ListParams, RejectedJson,
    SentInvitationJson, TokenRequest, ViewJson,
};
use crate::state::ApiState;

/// `{enterprise_id}` of the path, as the host writes its key (rule H3): parsed with the
/// host's declared kind by [`enterprise_id`], not by serde.
#[derive(Deserialize)]
pub(crate) struct EnterprisePath {
    enterprise_id: String,
}

/// `{enterprise_id}` (the host's key, rule H3) and `{id}` (the invitation, a UUID) of the
/// path.
#[derive(Deserialize)]
pub(crate) struct InvitationPath {
    enterprise_id: String,
    id: InvitationId,
}

/// Rule H3: a path segment is parsed as the host's kind of enterprise key; one that is
/// not such a key is `invalid_request` (400). A well-formed id of no enterprise is left to
/// the service, which answers `forbidden` (rule S1), so ids cannot be probed.
fn enterprise_id(state: &ApiState, raw: &str) -> Result<EnterpriseId, ApiError> {
    Ok(state.invitations.enterprise_id(raw)?)
}

/// The OpenAPI description of `{enterprise_id}`.
const ENTERPRISE_ID_DOC: &str = "The enterprise: the host's own key as it writes it in a path (rule H3), for example `42` for an integer key, a UUID, or a text key. A segment that is not a key of the host's kind is `invalid_request`.";

/// Sends an invitation (SPEC S1–S8).
#[utoipa::path(
    post,
    path = "/enterprises/{enterprise_id}/invitations",
    tag = "inviter",
    params(("enterprise_id" = String, Path, description = ENTERPRISE_ID_DOC)),
    request_body = CreateInvitationRequest,
    responses(
        (status = 201, description = "Created; `invite_url` is shown this once", body = SentInvitationJson),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, enterprise_not_certified", body = ErrorBody),
        (status = 409, description = "already_member, duplicate_pending", body = ErrorBody),
        (status = 422, description = "invalid_contact, role_not_assignable", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<EnterprisePath>,
    ApiJson(body): ApiJson<CreateInvitationRequest>,
) -> Result<(StatusCode, Json<SentInvitationJson>), ApiError> {
    let request = SendInvitation {
        contact: body.contact,
        role: body.role,
        expires_in: body.expires_in_seconds.map(Duration::from_secs),
    };
    let enterprise = enterprise_id(&state, &path.enterprise_id)?;
    let sent = state.invitations.send(&user, &enterprise, request).await?;
    let now = state.invitations.now();
    Ok((
        StatusCode::CREATED,
        Json(SentInvitationJson {
            invitation: InvitationJson::at(&sent.invitation, now),
            invite_url: sent.link.expose_secret().to_owned(),
        }),
    ))
}

/// One page of the records table, newest first (SPEC R1).
#[utoipa::path(
    get,
    path = "/enterprises/{enterprise_id}/invitations",
    tag = "inviter",
    params(("enterprise_id" = String, Path, description = ENTERPRISE_ID_DOC), ListParams),
    responses(
        (status = 200, description = "One page", body = InvitationPage),
        (status = 400, description = "invalid_request (an enterprise id not of the host's kind, status, limit or cursor)", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<EnterprisePath>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<InvitationPage>, ApiError> {
    let enterprise = enterprise_id(&state, &path.enterprise_id)?;
    let present = |s: Option<String>| s.filter(|s| !s.is_empty());
    let status = present(params.status)
        .map(|s| {
            InvitationStatus::parse(&s).ok_or_else(|| {
                ApiError::invalid_request(
                    "status must be one of pending, accepted, rejected, expired, revoked",
                )
            })
        })
        .transpose()?;
    let limit = present(params.limit)
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| ApiError::invalid_request("limit must be a number from 1 to 100"))
        })
        .transpose()?;
    let request = ListInvitations {
        status,
        limit,
        cursor: present(params.cursor),
    };
    let page = state.invitations.list(&user, &enterprise, request).await?;
    let now = state.invitations.now();
    Ok(Json(InvitationPage {
        items: page.items.iter().map(|i| InvitationJson::at(i, now)).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revokes a pending invitation; its link stops working at once (SPEC R2).
#[utoipa::path(
    post,
    path = "/enterprises/{enterprise_id}/invitations/{id}/revoke",
    tag = "inviter",
    params(
        ("enterprise_id" = String, Path, description = ENTERPRISE_ID_DOC),
        ("id" = Uuid, Path, description = "The invitation (a UUID)"),
    ),
    responses(
        (status = 200, description = "Revoked", body = InvitationJson),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden", body = ErrorBody),
        (status = 404, description = "not_found (also another enterprise's invitation, SPEC X3)", body = ErrorBody),
        (status = 409, description = "invitation_not_pending", body = ErrorBody),
    )
)]
pub(crate) async fn revoke(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<InvitationPath>,
) -> Result<Json<InvitationJson>, ApiError> {
    let enterprise = enterprise_id(&state, &path.enterprise_id)?;
    let invitation = state.invitations.revoke(&user, &enterprise, path.id).await?;
    Ok(Json(InvitationJson::at(&invitation, state.invitations.now())))
}

/// Resends a pending or expired invitation with a new link; the old one stops working
/// (SPEC R3).
#[utoipa::path(
    post,
    path = "/enterprises/{enterprise_id}/invitations/{id}/resend",
    tag = "inviter",
    params(
        ("enterprise_id" = String, Path, description = ENTERPRISE_ID_DOC),
        ("id" = Uuid, Path, description = "The invitation (a UUID)"),
    ),
    responses(
        (status = 200, description = "Resent; the new `invite_url` is shown this once", body = SentInvitationJson),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "forbidden, enterprise_not_certified", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
        (status = 409, description = "invitation_not_pending, duplicate_pending, already_member", body = ErrorBody),
    )
)]
pub(crate) async fn resend(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<InvitationPath>,
) -> Result<Json<SentInvitationJson>, ApiError> {
    let enterprise = enterprise_id(&state, &path.enterprise_id)?;
    let sent = state.invitations.resend(&user, &enterprise, path.id).await?;
    Ok(Json(SentInvitationJson {
        invitation: InvitationJson::at(&sent.invitation, state.invitations.now()),
        invite_url: sent.link.expose_secret().to_owned(),
    }))
}

/// What the invitee page shows (SPEC A1–A4); changes nothing (SPEC A9). Signed-out
/// visitors are welcome.
#[utoipa::path(
    post,
    path = "/invitations/view",
    tag = "invitee",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "The page's model; an unknown token is the state `invalid_or_expired`", body = ViewJson),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody),
    )
)]
pub(crate) async fn view(
    State(state): State<ApiState>,
    MaybeUser(user): MaybeUser,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<Json<ViewJson>, ApiError> {
    let view = state.invitations.view(&body.token, user.as_ref()).await?;
    Ok(Json(ViewJson::from(&view)))
}

/// Accepts the invitation: the signed-in, matching user becomes a member (SPEC A3–A9).
#[utoipa::path(
    post,
    path = "/invitations/accept",
    tag = "invitee",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Accepted: the new membership", body = AcceptedJson),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "account_mismatch, enterprise_not_certified", body = ErrorBody),
        (status = 409, description = "already_accepted, already_rejected, already_member", body = ErrorBody),
        (status = 410, description = "invalid_or_expired", body = ErrorBody),
        (status = 422, description = "role_not_assignable", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody),
    )
)]
pub(crate) async fn accept(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<Json<AcceptedJson>, ApiError> {
    let accepted = state.invitations.accept(&body.token, &user).await?;
    Ok(Json(AcceptedJson::at(&accepted, state.invitations.now())))
}

/// Rejects the invitation; no membership is made (SPEC A7).
#[utoipa::path(
    post,
    path = "/invitations/reject",
    tag = "invitee",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Rejected", body = RejectedJson),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "not_authenticated", body = ErrorBody),
        (status = 403, description = "account_mismatch", body = ErrorBody),
        (status = 409, description = "already_accepted, already_rejected", body = ErrorBody),
        (status = 410, description = "invalid_or_expired", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody),
    )
)]
pub(crate) async fn reject(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<Json<RejectedJson>, ApiError> {
    let rejected = state.invitations.reject(&body.token, &user).await?;
    Ok(Json(RejectedJson {
        invitation: InvitationJson::at(&rejected, state.invitations.now()),
    }))
}

/// Any other path or method inside the router: `not_found` (404) in the SPEC error body.
pub(crate) async fn not_found() -> ApiError {
    ApiError::from(invite_core::InviteError::NotFound)
}
