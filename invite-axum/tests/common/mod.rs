//! The test harness: a router over a seeded store (in memory or SQLite), a manual clock,
//! a recording notifier, and a request helper that returns status, headers and JSON.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod flaky;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use invite_axum::{Identify, IdentityError, InviteApi, RateLimit};
use invite_core::testing::{ManualClock, MemoryStore, RecordingNotifier, World, seed};
use invite_core::{Accounts, InvitationStore, Invitations, Key, KeyKind, KeyKinds, User};
use serde_json::Value;
use tower::ServiceExt as _;

/// Runs each case (an `async fn(App)` of the calling module) as a test against every
/// backend: the in-memory store, SQLite, and an in-memory host with integer keys (rule
/// H3). One list of cases per module, nothing listed twice.
#[macro_export]
macro_rules! every_backend {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $case() { super::$case($crate::common::memory().await).await })*
        }
        mod sqlite {
            $(#[tokio::test] async fn $case() { super::$case($crate::common::sqlite().await).await })*
        }
        /// rule H3: the same contract for a host whose enterprises and users have integer keys.
        mod memory_int_keys {
            $(#[tokio::test] async fn $case() { super::$case($crate::common::memory_int_keys().await).await })*
        }
    };
}

/// The base URL the service is configured with (rule X10).
pub const BASE_URL: &str = "https://app.example";

/// The test host's "session": the `x-user-id` header, the host's own key of the account
/// (rule H3: parsed with the host's declared kind), looked up in the host's accounts.
#[derive(Clone)]
pub struct HeaderIdentity {
    accounts: Arc<dyn Accounts>,
}

impl Identify for HeaderIdentity {
    async fn current_user(
        &self,
        parts: &mut Parts,
        invitations: &Invitations,
    ) -> Result<Option<User>, IdentityError> {
        let header = parts.headers.get("x-user-id").and_then(|v| v.to_str().ok());
        let Some(id) = header.and_then(|raw| invitations.user_id(raw).ok()) else {
            return Ok(None);
        };
        self.accounts.user(&id).await.map_err(IdentityError::new)
    }
}

/// One app under test.
pub struct App {
    pub router: Router,
    pub world: World,
    pub clock: ManualClock,
    pub notifier: Arc<RecordingNotifier>,
    pub invitations: Invitations,
    /// The host's accounts (admin calls: `add_member`, `user`, …).
    pub accounts: Arc<dyn Accounts>,
}

/// An answer: status, headers and the JSON body (`Value::Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Asserts the status and that the body is a rules' error with `code`.
    #[track_caller]
    pub fn error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["error"]["code"], code, "{self:?}");
        assert!(self.body["error"]["message"].is_string(), "{self:?}");
        assert_eq!(self.body.as_object().map(|o| o.len()), Some(1), "{self:?}");
    }

    /// Asserts a success status and no error body; returns the body.
    #[track_caller]
    pub fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{self:?}");
        assert!(self.body.get("error").is_none(), "{self:?}");
        &self.body
    }

    /// The token of the `invite_url` in this answer.
    #[track_caller]
    pub fn token(&self) -> String {
        let url = self.body["invite_url"].as_str().expect("invite_url");
        url.rsplit("token=").next().unwrap().to_owned()
    }

    /// Asserts the rule X2 headers.
    #[track_caller]
    pub fn no_store(&self) {
        assert_eq!(self.headers["cache-control"], "no-store", "{self:?}");
        assert_eq!(self.headers["referrer-policy"], "no-referrer", "{self:?}");
    }
}

/// An app over the in-memory store (UUID keys), seeded through its host side.
pub async fn memory() -> App {
    memory_with(MemoryStore::default(), |api| api).await
}

/// An app over an in-memory store shaped like a host with integer keys for enterprises
/// and users (rule H3), seeded through its host side, which hands out integer keys.
pub async fn memory_int_keys() -> App {
    memory_with(MemoryStore::with_key_kinds(KeyKinds::both(KeyKind::Int)), |api| {
        api
    })
    .await
}

/// An app over `store`, seeded with `seed::demo` (the store as the host fixture).
pub async fn memory_with(
    store: MemoryStore,
    configure: impl FnOnce(InviteApi<HeaderIdentity>) -> InviteApi<HeaderIdentity>,
) -> App {
    let store = Arc::new(store);
    let world = seed::demo(&*store).await.expect("seed");
    app_over(store, world, configure)
}

