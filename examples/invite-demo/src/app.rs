//! Assembles the demo: the service over a store, the invitation API under `/api`, the demo
//! sign-in and the pages, in one axum router. The demo's accounts (sign-in, registration,
//! members) are the self-contained layout's [`Accounts`], over the same store.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::Request;
use axum::http::request::Parts;
use axum::routing::{get, post};
use invite_axum::utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use invite_axum::{IdentityError, InviteApi, RateLimit};
use invite_core::{Accounts, InvitationStore, Invitations, Notifier, OutboxKey, TtlPolicy, User};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::auth::{self, AuthState, Sessions};
use crate::pages;

/// The longest invitation lifetime the core allows any policy.
const TTL_CEILING: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The expiry policy of the demo: `ttl` by default, and bounds wide enough that any
/// positive `--invite-ttl` is allowed (rules §7), while keeping the usual 1 minute to
/// 30 days around it for per-invitation requests (rule S6).
///
/// # Errors
/// A message when `ttl` is zero or longer than ten years.
pub fn ttl_policy(ttl: Duration) -> Result<TtlPolicy, String> {
    let min = ttl.min(Duration::from_secs(60));
    let max = ttl.max(Duration::from_secs(30 * 24 * 3600));
    if ttl > TTL_CEILING {
        return Err("--invite-ttl must be at most 10 years".to_owned());
    }
    TtlPolicy::new(ttl, min, max).map_err(|err| format!("--invite-ttl: {err}"))
}

/// The invitation service over `store`, delivering through the outbox (rule D1) with
/// `notifier`, links sealed under `key` (rule D4).
pub fn service<S>(
    store: Arc<S>,
    base_url: &str,
    ttl: TtlPolicy,
    notifier: Arc<dyn Notifier>,
    key: OutboxKey,
) -> Invitations
where
    S: InvitationStore + Accounts,
{
    Invitations::builder(store)
        .base_url(base_url)
        .ttl(ttl)
        .notifier(notifier)
        .outbox(key)
        .build()
}

/// Tells the invitation API who is signed in: the account of the demo session cookie.
#[derive(Clone)]
struct DemoIdentity {
    sessions: Sessions,
    accounts: Arc<dyn Accounts>,
}

impl invite_axum::Identify for DemoIdentity {
    /// A session or account the database cannot read now is an error (500 `internal`),
    /// never "signed out": that would show a signed-in invitee the signed-out page.
    async fn current_user(
        &self,
        parts: &mut Parts,
        invitations: &Invitations,
    ) -> Result<Option<User>, IdentityError> {
        let session = self.sessions.user_id(&parts.headers, invitations).await;
        let Some(id) = session.map_err(IdentityError::new)? else {
            return Ok(None);
        };
        self.accounts.user(&id).await.map_err(IdentityError::new)
    }
}

/// The rate limit of the token lookups (rule X6): `per_minute` per client address in
/// bursts of half as many, or none for `0`.
#[must_use]
pub fn rate_limit(per_minute: u32) -> Option<RateLimit> {
    (per_minute > 0).then(|| RateLimit::per_minute(per_minute).burst(per_minute.div_ceil(2)))
}

/// The whole demo: `/api` (rules §6), the demo sign-in and the pages (rules §7).
/// `accounts` must be the store the service was built over, `sessions` in its database.
/// `rate_limit` limits the API's token lookups, `sign_in_limit` `POST /login` and
/// `POST /register` (`None`: not limited). The API's OpenAPI document
/// (`/api/openapi.json`) names its server `/api` and the demo's session cookie.
pub fn router(
    invitations: Invitations,
    accounts: Arc<dyn Accounts>,
    sessions: Sessions,
    rate_limit: Option<RateLimit>,
    sign_in_limit: Option<RateLimit>,
) -> Router {
    let api = InviteApi::new(
        invitations.clone(),
        DemoIdentity {
            sessions: sessions.clone(),
            accounts: accounts.clone(),
        },
    )
    .openapi_server("/api")
    .openapi_security(SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
        auth::SESSION_COOKIE,
    ))));
    let api = match rate_limit {
        Some(limit) => api.rate_limit(limit),
        None => api.without_rate_limit(),
    }
    .into_router();
    let state = AuthState {
        invitations,
        accounts,
        sessions,
        registering: Arc::default(),
    };
    let mut sign_in = Router::new()
        .route("/login", post(auth::login))
        .route("/register", post(auth::register));
    if let Some(limit) = sign_in_limit {
        // The API's own limiter, on the demo's routes: one bucket per client for both.
        sign_in = limit.limit_routes(sign_in);
    }
    let demo = Router::new()
        .merge(sign_in)
        .route("/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/me/enterprises/{enterprise_id}/members", get(auth::members))
        .with_state(state);
    // The request log names the matched route, never the URI: the invitee page's URI holds
    // a token (rule X10).
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<_>| {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map_or("(unmatched)", MatchedPath::as_str);
            tracing::info_span!("demo_http", method = %request.method(), route)
        })
        .on_response(DefaultOnResponse::new().level(Level::DEBUG));
    Router::new()
        .merge(pages::router())
        .merge(demo)
        .layer(trace)
        .nest("/api", api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_positive_ttl_is_allowed() {
        // rules §7: `--invite-ttl 3s` works; rule S6: the default is the flag
        let s = Duration::from_secs;
        let three = ttl_policy(s(3)).unwrap();
        assert_eq!((three.default_ttl(), three.min()), (s(3), s(3)));
        let week = ttl_policy(s(7 * 86_400)).unwrap();
        assert_eq!((week.min(), week.max()), (s(60), s(30 * 86_400)));
        let long = ttl_policy(s(90 * 86_400)).unwrap();
        assert_eq!(long.max(), s(90 * 86_400));
        assert!(ttl_policy(s(11 * 365 * 86_400)).is_err());
    }

    #[test]
    fn the_rate_limit_flag_sets_or_turns_off_the_limit() {
        // rule X6: on by default (120 a minute), `0` off for load generators
        assert!(rate_limit(0).is_none());
        let limit = format!("{:?}", rate_limit(120).unwrap());
        assert!(
            limit.contains("per_minute: 120") && limit.contains("burst: 60"),
            "{limit}"
        );
        let one = format!("{:?}", rate_limit(1).unwrap());
        assert!(one.contains("burst: 1"), "{one}");
    }
}
