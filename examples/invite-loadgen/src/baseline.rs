//! The baseline: a bare axum server that serves the routes of the load mix with the SQL
//! of `invite-store-sqlx` written out by hand, on the same SQLite database layout as
//! `invite-demo` (the library's tables plus the self-contained `enterprises`, `users`,
//! `members`, and the demo's `invite_demo_sessions`). It is the floor the demo is
//! measured against.
//!
//! | route | statements, in order (as the library and the demo run them on SQLite) |
//! |---|---|
//! | `POST /login` | user by `email_normalized`; the request's old session deleted (if any); session insert; memberships (`members` ⋈ `enterprises`) |
//! | `POST /register` | (one at a time) user by `email_normalized`; user upsert; session insert; memberships |
//! | every signed-in route | session by id hash (unexpired); user by id |
//! | `POST /api/enterprises/{id}/invitations` | role; enterprise; `BEGIN IMMEDIATE`, member-with-contact check, stale-pending write-down, invitation insert, `sent` event, `COMMIT`; delivery update |
//! | `GET /api/enterprises/{id}/invitations` | role; enterprise; first page by `(sent_at, id)` |
//! | `POST /api/invitations/view` | invitation by digest; enterprise |
//! | `POST /api/invitations/accept` | `BEGIN IMMEDIATE`, conditional `UPDATE … RETURNING` (its trigger writes the `accepted` event), account check, enterprise, user upsert, member insert, `COMMIT` |
//! | `POST /api/invitations/reject` | `BEGIN IMMEDIATE`, conditional `UPDATE … RETURNING` (its trigger writes the `rejected` event), account check, `COMMIT` |
//!
//! What it leaves out, on purpose: the service layer and its domain types, the contact
//! parser (emails are trimmed and lowercased; phones are refused), the request spans and
//! logs, the notifier (and so the demo's delivery outbox: its queued row and its worker's
//! writes), the rate limit, the demo's once-a-minute prune of expired sessions, and every route
//! the mix does not use. The pool is the library's own
//! ([`invite_store_sqlx::sqlite_pool`] settings: WAL, `synchronous = NORMAL`, busy
//! timeout), and the database is created and seeded through the library, so both servers
//! start from the same schema and accounts.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use invite_core::{Accounts as _, ContactPolicy, Enterprise, EnterpriseId, Role, User, UserId};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::SqlitePool;
use uuid::Uuid;

/// Any error of opening the baseline's database.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The statements, as `invite-store-sqlx` builds them for SQLite and the self-contained
/// layout (`sql.rs`, `self_contained.rs`, `TableMapping`), byte for byte where the library
/// has them as constants.
pub mod statements {
    /// The columns of an invitation (`sql::INVITATION_COLUMNS`).
    macro_rules! columns {
        () => {
            "id, enterprise_id, contact_kind, contact_entered, contact_normalized, role, status, \
             invited_by, invited_by_name, sent_at, last_sent_at, expires_at, responded_at, \
             responded_by, revoked_at, revoked_by, delivery, token_digest"
        };
    }

