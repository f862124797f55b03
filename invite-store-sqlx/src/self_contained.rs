//! The self-contained layout (rule H6): the library's own `enterprises`, `users` and
//! `members` tables (UUID keys), for the demo, the quickstart and hosts that have no
//! tables of their own yet. It is one implementation of [`HostDirectory`] among others,
//! with its own migrations (`migrations/self_contained/…`, run by
//! [`SqlStore::migrate`] only for this layout), and the [`Accounts`] API to fill it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::{
    Accounts, Contact, ContactKind, Directory, Enterprise, EnterpriseId, KeyKind, KeyKinds, Member,
    Membership, Role, StoreError, User, UserId,
};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use crate::backend::{Backend, backend};
use crate::host::{HostDirectory, KeyValue, MemberInsert};
use crate::mapping::TableMapping;
use crate::row::{bad, role};
use crate::store::SqlStore;

/// The self-contained layout's directory: `enterprises`, `users`, `members`, keyed by
/// UUIDs, library role names. Accepting also saves the user as given (the layout keeps
/// the accounts it is handed).
#[derive(Clone, Debug)]
pub struct SelfContained {
    tables: TableMapping,
}

impl Default for SelfContained {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfContained {
    /// The layout.
    ///
    /// # Panics
    /// Never: the mapping of the library's own tables is fixed and valid.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let mut builder = TableMapping::builder()
            .keys(KeyKinds::both(KeyKind::Uuid))
            .enterprises("enterprises", "id", "name", "certified")
            .users("users", "id")
            .email_normalized("email_normalized")
            .phone("phone_normalized")
            .memberships("members", "enterprise_id", "user_id", "role");
        for role in Role::ALL {
            builder = builder.role(role, role.as_str());
        }
        Self {
            tables: builder.build().expect("the self-contained mapping is valid"),
        }
    }
}

/// Saves a user as given (insert or update by id).
const UPSERT_USER: &str = "INSERT INTO users \
     (id, name, email, email_normalized, phone, phone_normalized) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, \
     email_normalized = excluded.email_normalized, phone = excluded.phone, \
     phone_normalized = excluded.phone_normalized";

/// The columns of a user, in the order of [`UserRow`].
const USER_COLUMNS: &str = "u.id, u.name, u.email, u.email_normalized, u.phone, u.phone_normalized";

/// Saves an enterprise (insert or update by id).
const UPSERT_ENTERPRISE: &str = "INSERT INTO enterprises (id, name, certified) \
     VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
     certified = excluded.certified";

/// A membership, unless there is one.
const INSERT_MEMBER: &str = "INSERT INTO members (enterprise_id, user_id, role) \
     VALUES ($1, $2, $3) ON CONFLICT (enterprise_id, user_id) DO NOTHING";

/// The UUID of a self-contained key (`None` for another kind: no row has it).
fn uuid(key: &invite_core::Key) -> Option<Uuid> {
    match KeyValue::of(key, KeyKind::Uuid)? {
        KeyValue::Uuid(u) => Some(u),
        _ => None,
    }
}

