//! The OpenAPI 3.1 document of the routes: generated from the handlers' annotations and the
//! wire types they use (no hand-kept copy), then fitted to the host's settings when the
//! router is built — the kind of its enterprise keys (rule H3), the TTL bounds of its
//! policy (rule S6), its assignable roles (rule S4), its `servers` and the security scheme
//! behind `session`.

use std::time::Duration;

use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::SecurityScheme;
use utoipa::openapi::server::Server;
use utoipa::openapi::{Components, RefOr};

use crate::error::{ErrorBody, ErrorDetail};
use invite_core::{
    ContactKind, DeliveryStatus, InvitationStatus, Invitations, KeyKind, Role, TtlPolicy, ViewState, Viewer,
};

use crate::model::{
    AcceptedJson, BulkErrorJson, BulkInvitationRow, BulkInvitationsRequest, BulkResultJson, BulkResultsJson,
    BulkSentJson, CreateInvitationRequest, EmptyRequest, HostKey, InvitationInfoJson, InvitationJson,
    InvitationPage, InviterJson, MyInvitationJson, MyInvitationsJson, RejectedJson, SentInvitationJson,
    TokenRequest, ViewJson,
};
use crate::routes;

/// The name of the security scheme the operations refer to; the host says what it is.
pub(crate) const SESSION_SCHEME: &str = "session";

/// The document as the annotations make it: every route of rules §6 with its bodies, every
/// status it can answer and the links between them. Paths are relative to where the host
/// mounts the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "invite-rs",
        description = "Invite members to an enterprise: send, list, revoke and resend invitations; view, accept and reject them.\n\nEvery POST takes a JSON body sent with `Content-Type: application/json` (`{}` where nothing is needed); any other content type is `415 unsupported_media_type`. A known path called with a method it does not serve answers `405 method_not_allowed` with an `Allow` header; an unknown path `404 not_found`. Every error answers `{\"error\":{\"code\",\"message\"}}` (`ErrorBody`); clients branch on `code`."
    ),
    paths(
        routes::create,
        routes::list,
        routes::revoke,
        routes::resend,
        routes::view,
        routes::accept,
        routes::reject,
        routes::bulk_create,
        routes::mine,
        routes::accept_mine,
        routes::reject_mine,
        routes::openapi_document
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        HostKey,
        CreateInvitationRequest,
        EmptyRequest,
        TokenRequest,
        InvitationJson,
        SentInvitationJson,
        InvitationPage,
        InviterJson,
        ContactKind,
        Role,
        InvitationStatus,
        DeliveryStatus,
        ViewJson,
        ViewState,
        Viewer,
        InvitationInfoJson,
        AcceptedJson,
        RejectedJson,
        MyInvitationJson,
        MyInvitationsJson,
        BulkInvitationRow,
        BulkInvitationsRequest,
        BulkSentJson,
        BulkErrorJson,
        BulkResultJson,
        BulkResultsJson
    )),
    tags(
        (name = "inviter", description = "A super admin manages the invitations of their enterprise (rule S1–S8, R1–R3)"),
        (name = "invitee", description = "The invited person opens, accepts or rejects a link (rule A1–A9), or, signed in, lists and answers their own invitations by id (rule B1)"),
        (name = "meta", description = "This document")
    )
)]
pub(crate) struct ApiDoc;

/// What the document needs to know of the host.
#[derive(Clone)]
pub(crate) struct DocSettings {
    /// How the host writes an enterprise key in a path (rule H3).
    pub(crate) enterprise_key: KeyKind,
    /// The expiry policy (rule S6).
    pub(crate) ttl: TtlPolicy,
    /// The roles an invitation may offer (rule S4).
    pub(crate) roles: Vec<Role>,
    /// Where the host serves the routes, e.g. `/api`.
    pub(crate) servers: Vec<String>,
    /// The scheme behind `session`, if the host names one.
    pub(crate) security: Option<SecurityScheme>,
}

impl DocSettings {
    /// The settings of the service `invitations`.
    pub(crate) fn of(invitations: &Invitations) -> Self {
        let config = invitations.config();
        Self {
            enterprise_key: invitations.key_kinds().enterprise,
            ttl: config.ttl,
            roles: config.roles.assignable().to_vec(),
            servers: Vec::new(),
            security: None,
        }
    }
}

/// The document for a host with `settings`, as JSON.
pub(crate) fn document(settings: &DocSettings) -> Value {
    serde_json::to_value(typed_document(settings)).unwrap_or_else(|err| {
        // The document is built from the crate's own types: this is a bug, not input.
        tracing::error!(error = %err, "the OpenAPI document does not serialize");
        Value::Null
    })
}

