//! The handlers of rules §6, one per route, each documented for the OpenAPI document: every
//! status it can answer (each refusal with the error body), its request body with
//! examples, and, on create and resend, links to the calls that take the new invitation's
//! `id`. What depends on the host (its key kind, TTL bounds, roles, servers and security
//! scheme) is filled in by `crate::openapi` when the router is built.
//!
//! Every operation that needs a signed-in user declares the security requirement
//! `session`; `view` declares it optional. The host names the scheme behind `session`
//! (`InviteApi::openapi_security`); without one, the requirements are left out.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use invite_core::{EnterpriseId, InvitationId, InviteError, ListInvitations, SendInvitation};
use serde::Deserialize;

use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::identity::{MaybeUser, SignedIn};
use crate::model::{
    AcceptedJson, BulkErrorJson, BulkInvitationRow, BulkInvitationsRequest, BulkResultJson, BulkResultsJson,
    BulkSentJson, CreateInvitationRequest, EmptyRequest, InvitationJson, InvitationPage, ListParams,
    MyInvitationJson, MyInvitationsJson, RejectedJson, SentInvitationJson, TokenRequest, ViewJson,
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

/// Sends an invitation (rule S1–S8).
#[utoipa::path(
    post,
    path = "/enterprises/{enterprise_id}/invitations",
    operation_id = "create_invitation",
    tag = "inviter",
    params(("enterprise_id" = String, Path, description = ENTERPRISE_ID_DOC)),
    request_body(
        content = CreateInvitationRequest,
        content_type = "application/json",
        description = "Who to invite, as what, and optionally for how long",
        examples(
            ("email" = (summary = "An email address, with the link's lifetime in seconds", value = json!({"contact": "bob@example.com", "role": "dev_admin", "expires_in_seconds": 604_800}))),
            ("phone" = (summary = "A phone number in E.164 form, the host's default lifetime", value = json!({"contact": "+14155550100", "role": "member"})))
        )
    ),
    responses(
        (status = 201, description = "Created; `invite_url` is shown this once (rule S5)", body = SentInvitationJson,
            headers(
                ("Cache-Control" = String, description = "`no-store`: the answer holds a link (rule X2)"),
                ("Referrer-Policy" = String, description = "`no-referrer` (rule X2)")
            ),
            links(
                ("revoke" = (operation_id = "revoke_invitation", description = "Revoke the new invitation by its `id`",
                    parameters(("enterprise_id" = "$request.path.enterprise_id"), ("id" = "$response.body#/id")),
                    request_body = json!({}))),
                ("resend" = (operation_id = "resend_invitation", description = "Resend the new invitation by its `id`",
                    parameters(("enterprise_id" = "$request.path.enterprise_id"), ("id" = "$response.body#/id")),
                    request_body = json!({}))),
                ("list" = (operation_id = "list_invitations", description = "The records table that now holds the invitation",
                    parameters(("enterprise_id" = "$request.path.enterprise_id"))))
            )
        ),
        (status = 400, description = "`invalid_request`: malformed body (rule X4, X9), `expires_in_seconds` out of bounds (rule S6), or an enterprise id not of the host's kind (rule H3)", body = ErrorBody),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden` (rule S1), `enterprise_not_certified` (rule S2)", body = ErrorBody),
        (status = 409, description = "`already_member`, `duplicate_pending` (rule S7)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body was not sent as `application/json`", body = ErrorBody),
        (status = 422, description = "`invalid_contact` (rule S3, X8), `role_not_assignable` (rule S4)", body = ErrorBody),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
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

/// One page of the records table, newest first (rule R1).
#[utoipa::path(
    get,
    path = "/enterprises/{enterprise_id}/invitations",
    operation_id = "list_invitations",
    tag = "inviter",
    params(("enterprise_id" = String, Path, description = ENTERPRISE_ID_DOC), ListParams),
    responses(
        (status = 200, description = "One page", body = InvitationPage),
        (status = 400, description = "`invalid_request`: a bad `status`, `limit` or `cursor`, an unknown or repeated query parameter, or an enterprise id not of the host's kind (rule H3)", body = ErrorBody),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden` (rule S1)", body = ErrorBody),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub(crate) async fn list(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<EnterprisePath>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<InvitationPage>, ApiError> {
    let enterprise = enterprise_id(&state, &path.enterprise_id)?;
    let request = ListInvitations {
        status: params.status,
        limit: params.limit.map(|limit| limit as usize),
        cursor: params.cursor,
    };
    let page = state.invitations.list(&user, &enterprise, request).await?;
    // The instant the rows were chosen at, not a second read (rules §1, "one instant").
    Ok(Json(InvitationPage {
        items: page
            .items
            .iter()
            .map(|i| InvitationJson::at(i, page.as_of))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revokes a pending invitation; its link stops working at once (rule R2).
#[utoipa::path(
    post,
    path = "/enterprises/{enterprise_id}/invitations/{id}/revoke",
    operation_id = "revoke_invitation",
    tag = "inviter",
    params(
        ("enterprise_id" = String, Path, description = ENTERPRISE_ID_DOC),
        ("id" = Uuid, Path, description = "The invitation (a UUID)"),
    ),
    request_body(
        content = EmptyRequest,
        content_type = "application/json",
        description = "Nothing: `{}`, sent as `application/json` like every POST body",
        examples(("empty" = (summary = "The only body", value = json!({}))))
    ),
    responses(
        (status = 200, description = "Revoked", body = InvitationJson),
        (status = 400, description = "`invalid_request`: a body other than `{}`, an invitation id that is not a UUID, or an enterprise id not of the host's kind (rule H3)", body = ErrorBody),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden` (rule S1)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such invitation in this enterprise (rule X3)", body = ErrorBody),
        (status = 409, description = "`invitation_not_pending` (rule R2)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body was not sent as `application/json`", body = ErrorBody),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub(crate) async fn revoke(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<InvitationPath>,
    ApiJson(EmptyRequest {}): ApiJson<EmptyRequest>,
) -> Result<Json<InvitationJson>, ApiError> {
    let enterprise = enterprise_id(&state, &path.enterprise_id)?;
    let invitation = state.invitations.revoke(&user, &enterprise, path.id).await?;
    Ok(Json(InvitationJson::at(&invitation, state.invitations.now())))
}

/// Resends a pending or expired invitation with a new link; the old one stops working
/// (rule R3).
#[utoipa::path(
    post,
    path = "/enterprises/{enterprise_id}/invitations/{id}/resend",
    operation_id = "resend_invitation",
    tag = "inviter",
    params(
        ("enterprise_id" = String, Path, description = ENTERPRISE_ID_DOC),
        ("id" = Uuid, Path, description = "The invitation (a UUID)"),
    ),
    request_body(
        content = EmptyRequest,
        content_type = "application/json",
        description = "Nothing: `{}`, sent as `application/json` like every POST body",
        examples(("empty" = (summary = "The only body", value = json!({}))))
    ),
    responses(
        (status = 200, description = "Resent; the new `invite_url` is shown this once", body = SentInvitationJson,
            headers(
                ("Cache-Control" = String, description = "`no-store`: the answer holds a link (rule X2)"),
                ("Referrer-Policy" = String, description = "`no-referrer` (rule X2)")
            ),
            links(
                ("revoke" = (operation_id = "revoke_invitation", description = "Revoke the resent invitation by its `id`",
                    parameters(("enterprise_id" = "$request.path.enterprise_id"), ("id" = "$response.body#/id")),
                    request_body = json!({})))
            )
        ),
        (status = 400, description = "`invalid_request`: a body other than `{}`, an invitation id that is not a UUID, or an enterprise id not of the host's kind (rule H3)", body = ErrorBody),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden` (rule S1), `enterprise_not_certified` (rule S2)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such invitation in this enterprise (rule X3)", body = ErrorBody),
        (status = 409, description = "`invitation_not_pending`, `duplicate_pending`, `already_member` (rule R3)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body was not sent as `application/json`", body = ErrorBody),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub(crate) async fn resend(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<InvitationPath>,
    ApiJson(EmptyRequest {}): ApiJson<EmptyRequest>,
) -> Result<Json<SentInvitationJson>, ApiError> {
    let enterprise = enterprise_id(&state, &path.enterprise_id)?;
    let sent = state.invitations.resend(&user, &enterprise, path.id).await?;
    Ok(Json(SentInvitationJson {
        invitation: InvitationJson::at(&sent.invitation, state.invitations.now()),
        invite_url: sent.link.expose_secret().to_owned(),
    }))
}

/// What the invitee page shows (rule A1–A4); changes nothing (rule A9). Signed-out
/// visitors are welcome.
#[utoipa::path(
    post,
    path = "/invitations/view",
    operation_id = "view_invitation",
    tag = "invitee",
    request_body(
        content = TokenRequest,
        content_type = "application/json",
        description = "The token of the link",
        examples(("token" = (summary = "The `token` parameter of an `invite_url`", value = json!({"token": "q3Jx0b2lLkN5h2YpQ1vR7sT9uW0xYz4aBcDeFgHiJkL"}))))
    ),
    responses(
        (status = 200, description = "The page's model; an unknown, expired, revoked or replaced token is the state `invalid_or_expired` (rule A1)", body = ViewJson,
            headers(
                ("Cache-Control" = String, description = "`no-store` (rule X2)"),
                ("Referrer-Policy" = String, description = "`no-referrer` (rule X2)")
            )
        ),
        (status = 400, description = "`invalid_request`: malformed body (rule X4, X9)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body was not sent as `application/json`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (rule X6)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security((), ("session" = []))
)]
pub(crate) async fn view(
    State(state): State<ApiState>,
    MaybeUser(user): MaybeUser,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<Json<ViewJson>, ApiError> {
    let view = state.invitations.view(&body.token, user.as_ref()).await?;
    Ok(Json(ViewJson::from(&view)))
}

/// Accepts the invitation: the signed-in, matching user becomes a member (rule A3–A9).
#[utoipa::path(
    post,
    path = "/invitations/accept",
    operation_id = "accept_invitation",
    tag = "invitee",
    request_body(
        content = TokenRequest,
        content_type = "application/json",
        description = "The token of the link",
        examples(("token" = (summary = "The `token` parameter of an `invite_url`", value = json!({"token": "q3Jx0b2lLkN5h2YpQ1vR7sT9uW0xYz4aBcDeFgHiJkL"}))))
    ),
    responses(
        (status = 200, description = "Accepted: the new membership", body = AcceptedJson,
            headers(
                ("Cache-Control" = String, description = "`no-store` (rule X2)"),
                ("Referrer-Policy" = String, description = "`no-referrer` (rule X2)")
            )
        ),
        (status = 400, description = "`invalid_request`: malformed body (rule X4, X9)", body = ErrorBody),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 403, description = "`account_mismatch` (rule A4), `enterprise_not_certified` (rule A9)", body = ErrorBody),
        (status = 409, description = "`already_accepted`, `already_rejected` (rule A6), `already_member` (rule A8)", body = ErrorBody),
        (status = 410, description = "`invalid_or_expired`: unknown, expired, revoked or replaced (rule A1)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body was not sent as `application/json`", body = ErrorBody),
        (status = 422, description = "`role_not_assignable`: the host no longer offers the role (rule A9)", body = ErrorBody),
        (status = 429, description = "`rate_limited` (rule X6)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub(crate) async fn accept(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<Json<AcceptedJson>, ApiError> {
    let accepted = state.invitations.accept(&body.token, &user).await?;
    Ok(Json(AcceptedJson::at(&accepted, state.invitations.now())))
}

/// Rejects the invitation; no membership is made (rule A7).
#[utoipa::path(
    post,
    path = "/invitations/reject",
    operation_id = "reject_invitation",
    tag = "invitee",
    request_body(
        content = TokenRequest,
        content_type = "application/json",
        description = "The token of the link",
        examples(("token" = (summary = "The `token` parameter of an `invite_url`", value = json!({"token": "q3Jx0b2lLkN5h2YpQ1vR7sT9uW0xYz4aBcDeFgHiJkL"}))))
    ),
    responses(
        (status = 200, description = "Rejected", body = RejectedJson,
            headers(
                ("Cache-Control" = String, description = "`no-store` (rule X2)"),
                ("Referrer-Policy" = String, description = "`no-referrer` (rule X2)")
            )
        ),
        (status = 400, description = "`invalid_request`: malformed body (rule X4, X9)", body = ErrorBody),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 403, description = "`account_mismatch` (rule A4)", body = ErrorBody),
        (status = 409, description = "`already_accepted`, `already_rejected` (rule A6)", body = ErrorBody),
        (status = 410, description = "`invalid_or_expired`: unknown, expired, revoked or replaced (rule A1)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body was not sent as `application/json`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (rule X6)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
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

/// `{id}` of `/invitations/mine/{id}/…`: one of the signed-in user's invitations.
#[derive(Deserialize)]
pub(crate) struct MinePath {
    id: InvitationId,
}

/// Sends up to 100 invitations in one request (rule B2): S1 and S2 refuse the whole
/// request; every row then goes through S3–S8 on its own.
#[utoipa::path(
    post,
    path = "/enterprises/{enterprise_id}/invitations/bulk",
    operation_id = "bulk_create_invitations",
    tag = "inviter",
    params(("enterprise_id" = String, Path, description = ENTERPRISE_ID_DOC)),
    request_body(
        content = BulkInvitationsRequest,
        content_type = "application/json",
        description = "1 to 100 rows of `{\"contact\",\"role\"}`; each row is read on its own, so a row of the wrong shape becomes an `invalid_request` error row and the others go ahead",
        examples(
            ("two" = (summary = "An email and a phone number", value = json!({"invitations": [{"contact": "bob@example.com", "role": "dev_admin"}, {"contact": "+14155550100", "role": "member"}]}))),
            ("one" = (summary = "A single row", value = json!({"invitations": [{"contact": "carol@example.com", "role": "finance_admin"}]})))
        )
    ),
    responses(
        (status = 200, description = "One result per row, in the request's order: `{\"invitation\",\"invite_url\"}` for a row sent (the link is shown this once, rule S5), or `{\"contact\",\"error\":{\"code\",\"message\"}}` for a row refused with the code a single send would answer (`invalid_contact`, `role_not_assignable`, `already_member`, `duplicate_pending` — also for a contact repeated in the request —, `invalid_request` for a row of the wrong shape)", body = BulkResultsJson,
            headers(
                ("Cache-Control" = String, description = "`no-store`: the answer holds links (rule X2)"),
                ("Referrer-Policy" = String, description = "`no-referrer` (rule X2)")
            )
        ),
        (status = 400, description = "`invalid_request`: a body that is not `{\"invitations\":[…]}`, no rows or more than 100, or an enterprise id not of the host's kind (rule H3)", body = ErrorBody),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden` (rule S1), `enterprise_not_certified` (rule S2): the whole request is refused", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body was not sent as `application/json`", body = ErrorBody),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub(crate) async fn bulk_create(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<EnterprisePath>,
    ApiJson(body): ApiJson<BulkInvitationsRequest>,
) -> Result<Json<BulkResultsJson>, ApiError> {
    let enterprise = enterprise_id(&state, &path.enterprise_id)?;
    // What each row said its contact was, for the error rows.
    let contacts: Vec<Option<String>> = body
        .invitations
        .iter()
        .map(|row| row.get("contact").and_then(|c| c.as_str()).map(str::to_owned))
        .collect();
    // Each row is read on its own (rule B2); their number is the service's to check, after
    // S1/S2. The body limit bounds the work.
    let rows: Vec<Result<SendInvitation, InviteError>> = body
        .invitations
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            serde_json::from_value::<BulkInvitationRow>(row)
                .map(|row| SendInvitation::new(row.contact, row.role))
                .map_err(|err| InviteError::InvalidRequest(format!("row {i}: {err}")))
        })
        .collect();
    let results = state.invitations.send_many(&user, &enterprise, rows).await?;
    let now = state.invitations.now();
    let results = results
        .into_iter()
        .zip(contacts)
        .map(|(result, contact)| match result {
            Ok(sent) => BulkResultJson::Sent(BulkSentJson {
                invitation: InvitationJson::at(&sent.invitation, now),
                invite_url: sent.link.expose_secret().to_owned(),
            }),
            Err(err) => BulkResultJson::Error(BulkErrorJson {
                contact,
                error: row_error(&err),
            }),
        })
        .collect();
    Ok(Json(BulkResultsJson { results }))
}

/// The error of one bulk row, as a single send would word it; an internal failure says
/// nothing to the client and everything to the log.
fn row_error(err: &InviteError) -> ErrorDetail {
    if let InviteError::Internal(cause) = err {
        tracing::error!(error = %err, cause = ?cause, "internal error in a bulk invite row");
        return ErrorDetail {
            code: "internal".to_owned(),
            message: "internal error".to_owned(),
        };
    }
    ErrorDetail {
        code: err.code().to_owned(),
        message: err.to_string(),
    }
}

/// The signed-in user's own invitations (rule B1): pending and unexpired, addressed to the
/// account's verified email or phone, across enterprises.
#[utoipa::path(
    get,
    path = "/invitations/mine",
    operation_id = "list_my_invitations",
    tag = "invitee",
    responses(
        (status = 200, description = "The invitations, soonest expiry first", body = MyInvitationsJson,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub(crate) async fn mine(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
) -> Result<Json<MyInvitationsJson>, ApiError> {
    let mine = state.invitations.mine(&user).await?;
    Ok(Json(MyInvitationsJson {
        items: mine.iter().map(MyInvitationJson::from).collect(),
    }))
}

/// Accepts one of the signed-in user's own invitations by id, without its token (rule B1,
/// rule A5–A9).
#[utoipa::path(
    post,
    path = "/invitations/mine/{id}/accept",
    operation_id = "accept_my_invitation",
    tag = "invitee",
    params(("id" = Uuid, Path, description = "The invitation (a UUID), from `GET /invitations/mine`")),
    request_body(
        content = EmptyRequest,
        content_type = "application/json",
        description = "Nothing: `{}`, sent as `application/json` like every POST body",
        examples(("empty" = (summary = "The only body", value = json!({}))))
    ),
    responses(
        (status = 200, description = "Accepted: the new membership", body = AcceptedJson,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: a body other than `{}`, or an id that is not a UUID", body = ErrorBody),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 403, description = "`enterprise_not_certified` (rule A9)", body = ErrorBody),
        (status = 404, description = "`not_found`: no invitation with this id is addressed to the signed-in user's verified contacts (rule B1; whether it exists is not told)", body = ErrorBody),
        (status = 409, description = "`already_accepted`, `already_rejected` (rule A6), `already_member` (rule A8)", body = ErrorBody),
        (status = 410, description = "`invalid_or_expired`: expired or revoked (rule A1)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body was not sent as `application/json`", body = ErrorBody),
        (status = 422, description = "`role_not_assignable`: the host no longer offers the role (rule A9)", body = ErrorBody),
        (status = 429, description = "`rate_limited` (rule X6)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub(crate) async fn accept_mine(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<MinePath>,
    ApiJson(EmptyRequest {}): ApiJson<EmptyRequest>,
) -> Result<Json<AcceptedJson>, ApiError> {
    let accepted = state.invitations.accept_mine(&user, path.id).await?;
    Ok(Json(AcceptedJson::at(&accepted, state.invitations.now())))
}

/// Rejects one of the signed-in user's own invitations by id, without its token (rule B1,
/// rule A7).
#[utoipa::path(
    post,
    path = "/invitations/mine/{id}/reject",
    operation_id = "reject_my_invitation",
    tag = "invitee",
    params(("id" = Uuid, Path, description = "The invitation (a UUID), from `GET /invitations/mine`")),
    request_body(
        content = EmptyRequest,
        content_type = "application/json",
        description = "Nothing: `{}`, sent as `application/json` like every POST body",
        examples(("empty" = (summary = "The only body", value = json!({}))))
    ),
    responses(
        (status = 200, description = "Rejected", body = RejectedJson,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, description = "`invalid_request`: a body other than `{}`, or an id that is not a UUID", body = ErrorBody),
        (status = 401, description = "`not_authenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`: no invitation with this id is addressed to the signed-in user's verified contacts (rule B1)", body = ErrorBody),
        (status = 409, description = "`already_accepted`, `already_rejected` (rule A6)", body = ErrorBody),
        (status = 410, description = "`invalid_or_expired`: expired or revoked (rule A1)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body was not sent as `application/json`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (rule X6)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 500, description = "`internal`, with no details", body = ErrorBody),
    ),
    security(("session" = []))
)]
pub(crate) async fn reject_mine(
    State(state): State<ApiState>,
    SignedIn(user): SignedIn,
    ApiPath(path): ApiPath<MinePath>,
    ApiJson(EmptyRequest {}): ApiJson<EmptyRequest>,
) -> Result<Json<RejectedJson>, ApiError> {
    let rejected = state.invitations.reject_mine(&user, path.id).await?;
    Ok(Json(RejectedJson {
        invitation: InvitationJson::at(&rejected, state.invitations.now()),
    }))
}

/// This document (OpenAPI 3.1), as built for the host's settings when the router was made.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_document",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of these routes", body = Object, content_type = "application/json"),
    )
)]
#[allow(dead_code)] // Only its annotation is used: the route serves the document built once.
pub(crate) async fn openapi_document() {}

/// Any other path inside the router: `not_found` (404) in the rules error body.
pub(crate) async fn not_found() -> ApiError {
    ApiError::from(invite_core::InviteError::NotFound)
}

/// A known path called with a method it does not serve: `method_not_allowed` (405). The
/// method router of the path adds the `Allow` header listing the methods it serves.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