    /// `Accounts::user` of the self-contained layout.
    pub const USER_BY_ID: &str = "SELECT u.id, u.name, u.email, u.email_normalized, u.phone, u.phone_normalized \
         FROM users u WHERE u.id = $1";
    /// `Accounts::find_user` by email.
    pub const USER_BY_EMAIL: &str = "SELECT u.id, u.name, u.email, u.email_normalized, u.phone, \
         u.phone_normalized FROM users u WHERE u.email_normalized = $1 ORDER BY u.id LIMIT 1";
    /// `Accounts::memberships`.
    pub const MEMBERSHIPS: &str = "SELECT e.id, e.name, e.certified, m.role FROM members m \
         JOIN enterprises e ON e.id = m.enterprise_id WHERE m.user_id = $1 ORDER BY e.name, e.id";
    /// `self_contained::UPSERT_USER`.
    pub const UPSERT_USER: &str = "INSERT INTO users \
         (id, name, email, email_normalized, phone, phone_normalized) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, \
         email_normalized = excluded.email_normalized, phone = excluded.phone, \
         phone_normalized = excluded.phone_normalized";
    /// `TableMapping`'s role lookup of the self-contained layout.
    pub const ROLE_OF: &str =
        "SELECT \"role\" FROM \"members\" WHERE \"enterprise_id\" = $1 AND \"user_id\" = $2";
    /// `TableMapping`'s enterprise lookup of the self-contained layout.
    pub const ENTERPRISE: &str = "SELECT \"name\", \"certified\" FROM \"enterprises\" WHERE \"id\" = $1";
    /// `TableMapping`'s member check of the self-contained layout (`email_normalized`).
    pub const MEMBER_WITH_EMAIL: &str = "SELECT 1 FROM \"members\" WHERE \"enterprise_id\" = $1 \
         AND \"user_id\" IN (SELECT \"id\" FROM \"users\" WHERE \"email_normalized\" = $2) LIMIT 1";
    /// `TableMapping`'s membership insert of the self-contained layout.
    pub const INSERT_MEMBER: &str = "INSERT INTO \"members\" (\"enterprise_id\", \"user_id\", \
         \"role\") SELECT $1, $2, $3 WHERE NOT EXISTS \
         (SELECT 1 FROM \"members\" WHERE \"enterprise_id\" = $1 AND \"user_id\" = $2)";
    /// `sql::EXPIRE_STALE_FOR_CONTACT`.
    pub const EXPIRE_STALE_FOR_CONTACT: &str = "UPDATE invite_rs_invitations SET status = 'expired' \
         WHERE enterprise_id = $1 AND contact_normalized = $2 AND status = 'pending' \
         AND expires_at <= $3 AND id <> $4 RETURNING id, enterprise_id";
    /// `sql::INSERT_INVITATION`.
    pub const INSERT_INVITATION: &str = concat!(
        "INSERT INTO invite_rs_invitations (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ",
        "ON CONFLICT (enterprise_id, contact_normalized) WHERE status = 'pending' DO NOTHING"
    );
    /// `sql::INSERT_EVENT`.
    pub const INSERT_EVENT: &str = "INSERT INTO invite_rs_events \
         (invitation_id, enterprise_id, kind, actor, at) VALUES ($1, $2, $3, $4, $5)";
    /// `sql::SET_DELIVERY`.
    pub const SET_DELIVERY: &str = "UPDATE invite_rs_invitations SET delivery = $2 WHERE id = $1";
    /// `sql::FIND_BY_DIGEST`.
    pub const FIND_BY_DIGEST: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM invite_rs_invitations WHERE token_digest = $1"
    );
    /// `sql::ACCEPT`.
    pub const ACCEPT: &str = concat!(
        "UPDATE invite_rs_invitations SET status = 'accepted', responded_at = $2, responded_by = $3 \
         WHERE token_digest = $1 AND status = 'pending' AND expires_at > $2 RETURNING ",
        columns!()
    );
    /// `sql::REJECT`.
    pub const REJECT: &str = concat!(
        "UPDATE invite_rs_invitations SET status = 'rejected', responded_at = $2, responded_by = $3 \
         WHERE token_digest = $1 AND status = 'pending' AND expires_at > $2 RETURNING ",
        columns!()
    );
    /// `sql::list(None, false)`: the first page of the records table.
    pub const FIRST_PAGE: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM invite_rs_invitations WHERE enterprise_id = $1 ORDER BY sent_at DESC, id DESC LIMIT $2"
    );
    /// How the library opens a write transaction on SQLite (`Backend::BEGIN_WRITE`).
    pub const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

    /// `invite-demo`'s sessions table and statements (`session.rs`), byte for byte.
    pub const CREATE_SESSIONS: &str = "CREATE TABLE IF NOT EXISTS invite_demo_sessions (
    id_hash     TEXT NOT NULL PRIMARY KEY,
    user_id     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
)";
    /// The demo's index of sessions by expiry.
    pub const CREATE_SESSIONS_INDEX: &str = "CREATE INDEX IF NOT EXISTS invite_demo_sessions_expires_at \
     ON invite_demo_sessions (expires_at)";
    /// A new session.
    pub const INSERT_SESSION: &str = "INSERT INTO invite_demo_sessions (id_hash, user_id, created_at, expires_at) \
     VALUES ($1, $2, $3, $4)";
    /// The user of a live session.
    pub const SESSION_USER: &str =
        "SELECT user_id FROM invite_demo_sessions WHERE id_hash = $1 AND expires_at > $2";
    /// The end of a session.
    pub const DELETE_SESSION: &str = "DELETE FROM invite_demo_sessions WHERE id_hash = $1";
}

use statements as sql;

