//! # invite-axum
//!
//! The HTTP contract of invite-rs (rules §6) as an axum 0.8 [`Router`] a host mounts under
//! any prefix. The host keeps its own users and sessions; it only tells the router who is
//! signed in, by implementing [`Identify`].
//!
//! | method | path | who | success |
//! |---|---|---|---|
//! | POST | `/enterprises/{enterprise_id}/invitations` | super_admin | 201, invitation + `invite_url` |
//! | GET | `/enterprises/{enterprise_id}/invitations?status=&limit=&cursor=` | super_admin | 200 `{"items","next_cursor"}` |
//! | POST | `/enterprises/{enterprise_id}/invitations/{id}/revoke` `{}` | super_admin | 200, invitation |
//! | POST | `/enterprises/{enterprise_id}/invitations/{id}/resend` `{}` | super_admin | 200, invitation + new `invite_url` |
//! | POST | `/invitations/view` `{"token"}` | anyone | 200 `{"state","invitation"?,"viewer"}` |
//! | POST | `/invitations/accept` `{"token"}` | signed in, matching | 200 `{"enterprise_id","enterprise_name","role","invitation"}` |
//! | POST | `/invitations/reject` `{"token"}` | signed in, matching | 200 `{"invitation"}` |
//! | GET | `/openapi.json` | anyone | 200, the OpenAPI 3.1 document |
//!
//! Every POST takes a JSON body sent with `Content-Type: application/json` — `{}` where the
//! route needs no input (revoke, resend) — and anything else is `unsupported_media_type`
//! (415). Browsers cannot send that content type from a cross-site HTML form, so no form on
//! another site can revoke, resend, accept or reject on a signed-in user's behalf, whatever
//! the host's cookies say. Host: if your own pages call these routes, send `{}` with
//! `Content-Type: application/json` where there is nothing to say, for example
//! `fetch(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: "{}"})`.
//! A known path called with another method is `method_not_allowed` (405) with an `Allow`
//! header; an unknown path is `not_found` (404).
//!
//! `{enterprise_id}` is the host's own key, written as the host writes it (rule H3):
//! `/enterprises/42/invitations` for an integer-keyed host, a UUID or a text key for
//! others. It is parsed with the kind the host declares through its directory
//! ([`Invitations::key_kinds`]); a segment that is not such a key is `invalid_request`
//! (400), while a well-formed id of an enterprise the caller does not administer is
//! `forbidden` (403, rule S1). `{id}` is the invitation's id, a UUID. In JSON answers,
//! enterprise and user ids keep their natural form: a number for an integer key, a string
//! for a UUID or text key (rule H7).
//!
//! Every error is `{"error":{"code","message"}}` with the status of the rules' table
//! ([`ApiError`]); malformed requests of any shape are `invalid_request` (400), unknown
//! routes `not_found` (404), and an internal failure answers `internal` (500) with no
//! details while the log gets the cause and its source chain. Token-bearing answers
//! (create, resend, view, accept, reject) carry `Cache-Control: no-store` and
//! `Referrer-Policy: no-referrer` (rule X2). Each request runs in a `tracing` span
//! `invite_http` with the matched route and outcome code, never the URI or body (rule X10).
//!
//! ## Example
//!
//! A host with integer keys whose session is (for brevity) two headers, the account's key
//! `x-user-id` and its `x-user-email`; a real host reads its cookie, JWT or `axum-login`
//! session the same way.
//!
//! ```
//! use std::sync::Arc;
//! use axum::Router;
//! use axum::http::request::Parts;
//! use invite_axum::{Identify, IdentityError, build_user};
//! use invite_core::testing::MemoryStore;
//! use invite_core::{Invitations, KeyKind, KeyKinds, User};
//!
//! #[derive(Clone)]
//! struct HeaderSession;
//!
//! impl Identify for HeaderSession {
//!     async fn current_user(
//!         &self,
//!         parts: &mut Parts,
//!         invitations: &Invitations,
//!     ) -> Result<Option<User>, IdentityError> {
//!         let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
//!         // The host's key, parsed as the kind the host declared (rule H3).
//!         let id = header("x-user-id").and_then(|id| invitations.user_id(id).ok());
//!         let (Some(id), Some(email)) = (id, header("x-user-email")) else {
//!             return Ok(None);
//!         };
//!         Ok(build_user(invitations, id, email, Some(email), None).ok())
//!     }
//! }
//!
//! // Stands in for the host's own store and directory, keyed by integers.
//! let store = MemoryStore::with_key_kinds(KeyKinds::both(KeyKind::Int));
//! let invitations = Invitations::builder(Arc::new(store))
//!     .base_url("https://app.example")
//!     .build();
//! assert!(invitations.enterprise_id("42").is_ok());
//! assert_eq!(invitations.enterprise_id("abc").unwrap_err().code(), "invalid_request");
//! // Serves `/api/enterprises/42/invitations` and the other routes.
//! let app: Router = Router::new().nest("/api", invite_axum::router(invitations, HeaderSession));
//! # let _ = app;
//! ```
//!
//! [`router`] limits the token lookups per client (rule X6, [`RateLimit::default`]); serve
//! the host's app with `into_make_service_with_connect_info::<SocketAddr>()` so the limit
//! can tell clients apart. Use [`InviteApi`] instead to change or turn off the limit, to
//! change the body size limit, or to describe the host in the OpenAPI document.
//!
//! ## The OpenAPI document
//!
//! `GET /openapi.json` serves an OpenAPI 3.1 document generated from the handlers and the
//! wire types they use ([`model`]), built once when the router is made and fitted to the
//! host: the path's enterprise key is described as the host's kind (rule H3), the TTL
//! bounds of `expires_in_seconds` and the offered roles are the service's. Every operation
//! lists every status it can answer with the error body; create and resend carry OpenAPI
//! links to revoke and resend by `id`. The host adds where it mounts the routes and how
//! its users sign in with [`InviteApi::openapi_server`] and
//! [`InviteApi::openapi_security`]; [`InviteApi::openapi`] gives the same document for
//! merging into the host's own.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod extract;
mod identity;
pub mod model;
mod openapi;
mod rate_limit;
mod routes;
mod state;
mod trace;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, REFERRER_POLICY};
use axum::middleware;
use axum::routing::{get, post};
use invite_core::Invitations;
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::SecurityScheme;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use identity::{Identify, IdentityError, build_user};
pub use rate_limit::RateLimit;
/// The OpenAPI types of the document ([`InviteApi::openapi`],
/// [`InviteApi::openapi_security`]), re-exported so the host uses the same version.
pub use utoipa;

