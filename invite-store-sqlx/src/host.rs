//! The host's directory on the library's transaction (rules H1, H2).
//!
//! A host keeps its accounts, organizations and memberships in its own tables. It tells
//! the store how to read and write them by implementing [`HostDirectory`] — or by
//! describing its tables with a [`TableMapping`](crate::TableMapping), which implements it.
//! Every method receives the connection of the transaction the library is in
//! (`&mut DB::Connection`, the sqlx idiom), never the pool: the member check of a send
//! and the membership insert of an accept run in the same transaction as the invitation's
//! conditional update, under the same per-enterprise lock, so the guarantees of rules S7,
//! A5, A6 and A8 hold on the host's own tables.
//!
//! ```ignore
//! #[async_trait::async_trait]
//! impl HostDirectory<sqlx::Postgres> for MyTables {
//!     fn key_kinds(&self) -> KeyKinds { KeyKinds::both(KeyKind::Int) }
//!     async fn has_member_with(&self, conn: &mut PgConnection, org: &EnterpriseId, contact: &Contact)
//!         -> Result<bool, sqlx::Error>
//!     {
//!         sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM org_memberships m JOIN accounts a \
//!             ON a.id = m.account_id WHERE m.org_id = $1 AND lower(a.email) = $2)")
//!             .bind(KeyValue::of(org.key(), KeyKind::Int)).bind(contact.normalized())
//!             .fetch_one(&mut *conn).await
//!     }
//!     // … enterprise, role_of, add_member
//! }
//! ```

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::{Contact, Enterprise, EnterpriseId, Key, KeyKind, KeyKinds, Role, User, UserId};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Encode, Type};
use uuid::Uuid;

/// What inserting a membership did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberInsert {
    /// The membership row was written.
    Added,
    /// The user is a member already (also by a row the host inserted itself meanwhile,
    /// rule H7); nothing was written.
    AlreadyMember,
}

/// The host's directory, read and written on the library's transaction: every method gets
/// the connection of the transaction the library is in, so the member check of a send and
/// the membership insert of an accept commit with the invitation (rules H1, H2).
#[async_trait]
pub trait HostDirectory<DB: Database>: Send + Sync + 'static {
    /// How the host keys organizations and users (rule H3).
    fn key_kinds(&self) -> KeyKinds;

    /// Migrations of the directory's own tables, run by
    /// [`SqlStore::migrate`](crate::SqlStore::migrate) after the library's; `None` (the
    /// default) for a host whose tables are its own business.
    fn migrator(&self) -> Option<sqlx::migrate::Migrator> {
        None
    }

    /// The organization `id` with its name and certified flag, if it exists.
    async fn enterprise(
        &self,
        conn: &mut DB::Connection,
        id: &EnterpriseId,
    ) -> Result<Option<Enterprise>, sqlx::Error>;

    /// The library role of `user` in `enterprise` (rule H4: the host's role name mapped;
    /// a host role with no mapping is `None`).
    async fn role_of(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        user: &UserId,
    ) -> Result<Option<Role>, sqlx::Error>;

    /// Whether a member of `enterprise` (whatever their role) has this contact, compared
    /// in normalized form ([`Contact::normalized`]; rule S7, H7). Should be an index lookup.
    async fn has_member_with(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        contact: &Contact,
    ) -> Result<bool, sqlx::Error>;

    /// Makes `user` a member of `enterprise` with `role` (rule A5, H1), at `now`. Answers
    /// [`MemberInsert::AlreadyMember`] if they are one, also when the host's own unique
    /// key refuses the row because a concurrent insert of the host's won (rule H7).
    async fn add_member(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<MemberInsert, sqlx::Error>;
}

/// A host key as a bind value in the type of the host's column: an integer, a UUID or a
/// string. Build it with [`KeyValue::of`], which converts a key to the column's kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyValue {
    /// An integer column.
    Int(i64),
    /// A UUID column.
    Uuid(Uuid),
    /// A text column.
    Text(String),
}

impl KeyValue {
    /// `key` in a column of `kind`; `None` if it cannot be one (e.g. the text `"abc"` for
    /// an integer column: no row can have it).
    #[must_use]
    pub fn of(key: &Key, kind: KeyKind) -> Option<Self> {
        Some(match key.to_kind(kind)? {
            Key::Int(n) => KeyValue::Int(n),
            Key::Uuid(u) => KeyValue::Uuid(u),
            Key::Text(s) => KeyValue::Text(s.into()),
        })
    }
}

impl<'q, DB: Database> Encode<'q, DB> for KeyValue
where
    i64: Encode<'q, DB> + Type<DB>,
    Uuid: Encode<'q, DB> + Type<DB>,
    String: Encode<'q, DB> + Type<DB>,
{
    fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match self {
            KeyValue::Int(n) => <i64 as Encode<'q, DB>>::encode_by_ref(n, buf),
            KeyValue::Uuid(u) => <Uuid as Encode<'q, DB>>::encode_by_ref(u, buf),
            KeyValue::Text(s) => <String as Encode<'q, DB>>::encode_by_ref(s, buf),
        }
    }

    fn produces(&self) -> Option<DB::TypeInfo> {
        Some(match self {
            KeyValue::Int(_) => <i64 as Type<DB>>::type_info(),
            KeyValue::Uuid(_) => <Uuid as Type<DB>>::type_info(),
            KeyValue::Text(_) => <String as Type<DB>>::type_info(),
        })
    }
}

impl<DB: Database> Type<DB> for KeyValue
where
    String: Type<DB>,
{
    /// The declared type is that of the variant ([`Encode::produces`]); this is only the
    /// fallback sqlx asks for.
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(_ty: &DB::TypeInfo) -> bool {
        true
    }
}
