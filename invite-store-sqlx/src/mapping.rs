//! [`TableMapping`]: the host's directory described, not programmed (rules H1, H4, H7).
//!
//! A host whose organizations, accounts and memberships are ordinary tables names them
//! and their columns, maps the library's four roles to its own role names, and says what
//! to put in any other NOT NULL column of its membership table. The mapping builds its SQL
//! once, from identifiers it has validated (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes,
//! optionally `schema.table`) and double-quotes; nothing a mapping holds is spliced raw.
//!
//! ```
//! use invite_core::{KeyKind, KeyKinds, Role};
//! use invite_store_sqlx::{MemberValue, TableMapping};
//!
//! let mapping = TableMapping::builder()
//!     .keys(KeyKinds::both(KeyKind::Int))
//!     .enterprises("organizations", "id", "title", "verified")
//!     .users("accounts", "id")
//!     .email("email")
//!     .phone("phone")
//!     .memberships("org_memberships", "org_id", "account_id", "role")
//!     .role(Role::SuperAdmin, "owner")
//!     .role(Role::FinanceAdmin, "billing")
//!     .role(Role::DevAdmin, "developer")
//!     .role(Role::Member, "member")
//!     .member_value("joined_at", MemberValue::Now)
//!     .build()?;
//! # Ok::<(), invite_store_sqlx::MappingError>(())
//! ```
//!
//! Contacts: the host's email column is compared as `lower(column) = <normalized email>`
//! (give it an index on `lower(email)`), its phone column as `column = <E.164>` (keep
//! phones in E.164, or point [`TableMappingBuilder::phone`] at a column that holds them
//! so). [`TableMappingBuilder::email_normalized`] compares a column that already holds
//! the normalized form exactly. The membership insert is
//! `INSERT … SELECT … WHERE NOT EXISTS (…)`; a unique violation from the host's own key
//! (a concurrent insert of the host's) is `already_member` (rule H7), so give the
//! membership table a unique key on (organization, account).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::{Contact, ContactKind, Enterprise, EnterpriseId, KeyKinds, Role, User, UserId};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use crate::backend::Backend;
use crate::host::{HostDirectory, KeyValue, MemberInsert};

/// A mapping that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// A table or column name that is not a plain SQL identifier.
    #[error("`{0}` is not a valid SQL identifier (letters, digits, `_`; optionally schema.table)")]
    InvalidIdentifier(String),
    /// A part of the mapping was never given.
    #[error("the mapping has no {0}")]
    Missing(&'static str),
    /// A library role has no host role name.
    #[error("the library role `{0}` has no host role name")]
    UnmappedRole(Role),
    /// Two library roles were mapped to one host name for inserting.
    #[error("the host role name `{0}` is mapped to two library roles")]
    AmbiguousRole(String),
}

/// The value of an extra column of the host's membership table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemberValue {
    /// The instant of the accept (a timestamp column).
    Now,
    /// A fixed text.
    Text(String),
    /// A fixed integer.
    Int(i64),
    /// A fixed boolean.
    Bool(bool),
}

/// A validated, quoted identifier.
fn ident(raw: &str) -> Result<String, MappingError> {
    let invalid = || MappingError::InvalidIdentifier(raw.to_owned());
    let parts: Vec<&str> = raw.split('.').collect();
    if parts.len() > 2 {
        return Err(invalid());
    }
    let mut quoted = Vec::with_capacity(parts.len());
    for part in parts {
        let mut chars = part.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || part.len() > 63 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid());
        }
        quoted.push(format!("\"{part}\""));
    }
    Ok(quoted.join("."))
}

#[derive(Clone, Debug)]
struct ContactColumn {
    column: String,
    normalized: bool,
}

/// Builds a [`TableMapping`]; see its docs.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct TableMappingBuilder {
    keys: KeyKinds,
    enterprises: Option<[String; 4]>,
    users: Option<[String; 2]>,
    email: Option<(String, bool)>,
    phone: Option<String>,
    memberships: Option<[String; 4]>,
    roles: Vec<(Role, String)>,
    extra_roles: Vec<(String, Role)>,
    extra: Vec<(String, MemberValue)>,
}