use crate::openapi::DocSettings;
use crate::state::ApiState;

/// Largest request body accepted, in bytes, unless the host says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// The router of rules §6 with default settings: token lookups rate-limited per client
/// ([`RateLimit::default`]), bodies up to [`DEFAULT_BODY_LIMIT`]. Mount it with
/// [`Router::nest`] under any prefix, and serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the rate limit knows clients.
pub fn router<I, S>(invitations: Invitations, identity: I) -> Router<S>
where
    I: Identify,
    S: Clone + Send + Sync + 'static,
{
    InviteApi::new(invitations, identity).into_router()
}

/// Builds the router with settings: rate limiting (rule X6), the body size limit, and what
/// the OpenAPI document says of the host.
///
/// ```
/// # use std::sync::Arc;
/// # use axum::http::request::Parts;
/// # use invite_core::{Invitations, User, testing::MemoryStore};
/// # struct Sessions;
/// # impl invite_axum::Identify for Sessions {
/// #     async fn current_user(&self, _: &mut Parts, _: &Invitations)
/// #         -> Result<Option<User>, invite_axum::IdentityError> { Ok(None) }
/// # }
/// # let invitations = Invitations::builder(Arc::new(MemoryStore::default())).build();
/// use invite_axum::utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
/// use invite_axum::{InviteApi, RateLimit};
///
/// let api: axum::Router = InviteApi::new(invitations, Sessions)
///     .rate_limit(RateLimit::per_minute(120).burst(40))
///     .openapi_server("/api")
///     .openapi_security(SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("session"))))
///     .into_router();
/// # let _ = api;
/// ```
pub struct InviteApi<I> {
    invitations: Invitations,
    identity: I,
    rate_limit: Option<RateLimit>,
    body_limit: usize,
    servers: Vec<String>,
    security: Option<SecurityScheme>,
}

