//! Every route's JSON body through the router (rules X4, X9): whatever the body, the
//! answer is never a 5xx and the process never panics. The first byte picks the route
//! and whether the caller is signed in as the super admin; the rest is the body.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::http::request::Parts;
use invite_core::{Accounts, ContactPolicy, Enterprise, EnterpriseId, Invitations, MemoryStore, Role, User, UserId};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[derive(Clone)]
struct Alice(Option<User>);

impl invite_axum::Identify for Alice {
    async fn current_user(
        &self,
        parts: &mut Parts,
        _: &Invitations,
    ) -> Result<Option<User>, invite_axum::IdentityError> {
        Ok(parts.headers.get("x-alice").and(self.0.clone()))
    }
}

struct World {
    runtime: tokio::runtime::Runtime,
    app: Router,
    enterprise: EnterpriseId,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let store = Arc::new(MemoryStore::default());
        let enterprise = EnterpriseId::new();
        let alice = User {
            id: UserId::new(),
            name: "Alice".into(),
            email: Some(ContactPolicy::default().parse_email("alice@example.com").expect("email")),
            phone: None,
        };
        runtime.block_on(async {
            let acme = Enterprise { id: enterprise.clone(), name: "Acme".into(), certified: true };
            store.save_enterprise(&acme).await.expect("enterprise");
            store.save_user(&alice).await.expect("user");
            store.add_member(&enterprise, &alice.id, Role::SuperAdmin).await.expect("member");
        });
        let invitations = Invitations::builder(store).base_url("https://app.example").build();
        // No client address reaches the router here, so no rate-limit bucket applies.
        let app = invite_axum::router(invitations, Alice(Some(alice)));
        World { runtime, app, enterprise }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let w = world();
    let e = &w.enterprise;
    let uri = match selector % 8 {
        0 => format!("/enterprises/{e}/invitations"),
        1 => format!("/enterprises/{e}/invitations/00000000-0000-0000-0000-000000000000/revoke"),
        2 => format!("/enterprises/{e}/invitations/00000000-0000-0000-0000-000000000000/resend"),
        3 => "/invitations/view".to_owned(),
        4 => "/invitations/accept".to_owned(),
        5 => "/invitations/reject".to_owned(),
        6 => format!("/enterprises/{e}/invitations?{}", String::from_utf8_lossy(body).replace(['#', ' '], "")),
        _ => format!("/enterprises/{}/invitations", String::from_utf8_lossy(body).replace(['/', '?', '#', ' ', '%'], "")),
    };
    let method = if selector % 8 == 6 { "GET" } else { "POST" };
    let mut request = Request::builder().method(method).uri(&uri).header("content-type", "application/json");
    if selector & 0x80 != 0 {
        request = request.header("x-alice", "1");
    }
    let Ok(request) = request.body(Body::from(body.to_vec())) else { return };
    let status = w
        .runtime
        .block_on(w.app.clone().oneshot(request))
        .map(|r| r.status())
        .expect("the router is infallible");
    assert!(!status.is_server_error(), "{method} {uri}: {status}");
});
