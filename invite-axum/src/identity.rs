//! How the host tells the router who is signed in: the [`Identify`] trait, and
//! [`build_user`] to turn the host's raw strings into an [`invite_core::User`].

use std::future::Future;
use std::pin::Pin;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use invite_core::{ContactError, Invitations, User, UserId};

use crate::error::ApiError;
use crate::state::ApiState;

/// The host's answer to "who is signed in?", asked once per request that needs it.
///
/// Implement it on a small type of your own that can read your sessions (a session store,
/// a JWT key, an `axum-login` backend, …). The library never implements login: a request
/// whose `current_user` is `Ok(None)` is signed out, which `view` answers with viewer
/// `signed_out` (rule A2) and every other route with `not_authenticated` (401). When your
/// session backend cannot tell (its database is down), answer `Err`: the request gets
/// `internal` (500) — never treated as signed out, which would show a signed-in invitee
/// the signed-out page or refuse a super admin as `not_authenticated` (as axum-login's
/// `AuthnBackend::get_user` answers `Result<Option<User>, _>`).
///
/// `parts` are the request's head (headers, cookies, extensions set by your middleware);
/// you may run any of your own extractors on them. `invitations` is the service, handy for
/// [`build_user`] and for reading the host's own keys with [`Invitations::user_id`] (rule
/// H3: an integer, a UUID or a string, as the host declared). The cause of an `Err` is
/// logged by the router at `error` level as the request's internal error.
///
/// ```
/// use axum::http::request::Parts;
/// use invite_axum::{Identify, IdentityError, build_user};
/// use invite_core::{Invitations, User};
///
/// /// A host whose (fake) session is two headers: `x-user-id`, the host's own integer
/// /// account key, and `x-user-email`.
/// #[derive(Clone)]
/// struct HeaderSession;
///
/// impl Identify for HeaderSession {
///     async fn current_user(
///         &self,
///         parts: &mut Parts,
///         invitations: &Invitations,
///     ) -> Result<Option<User>, IdentityError> {
///         let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
///         let id = header("x-user-id").and_then(|id| id.parse::<i64>().ok());
///         let (Some(id), Some(email)) = (id, header("x-user-email")) else {
///             return Ok(None);
///         };
///         Ok(build_user(invitations, id, email, Some(email), None).ok())
///     }
/// }
/// ```
pub trait Identify: Send + Sync + 'static {
    /// The signed-in user of this request, `Ok(None)` when signed out, or `Err` when the
    /// host cannot tell (its session backend failed).
    fn current_user(
        &self,
        parts: &mut Parts,
        invitations: &Invitations,
    ) -> impl Future<Output = Result<Option<User>, IdentityError>> + Send;
}

/// The host could not tell who is signed in: its session backend failed. The router answers
/// `internal` (500) and logs the cause (`source()`), never the request as signed out.
#[derive(Debug, thiserror::Error)]
#[error("the host could not tell who is signed in")]
pub struct IdentityError(#[source] Box<dyn std::error::Error + Send + Sync + 'static>);

impl IdentityError {
    /// The failure of the host's session backend, kept as `source()`.
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self(cause.into())
    }
}

/// Builds the signed-in [`User`] from the host's own key and raw strings, parsing the email
/// and phone with the service's contact policy (`invitations.config().contacts`, rule S3,
/// X8) so they compare with invited contacts exactly as the service compares them (rules
/// A4). Empty or blank strings count as absent.
///
/// `id` is the host's key of the account in whatever form the host has it (rule H3): an
/// `i64`, a [`uuid::Uuid`], a string, or a [`UserId`] (for example one parsed with
/// [`Invitations::user_id`]).
///
/// # Errors
/// [`ContactError`] when the email or phone the host gave is not a valid contact.
pub fn build_user(
    invitations: &Invitations,
    id: impl Into<UserId>,
    name: impl Into<String>,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<User, ContactError> {
    let contacts = &invitations.config().contacts;
    Ok(User {
        id: id.into(),
        name: name.into(),
        email: present(email).map(|e| contacts.parse_email(e)).transpose()?,
        phone: present(phone).map(|p| contacts.parse_phone(p)).transpose()?,
    })
}

fn present(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

/// [`Identify`] made object-safe, so the router state and the handlers are not generic.
pub(crate) trait DynIdentify: Send + Sync + 'static {
    fn current_user<'a>(
        &'a self,
        parts: &'a mut Parts,
        invitations: &'a Invitations,
    ) -> Pin<Box<dyn Future<Output = Result<Option<User>, IdentityError>> + Send + 'a>>;
}