/// The lifetime of new links: the demo's default (`--invite-ttl 7d`).
const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The bounds of a per-invitation `expires_in_seconds` (the demo's, for a 7-day default).
const TTL_BOUNDS: (u64, u64) = (60, 30 * 24 * 3600);
/// The session cookie.
const SESSION_COOKIE: &str = "baseline_session";
/// Records per page unless the request says otherwise, and at most.
const PAGE: (usize, usize) = (20, 100);

/// The baseline server's state; [`Baseline::router`] serves it.
#[derive(Clone, Debug)]
pub struct Baseline {
    state: Arc<Inner>,
}

/// How long a session lives (the demo's default `--session-ttl`).
const SESSION_TTL_MICROS: i64 = 7 * 24 * 3_600_000_000;

#[derive(Debug)]
struct Inner {
    pool: SqlitePool,
    registering: tokio::sync::Mutex<()>,
    base_url: String,
}

impl Baseline {
    /// Opens (creating, migrating and seeding as `invite-demo` does when empty) the SQLite
    /// database at `database_url`; links are built on `base_url`.
    ///
    /// # Errors
    /// When the database cannot be opened, migrated or seeded.
    pub async fn open(database_url: &str, base_url: &str) -> Result<Self, BoxError> {
        let store = invite_store_sqlx::SqliteStore::connect(database_url).await?;
        store.migrate().await?;
        seed_if_empty(&store).await?;
        // Sessions live in the database, as the demo keeps them.
        sqlx::query(sql::CREATE_SESSIONS).execute(store.pool()).await?;
        sqlx::query(sql::CREATE_SESSIONS_INDEX)
            .execute(store.pool())
            .await?;
        Ok(Self {
            state: Arc::new(Inner {
                pool: store.pool().clone(),
                registering: tokio::sync::Mutex::new(()),
                base_url: base_url.trim_end_matches('/').to_owned(),
            }),
        })
    }

    /// The database pool.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.state.pool
    }

    /// The routes of the load mix: `/login`, `/register`, and under `/api`
    /// `/enterprises/{enterprise_id}/invitations` (POST, GET) and
    /// `/invitations/{view,accept,reject}`.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/enterprises/{enterprise_id}/invitations", post(create).get(list))
            .route("/invitations/view", post(view))
            .route("/invitations/accept", post(accept))
            .route("/invitations/reject", post(reject));
        Router::new()
            .route("/login", post(login))
            .route("/register", post(register))
            .nest("/api", api)
            .with_state(self.state.clone())
    }
}

/// The demo data of rules §7, as `invite-demo`'s seed makes it, unless Alice exists.
async fn seed_if_empty(store: &invite_store_sqlx::SqliteStore) -> Result<(), BoxError> {
    const ENTERPRISES: [(&str, bool, &str, &str); 3] = [
        ("Acme Robotics", true, "Alice Admin", "alice@example.com"),
        ("Globex", true, "Grace Hopper", "grace@example.com"),
        ("Unverified Labs", false, "Uma Owner", "uma@example.com"),
    ];
    const LONERS: [(&str, &str); 3] = [
        ("Bob Builder", "bob@example.com"),
        ("Carol Chen", "+14155550100"),
        ("Mallory", "mallory@example.com"),
    ];
    let policy = ContactPolicy::default();
    let user = |name: &str, raw: &str| -> Result<User, BoxError> {
        let (email, phone) = match policy.parse(raw)? {
            invite_core::Contact::Email(email) => (Some(email), None),
            invite_core::Contact::Phone(phone) => (None, Some(phone)),
        };
        Ok(User {
            id: UserId::new(),
            name: name.to_owned(),
            email,
            phone,
        })
    };
    if store
        .find_user(&policy.parse("alice@example.com")?)
        .await?
        .is_some()
    {
        return Ok(());
    }
    for (name, certified, owner, contact) in ENTERPRISES {
        let enterprise = Enterprise {
            id: EnterpriseId::new(),
            name: name.to_owned(),
            certified,
        };
        store.save_enterprise(&enterprise).await?;
        let owner = user(owner, contact)?;
        store.save_user(&owner).await?;
        store
            .add_member(&enterprise.id, &owner.id, Role::SuperAdmin)
            .await?;
    }
    for (name, contact) in LONERS {
        store.save_user(&user(name, contact)?).await?;
    }
    Ok(())
}

// --- errors ---------------------------------------------------------------------------

/// An error answer in the shape of rules §6.
#[derive(Debug)]
struct Fail {
    status: StatusCode,
    code: &'static str,
}

impl Fail {
    fn new(status: StatusCode, code: &'static str) -> Self {
        Self { status, code }
    }

    fn bad_request() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request")
    }
}

impl From<sqlx::Error> for Fail {
    fn from(err: sqlx::Error) -> Self {
        eprintln!("invite-baseline: database error: {err}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal")
    }
}

impl From<JsonRejection> for Fail {
    fn from(_: JsonRejection) -> Self {
        Self::bad_request()
    }
}