impl TableMappingBuilder {
    /// How the host keys organizations and users (default: UUIDs).
    pub fn keys(mut self, keys: KeyKinds) -> Self {
        self.keys = keys;
        self
    }

    /// The organizations table: its key, display-name and certified (boolean) columns.
    pub fn enterprises(mut self, table: &str, id: &str, name: &str, certified: &str) -> Self {
        self.enterprises = Some([table, id, name, certified].map(str::to_owned));
        self
    }

    /// The accounts table and its key column.
    pub fn users(mut self, table: &str, id: &str) -> Self {
        self.users = Some([table, id].map(str::to_owned));
        self
    }

    /// The accounts' email column, as the host entered it (compared lowercased).
    pub fn email(mut self, column: &str) -> Self {
        self.email = Some((column.to_owned(), false));
        self
    }

    /// The accounts' email column when it holds the normalized form (compared exactly).
    pub fn email_normalized(mut self, column: &str) -> Self {
        self.email = Some((column.to_owned(), true));
        self
    }

    /// The accounts' phone column, holding E.164 numbers (compared exactly).
    pub fn phone(mut self, column: &str) -> Self {
        self.phone = Some(column.to_owned());
        self
    }

    /// The memberships table: its organization-key, account-key and role columns.
    pub fn memberships(mut self, table: &str, enterprise: &str, user: &str, role: &str) -> Self {
        self.memberships = Some([table, enterprise, user, role].map(str::to_owned));
        self
    }

    /// The host's name of a library role (rule H4): read as that role, written for it.
    pub fn role(mut self, role: Role, host_name: &str) -> Self {
        self.roles.push((role, host_name.to_owned()));
        self
    }

    /// Another host role name read as `role` (several host roles may mean one library
    /// role); never written. Host roles mapped to nothing read as no role.
    pub fn also_role(mut self, host_name: &str, role: Role) -> Self {
        self.extra_roles.push((host_name.to_owned(), role));
        self
    }

    /// Fills another NOT NULL column of the membership table on insert.
    pub fn member_value(mut self, column: &str, value: MemberValue) -> Self {
        self.extra.push((column.to_owned(), value));
        self
    }