impl<I: Identify> InviteApi<I> {
    /// Settings for a router over `invitations` that asks `identity` who is signed in:
    /// rate limiting on ([`RateLimit::default`]), bodies up to [`DEFAULT_BODY_LIMIT`].
    #[must_use]
    pub fn new(invitations: Invitations, identity: I) -> Self {
        Self {
            invitations,
            identity,
            rate_limit: Some(RateLimit::default()),
            body_limit: DEFAULT_BODY_LIMIT,
            servers: Vec::new(),
            security: None,
        }
    }

    /// Limits `view`, `accept` and `reject`, and the accept and reject of the user's own
    /// invitations (rule B1), per client with `limit` (rule X6) instead of
    /// [`RateLimit::default`].
    #[must_use]
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Turns the rate limit of rule X6 off, for a host that limits token lookups itself
    /// (in a proxy, say) or a load generator.
    #[must_use]
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// The largest request body accepted, in bytes; larger ones are `invalid_request`.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Adds a `servers` entry to the OpenAPI document: where the host serves the routes,
    /// such as `/api` or `https://app.example/api`, so clients generated from it call the
    /// right URLs.
    #[must_use]
    pub fn openapi_server(mut self, url: impl Into<String>) -> Self {
        self.servers.push(url.into());
        self
    }

    /// How the host's users sign in, as an OpenAPI security scheme (a session cookie, a
    /// bearer token, …). The document registers it as `session`, which every operation that
    /// needs a signed-in user requires and `view` accepts. Without it, the document has no
    /// security requirements.
    #[must_use]
    pub fn openapi_security(mut self, scheme: SecurityScheme) -> Self {
        self.security = Some(scheme);
        self
    }

    /// The OpenAPI 3.1 document the router serves at `GET /openapi.json`, as JSON, for hosts
    /// that merge it into their own or write it to a file for a client generator.
    #[must_use]
    pub fn openapi(&self) -> serde_json::Value {
        let mut settings = DocSettings::of(&self.invitations);
        settings.servers.clone_from(&self.servers);
        settings.security.clone_from(&self.security);
        openapi::document(&settings)
    }

    /// The router, its state applied, ready to [`Router::nest`] or [`Router::merge`].
    pub fn into_router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        // Serialized once; every request gets the same bytes.
        let document = axum::body::Bytes::from(self.openapi().to_string());
        let state = ApiState {
            invitations: self.invitations,
            identity: Arc::new(self.identity),
        };
        // rule X2: answers that may hold a token are neither cached nor leaked by `Referer`.
        let token_bearing = || {
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ))
        };
        let inviter = Router::new()
            .route(
                "/enterprises/{enterprise_id}/invitations",
                post(routes::create).layer(token_bearing()).get(routes::list),
            )
            .route(
                "/enterprises/{enterprise_id}/invitations/{id}/revoke",
                post(routes::revoke),
            )
            .route(
                "/enterprises/{enterprise_id}/invitations/{id}/resend",
                post(routes::resend).layer(token_bearing()),
            )
            .route(
                "/enterprises/{enterprise_id}/invitations/bulk",
                post(routes::bulk_create).layer(token_bearing()),
            )
            // rule B1: the list is the user's own; it is not a lookup by guessable input.
            .route("/invitations/mine", get(routes::mine).layer(token_bearing()));
        let mut invitee = Router::new()
            .route("/invitations/view", post(routes::view))
            .route("/invitations/accept", post(routes::accept))
            .route("/invitations/reject", post(routes::reject))
            .route("/invitations/mine/{id}/accept", post(routes::accept_mine))
            .route("/invitations/mine/{id}/reject", post(routes::reject_mine));
        if let Some(limit) = self.rate_limit {
            invitee = limit.limit_routes(invitee);
        }
        let invitee = invitee.route_layer(token_bearing());
        inviter
            .merge(invitee)
            .route(
                "/openapi.json",
                get(move || async move {
                    (
                        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                        document,
                    )
                }),
            )
            // After every route: axum gives this fallback to the method routers registered
            // so far, which add the `Allow` header of the path.
            .method_not_allowed_fallback(routes::method_not_allowed)
            .fallback(routes::not_found)
            .layer(DefaultBodyLimit::max(self.body_limit))
            .layer(middleware::from_fn(trace::span))
            .with_state(state)
    }
}

impl<I> std::fmt::Debug for InviteApi<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InviteApi")
            .field("rate_limit", &self.rate_limit)
            .field("body_limit", &self.body_limit)
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}
