//! # invite-axum
//!
//! The HTTP contract of invite-rs (SPEC §6) as an axum 0.8 [`Router`] a host mounts under
//! any prefix. The host keeps its own users and sessions; it only tells the router who is
//! signed in, by implementing [`Identify`].
//!
//! | method | path | who | success |
//! |---|---|---|---|
//! | POST | `/enterprises/{enterprise_id}/invitations` | super_admin | 201, invitation + `invite_url` |
//! | GET | `/enterprises/{enterprise_id}/invitations?status=&limit=&cursor=` | super_admin | 200 `{"items","next_cursor"}` |
//! | POST | `/enterprises/{enterprise_id}/invitations/{id}/revoke` | super_admin | 200, invitation |
//! | POST | `/enterprises/{enterprise_id}/invitations/{id}/resend` | super_admin | 200, invitation + new `invite_url` |
//! | POST | `/invitations/view` `{"token"}` | anyone | 200 `{"state","invitation"?,"viewer"}` |
//! | POST | `/invitations/accept` `{"token"}` | signed in, matching | 200 `{"enterprise_id","enterprise_name","role","invitation"}` |
//! | POST | `/invitations/reject` `{"token"}` | signed in, matching | 200 `{"invitation"}` |
//! | GET | `/openapi.json` | anyone | 200, the OpenAPI 3.1 document |
//!
//! `{enterprise_id}` is the host's own key, written as the host writes it (rule H3):
//! `/enterprises/42/invitations` for an integer-keyed host, a UUID or a text key for
//! others. It is parsed with the kind the host declares through its directory
//! ([`Invitations::key_kinds`]); a segment that is not such a key is `invalid_request`
//! (400), while a well-formed id of an enterprise the caller does not administer is
//! `forbidden` (403, SPEC S1). `{id}` is the invitation's id, a UUID. In JSON answers,
//! enterprise and user ids keep their natural form: a number for an integer key, a string
//! for a UUID or text key (rule H7).
//!
//! Every error is `{"error":{"code","message"}}` with the status of the SPEC's table
//! ([`ApiError`]); malformed requests of any shape are `invalid_request` (400), unknown
//! routes `not_found` (404), and an internal failure answers `internal` (500) with no
//! details while the log gets the cause and its source chain. Token-bearing answers
//! (create, resend, view, accept, reject) carry `Cache-Control: no-store` and
//! `Referrer-Policy: no-referrer` (SPEC X2). Each request runs in a `tracing` span
//! `invite_http` with the matched route and outcome code, never the URI or body (SPEC X10).
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
//! use invite_axum::{Identify, build_user};
//! use invite_core::testing::MemoryStore;
//! use invite_core::{Invitations, KeyKind, KeyKinds, User};
//!
//! #[derive(Clone)]
//! struct HeaderSession;
//!
//! impl Identify for HeaderSession {
//!     async fn current_user(&self, parts: &mut Parts, invitations: &Invitations) -> Option<User> {
//!         // The host's key, parsed as the kind the host declared (rule H3).
//!         let id = invitations.user_id(parts.headers.get("x-user-id")?.to_str().ok()?).ok()?;
//!         let email = parts.headers.get("x-user-email")?.to_str().ok()?;
//!         build_user(invitations, id, email, Some(email), None).ok()
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
//! Use [`InviteApi`] instead of [`router`] to turn on rate limiting of the token lookups
//! (SPEC X6) or to change the body size limit.
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
use axum::http::header::{CACHE_CONTROL, REFERRER_POLICY};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use invite_core::Invitations;
use utoipa::OpenApi as _;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use identity::{Identify, build_user};
pub use rate_limit::RateLimit;

use crate::state::ApiState;

/// Largest request body accepted, in bytes, unless the host says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// The router of SPEC §6 with default settings: no rate limit, bodies up to
/// [`DEFAULT_BODY_LIMIT`]. Mount it with [`Router::nest`] under any prefix.
pub fn router<I, S>(invitations: Invitations, identity: I) -> Router<S>
where
    I: Identify,
    S: Clone + Send + Sync + 'static,
{
    InviteApi::new(invitations, identity).into_router()
}

/// The OpenAPI 3.1 document of the routes (also served at `GET /openapi.json`), for hosts
/// that merge it into their own.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::ApiDoc::openapi()
}

/// Builds the router with settings: rate limiting (SPEC X6) and the body size limit.
///
/// ```
/// # use std::sync::Arc;
/// # use axum::http::request::Parts;
/// # use invite_core::{Invitations, User, testing::MemoryStore};
/// # struct Sessions;
/// # impl invite_axum::Identify for Sessions {
/// #     async fn current_user(&self, _: &mut Parts, _: &Invitations) -> Option<User> { None }
/// # }
/// # let invitations = Invitations::builder(Arc::new(MemoryStore::default())).build();
/// use invite_axum::{InviteApi, RateLimit};
///
/// let api: axum::Router = InviteApi::new(invitations, Sessions)
///     .rate_limit(RateLimit::per_minute(60).burst(20))
///     .into_router();
/// # let _ = api;
/// ```
pub struct InviteApi<I> {
    invitations: Invitations,
    identity: I,
    rate_limit: Option<RateLimit>,
    body_limit: usize,
}

impl<I: Identify> InviteApi<I> {
    /// Settings for a router over `invitations` that asks `identity` who is signed in.
    #[must_use]
    pub fn new(invitations: Invitations, identity: I) -> Self {
        Self {
            invitations,
            identity,
            rate_limit: None,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Limits `view`, `accept` and `reject` per client (SPEC X6). Off by default.
    #[must_use]
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// The largest request body accepted, in bytes; larger ones are `invalid_request`.
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The router, its state applied, ready to [`Router::nest`] or [`Router::merge`].
    pub fn into_router<S>(self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let state = ApiState {
            invitations: self.invitations,
            identity: Arc::new(self.identity),
        };
        let no_store = || middleware::map_response(token_bearing);
        let inviter = Router::new()
            .route(
                "/enterprises/{enterprise_id}/invitations",
                post(routes::create).layer(no_store()).get(routes::list),
            )
            .route(
                "/enterprises/{enterprise_id}/invitations/{id}/revoke",
                post(routes::revoke),
            )
            .route(
                "/enterprises/{enterprise_id}/invitations/{id}/resend",
                post(routes::resend).layer(no_store()),
            );
        let mut invitee = Router::new()
            .route("/invitations/view", post(routes::view))
            .route("/invitations/accept", post(routes::accept))
            .route("/invitations/reject", post(routes::reject));
        if let Some(limit) = self.rate_limit {
            invitee = invitee.route_layer(middleware::from_fn_with_state(
                limit.into_limiter(),
                rate_limit::limit,
            ));
        }
        let invitee = invitee.route_layer(no_store());
        let document = Arc::new(openapi());
        inviter
            .merge(invitee)
            .route(
                "/openapi.json",
                get(move || async move { axum::Json(document.as_ref().clone()) }),
            )
            .fallback(routes::not_found)
            .method_not_allowed_fallback(routes::not_found)
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
            .finish_non_exhaustive()
    }
}

/// SPEC X2: answers that may hold a token are neither cached nor leaked by `Referer`.
async fn token_bearing(response: Response) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