    /// The mapping, its SQL built from validated, quoted identifiers.
    ///
    /// # Errors
    /// [`MappingError`] for a name that is not an identifier, a missing part, a library
    /// role without a host name, or one host name for two library roles.
    pub fn build(self) -> Result<TableMapping, MappingError> {
        let [e_table, e_id, e_name, e_certified] = self
            .enterprises
            .ok_or(MappingError::Missing("enterprises table"))?
            .map(|s| ident(&s));
        let [u_table, u_id] = self
            .users
            .ok_or(MappingError::Missing("users table"))?
            .map(|s| ident(&s));
        let [m_table, m_enterprise, m_user, m_role] = self
            .memberships
            .ok_or(MappingError::Missing("memberships table"))?
            .map(|s| ident(&s));
        let (e_table, e_id, e_name, e_certified) = (e_table?, e_id?, e_name?, e_certified?);
        let (u_table, u_id) = (u_table?, u_id?);
        let (m_table, m_enterprise, m_user, m_role) = (m_table?, m_enterprise?, m_user?, m_role?);
        let email = self
            .email
            .map(|(c, normalized)| ident(&c).map(|column| ContactColumn { column, normalized }))
            .transpose()?;
        let phone = self
            .phone
            .map(|c| {
                ident(&c).map(|column| ContactColumn {
                    column,
                    normalized: true,
                })
            })
            .transpose()?;

        let mut write_names = Vec::new();
        for role in Role::ALL {
            let name = self
                .roles
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, n)| n.clone())
                .ok_or(MappingError::UnmappedRole(role))?;
            if write_names.iter().any(|(_, n)| *n == name) {
                return Err(MappingError::AmbiguousRole(name));
            }
            write_names.push((role, name));
        }
        let mut read_names: Vec<(String, Role)> = write_names.iter().map(|(r, n)| (n.clone(), *r)).collect();
        read_names.extend(self.extra_roles);

        let mut extra_columns = Vec::new();
        let mut extra_values = Vec::new();
        for (column, value) in self.extra {
            extra_columns.push(ident(&column)?);
            extra_values.push(value);
        }

        let enterprise_sql = format!("SELECT {e_name}, {e_certified} FROM {e_table} WHERE {e_id} = $1");
        let role_sql = format!("SELECT {m_role} FROM {m_table} WHERE {m_enterprise} = $1 AND {m_user} = $2");
        let member_with = |c: &ContactColumn, kind: ContactKind| {
            let column = c.column.clone();
            let lhs = if c.normalized || kind == ContactKind::Phone {
                column
            } else {
                format!("lower({column})")
            };
            // The accounts with the contact first (an index lookup), then the membership
            // by its key: two index lookups whatever the planner knows. As a join, SQLite
            // without statistics walked every member of the enterprise (issue #11: 4.5 ms
            // per send into an enterprise of 10k members).
            format!(
                "SELECT 1 FROM {m_table} WHERE {m_enterprise} = $1 AND {m_user} IN \
                 (SELECT {u_id} FROM {u_table} WHERE {lhs} = $2) LIMIT 1"
            )
        };
        let member_with_email = email.as_ref().map(|c| member_with(c, ContactKind::Email));
        let member_with_phone = phone.as_ref().map(|c| member_with(c, ContactKind::Phone));
        let mut columns = vec![m_enterprise.clone(), m_user.clone(), m_role.clone()];
        columns.extend(extra_columns);
        let placeholders: Vec<String> = (1..=columns.len()).map(|n| format!("${n}")).collect();
        let insert_sql = format!(
            "INSERT INTO {m_table} ({}) SELECT {} WHERE NOT EXISTS \
             (SELECT 1 FROM {m_table} WHERE {m_enterprise} = $1 AND {m_user} = $2)",
            columns.join(", "),
            placeholders.join(", ")
        );
        Ok(TableMapping {
            keys: self.keys,
            enterprise_sql,
            role_sql,
            member_with_email,
            member_with_phone,
            insert_sql,
            extra_values,
            write_names,
            read_names,
        })
    }
}

/// The host's directory as a description of its tables; implements [`HostDirectory`] on
/// SQLite and PostgreSQL. Build one with [`TableMapping::builder`].
#[derive(Clone, Debug)]
pub struct TableMapping {
    keys: KeyKinds,
    enterprise_sql: String,
    role_sql: String,
    member_with_email: Option<String>,
    member_with_phone: Option<String>,
    insert_sql: String,
    extra_values: Vec<MemberValue>,
    write_names: Vec<(Role, String)>,
    read_names: Vec<(String, Role)>,
}

impl TableMapping {
    /// Starts a mapping.
    pub fn builder() -> TableMappingBuilder {
        TableMappingBuilder::default()
    }

    /// The library role a host role name stands for, if any (rule H4).
    #[must_use]
    pub fn library_role(&self, host_name: &str) -> Option<Role> {
        self.read_names
            .iter()
            .find(|(n, _)| n == host_name)
            .map(|(_, r)| *r)
    }

    /// The host's name for a library role (rule H4).
    #[must_use]
    pub fn host_role(&self, role: Role) -> &str {
        self.write_names
            .iter()
            .find(|(r, _)| *r == role)
            .map_or("", |(_, n)| n.as_str())
    }

    fn enterprise_key(&self, id: &EnterpriseId) -> Option<KeyValue> {
        KeyValue::of(id.key(), self.keys.enterprise)
    }