impl From<QueryRejection> for Fail {
    fn from(_: QueryRejection) -> Self {
        Self::bad_request()
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: Detail,
        }
        #[derive(Serialize)]
        struct Detail {
            code: &'static str,
            message: &'static str,
        }
        let body = Body {
            error: Detail {
                code: self.code,
                message: self.code,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

type Answer = Result<Response, Fail>;
type AppState = State<Arc<Inner>>;

// --- rows and JSON ----------------------------------------------------------------------

#[derive(Debug, sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    name: String,
    email: Option<String>,
    email_normalized: Option<String>,
    phone: Option<String>,
    phone_normalized: Option<String>,
}

/// One row of `invite_rs_invitations`, every column decoded, as the library does.
#[derive(Debug, sqlx::FromRow)]
#[allow(dead_code)]
struct InvitationRow {
    id: Uuid,
    enterprise_id: String,
    contact_kind: String,
    contact_entered: String,
    contact_normalized: String,
    role: String,
    status: String,
    invited_by: String,
    invited_by_name: String,
    sent_at: i64,
    last_sent_at: i64,
    expires_at: i64,
    responded_at: Option<i64>,
    responded_by: Option<String>,
    revoked_at: Option<i64>,
    revoked_by: Option<String>,
    delivery: String,
    token_digest: Vec<u8>,
}

impl InvitationRow {
    /// The status at `now`: a stored-pending row past its expiry is `expired`.
    fn status_at(&self, now: i64) -> &str {
        if self.status == "pending" && self.expires_at <= now {
            "expired"
        } else {
            &self.status
        }
    }

    fn json(&self, now: i64) -> Result<InvitationJson<'_>, Fail> {
        Ok(InvitationJson {
            id: self.id,
            enterprise_id: &self.enterprise_id,
            contact: &self.contact_entered,
            contact_kind: &self.contact_kind,
            role: &self.role,
            status: self.status_at(now),
            invited_by: InviterJson {
                user_id: &self.invited_by,
                name: &self.invited_by_name,
            },
            sent_at: time(self.sent_at)?,
            last_sent_at: time(self.last_sent_at)?,
            expires_at: time(self.expires_at)?,
            responded_at: self.responded_at.map(time).transpose()?,
            delivery: &self.delivery,
        })
    }
}

fn time(micros: i64) -> Result<DateTime<Utc>, Fail> {
    DateTime::from_timestamp_micros(micros).ok_or(Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "internal"))
}

#[derive(Serialize)]
struct InviterJson<'a> {
    user_id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct InvitationJson<'a> {
    id: Uuid,
    enterprise_id: &'a str,
    contact: &'a str,
    contact_kind: &'a str,
    role: &'a str,
    status: &'a str,
    invited_by: InviterJson<'a>,
    sent_at: DateTime<Utc>,
    last_sent_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    responded_at: Option<DateTime<Utc>>,
    delivery: &'a str,
}

#[derive(Serialize)]
struct UserJson<'a> {
    id: Uuid,
    name: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
}

#[derive(Serialize)]
struct MembershipJson {
    enterprise_id: Uuid,
    enterprise_name: String,
    certified: bool,
    role: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    contact: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    name: String,
    contact: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    contact: String,
    role: String,
    #[serde(default)]
    expires_in_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<String>,
}

// --- helpers ----------------------------------------------------------------------------

fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// A trimmed, lowercased email with one `@`, a local part and a dotted domain.
fn normalize_email(raw: &str) -> Result<String, Fail> {
    let invalid = || Fail::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_contact");
    let email = raw.trim();
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let valid = !local.is_empty()
        && domain.contains('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email.to_lowercase())
    } else {
        Err(invalid())
    }
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, id)| id)
}

