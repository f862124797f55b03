//! The rate limit of the demo's sign-in, `POST /login` and `POST /register` (one bucket per
//! client for both), so that a loop of sign-ins can neither fill the session table nor try
//! contacts quickly. Built like the API's limit of the token lookups (rule X6): governor's
//! GCRA limiter, a client is its peer address (an IPv6 client its /64, an IPv4-mapped
//! address the IPv4 address), excess gets `rate_limited` (429) with `Retry-After` and the
//! API's error body, and a request with no known address is not limited (logged once).
//! `invite-axum` keeps its limiter's layer to itself, hence this small copy.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::http::header::RETRY_AFTER;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use invite_axum::ApiError;
use invite_core::InviteError;

/// How many client keys the limiter keeps before it forgets idle ones.
const RETAIN_THRESHOLD: usize = 10_000;

/// The sign-in limit: `per_minute` per client address, in bursts of half as many.
#[derive(Clone)]
pub struct SignInLimit {
    per_minute: NonZeroU32,
    burst: NonZeroU32,
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    warned: Arc<AtomicBool>,
}

impl std::fmt::Debug for SignInLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInLimit")
            .field("per_minute", &self.per_minute)
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl SignInLimit {
    /// `per_minute` sign-ins per client address in bursts of half as many (at least 1),
    /// or no limit for `0`.
    #[must_use]
    pub fn per_minute(per_minute: u32) -> Option<Self> {
        let per_minute = NonZeroU32::new(per_minute)?;
        let burst = NonZeroU32::new(per_minute.get().div_ceil(2)).unwrap_or(NonZeroU32::MIN);
        Some(Self {
            per_minute,
            burst,
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(per_minute).allow_burst(burst),
            )),
            warned: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// The bucket of a client address: an IPv4 address itself, an IPv6 address its /64, an
/// IPv4-mapped IPv6 address the IPv4 address (as the API's limit, rule X6).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
    }
}

/// The middleware of `/login` and `/register`: lets the request through or answers
/// `rate_limited` (429) with `Retry-After`.
pub async fn limit(State(limit): State<SignInLimit>, request: Request, next: Next) -> Response {
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        if !limit.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the sign-in rate limit cannot tell this client apart: no client address; \
                 requests without one are not limited (logged once)"
            );
        }
        return next.run(request).await;
    };
    let limiter = &limit.limiter;
    let outcome = limiter.check_key(&client_key(peer.ip()));
    if limiter.len() > RETAIN_THRESHOLD {
        limiter.retain_recent();
    }
    match outcome {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut response = ApiError::from(InviteError::RateLimited).into_response();
            let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
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
    fn zero_turns_the_limit_off_and_bursts_are_half() {
        assert!(SignInLimit::per_minute(0).is_none());
        let limit = format!("{:?}", SignInLimit::per_minute(30).unwrap());
        assert!(
            limit.contains("per_minute: 30") && limit.contains("burst: 15"),
            "{limit}"
        );
        let one = format!("{:?}", SignInLimit::per_minute(1).unwrap());
        assert!(one.contains("burst: 1"), "{one}");
    }

    #[test]
    fn clients_are_keyed_like_the_api_does() {
        // rule X6: an IPv6 client is its /64, an IPv4-mapped address the IPv4 address
        let key = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2::9"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }
}