    fn user_key(&self, id: &UserId) -> Option<KeyValue> {
        KeyValue::of(id.key(), self.keys.user)
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[async_trait]
impl<DB> HostDirectory<DB> for TableMapping
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    for<'r> (String, bool): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> (i32,): FromRow<'r, DB::Row>,
{
    fn key_kinds(&self) -> KeyKinds {
        self.keys
    }

    async fn enterprise(
        &self,
        conn: &mut DB::Connection,
        id: &EnterpriseId,
    ) -> Result<Option<Enterprise>, sqlx::Error> {
        let Some(key) = self.enterprise_key(id) else {
            return Ok(None);
        };
        let row: Option<(String, bool)> = sqlx::query_as(sqlx::AssertSqlSafe(self.enterprise_sql.as_str()))
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row.map(|(name, certified)| Enterprise {
            id: id.clone(),
            name,
            certified,
        }))
    }

    async fn role_of(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        user: &UserId,
    ) -> Result<Option<Role>, sqlx::Error> {
        let (Some(e), Some(u)) = (self.enterprise_key(enterprise), self.user_key(user)) else {
            return Ok(None);
        };
        let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(self.role_sql.as_str()))
            .bind(e)
            .bind(u)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row.and_then(|(name,)| self.library_role(&name)))
    }

    async fn has_member_with(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        contact: &Contact,
    ) -> Result<bool, sqlx::Error> {
        let sql = match contact.kind() {
            ContactKind::Email => self.member_with_email.as_deref(),
            ContactKind::Phone => self.member_with_phone.as_deref(),
        };
        let (Some(sql), Some(e)) = (sql, self.enterprise_key(enterprise)) else {
            return Ok(false);
        };
        let row: Option<(i32,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(e)
            .bind(contact.normalized().to_owned())
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row.is_some())
    }

    async fn add_member(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<MemberInsert, sqlx::Error> {
        let (Some(e), Some(u)) = (self.enterprise_key(enterprise), self.user_key(&user.id)) else {
            return Err(sqlx::Error::Protocol(format!(
                "a key that is not of the host's kind ({:?}) cannot become a member",
                self.keys
            )));
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(self.insert_sql.as_str()))
            .bind(e)
            .bind(u)
            .bind(self.host_role(role).to_owned());
        for value in &self.extra_values {
            query = match value {
                MemberValue::Now => query.bind(now),
                MemberValue::Text(s) => query.bind(s.clone()),
                MemberValue::Int(n) => query.bind(*n),
                MemberValue::Bool(b) => query.bind(*b),
            };
        }
        match query.execute(&mut *conn).await {
            Ok(done) if DB::rows_affected(&done) > 0 => Ok(MemberInsert::Added),
            Ok(_) => Ok(MemberInsert::AlreadyMember),
            Err(err) if is_unique_violation(&err) => Ok(MemberInsert::AlreadyMember),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The database-free half of the mapping: identifier validation, the SQL it builds and
    //! the role names (rules H1, H4, H7). The SQL runs in the SQLite and PostgreSQL suites.
    use invite_core::KeyKind;

    use super::*;

    /// The mapping of the module docs, every part given.
    fn full() -> TableMappingBuilder {
        TableMapping::builder()
            .keys(KeyKinds {
                enterprise: KeyKind::Int,
                user: KeyKind::Text,
            })
            .enterprises("app.organizations", "id", "title", "verified")
            .users("accounts", "account_id")
            .email("email")
            .phone("phone_e164")
            .memberships("org_memberships", "org_id", "account_id", "role")
            .role(Role::SuperAdmin, "owner")
            .role(Role::FinanceAdmin, "billing")
            .role(Role::DevAdmin, "developer")
            .role(Role::Member, "member")
            .also_role("viewer", Role::Member)
            .member_value("joined_at", MemberValue::Now)
            .member_value("source", MemberValue::Text("invite".to_owned()))
    }

    #[test]
    fn identifiers_are_plain_names_optionally_schema_qualified_and_quoted() {
        // Nothing a mapping holds is spliced raw (rule H1).
        assert_eq!(ident("organizations"), Ok("\"organizations\"".to_owned()));
        assert_eq!(ident("_x9"), Ok("\"_x9\"".to_owned()));
        assert_eq!(ident("Org_2"), Ok("\"Org_2\"".to_owned()));
        assert_eq!(ident("app.members"), Ok("\"app\".\"members\"".to_owned()));
        let longest = format!("a{}", "b".repeat(62));
        assert_eq!(ident(&longest), Ok(format!("\"{longest}\"")));
        for bad in [
            "",
            "1abc",
            "a-b",
            "-ab",
            "a b",
            "a\"b",
            "a;drop",
            "é",
            "a.b.c",
            ".a",
            "a.",
            "a..b",
            &format!("a{}", "b".repeat(63)),
            &format!("app.a{}", "b".repeat(63)),
        ] {
            assert_eq!(
                ident(bad),
                Err(MappingError::InvalidIdentifier(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_sql_is_built_from_the_quoted_names() {
        // rules H1, H4: the host's tables, described
        let m = full().build().unwrap();
        assert_eq!(
            m.enterprise_sql,
            "SELECT \"title\", \"verified\" FROM \"app\".\"organizations\" WHERE \"id\" = $1"
        );
        assert_eq!(
            m.role_sql,
            "SELECT \"role\" FROM \"org_memberships\" WHERE \"org_id\" = $1 AND \"account_id\" = $2"
        );
        // An email column as the host entered it is compared lowercased; a phone exactly.
        assert_eq!(
            m.member_with_email.as_deref(),
            Some(
                "SELECT 1 FROM \"org_memberships\" WHERE \"org_id\" = $1 AND \"account_id\" IN \
                 (SELECT \"account_id\" FROM \"accounts\" WHERE lower(\"email\") = $2) LIMIT 1"
            )
        );
        assert_eq!(
            m.member_with_phone.as_deref(),
            Some(
                "SELECT 1 FROM \"org_memberships\" WHERE \"org_id\" = $1 AND \"account_id\" IN \
                 (SELECT \"account_id\" FROM \"accounts\" WHERE \"phone_e164\" = $2) LIMIT 1"
            )
        );
        // Extra NOT NULL columns follow the three of the library, in order (rule H7).
        assert_eq!(
            m.insert_sql,
            "INSERT INTO \"org_memberships\" (\"org_id\", \"account_id\", \"role\", \"joined_at\", \"source\") \
             SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS \
             (SELECT 1 FROM \"org_memberships\" WHERE \"org_id\" = $1 AND \"account_id\" = $2)"
        );
        assert_eq!(
            m.extra_values,
            [MemberValue::Now, MemberValue::Text("invite".to_owned())]
        );
        assert_eq!(
            m.keys,
            KeyKinds {
                enterprise: KeyKind::Int,
                user: KeyKind::Text
            }
        );
        assert_eq!(
            <TableMapping as HostDirectory<sqlx::Sqlite>>::key_kinds(&m),
            m.keys
        );
    }

    #[test]
    fn a_normalized_email_column_is_compared_exactly_and_contacts_are_optional() {
        // rule H1: `email_normalized` for a column that already holds the normalized form
        let m = full().email_normalized("email_norm").build().unwrap();
        assert_eq!(
            m.member_with_email.as_deref(),
            Some(
                "SELECT 1 FROM \"org_memberships\" WHERE \"org_id\" = $1 AND \"account_id\" IN \
                 (SELECT \"account_id\" FROM \"accounts\" WHERE \"email_norm\" = $2) LIMIT 1"
            )
        );
        let mut no_contacts = full();
        no_contacts.email = None;
        no_contacts.phone = None;
        no_contacts.extra.clear();
        let m = no_contacts.build().unwrap();
        assert_eq!(m.member_with_email, None);
        assert_eq!(m.member_with_phone, None);
        assert!(m.insert_sql.starts_with(
            "INSERT INTO \"org_memberships\" (\"org_id\", \"account_id\", \"role\") SELECT $1, $2, $3 WHERE"
        ));
        assert!(m.extra_values.is_empty());
    }

    #[test]
    fn host_role_names_map_both_ways() {
        // rule H4: each library role has one host name to write; more host names may read
        // as a library role; unknown names read as no role
        let m = full().build().unwrap();
        assert_eq!(m.host_role(Role::SuperAdmin), "owner");
        assert_eq!(m.host_role(Role::FinanceAdmin), "billing");
        assert_eq!(m.host_role(Role::DevAdmin), "developer");
        assert_eq!(m.host_role(Role::Member), "member");
        assert_eq!(m.library_role("owner"), Some(Role::SuperAdmin));
        assert_eq!(m.library_role("billing"), Some(Role::FinanceAdmin));
        assert_eq!(m.library_role("developer"), Some(Role::DevAdmin));
        assert_eq!(m.library_role("member"), Some(Role::Member));
        assert_eq!(m.library_role("viewer"), Some(Role::Member));
        assert_eq!(m.library_role("Owner"), None);
        assert_eq!(m.library_role("guest"), None);
    }

    #[test]
    fn host_keys_are_bound_in_the_columns_kind() {
        // rule H3: an id that cannot be of the column's kind matches no row
        let m = full().build().unwrap();
        assert_eq!(
            m.enterprise_key(&EnterpriseId::from("42")),
            Some(KeyValue::Int(42))
        );
        assert_eq!(m.enterprise_key(&EnterpriseId::from("acme")), None);
        assert_eq!(m.user_key(&UserId::from(7)), Some(KeyValue::Text("7".to_owned())));
    }

    #[test]
    fn an_incomplete_or_unsafe_mapping_is_refused() {
        let mut b = full();
        b.enterprises = None;
        assert_eq!(b.build().unwrap_err(), MappingError::Missing("enterprises table"));
        let mut b = full();
        b.users = None;
        assert_eq!(b.build().unwrap_err(), MappingError::Missing("users table"));
        let mut b = full();
        b.memberships = None;
        assert_eq!(b.build().unwrap_err(), MappingError::Missing("memberships table"));
        // Every library role needs a host name (rule H4).
        let mut b = full();
        b.roles.retain(|(r, _)| *r != Role::DevAdmin);
        assert_eq!(b.build().unwrap_err(), MappingError::UnmappedRole(Role::DevAdmin));
        // One host name cannot be written for two library roles.
        let b = full().role(Role::Member, "billing");
        let mut b2 = b.clone();
        b2.roles.retain(|(r, n)| !(*r == Role::Member && n == "member"));
        assert_eq!(
            b2.build().unwrap_err(),
            MappingError::AmbiguousRole("billing".to_owned())
        );
        // The first name given for a role is the one written.
        assert_eq!(b.build().unwrap().host_role(Role::Member), "member");
        // Every name is checked, wherever it stands.
        let bad = "x; DROP TABLE t";
        let invalid = || MappingError::InvalidIdentifier(bad.to_owned());
        assert_eq!(
            full().enterprises("o", "id", bad, "c").build().unwrap_err(),
            invalid()
        );
        assert_eq!(full().users("u", bad).build().unwrap_err(), invalid());
        assert_eq!(full().email(bad).build().unwrap_err(), invalid());
        assert_eq!(full().phone(bad).build().unwrap_err(), invalid());
        assert_eq!(
            full().memberships("m", "e", "u", bad).build().unwrap_err(),
            invalid()
        );
        assert_eq!(
            full().member_value(bad, MemberValue::Int(1)).build().unwrap_err(),
            invalid()
        );
    }

    #[test]
    fn each_builder_step_is_kept() {
        // Each setter changes only its own part.
        let m = full()
            .member_value("n", MemberValue::Int(3))
            .member_value("b", MemberValue::Bool(true));
        assert_eq!(
            m.clone().build().unwrap().extra_values,
            [
                MemberValue::Now,
                MemberValue::Text("invite".to_owned()),
                MemberValue::Int(3),
                MemberValue::Bool(true)
            ]
        );
        let b = TableMapping::builder();
        assert_eq!(b.keys, KeyKinds::default());
        assert!(b.enterprises.is_none() && b.users.is_none() && b.memberships.is_none());
    }
}
