//! Rule X6: the token routes are limited per client, on by default, IPv6 per /64, and no
//! shared bucket for requests without a client address.

use super::*;

#[tokio::test]
async fn token_lookups_are_rate_limited_per_client() {
    // rule X6, error table: rate_limited 429
    let app = common::rate_limited(3).await;
    let view = |client: &'static str| {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/invitations/view")
            .header("content-type", "application/json")
            .header("x-client", client)
            .body(Body::from(r#"{"token": "x"}"#))
            .unwrap();
        app.raw(request)
    };
    for _ in 0..3 {
        assert_eq!(view("a").await.ok(StatusCode::OK)["state"], "invalid_or_expired");
    }
    let limited = view("a").await;
    limited.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    limited.no_store();
    // Another client is not affected.
    assert_eq!(view("b").await.ok(StatusCode::OK)["state"], "invalid_or_expired");
    // Accept and reject share the limit; inviter routes are not limited.
    let accept = Request::builder()
        .method(Method::POST)
        .uri("/invitations/accept")
        .header("content-type", "application/json")
        .header("x-client", "a")
        .body(Body::from(r#"{"token": "x"}"#))
        .unwrap();
    app.raw(accept)
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    for _ in 0..5 {
        app.get(&app.acme_invitations(), Some(&app.world.alice))
            .await
            .ok(StatusCode::OK);
    }
}

#[tokio::test]
async fn an_explicitly_disabled_rate_limit_lets_everything_through() {
    // rule X6: the host may turn the limit off (a proxy limits, or a load generator runs)
    let app = common::memory_with(MemoryStore::default(), |api| api.without_rate_limit()).await;
    for _ in 0..100 {
        let view = app.raw(from_client(view_request(), "192.0.2.1:4000")).await;
        assert_eq!(view.ok(StatusCode::OK)["state"], "invalid_or_expired");
    }
}

/// A signed-out host: enough for `view`, which needs nobody.
#[derive(Clone)]
struct NobodySignedIn;

impl Identify for NobodySignedIn {
    async fn current_user(&self, _: &mut Parts, _: &Invitations) -> Result<Option<User>, IdentityError> {
        Ok(None)
    }
}

/// `POST /invitations/view` for an unknown token.
fn view_request() -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/invitations/view")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"token": "x"}"#))
        .unwrap()
}

/// `request` as the server sees it from the peer `addr` when served with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
fn from_client(mut request: Request<Body>, addr: &str) -> Request<Body> {
    let addr: SocketAddr = addr.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

/// How many views in a row `addr` gets before the first `rate_limited`, up to `max`.
async fn views_before_limited(app: &App, addr: &str, max: usize) -> usize {
    for n in 0..max {
        let answer = app.raw(from_client(view_request(), addr)).await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            answer.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            return n;
        }
        answer.ok(StatusCode::OK);
    }
    max
}

#[tokio::test]
async fn rate_limit_is_on_by_default_per_client_address() {
    // rule X6: token lookups are limited per client, and `router()` — the default a host
    // mounts — does it without being asked (60 a minute in bursts of 30, keyed by the peer
    // address of `into_make_service_with_connect_info`).
    let app = common::memory().await;
    let router: axum::Router = invite_axum::router(app.invitations.clone(), NobodySignedIn);
    let app = App { router, ..app };
    // 30 at once; a slow machine may earn one back each second it takes.
    let burst = views_before_limited(&app, "192.0.2.1:4000", 100).await;
    assert!((30..=35).contains(&burst), "{burst}");
    // Another port of the same address is the same client; another address is not.
    assert_eq!(views_before_limited(&app, "192.0.2.1:4001", 5).await, 0);
    assert_eq!(views_before_limited(&app, "192.0.2.2:4000", 5).await, 5);
    // Accept and reject share the limit.
    let accept = Request::builder()
        .method(Method::POST)
        .uri("/invitations/accept")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"token": "x"}"#))
        .unwrap();
    app.raw(from_client(accept, "192.0.2.1:4000"))
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test]
async fn requests_without_a_client_address_share_no_bucket() {
    // rule X6: when no key can be made for a request, it is not limited — one shared
    // bucket for all of them would let one client lock every invitee out.
    let app = common::memory_with(MemoryStore::default(), |api| {
        api.rate_limit(RateLimit::per_minute(1).burst(1))
    })
    .await;
    for _ in 0..20 {
        let view = app.raw(view_request()).await;
        assert_eq!(view.ok(StatusCode::OK)["state"], "invalid_or_expired");
    }
    // A client with an address is still limited, and is not slowed by the others.
    assert_eq!(views_before_limited(&app, "192.0.2.1:4000", 5).await, 1);
    // Nor is one whose key function finds nothing.
    let app = common::memory_with(MemoryStore::default(), |api| {
        api.rate_limit(RateLimit::per_minute(1).burst(1).key_by(|_| None))
    })
    .await;
    assert_eq!(views_before_limited(&app, "192.0.2.1:4000", 20).await, 20);
}

#[tokio::test]
async fn ipv6_clients_are_limited_per_64() {
    // rule X6: an IPv6 client holds a whole /64, so the bucket is the /64; IPv4 clients
    // seen through a dual-stack listener (IPv4-mapped) keep a bucket each.
    let app = common::memory_with(MemoryStore::default(), |api| {
        api.rate_limit(RateLimit::per_minute(2).burst(2))
    })
    .await;
    assert_eq!(views_before_limited(&app, "[2001:db8:0:7::1]:4000", 5).await, 2);
    assert_eq!(
        views_before_limited(&app, "[2001:db8:0:7:ffff::2]:4000", 5).await,
        0
    );
    assert_eq!(views_before_limited(&app, "[2001:db8:0:8::1]:4000", 5).await, 2);
    assert_eq!(views_before_limited(&app, "[::ffff:192.0.2.1]:4000", 5).await, 2);
    assert_eq!(views_before_limited(&app, "[::ffff:192.0.2.2]:4000", 5).await, 2);
    assert_eq!(views_before_limited(&app, "192.0.2.2:4000", 5).await, 0);
}