/// An app over a fresh in-memory SQLite database (the self-contained layout).
pub async fn sqlite() -> App {
    let store = invite_store_sqlx::SqliteStore::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    store.migrate().await.expect("migrate");
    app_with(Arc::new(store), |api| api).await
}

/// An app over `store`, seeded through its [`Accounts`], with the router settings
/// `configure` makes.
pub async fn app_with<S>(
    store: Arc<S>,
    configure: impl FnOnce(InviteApi<HeaderIdentity>) -> InviteApi<HeaderIdentity>,
) -> App
where
    S: InvitationStore + Accounts,
{
    let world = seed::demo_accounts(store.clone()).await.expect("seed");
    app_over(store, world, configure)
}

/// An app over `store`, already seeded with `world`.
pub fn app_over<S>(
    store: Arc<S>,
    world: World,
    configure: impl FnOnce(InviteApi<HeaderIdentity>) -> InviteApi<HeaderIdentity>,
) -> App
where
    S: InvitationStore + Accounts,
{
    let clock = ManualClock::default();
    let notifier = Arc::new(RecordingNotifier::default());
    let accounts: Arc<dyn Accounts> = store.clone();
    let invitations = Invitations::builder(store)
        .base_url(BASE_URL)
        .notifier(notifier.clone())
        .clock(Arc::new(clock.clone()))
        .build();
    let identity = HeaderIdentity {
        accounts: accounts.clone(),
    };
    let router = configure(InviteApi::new(invitations.clone(), identity)).into_router();
    App {
        router,
        world,
        clock,
        notifier,
        invitations,
        accounts,
    }
}

/// An app whose token routes are limited to `per_minute` per `x-client` header.
pub async fn rate_limited(per_minute: u32) -> App {
    memory_with(MemoryStore::default(), |api| {
        api.rate_limit(
            RateLimit::per_minute(per_minute)
                .key_by(|parts| Some(parts.headers.get("x-client")?.to_str().ok()?.to_owned())),
        )
    })
    .await
}

impl App {
    /// Sends a raw request.
    pub async fn raw(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&bytes)))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends a raw request; a body that is not JSON is kept as a string (a HEAD answer
    /// has none).
    pub async fn raw_any(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Sends `method uri` as `user` (or signed out) with an optional JSON body.
    pub async fn call(&self, method: Method, uri: &str, user: Option<&User>, body: Option<Value>) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(user) = user {
            request = request.header("x-user-id", user.id.to_string());
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.raw(request.body(body).unwrap()).await
    }

    /// `POST uri` with a JSON body.
    pub async fn post(&self, uri: &str, user: Option<&User>, body: Value) -> Answer {
        self.call(Method::POST, uri, user, Some(body)).await
    }

    /// `GET uri`.
    pub async fn get(&self, uri: &str, user: Option<&User>) -> Answer {
        self.call(Method::GET, uri, user, None).await
    }

    /// `/enterprises/{acme}/invitations`, the key as the host writes it (rule H3).
    pub fn acme_invitations(&self) -> String {
        format!("/enterprises/{}/invitations", self.world.acme.id)
    }

    /// A well-formed enterprise key of the host's kind that names no enterprise.
    pub fn unknown_enterprise(&self) -> String {
        match self.invitations.key_kinds().enterprise {
            KeyKind::Int => i64::MAX.to_string(),
            KeyKind::Text => "no-such-enterprise".to_owned(),
            _ => uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Alice invites `contact` to Acme as `role`; asserts 201.
    pub async fn invite(&self, contact: &str, role: &str) -> Answer {
        let answer = self
            .post(
                &self.acme_invitations(),
                Some(&self.world.alice),
                serde_json::json!({"contact": contact, "role": role}),
            )
            .await;
        answer.ok(StatusCode::CREATED);
        answer
    }
}

/// The integer inside an integer key.
#[track_caller]
pub fn int_key(key: &Key) -> i64 {
    match key {
        Key::Int(n) => *n,
        other => panic!("not an integer key: {other:?}"),
    }
}