impl Inner {
    /// The signed-in user, read from the database as the demo's identity does.
    async fn current_user(&self, headers: &HeaderMap) -> Result<Option<UserRow>, Fail> {
        let Some(id) = session_id(headers) else {
            return Ok(None);
        };
        let session: Option<(String,)> = sqlx::query_as(sql::SESSION_USER)
            .bind(session_hash(id))
            .bind(now_micros())
            .fetch_optional(&self.pool)
            .await?;
        let Some(user) = session.and_then(|(raw,)| Uuid::parse_str(&raw).ok()) else {
            return Ok(None);
        };
        Ok(sqlx::query_as::<_, UserRow>(sql::USER_BY_ID)
            .bind(user)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn require_user(&self, headers: &HeaderMap) -> Result<UserRow, Fail> {
        self.current_user(headers)
            .await?
            .ok_or(Fail::new(StatusCode::UNAUTHORIZED, "not_authenticated"))
    }

    /// A super admin of `enterprise`; its name and whether it is certified.
    async fn authorize(&self, user: &UserRow, enterprise: Uuid) -> Result<(String, bool), Fail> {
        let forbidden = || Fail::new(StatusCode::FORBIDDEN, "forbidden");
        let role: Option<(String,)> = sqlx::query_as(sql::ROLE_OF)
            .bind(enterprise)
            .bind(user.id)
            .fetch_optional(&self.pool)
            .await?;
        if role.as_ref().map(|(r,)| r.as_str()) != Some("super_admin") {
            return Err(forbidden());
        }
        self.enterprise(enterprise).await?.ok_or_else(forbidden)
    }

    async fn enterprise(&self, id: Uuid) -> Result<Option<(String, bool)>, Fail> {
        Ok(sqlx::query_as(sql::ENTERPRISE)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The invitation of a presented token (`None` for one not shaped like ours).
    async fn find(&self, token: &str) -> Result<Option<InvitationRow>, Fail> {
        let Some(digest) = token_digest(token) else {
            return Ok(None);
        };
        Ok(sqlx::query_as::<_, InvitationRow>(sql::FIND_BY_DIGEST)
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Opens a session for `user` and answers `{"user","memberships"}` with its cookie.
    async fn signed_in(&self, headers: &HeaderMap, user: &UserRow) -> Answer {
        if let Some(previous) = session_id(headers) {
            sqlx::query(sql::DELETE_SESSION)
                .bind(session_hash(previous))
                .execute(&self.pool)
                .await?;
        }
        let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let now = now_micros();
        sqlx::query(sql::INSERT_SESSION)
            .bind(session_hash(&id))
            .bind(user.id.hyphenated().to_string())
            .bind(now)
            .bind(now.saturating_add(SESSION_TTL_MICROS))
            .execute(&self.pool)
            .await?;
        let memberships: Vec<(Uuid, String, bool, String)> = sqlx::query_as(sql::MEMBERSHIPS)
            .bind(user.id)
            .fetch_all(&self.pool)
            .await?;
        let cookie = HeaderValue::from_str(&format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly"))
            .map_err(|_| Fail::new(StatusCode::INTERNAL_SERVER_ERROR, "internal"))?;
        #[derive(Serialize)]
        struct Me<'a> {
            user: UserJson<'a>,
            memberships: Vec<MembershipJson>,
        }
        let me = Me {
            user: UserJson {
                id: user.id,
                name: &user.name,
                email: user.email.as_deref(),
                phone: user.phone.as_deref(),
            },
            memberships: memberships
                .into_iter()
                .map(
                    |(enterprise_id, enterprise_name, certified, role)| MembershipJson {
                        enterprise_id,
                        enterprise_name,
                        certified,
                        role,
                    },
                )
                .collect(),
        };
        Ok(([(SET_COOKIE, cookie)], Json(me)).into_response())
    }
}

/// Whether `user` is the account the invitation was sent to.
fn reaches(user: &UserRow, row: &InvitationRow) -> bool {
    let mine = match row.contact_kind.as_str() {
        "email" => user.email_normalized.as_deref(),
        _ => user.phone_normalized.as_deref(),
    };
    mine == Some(row.contact_normalized.as_str())
}

/// The digest of a presented token; `None` for one not shaped like ours.
fn token_digest(token: &str) -> Option<Vec<u8>> {
    let shaped = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    shaped.then(|| digest(token))
}

/// What the sessions table keeps of a session id: its SHA-256, in hex (as the demo).
fn session_hash(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Why a conditional answer changed no row, from the row as it is now.
fn unchanged(current: Option<&InvitationRow>, now: i64) -> Fail {
    match current.map(|row| row.status_at(now)) {
        Some("accepted") => Fail::new(StatusCode::CONFLICT, "already_accepted"),
        Some("rejected") => Fail::new(StatusCode::CONFLICT, "already_rejected"),
        _ => Fail::new(StatusCode::GONE, "invalid_or_expired"),
    }
}

// --- handlers -----------------------------------------------------------------------------

async fn login(
    State(state): AppState,
    headers: HeaderMap,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Answer {
    let Json(body) = body?;
    let email = normalize_email(&body.contact)?;
    let user = sqlx::query_as::<_, UserRow>(sql::USER_BY_EMAIL)
        .bind(email)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(Fail::new(StatusCode::NOT_FOUND, "unknown_account"))?;
    state.signed_in(&headers, &user).await
}

async fn register(
    State(state): AppState,
    headers: HeaderMap,
    body: Result<Json<RegisterBody>, JsonRejection>,
) -> Answer {
    let Json(body) = body?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Fail::bad_request());
    }
    let email = normalize_email(&body.contact)?;
    let _registering = state.registering.lock().await;
    let taken = sqlx::query_as::<_, UserRow>(sql::USER_BY_EMAIL)
        .bind(&email)
        .fetch_optional(&state.pool)
        .await?;
    if taken.is_some() {
        return Err(Fail::new(StatusCode::CONFLICT, "account_exists"));
    }
    let user = UserRow {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        email: Some(body.contact.trim().to_owned()),
        email_normalized: Some(email),
        phone: None,
        phone_normalized: None,
    };
    upsert_user(&state.pool, &user).await?;
    state.signed_in(&headers, &user).await
}

async fn upsert_user<'c, E>(executor: E, user: &UserRow) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    sqlx::query(sql::UPSERT_USER)
        .bind(user.id)
        .bind(&user.name)
        .bind(&user.email)
        .bind(&user.email_normalized)
        .bind(&user.phone)
        .bind(&user.phone_normalized)
        .execute(executor)
        .await?;
    Ok(())
}

async fn create(
    State(state): AppState,
    Path(enterprise): Path<String>,
    headers: HeaderMap,
    body: Result<Json<CreateBody>, JsonRejection>,
) -> Answer {
    let Json(body) = body?;
    let user = state.require_user(&headers).await?;
    let enterprise = Uuid::parse_str(&enterprise).map_err(|_| Fail::bad_request())?;
    let (enterprise_name, certified) = state.authorize(&user, enterprise).await?;
    let _ = enterprise_name;
    if !certified {
        return Err(Fail::new(StatusCode::FORBIDDEN, "enterprise_not_certified"));
    }
    let email = normalize_email(&body.contact)?;
    if !matches!(body.role.as_str(), "finance_admin" | "dev_admin" | "member") {
        return Err(Fail::new(StatusCode::UNPROCESSABLE_ENTITY, "role_not_assignable"));
    }
    let ttl = match body.expires_in_seconds {
        None => DEFAULT_TTL,
        Some(s) if (TTL_BOUNDS.0..=TTL_BOUNDS.1).contains(&s) => Duration::from_secs(s),
        Some(_) => return Err(Fail::bad_request()),
    };
    let now = now_micros();
    let expires_at = now + i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX / 2);
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let row = InvitationRow {
        id: Uuid::new_v4(),
        enterprise_id: enterprise.hyphenated().to_string(),
        contact_kind: "email".to_owned(),
        contact_entered: body.contact.trim().to_owned(),
        contact_normalized: email,
        role: body.role,
        status: "pending".to_owned(),
        invited_by: user.id.hyphenated().to_string(),
        invited_by_name: user.name.clone(),
        sent_at: now,
        last_sent_at: now,
        expires_at,
        responded_at: None,
        responded_by: None,
        revoked_at: None,
        revoked_by: None,
        delivery: "queued".to_owned(),
        token_digest: digest(&token),
    };

    let mut tx = state.pool.begin_with(sql::BEGIN_WRITE).await?;
    let member: Option<(i32,)> = sqlx::query_as(sql::MEMBER_WITH_EMAIL)
        .bind(enterprise)
        .bind(&row.contact_normalized)
        .fetch_optional(&mut *tx)
        .await?;
    if member.is_some() {
        tx.rollback().await?;
        return Err(Fail::new(StatusCode::CONFLICT, "already_member"));
    }
    let stale: Vec<(Uuid, String)> = sqlx::query_as(sql::EXPIRE_STALE_FOR_CONTACT)
        .bind(&row.enterprise_id)
        .bind(&row.contact_normalized)
        .bind(now)
        .bind(row.id)
        .fetch_all(&mut *tx)
        .await?;
    for (id, enterprise_id) in stale {
        event(&mut tx, id, &enterprise_id, "expired", None, now).await?;
    }
    let inserted = sqlx::query(sql::INSERT_INVITATION)
        .bind(row.id)
        .bind(&row.enterprise_id)
        .bind(&row.contact_kind)
        .bind(&row.contact_entered)
        .bind(&row.contact_normalized)
        .bind(&row.role)
        .bind(&row.status)
        .bind(&row.invited_by)
        .bind(&row.invited_by_name)
        .bind(row.sent_at)
        .bind(row.last_sent_at)
        .bind(row.expires_at)
        .bind(row.responded_at)
        .bind(&row.responded_by)
        .bind(row.revoked_at)
        .bind(&row.revoked_by)
        .bind(&row.delivery)
        .bind(&row.token_digest)
        .execute(&mut *tx)
        .await?;
    if inserted.rows_affected() == 0 {
        tx.rollback().await?;
        return Err(Fail::new(StatusCode::CONFLICT, "duplicate_pending"));
    }
    event(
        &mut tx,
        row.id,
        &row.enterprise_id,
        "sent",
        Some(&row.invited_by),
        now,
    )
    .await?;
    tx.commit().await?;

    // The library hands the link to the notifier, then records the delivery.
    sqlx::query(sql::SET_DELIVERY)
        .bind(row.id)
        .bind("delivered")
        .execute(&state.pool)
        .await?;
    let row = InvitationRow {
        delivery: "delivered".to_owned(),
        ..row
    };
    #[derive(Serialize)]
    struct Sent<'a> {
        #[serde(flatten)]
        invitation: InvitationJson<'a>,
        invite_url: String,
    }
    let sent = Sent {
        invitation: row.json(now)?,
        invite_url: format!("{}/invite?token={token}", state.base_url),
    };
    Ok((StatusCode::CREATED, Json(sent)).into_response())
}

async fn event(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    invitation: Uuid,
    enterprise: &str,
    kind: &str,
    actor: Option<&str>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(sql::INSERT_EVENT)
        .bind(invitation)
        .bind(enterprise)
        .bind(kind)
        .bind(actor)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn list(
    State(state): AppState,
    Path(enterprise): Path<String>,
    headers: HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Answer {
    let Query(params) = params?;
    let user = state.require_user(&headers).await?;
    let enterprise = Uuid::parse_str(&enterprise).map_err(|_| Fail::bad_request())?;
    state.authorize(&user, enterprise).await?;
    let limit = match params.limit.as_deref().filter(|s| !s.is_empty()) {
        None => PAGE.0,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=PAGE.1).contains(n))
            .ok_or_else(Fail::bad_request)?,
    };
    let now = now_micros();
    let mut rows = sqlx::query_as::<_, InvitationRow>(sql::FIRST_PAGE)
        .bind(enterprise.hyphenated().to_string())
        .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
        .fetch_all(&state.pool)
        .await?;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last()
            .map(|last| URL_SAFE_NO_PAD.encode(format!("{}.{}", last.sent_at, last.id)))
    } else {
        None
    };
    #[derive(Serialize)]
    struct Page<'a> {
        items: Vec<InvitationJson<'a>>,
        next_cursor: Option<String>,
    }
    let page = Page {
        items: rows.iter().map(|row| row.json(now)).collect::<Result<_, _>>()?,
        next_cursor,
    };
    Ok(Json(page).into_response())
}

async fn view(
    State(state): AppState,
    headers: HeaderMap,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> Answer {
    let Json(body) = body?;
    let user = state.current_user(&headers).await?;
    #[derive(Serialize)]
    struct Info<'a> {
        enterprise_name: String,
        inviter_name: &'a str,
        role: &'a str,
        contact_masked: String,
        expires_at: DateTime<Utc>,
    }
    #[derive(Serialize)]
    struct View<'a> {
        state: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        invitation: Option<Info<'a>>,
        viewer: &'static str,
    }
    let viewer = |row: Option<&InvitationRow>| match (&user, row) {
        (None, _) => "signed_out",
        (Some(user), Some(row)) if reaches(user, row) => "matching",
        (Some(_), _) => "mismatch",
    };
    let invalid = View {
        state: "invalid_or_expired",
        invitation: None,
        viewer: viewer(None),
    };
    let Some(row) = state.find(&body.token).await? else {
        return Ok(Json(invalid).into_response());
    };
    let Ok(enterprise) = Uuid::parse_str(&row.enterprise_id) else {
        return Ok(Json(invalid).into_response());
    };
    let Some((enterprise_name, _)) = state.enterprise(enterprise).await? else {
        return Ok(Json(invalid).into_response());
    };
    let now = now_micros();
    let shown = match row.status_at(now) {
        "pending" => "invitation_info",
        "accepted" => "accepted",
        "rejected" => "rejected",
        _ => "invalid_or_expired",
    };
    let invitation = if shown == "invitation_info" {
        let (local, domain) = row
            .contact_normalized
            .rsplit_once('@')
            .unwrap_or(("", &row.contact_normalized));
        let first: String = local.chars().take(1).collect();
        Some(Info {
            enterprise_name,
            inviter_name: &row.invited_by_name,
            role: &row.role,
            contact_masked: format!("{first}***@{domain}"),
            expires_at: time(row.expires_at)?,
        })
    } else {
        None
    };
    let view = View {
        state: shown,
        invitation,
        viewer: viewer(Some(&row)),
    };
    Ok(Json(view).into_response())
}