impl<T: Identify> DynIdentify for T {
    fn current_user<'a>(
        &'a self,
        parts: &'a mut Parts,
        invitations: &'a Invitations,
    ) -> Pin<Box<dyn Future<Output = Result<Option<User>, IdentityError>> + Send + 'a>> {
        Box::pin(Identify::current_user(self, parts, invitations))
    }
}

/// The signed-in user, if any (for `view`).
pub(crate) struct MaybeUser(pub Option<User>);

/// The signed-in user; `not_authenticated` (401) otherwise.
pub(crate) struct SignedIn(pub User);

impl FromRequestParts<ApiState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let user = state.identity.current_user(parts, &state.invitations).await;
        Ok(Self(user.map_err(unknown_identity)?))
    }
}

/// `internal` (500) for a host that cannot tell who is signed in; the cause is logged with
/// the other internal errors.
fn unknown_identity(err: IdentityError) -> ApiError {
    ApiError::from(invite_core::InviteError::Internal(
        invite_core::StoreError::backend(err),
    ))
}

impl FromRequestParts<ApiState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        match state.identity.current_user(parts, &state.invitations).await {
            Ok(Some(user)) => Ok(Self(user)),
            Ok(None) => Err(ApiError::from(invite_core::InviteError::NotAuthenticated)),
            Err(err) => Err(unknown_identity(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use invite_core::testing::MemoryStore;

    use super::*;

    #[test]
    fn build_user_parses_with_the_service_policy() {
        // rule S3, X8, A4: the host's contacts are normalized like invited ones.
        let invitations = Invitations::builder(Arc::new(MemoryStore::default()))
            .contacts(
                invite_core::ContactPolicy::default()
                    .with_default_region("US")
                    .unwrap(),
            )
            .build();
        let user = build_user(
            &invitations,
            UserId::new(),
            "Bob",
            Some(" Bob@Example.COM "),
            Some("(415) 555-0100"),
        )
        .unwrap();
        assert_eq!(
            user.email.as_ref().map(|e| e.normalized()),
            Some("bob@example.com")
        );
        assert_eq!(user.phone.as_ref().map(|p| p.normalized()), Some("+14155550100"));
        let blank = build_user(&invitations, UserId::new(), "Bob", Some("  "), Some("")).unwrap();
        assert!(blank.email.is_none() && blank.phone.is_none());
        assert!(build_user(&invitations, UserId::new(), "Bob", Some("not an email"), None).is_err());
    }

    #[test]
    fn build_user_takes_the_host_key_in_any_form() {
        // rule H3: the host's own key, whatever its kind; rule H7: kept in its natural form.
        let invitations = Invitations::builder(Arc::new(MemoryStore::default())).build();
        let int = build_user(&invitations, 42_i64, "Bob", Some("bob@example.com"), None).unwrap();
        assert_eq!(int.id, UserId::from(42));
        assert_eq!(serde_json::to_value(&int.id).unwrap(), serde_json::json!(42));
        let text = build_user(&invitations, "u-7", "Bob", Some("bob@example.com"), None).unwrap();
        assert_eq!(serde_json::to_value(&text.id).unwrap(), serde_json::json!("u-7"));
        let uuid = uuid::Uuid::new_v4();
        let by_uuid = build_user(&invitations, uuid, "Bob", None, Some("+14155550100")).unwrap();
        assert_eq!(by_uuid.id, UserId::from(uuid));
    }
}
