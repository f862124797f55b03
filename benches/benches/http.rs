//! The cost of the HTTP layer: the same use cases through the `invite-axum` router
//! (JSON parsing, identity, headers, error mapping, tracing span) and through the service
//! directly, in the same run, over the in-memory store so that storage does not hide the
//! layer's own cost. Ratios and how to reproduce: `docs/BENCHMARKS.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use invite_axum::{Identify, IdentityError};
use invite_core::testing::{MemoryStore, World, seed};
use invite_core::{Invitations, SendInvitation, User};
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

/// The benchmark host's session: an `x-user` header naming one of the demo users.
#[derive(Clone)]
struct HeaderSession(Arc<World>);

impl Identify for HeaderSession {
    async fn current_user(&self, parts: &mut Parts, _: &Invitations) -> Result<Option<User>, IdentityError> {
        let w = &self.0;
        Ok(match parts.headers.get("x-user").and_then(|v| v.to_str().ok()) {
            Some("alice") => Some(w.alice.clone()),
            Some("bob") => Some(w.bob.clone()),
            _ => None,
        })
    }
}

fn json(method: &str, uri: &str, user: &str, body: &serde_json::Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("x-user", user)
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A service over a new in-memory store with the demo data, and its router.
async fn fresh() -> (Invitations, Router, Arc<World>) {
    let store = Arc::new(MemoryStore::default());
    let world = Arc::new(seed::demo(&*store).await.unwrap());
    let invitations = Invitations::builder(store)
        .base_url("https://app.example")
        .build();
    let router = invite_axum::router(invitations.clone(), HeaderSession(world.clone()));
    (invitations, router, world)
}

fn http(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let store = Arc::new(MemoryStore::default());
    let world = Arc::new(rt.block_on(seed::demo(&*store)).unwrap());
    let invitations = Invitations::builder(store)
        .base_url("https://app.example")
        .build();
    let router: Router = invite_axum::router(invitations.clone(), HeaderSession(world.clone()));
    let sent = rt
        .block_on(invitations.send(
            &world.alice,
            &world.acme.id,
            SendInvitation::new("bob@example.com", "member"),
        ))
        .unwrap();
    let token = sent.link.token().to_owned();
    let mut group = c.benchmark_group("http");

    // view: the invitee page's lookup (token hash, digest lookup, view model).
    group.bench_function(BenchmarkId::new("view", "service"), |b| {
        b.to_async(&rt)
            .iter(|| async { invitations.view(&token, Some(&world.bob)).await.unwrap() });
    });
    let view_body = serde_json::json!({ "token": token });
    group.bench_function(BenchmarkId::new("view", "router"), |b| {
        b.to_async(&rt).iter(|| async {
            let response = router
                .clone()
                .oneshot(json("POST", "/invitations/view", "bob", &view_body))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        });
    });

    // send: the inviter's write path. Each measured send runs on a fresh store (made
    // outside the timer), so that the in-memory store's size does not drift between the
    // two sides.
    group.bench_function(BenchmarkId::new("send", "service"), |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (invitations, _, world) = fresh().await;
                let request = SendInvitation::new("bob@example.com", "member");
                let started = Instant::now();
                invitations
                    .send(&world.alice, &world.acme.id, request)
                    .await
                    .unwrap();
                total += started.elapsed();
            }
            total
        });
    });
    group.bench_function(BenchmarkId::new("send", "router"), |b| {
        b.to_async(&rt).iter_custom(|iters| async move {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (_, router, world) = fresh().await;
                // One request outside the timer, so a new router's first-call set-up is
                // not counted (the service side has none).
                let warm = serde_json::json!({ "token": "x" });
                router
                    .clone()
                    .oneshot(json("POST", "/invitations/view", "alice", &warm))
                    .await
                    .unwrap();
                let uri = format!("/enterprises/{}/invitations", world.acme.id);
                let body = serde_json::json!({ "contact": "bob@example.com", "role": "member" });
                let started = Instant::now();
                let response = router
                    .clone()
                    .oneshot(json("POST", &uri, "alice", &body))
                    .await
                    .unwrap();
                total += started.elapsed();
                assert_eq!(response.status(), StatusCode::CREATED);
            }
            total
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = http
}
criterion_main!(benches);
