//! The OpenAPI 3.1 document of the routes, generated from the handlers' annotations.

use utoipa::OpenApi;

use crate::error::{ErrorBody, ErrorDetail};
use crate::model::{
    AcceptedJson, ContactKindJson, CreateInvitationRequest, DeliveryJson, HostKey, InvitationInfoJson,
    InvitationJson, InvitationPage, InviterJson, RejectedJson, RoleJson, SentInvitationJson, StatusJson,
    TokenRequest, ViewJson, ViewStateJson, ViewerJson,
};
use crate::routes;

/// The document: every route of SPEC §6 with its bodies and error answers. Paths are
/// relative to where the host mounts the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "invite-rs",
        description = "Invite members to an enterprise: send, list, revoke and resend invitations; view, accept and reject them. Errors answer `{\"error\":{\"code\",\"message\"}}`."
    ),
    paths(
        routes::create,
        routes::list,
        routes::revoke,
        routes::resend,
        routes::view,
        routes::accept,
        routes::reject
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        HostKey,
        CreateInvitationRequest,
        TokenRequest,
        InvitationJson,
        SentInvitationJson,
        InvitationPage,
        InviterJson,
        ContactKindJson,
        RoleJson,
        StatusJson,
        DeliveryJson,
        ViewJson,
        ViewStateJson,
        ViewerJson,
        InvitationInfoJson,
        AcceptedJson,
        RejectedJson
    )),
    tags(
        (name = "inviter", description = "A super admin manages the invitations of their enterprise (SPEC S1–S8, R1–R3)"),
        (name = "invitee", description = "The invited person opens, accepts or rejects a link (SPEC A1–A9)")
    )
)]
pub(crate) struct ApiDoc;
