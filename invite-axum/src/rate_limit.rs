//! Per-client rate limiting of the token lookups `view`, `accept` and `reject` (rule X6),
//! with [`governor`]'s GCRA limiter. On by default; the host can change or turn it off.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
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

/// The rate limit of `view`, `accept` and `reject` per client (rule X6): a bucket of
/// `burst` requests per client, refilled at `per_minute`. Excess gets `rate_limited`
/// (429) with `Retry-After`. On by default ([`RateLimit::default`]: 60 a minute, bursts of
/// 30); [`crate::InviteApi::rate_limit`] changes it and
/// [`crate::InviteApi::without_rate_limit`] turns it off.
///
/// Clients are told apart by the key function, by default the peer IP address from axum's
/// [`ConnectInfo`]: serve with `into_make_service_with_connect_info::<SocketAddr>()`. An
/// IPv6 client is keyed by its /64 network, since one host commonly holds a whole /64;
/// an IPv4-mapped IPv6 address counts as the IPv4 address. Behind a proxy, key by the
/// header your proxy sets with [`RateLimit::key_by_ip`] (same grouping) or
/// [`RateLimit::key_by`].
///
/// A request for which no key can be made (no [`ConnectInfo`], or your key function
/// answers `None`) is **not** limited: putting all of them in one shared bucket would let
/// one client lock every invitee out. The first such request logs a warning, once per
/// router, so a host that forgot the connect info finds out.
///
/// ```
/// use std::net::IpAddr;
///
/// use invite_axum::RateLimit;
///
/// // 30 lookups a minute per client, bursts of 10, keyed by the proxy's header.
/// let limit = RateLimit::per_minute(30).burst(10).key_by_ip(|parts| {
///     parts.headers.get("x-real-ip")?.to_str().ok()?.parse::<IpAddr>().ok()
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

impl Default for RateLimit {
    /// 60 lookups a minute per client, in bursts of up to 30, keyed by the peer address:
    /// room for a person on the invitee page, not for guessing tokens (rule X6).
    fn default() -> Self {
        Self::per_minute(60).burst(30)
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
            key: Arc::new(|parts: &Parts| peer_ip(parts).map(client_key)),
        }
    }

    /// The most requests a client may make at once (at least 1).
    #[must_use]
    pub fn burst(mut self, requests: u32) -> Self {
        self.burst = NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN);
        self
    }

    /// Tells clients apart by `key` instead of the peer IP address. A request whose key is
    /// `None` is not limited (and logged once).
    #[must_use]
    pub fn key_by<F>(mut self, key: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.key = Arc::new(key);
        self
    }

    /// Tells clients apart by the IP address `ip` reads from the request (a proxy's
    /// header, say), grouped like peer addresses: IPv6 by /64. A request for which `ip`
    /// answers `None` is not limited (and logged once).
    #[must_use]
    pub fn key_by_ip<F>(self, ip: F) -> Self
    where
        F: Fn(&Parts) -> Option<IpAddr> + Send + Sync + 'static,
    {
        self.key_by(move |parts| ip(parts).map(client_key))
    }

    /// Limits every route of `router` with this limit, one bucket per client shared by
    /// those routes; a request over it gets `rate_limited` (429) with `Retry-After` and the
    /// API's error body. The router uses it for its token routes (rule X6); a host can put
    /// its own routes behind the same mechanism (the demo does, for its sign-in).
    pub fn limit_routes<S>(self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.route_layer(axum::middleware::from_fn_with_state(self.into_limiter(), limit))
    }

    fn into_limiter(self) -> Limiter {
        let quota = Quota::per_minute(self.per_minute).allow_burst(self.burst);
        Limiter {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
            key: self.key,
            warned: Arc::new(AtomicBool::new(false)),
        }
    }
}

fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The bucket of a client address: an IPv4 address itself, an IPv6 address its /64
/// network (one host commonly holds a whole /64, so a per-address key would let it rotate
/// addresses past the limit). IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a
/// dual-stack listener sees of an IPv4 client) count as the IPv4 address, or every IPv4
/// client would share one /64.
fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !(u128::from(u64::MAX));
            format!("{}/64", Ipv6Addr::from(network))
        }
    }
}

/// The running limiter, shared by the three routes.
#[derive(Clone)]
struct Limiter {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    key: Arc<KeyFn>,
    /// Whether the warning about requests without a key has been logged.
    warned: Arc<AtomicBool>,
}

impl Limiter {
    /// `Err(wait)` when the client must wait. A request without a key passes: there is no
    /// shared bucket.
    fn check(&self, parts: &Parts) -> Result<(), Duration> {
        let Some(key) = (self.key)(parts) else {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "rate limiting (rule X6) cannot tell this client apart: no client address. \
                     Requests without one are not limited. Serve the router with \
                     into_make_service_with_connect_info::<SocketAddr>(), or key clients with \
                     RateLimit::key_by_ip behind a proxy. (Logged once.)"
                );
            }
            return Ok(());
        };
        let outcome = self.limiter.check_key(&key);
        if self.limiter.len() > RETAIN_THRESHOLD {
            self.limiter.retain_recent();
        }
        outcome.map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The middleware: lets the request through or answers `rate_limited` (429).
async fn limit(State(limiter): State<Limiter>, request: Request, next: Next) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        // rule X6: one host commonly holds a whole /64
        let key = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        // A dual-stack listener's view of an IPv4 client is that client, not a shared /64.
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_ne!(key("::ffff:192.0.2.7"), key("::ffff:192.0.2.8"));
    }
}