async fn upsert_user<DB>(conn: &mut DB::Connection, user: &User) -> Result<(), sqlx::Error>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
{
    let id =
        uuid(user.id.key()).ok_or_else(|| sqlx::Error::Protocol("a user key that is not a UUID".into()))?;
    sqlx::query(UPSERT_USER)
        .bind(id)
        .bind(user.name.clone())
        .bind(user.email.as_ref().map(|e| e.entered().to_owned()))
        .bind(user.email.as_ref().map(|e| e.normalized().to_owned()))
        .bind(user.phone.as_ref().map(|p| p.entered().to_owned()))
        .bind(user.phone.as_ref().map(|p| p.normalized().to_owned()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[async_trait]
impl<DB> HostDirectory<DB> for SelfContained
where
    DB: Backend,
    TableMapping: HostDirectory<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
{
    fn key_kinds(&self) -> KeyKinds {
        KeyKinds::both(KeyKind::Uuid)
    }

    fn migrator(&self) -> Option<sqlx::migrate::Migrator> {
        Some(DB::self_contained_migrations())
    }

    async fn enterprise(
        &self,
        conn: &mut DB::Connection,
        id: &EnterpriseId,
    ) -> Result<Option<Enterprise>, sqlx::Error> {
        self.tables.enterprise(conn, id).await
    }

    async fn role_of(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        user: &UserId,
    ) -> Result<Option<Role>, sqlx::Error> {
        self.tables.role_of(conn, enterprise, user).await
    }

    async fn has_member_with(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        contact: &Contact,
    ) -> Result<bool, sqlx::Error> {
        self.tables.has_member_with(conn, enterprise, contact).await
    }

    async fn add_member(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<MemberInsert, sqlx::Error> {
        upsert_user::<DB>(conn, user).await?;
        self.tables.add_member(conn, enterprise, user, role, now).await
    }
}

/// One row of `enterprises`.
#[derive(Debug, sqlx::FromRow)]
pub struct EnterpriseRow {
    id: Uuid,
    name: String,
    certified: bool,
}

impl From<EnterpriseRow> for Enterprise {
    fn from(row: EnterpriseRow) -> Self {
        Enterprise {
            id: EnterpriseId::from(row.id),
            name: row.name,
            certified: row.certified,
        }
    }
}

/// One row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    id: Uuid,
    name: String,
    email: Option<String>,
    email_normalized: Option<String>,
    phone: Option<String>,
    phone_normalized: Option<String>,
}

impl UserRow {
    /// The domain user.
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        let email = match (self.email, self.email_normalized) {
            (Some(entered), Some(normalized)) => {
                match Contact::restore_unchecked(ContactKind::Email, entered, normalized) {
                    Contact::Email(email) => Some(email),
                    Contact::Phone(_) => return Err(bad("email")),
                }
            }
            (None, None) => None,
            _ => return Err(bad("email_normalized")),
        };
        let phone = match (self.phone, self.phone_normalized) {
            (Some(entered), Some(normalized)) => {
                match Contact::restore_unchecked(ContactKind::Phone, entered, normalized) {
                    Contact::Phone(phone) => Some(phone),
                    Contact::Email(_) => return Err(bad("phone")),
                }
            }
            (None, None) => None,
            _ => return Err(bad("phone_normalized")),
        };
        Ok(User {
            id: UserId::from(self.id),
            name: self.name,
            email,
            phone,
        })
    }
}

/// A user and a role (`members` joined with `users`).
#[derive(Debug, sqlx::FromRow)]
pub struct MemberRow {
    #[sqlx(flatten)]
    pub(crate) user: UserRow,
    pub(crate) role: String,
}

/// An enterprise and a role (`members` joined with `enterprises`).
#[derive(Debug, sqlx::FromRow)]
pub struct MembershipRow {
    #[sqlx(flatten)]
    pub(crate) enterprise: EnterpriseRow,
    pub(crate) role: String,
}

#[async_trait]
impl<DB> Accounts for SqlStore<DB, SelfContained>
where
    DB: Backend,
    SelfContained: HostDirectory<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'r> UserRow: FromRow<'r, DB::Row>,
    for<'r> MemberRow: FromRow<'r, DB::Row>,
    for<'r> MembershipRow: FromRow<'r, DB::Row>,
{
    async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let Some(id) = uuid(id.key()) else {
            return Ok(None);
        };
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row = sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn find_user(&self, contact: &Contact) -> Result<Option<User>, StoreError> {
        let column = match contact.kind() {
            ContactKind::Email => "email_normalized",
            ContactKind::Phone => "phone_normalized",
        };
        // The first by id if several accounts share it.
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.{column} = $1 ORDER BY u.id LIMIT 1");
        let row = sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql))
            .bind(contact.normalized().to_owned())
            .fetch_optional(self.pool())
            .await
            .map_err(backend)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn members(&self, enterprise: &EnterpriseId) -> Result<Vec<Member>, StoreError> {
        let Some(id) = uuid(enterprise.key()) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {USER_COLUMNS}, m.role FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.enterprise_id = $1 ORDER BY u.name, u.id"
        );
        let rows = sqlx::query_as::<_, MemberRow>(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(self.pool())
            .await
            .map_err(backend)?;
        rows.into_iter()
            .map(|row| {
                Ok(Member {
                    role: role(&row.role)?,
                    user: row.user.into_user()?,
                })
            })
            .collect()
    }

    async fn memberships(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        let Some(id) = uuid(user.key()) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query_as::<_, MembershipRow>(
            "SELECT e.id, e.name, e.certified, m.role FROM members m \
             JOIN enterprises e ON e.id = m.enterprise_id WHERE m.user_id = $1 ORDER BY e.name, e.id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|row| {
                Ok(Membership {
                    role: role(&row.role)?,
                    enterprise: row.enterprise.into(),
                })
            })
            .collect()
    }

    async fn save_enterprise(&self, enterprise: &Enterprise) -> Result<(), StoreError> {
        let id = uuid(enterprise.id.key()).ok_or_else(|| bad("enterprises.id"))?;
        sqlx::query(UPSERT_ENTERPRISE)
            .bind(id)
            .bind(enterprise.name.clone())
            .bind(enterprise.certified)
            .execute(self.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn save_user(&self, user: &User) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await.map_err(backend)?;
        upsert_user::<DB>(&mut conn, user).await.map_err(backend)
    }

    async fn add_member(
        &self,
        enterprise: &EnterpriseId,
        user: &UserId,
        role: Role,
    ) -> Result<(), StoreError> {
        let (Some(e), Some(u)) = (uuid(enterprise.key()), uuid(user.key())) else {
            return Err(StoreError::NotFound);
        };
        let mut tx = self
            .pool()
            .begin_with(sqlx::AssertSqlSafe(DB::BEGIN_WRITE))
            .await
            .map_err(backend)?;
        if let Some(lock) = DB::LOCK_ENTERPRISE {
            sqlx::query(lock)
                .bind(enterprise.key().canonical().into_owned())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        let added = sqlx::query(INSERT_MEMBER)
            .bind(e)
            .bind(u)
            .bind(role.as_str().to_owned())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if DB::rows_affected(&added) == 0 {
            tx.rollback().await.map_err(backend)?;
            return Err(StoreError::AlreadyMember);
        }
        tx.commit().await.map_err(backend)
    }
}

// The self-contained Directory reads are the generic SqlStore's; keep the trait in scope
// for the docs above.
#[allow(unused_imports)]
use Directory as _;