async fn accept(
    State(state): AppState,
    headers: HeaderMap,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> Answer {
    let Json(body) = body?;
    let user = state.require_user(&headers).await?;
    let Some(digest) = token_digest(&body.token) else {
        return Err(Fail::new(StatusCode::GONE, "invalid_or_expired"));
    };
    // One transaction, nothing read before it, as the library decides an answer.
    let by = user.id.hyphenated().to_string();
    let mut tx = state.pool.begin_with(sql::BEGIN_WRITE).await?;
    let now = now_micros();
    let updated = sqlx::query_as::<_, InvitationRow>(sql::ACCEPT)
        .bind(&digest)
        .bind(now)
        .bind(&by)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(accepted) = updated else {
        let current = sqlx::query_as::<_, InvitationRow>(sql::FIND_BY_DIGEST)
            .bind(&digest)
            .fetch_optional(&mut *tx)
            .await?;
        tx.rollback().await?;
        return Err(unchanged(current.as_ref(), now));
    };
    if !reaches(&user, &accepted) {
        tx.rollback().await?;
        return Err(Fail::new(StatusCode::FORBIDDEN, "account_mismatch"));
    }
    let Ok(enterprise) = Uuid::parse_str(&accepted.enterprise_id) else {
        tx.rollback().await?;
        return Err(Fail::new(StatusCode::GONE, "invalid_or_expired"));
    };
    let found: Option<(String, bool)> = sqlx::query_as(sql::ENTERPRISE)
        .bind(enterprise)
        .fetch_optional(&mut *tx)
        .await?;
    let enterprise_name = match found {
        Some((name, true)) if accepted.role != "super_admin" => name,
        other => {
            tx.rollback().await?;
            return Err(match other {
                None => Fail::new(StatusCode::GONE, "invalid_or_expired"),
                Some(_) if accepted.role == "super_admin" => {
                    Fail::new(StatusCode::UNPROCESSABLE_ENTITY, "role_not_assignable")
                }
                Some(_) => Fail::new(StatusCode::FORBIDDEN, "enterprise_not_certified"),
            });
        }
    };
    upsert_user(&mut *tx, &user).await?;
    let added = sqlx::query(sql::INSERT_MEMBER)
        .bind(enterprise)
        .bind(user.id)
        .bind(&accepted.role)
        .execute(&mut *tx)
        .await?;
    if added.rows_affected() == 0 {
        tx.rollback().await?;
        return Err(Fail::new(StatusCode::CONFLICT, "already_member"));
    }
    // The `accepted` event: written by the UPDATE's trigger (the library's migrations).
    tx.commit().await?;
    #[derive(Serialize)]
    struct Accepted<'a> {
        enterprise_id: &'a str,
        enterprise_name: String,
        role: &'a str,
        invitation: InvitationJson<'a>,
    }
    let answer = Accepted {
        enterprise_id: &accepted.enterprise_id,
        enterprise_name,
        role: &accepted.role,
        invitation: accepted.json(now)?,
    };
    Ok(Json(answer).into_response())
}

