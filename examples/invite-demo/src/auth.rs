//! The demo sign-in (rules §7; demo only, never in the library): `POST /login`,
//! `POST /register`, `POST /logout` and `GET /me`, with sessions kept in the demo's
//! database and keyed by a random cookie (see [`crate::session`]: they expire, every
//! sign-in makes a new one, and sign-in is rate-limited per client, see
//! `RateLimit::limit_routes` in `app.rs`). Like the API's, every POST takes a JSON body sent as
//! `application/json` (`{}` for `/logout`); another content type is 415
//! `unsupported_media_type`.
//!
//! There are no passwords: knowing an account's email or phone is enough to sign in. That
//! is what a demo needs to click through both halves of the guide, and nothing more.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use invite_core::text::{TextError, check_display_name};
use invite_core::{Accounts, Contact, Invitations, InviteError, Role, User};
use serde::Deserialize;
use serde_json::{Value, json};

pub use crate::session::{SESSION_COOKIE, Sessions};

/// What the demo routes share.
#[derive(Clone)]
pub struct AuthState {
    /// The invitation service.
    pub invitations: Invitations,
    /// The accounts of the self-contained layout (the same store as the service's): who
    /// signs in, who registers, the memberships of `/me` and the members page.
    pub accounts: Arc<dyn Accounts>,
    /// The sessions (in the demo's database).
    pub sessions: Sessions,
    /// Held while a registration checks that its contact is free and saves the account,
    /// so that two registrations of one contact cannot both pass the check. The demo is
    /// one process; a multi-process host would use a unique index instead.
    pub registering: Arc<tokio::sync::Mutex<()>>,
}

impl AuthState {
    /// The signed-in account of a request, if any (identity comes from the session only,
    /// rule X9).
    ///
    /// # Errors
    /// `internal` when the accounts or the sessions cannot be read.
    pub async fn current_user(&self, headers: &HeaderMap) -> Result<Option<User>, InviteError> {
        let session = self.sessions.user_id(headers, &self.invitations).await;
        match session.map_err(|err| InviteError::from(invite_core::StoreError::backend(err)))? {
            Some(id) => Ok(self.accounts.user(&id).await?),
            None => Ok(None),
        }
    }

    async fn require_user(&self, headers: &HeaderMap) -> Result<User, DemoError> {
        self.current_user(headers)
            .await?
            .ok_or_else(|| DemoError::new(StatusCode::UNAUTHORIZED, "not_authenticated", "sign in first"))
    }

    fn parse_contact(&self, input: &str) -> Result<Contact, DemoError> {
        self.invitations.config().contacts.parse(input).map_err(|err| {
            DemoError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_contact",
                &err.to_string(),
            )
        })
    }
}

/// An error answer in the shape of the API's (rules §6): `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct DemoError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl DemoError {
    /// An error with its status, code and a readable message.
    #[must_use]
    pub fn new(status: StatusCode, code: &'static str, message: &str) -> Self {
        Self {
            status,
            code,
            message: message.to_owned(),
        }
    }

    fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    /// `internal` for a session table that cannot be read or written (logged).
    fn session(err: &sqlx::Error) -> Self {
        tracing::error!(error = %err, "the session table failed");
        Self::internal()
    }

    /// A body the JSON extractor refused: `unsupported_media_type` (415) when it was not
    /// sent as `application/json` (rules §6: so no cross-site form can post it), else
    /// `invalid_request` (400).
    fn bad_json(rejection: &JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ),
            other => Self::new(StatusCode::BAD_REQUEST, "invalid_request", &other.body_text()),
        }
    }
}

impl From<InviteError> for DemoError {
    fn from(err: InviteError) -> Self {
        match err {
            InviteError::Forbidden => Self::new(StatusCode::FORBIDDEN, "forbidden", "forbidden"),
            other => {
                tracing::error!(error = ?other, "demo sign-in failed");
                Self::internal()
            }
        }
    }
}

impl From<invite_core::StoreError> for DemoError {
    fn from(err: invite_core::StoreError) -> Self {
        Self::from(InviteError::from(err))
    }
}

impl IntoResponse for DemoError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

/// `POST /login` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    contact: String,
}

/// `POST /register` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    name: String,
    contact: String,
}

