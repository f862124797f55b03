//! Per-client rate limiting of the token lookups `view`, `accept` and `reject` (SPEC X6),
//! with [`governor`]'s GCRA limiter. Off unless the host configures it.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::http::header::RETRY_AFTER;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use invite_core::InviteError;

use crate::error::ApiError;

/// How many keys the limiter keeps before it forgets idle ones.
const RETAIN_THRESHOLD: usize = 10_000;

type KeyFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;

/// The rate limit of `view`, `accept` and `reject` per client (SPEC X6): a bucket of
/// `burst` requests per client, refilled at `per_minute`. Excess gets `rate_limited`
/// (429) with `Retry-After`.
///
/// Clients are told apart by the key function, by default the peer IP address from axum's
/// [`ConnectInfo`] (serve with
/// `into_make_service_with_connect_info::<SocketAddr>()`). Behind a proxy, key by the
/// header your proxy sets with [`RateLimit::key_by`]. Requests without a key share one
/// bucket.
///
/// ```
/// use invite_axum::RateLimit;
///
/// // 30 lookups a minute per client, bursts of 10, keyed by the proxy's header.
/// let limit = RateLimit::per_minute(30).burst(10).key_by(|parts| {
///     let value = parts.headers.get("x-real-ip")?.to_str().ok()?;
///     Some(value.to_owned())
/// });
/// # let _ = limit;
/// ```
#[derive(Clone)]
pub struct RateLimit {
    per_minute: NonZeroU32,
    burst: NonZeroU32,
    key: Arc<KeyFn>,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("per_minute", &self.per_minute)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl RateLimit {
    /// `requests` per minute per client (at least 1), with bursts of as many.
    #[must_use]
    pub fn per_minute(requests: u32) -> Self {
        let per_minute = NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN);
        Self {
            per_minute,
            burst: per_minute,
            key: Arc::new(peer_ip),
        }
    }

    /// The most requests a client may make at once (at least 1).
    #[must_use]
    pub fn burst(mut self, requests: u32) -> Self {
        self.burst = NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN);
        self
    }

    /// Tells clients apart by `key` instead of the peer IP address.
    #[must_use]
    pub fn key_by<F>(mut self, key: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.key = Arc::new(key);
        self
    }

    pub(crate) fn into_limiter(self) -> Limiter {
        let quota = Quota::per_minute(self.per_minute).allow_burst(self.burst);
        Limiter {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
            key: self.key,
        }
    }
}

fn peer_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
}

/// The running limiter, shared by the three routes.
#[derive(Clone)]
pub(crate) struct Limiter {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    key: Arc<KeyFn>,
}

impl Limiter {
    /// `Err(wait)` when the client must wait.
    fn check(&self, parts: &Parts) -> Result<(), Duration> {
        let key = (self.key)(parts).unwrap_or_default();
        let outcome = self.limiter.check_key(&key);
        if self.limiter.len() > RETAIN_THRESHOLD {
            self.limiter.retain_recent();
        }
        outcome.map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The middleware: lets the request through or answers `rate_limited` (429).
pub(crate) async fn limit(State(limiter): State<Limiter>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match limiter.check(&parts) {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(wait) => {
            let mut response = ApiError::from(InviteError::RateLimited).into_response();
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            response
        }
    }
}