async fn reject(
    State(state): AppState,
    headers: HeaderMap,
    body: Result<Json<TokenBody>, JsonRejection>,
) -> Answer {
    let Json(body) = body?;
    let user = state.require_user(&headers).await?;
    let Some(digest) = token_digest(&body.token) else {
        return Err(Fail::new(StatusCode::GONE, "invalid_or_expired"));
    };
    let by = user.id.hyphenated().to_string();
    let mut tx = state.pool.begin_with(sql::BEGIN_WRITE).await?;
    let now = now_micros();
    let updated = sqlx::query_as::<_, InvitationRow>(sql::REJECT)
        .bind(&digest)
        .bind(now)
        .bind(&by)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(rejected) = updated else {
        let current = sqlx::query_as::<_, InvitationRow>(sql::FIND_BY_DIGEST)
            .bind(&digest)
            .fetch_optional(&mut *tx)
            .await?;
        tx.rollback().await?;
        return Err(unchanged(current.as_ref(), now));
    };
    if !reaches(&user, &rejected) {
        tx.rollback().await?;
        return Err(Fail::new(StatusCode::FORBIDDEN, "account_mismatch"));
    }
    // The `rejected` event: written by the UPDATE's trigger (the library's migrations).
    tx.commit().await?;
    #[derive(Serialize)]
    struct Rejected<'a> {
        invitation: InvitationJson<'a>,
    }
    Ok(Json(Rejected {
        invitation: rejected.json(now)?,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalize_email("  Load-1@Example.COM ").unwrap(),
            "load-1@example.com"
        );
        for bad in [
            "",
            "bob",
            "@example.com",
            "bob@localhost",
            "b ob@example.com",
            "+14155550100",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; baseline_session=xyz; b=2"));
        assert_eq!(session_id(&headers), Some("xyz"));
    }
}