/// `POST /login {"contact"}`: signs in the account with that email or phone.
pub async fn login(
    State(state): State<AuthState>,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, DemoError> {
    let Json(body) = body.map_err(|rejection| DemoError::bad_json(&rejection))?;
    let contact = state.parse_contact(&body.contact)?;
    let Some(user) = state.accounts.find_user(&contact).await? else {
        return Err(DemoError::new(
            StatusCode::NOT_FOUND,
            "unknown_account",
            "no account uses this email or phone",
        ));
    };
    signed_in(&state, &headers, &user).await
}

/// `POST /register {"name","contact"}`: creates an account and signs it in.
pub async fn register(
    State(state): State<AuthState>,
    headers: HeaderMap,
    body: Result<Json<RegisterBody>, JsonRejection>,
) -> Result<Response, DemoError> {
    let Json(body) = body.map_err(|rejection| DemoError::bad_json(&rejection))?;
    // The library's check (trimmed, no control characters: rule X4), then the demo's own
    // shorter limit.
    let name = match check_display_name(&body.name) {
        Ok(name) if name.chars().count() <= 100 => name,
        Err(TextError::ControlCharacter) => {
            return Err(DemoError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "name must not hold control characters",
            ));
        }
        _ => {
            return Err(DemoError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "name must be 1 to 100 characters",
            ));
        }
    };
    let contact = state.parse_contact(&body.contact)?;
    let _registering = state.registering.lock().await;
    if state.accounts.find_user(&contact).await?.is_some() {
        return Err(DemoError::new(
            StatusCode::CONFLICT,
            "account_exists",
            "an account with this email or phone exists",
        ));
    }
    let user = crate::seed::new_user(name, contact);
    state.accounts.save_user(&user).await?;
    tracing::info!(user_id = %user.id, "demo account registered");
    signed_in(&state, &headers, &user).await
}

/// Opens a new session for `user` (the request's old one, if any, is deleted: a new id at
/// every sign-in) and answers with its cookie and the `/me` body.
async fn signed_in(state: &AuthState, headers: &HeaderMap, user: &User) -> Result<Response, DemoError> {
    let cookie = state
        .sessions
        .sign_in(headers, &user.id)
        .await
        .map_err(|err| DemoError::session(&err))?;
    let body = me_body(state, user).await?;
    Ok(([(SET_COOKIE, cookie)], Json(body)).into_response())
}

/// `POST /logout {}`: ends the session (signing out twice is fine). Like every POST, it
/// takes a JSON body sent as `application/json` (rules §6), here `{}`, so that no
/// cross-site form can sign the user out.
pub async fn logout(
    State(state): State<AuthState>,
    headers: HeaderMap,
    body: Result<Json<serde_json::Map<String, Value>>, JsonRejection>,
) -> Result<Response, DemoError> {
    let Json(body) = body.map_err(|rejection| DemoError::bad_json(&rejection))?;
    if !body.is_empty() {
        return Err(DemoError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body of /logout is {}",
        ));
    }
    let cookie = state
        .sessions
        .sign_out(&headers)
        .await
        .map_err(|err| DemoError::session(&err))?;
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "signed_out": true }))).into_response())
}

/// `GET /me`: the signed-in user and `memberships: [{enterprise_id, enterprise_name,
/// role}]`; 401 `not_authenticated` when signed out.
pub async fn me(State(state): State<AuthState>, headers: HeaderMap) -> Result<Json<Value>, DemoError> {
    let user = state.require_user(&headers).await?;
    Ok(Json(me_body(&state, &user).await?))
}

async fn me_body(state: &AuthState, user: &User) -> Result<Value, DemoError> {
    let memberships = state.accounts.memberships(&user.id).await?;
    let memberships: Vec<Value> = memberships
        .iter()
        .map(|m| {
            json!({
                "enterprise_id": m.enterprise.id,
                "enterprise_name": m.enterprise.name,
                "certified": m.enterprise.certified,
                "role": m.role,
            })
        })
        .collect();
    Ok(json!({ "user": user_json(user), "memberships": memberships }))
}

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "name": user.name,
        "email": user.email.as_ref().map(invite_core::Email::entered),
        "phone": user.phone.as_ref().map(invite_core::Phone::entered),
    })
}

/// `GET /me/enterprises/{enterprise_id}/members`: the members list of the members page,
/// for members of that enterprise only (the API of rules §6 has invitations, not members).
pub async fn members(
    State(state): State<AuthState>,
    headers: HeaderMap,
    Path(enterprise_id): Path<String>,
) -> Result<Json<Value>, DemoError> {
    let user = state.require_user(&headers).await?;
    let forbidden = || {
        DemoError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "not a member of this enterprise",
        )
    };
    // A segment that is not a key of the store's kind names no enterprise of the user's.
    let enterprise_id = state
        .invitations
        .enterprise_id(&enterprise_id)
        .map_err(|_| forbidden())?;
    let accounts = &state.accounts;
    if accounts.role_of(&enterprise_id, &user.id).await?.is_none() {
        return Err(forbidden());
    }
    let enterprise = accounts.enterprise(&enterprise_id).await?.ok_or_else(forbidden)?;
    let members: Vec<Value> = accounts
        .members(&enterprise_id)
        .await?
        .iter()
        .map(|m| json!({ "user": user_json(&m.user), "role": m.role }))
        .collect();
    let roles: Vec<Value> = state
        .invitations
        .config()
        .roles
        .assignable()
        .iter()
        .map(|role: &Role| json!({ "role": role, "description": role.description() }))
        .collect();
    Ok(Json(json!({
        "enterprise": enterprise,
        "members": members,
        "assignable_roles": roles,
    })))
}
