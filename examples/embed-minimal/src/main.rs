//! embed-minimal: a host that already has users and sessions adds invitations to them by
//! mounting the `invite-axum` router under `/api`. Storage is SQLite (`invite-store-sqlx`).
//!
//! Run `cargo run -p embed-minimal`, then, as Alice (super admin of Acme) and Bob (a user
//! of the host without membership):
//!
//! ```text
//! curl -s localhost:3001/api/enterprises/00000000-0000-0000-0000-00000000ac3e/invitations \
//!   -H 'x-session: alice' -H 'content-type: application/json' \
//!   -d '{"contact":"bob@example.com","role":"member"}'
//! curl -s localhost:3001/api/invitations/accept -H 'x-session: bob' \
//!   -H 'content-type: application/json' -d '{"token":"<token of invite_url>"}'
//! ```
//!
//! Everything above the line "integration" is the host as it was; below it is all the
//! host writes to add invitations: 38 lines of code (3 of them the delivery outbox and
//! its worker, rule D1) (not counting blanks, comments and
//! its 3 `use` lines), plus the one `.nest` line in `main` (and serving with the client's
//! address, `into_make_service_with_connect_info`, so the router's rate limit of rule X6
//! tells clients apart) and 4 dependency lines in `Cargo.toml`. 12 of those 38 lines copy the host's company and its owner into the
//! library's own `enterprises`, `users` and `members` tables at start-up: this host keeps
//! the self-contained layout (and that layout also saves each accepting user into its
//! `users` table), so its accounts live twice. A host that lets the library read its own
//! tables through a `TableMapping` needs no copy: see `examples/embed-host-schema`.

use std::collections::HashMap;
use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::request::Parts;
use axum::routing::get;
use invite_axum::{Identify, IdentityError, build_user};
use invite_core::{
    Accounts, Delivery, Directory, Enterprise, EnterpriseId, Invitations, Notifier, NotifyError, OutboxKey,
    Role, User,
};
use invite_store_sqlx::SqliteStore;
use uuid::Uuid;

// ----- The host as it was: its users, its (fake, header-based) sessions, its pages. -----

/// A user of the host.
struct Account {
    id: Uuid,
    name: &'static str,
    email: &'static str,
}

/// The host's sessions: session id (here simply the `x-session` header) to account.
#[derive(Clone)]
struct Sessions(Arc<HashMap<&'static str, Account>>);

fn sessions() -> Sessions {
    let account = |n: u128, name, email| Account {
        id: Uuid::from_u128(n),
        name,
        email,
    };
    Sessions(Arc::new(HashMap::from([
        ("alice", account(1, "Alice Admin", "alice@example.com")),
        ("bob", account(2, "Bob Builder", "bob@example.com")),
    ])))
}

/// The host's company, which Alice owns.
const ACME: Uuid = Uuid::from_u128(0xac3e);

// ----- Integration: everything the host adds for invitations. -----

impl Identify for Sessions {
    async fn current_user(
        &self,
        parts: &mut Parts,
        invitations: &Invitations,
    ) -> Result<Option<User>, IdentityError> {
        let session = parts.headers.get("x-session").and_then(|v| v.to_str().ok());
        let Some(account) = session.and_then(|s| self.0.get(s)) else {
            return Ok(None);
        };
        Ok(build_user(invitations, account.id, account.name, Some(account.email), None).ok())
    }
}

/// A development notifier: prints the link instead of mailing it.
struct PrintNotifier;

#[async_trait::async_trait]
impl Notifier for PrintNotifier {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        println!("to {}: {}", delivery.contact, delivery.link.expose_secret());
        Ok(())
    }
}

/// The invitation API over SQLite, with the host's company and its owner (Alice) made
/// known to the invitation directory.
async fn invitations_api(sessions: Sessions) -> Result<Router, Box<dyn Error>> {
    let store = Arc::new(SqliteStore::connect("sqlite://embed-minimal.db?mode=rwc").await?);
    store.migrate().await?;
    let invitations = Invitations::builder(store.clone())
        .base_url("http://localhost:3001")
        .notifier(Arc::new(PrintNotifier))
        .outbox(OutboxKey::generate()) // rule D1; a real host loads its 32-byte key from its secrets
        .build();
    let worker = invitations.delivery_worker().ok_or("no outbox")?;
    tokio::spawn(worker.run(std::future::pending()));
    let owner = sessions.0.get("alice").ok_or("no owner")?;
    let alice = build_user(&invitations, owner.id, owner.name, Some(owner.email), None)?;
    let acme = Enterprise {
        id: EnterpriseId::from(ACME),
        name: "Acme".into(),
        certified: true,
    };
    store.save_enterprise(&acme).await?;
    store.save_user(&alice).await?;
    if store.role_of(&acme.id, &alice.id).await?.is_none() {
        store.add_member(&acme.id, &alice.id, Role::SuperAdmin).await?;
    }
    Ok(invite_axum::router(invitations, sessions))
}

// ----- The host's main, with its one new line (the `nest`), served with client addresses. -----

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let app = Router::new()
        .route("/", get(|| async { "the host's home page" }))
        .nest("/api", invitations_api(sessions()).await?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
    Ok(())
}