/// The document for a host with `settings`, in utoipa's types.
fn typed_document(settings: &DocSettings) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            fit_enterprise_key(operation, settings.enterprise_key);
            fit_create_examples(operation, &settings.ttl);
            if settings.security.is_none() {
                operation.security = None;
            }
        }
    }
    let components = doc.components.get_or_insert_with(Components::new);
    if let Some(request) = object_mut(components, "CreateInvitationRequest") {
        if let Some(ttl) = property_mut(request, "expires_in_seconds") {
            let (min, max) = whole_second_bounds(&settings.ttl);
            ttl.minimum = Some(number(min));
            ttl.maximum = Some(number(max));
            ttl.description = Some(format!(
                "Time-to-live of the link in whole seconds, from {min} to {max} (rule S6); the host's default ({}) when absent or null. A number with a zero fraction (`3600.0`) counts as that whole number.",
                seconds_text(settings.ttl.default_ttl()),
            ));
        }
        if let Some(role) = property_mut(request, "role") {
            let names: Vec<Value> = settings.roles.iter().map(|r| json!(r.to_string())).collect();
            role.enum_values = Some(names);
        }
    }
    // rule B2: a bulk row offers the same roles as a single send.
    if let Some(row) = object_mut(components, "BulkInvitationRow")
        && let Some(role) = property_mut(row, "role")
    {
        let names: Vec<Value> = settings.roles.iter().map(|r| json!(r.to_string())).collect();
        role.enum_values = Some(names);
    }
    if let Some(scheme) = &settings.security {
        components
            .security_schemes
            .insert(SESSION_SCHEME.to_owned(), RefOr::T(scheme.clone()));
    }
    if !settings.servers.is_empty() {
        doc.servers = Some(settings.servers.iter().map(Server::new).collect());
    }
    doc
}

/// The operations of a path.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Rule H3: `{enterprise_id}` is described as exactly the keys the host parses: an int64
/// for an integer key, a UUID, or a text key (1 to 256 bytes, no control characters).
fn fit_enterprise_key(operation: &mut Operation, kind: KeyKind) {
    let Some(parameters) = operation.parameters.as_mut() else {
        return;
    };
    for parameter in parameters.iter_mut() {
        if let RefOr::T(parameter) = parameter
            && parameter.name == "enterprise_id"
        {
            parameter.schema = Some(enterprise_key_schema(kind).into());
        }
    }
}

fn enterprise_key_schema(kind: KeyKind) -> Object {
    match kind {
        KeyKind::Int => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(Some("The host's integer key of the enterprise")),
        KeyKind::Uuid => ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .description(Some("The host's UUID key of the enterprise")),
        // A key kind added to core after this crate: described as what every kind is in a
        // path, a non-empty string.
        _ => ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(invite_core::ids::MAX_TEXT_KEY))
            .pattern(Some("^[^\\u0000-\\u001F\\u007F-\\u009F]+$"))
            .description(Some(
                "The host's text key of the enterprise: at most 256 bytes of UTF-8, no control characters",
            )),
    }
    .build()
}

/// The examples of the create body ask for the host's default lifetime, which its bounds
/// always admit.
fn fit_create_examples(operation: &mut Operation, ttl: &TtlPolicy) {
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
        return;
    };
    let default = ttl.default_ttl();
    let (min, max) = whole_second_bounds(ttl);
    let seconds = default.as_secs().clamp(min, max.max(min));
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else { continue };
        for example in content.examples.values_mut() {
            if let RefOr::T(example) = example
                && let Some(Value::Object(value)) = example.value.as_mut()
                && let Some(ttl) = value.get_mut("expires_in_seconds")
            {
                *ttl = json!(seconds);
            }
        }
    }
}

/// The smallest and largest whole numbers of seconds the policy admits.
fn whole_second_bounds(ttl: &TtlPolicy) -> (u64, u64) {
    let min = ttl.min();
    let min = min.as_secs() + u64::from(min.subsec_nanos() > 0);
    (min, ttl.max().as_secs())
}

fn seconds_text(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.3} s", duration.as_secs_f64())
    }
}

fn number(n: u64) -> utoipa::Number {
    usize::try_from(n).map_or(utoipa::Number::Float(n as f64), utoipa::Number::UInt)
}

fn object_mut<'a>(components: &'a mut Components, name: &str) -> Option<&'a mut Object> {
    match components.schemas.get_mut(name)? {
        RefOr::T(Schema::Object(object)) => Some(object),
        _ => None,
    }
}

/// A property's own schema; an optional field's `oneOf [null, T]` or `T | null` is looked
/// through to `T`.
fn property_mut<'a>(object: &'a mut Object, name: &str) -> Option<&'a mut Object> {
    match object.properties.get_mut(name)? {
        RefOr::T(Schema::Object(object)) => Some(object),
        RefOr::T(Schema::OneOf(one_of)) => one_of.items.iter_mut().find_map(|item| match item {
            RefOr::T(Schema::Object(object)) if !is_null(object) => Some(object),
            _ => None,
        }),
        _ => None,
    }
}

fn is_null(object: &Object) -> bool {
    matches!(
        &object.schema_type,
        utoipa::openapi::schema::SchemaType::Type(Type::Null)
    )
}
