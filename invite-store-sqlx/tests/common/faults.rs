//! Faults at the k-th call inside the store's transactions (rule X7): a
//! [`HostDirectory`] that fails its k-th call — an error, a panic, before or after the
//! host's work, or (PostgreSQL) a connection dropped for real — and the SQL backends of
//! the sweep (`invite_core::testing::faults::sweep`), with raw SQL checks of the
//! invariants on the tables themselves.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::testing::HostFixture;
use invite_core::testing::faults::sweep::{Arena, Cast, FaultBackend, Phase};
use invite_core::testing::faults::{Fault, FaultPlan, InjectedFault, fail_after, fail_before};
use invite_core::{
    Contact, Directory, Enterprise, EnterpriseId, InvitationStore, KeyKinds, Role, User, UserId,
};
use invite_store_sqlx::{Backend, HostDirectory, MemberInsert, SqlStore};

use super::{Case, Raw};

/// What a database can do to the connection of the transaction it is in.
#[async_trait]
pub trait DropConnection: Backend {
    /// Drops `conn` for real, from the server's side, and answers the error the
    /// connection then gives; `None` where that cannot be done.
    async fn drop_connection(conn: &mut Self::Connection) -> Option<sqlx::Error>;
}

#[async_trait]
impl DropConnection for sqlx::Sqlite {
    async fn drop_connection(_conn: &mut Self::Connection) -> Option<sqlx::Error> {
        None
    }
}

/// Connections the server really terminated under [`Fault::DropConnection`].
pub static DROPPED: AtomicUsize = AtomicUsize::new(0);

#[async_trait]
impl DropConnection for sqlx::Postgres {
    async fn drop_connection(conn: &mut Self::Connection) -> Option<sqlx::Error> {
        // The server ends this very backend: whatever the transaction did is gone.
        let killed = sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())")
            .execute(&mut *conn)
            .await;
        match killed {
            // 57P01 admin_shutdown: "terminating connection due to administrator command".
            Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("57P01") => {
                DROPPED.fetch_add(1, Ordering::SeqCst);
                Some(sqlx::Error::Database(err))
            }
            Err(err) => panic!("pg_terminate_backend answered an unexpected error: {err:?}"),
            Ok(_) => panic!("pg_terminate_backend left the connection up"),
        }
    }
}

fn injected(err: InjectedFault) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(err))
}

/// A host directory that delegates to `D` and fails the call its [`FaultPlan`] names,
/// on the connection of the store's transaction: [`Fault::Error`] / [`Fault::Panic`]
/// before the host's work, [`Fault::ErrorAfter`] / [`Fault::PanicAfter`] after it, and
/// [`Fault::DropConnection`] after it by terminating the connection (PostgreSQL; an
/// error after the work elsewhere).
pub struct FaultyHost<D> {
    inner: D,
    plan: Arc<FaultPlan>,
}

impl<D> FaultyHost<D> {
    pub fn new(inner: D, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }

    async fn after<DB: DropConnection>(
        fault: Option<Fault>,
        call: &'static str,
        conn: &mut DB::Connection,
    ) -> Result<(), sqlx::Error> {
        if fault == Some(Fault::DropConnection)
            && let Some(err) = DB::drop_connection(conn).await
        {
            return Err(err);
        }
        fail_after(fault, call).map_err(injected)
    }
}

#[async_trait]
impl<DB, D> HostDirectory<DB> for FaultyHost<D>
where
    DB: DropConnection,
    D: HostDirectory<DB>,
{
    fn key_kinds(&self) -> KeyKinds {
        self.inner.key_kinds()
    }

    fn migrator(&self) -> Option<sqlx::migrate::Migrator> {
        self.inner.migrator()
    }

    async fn enterprise(
        &self,
        conn: &mut DB::Connection,
        id: &EnterpriseId,
    ) -> Result<Option<Enterprise>, sqlx::Error> {
        const CALL: &str = "enterprise";
        let fault = self.plan.on_call(CALL);
        fail_before(fault, CALL).map_err(injected)?;
        let outcome = self.inner.enterprise(&mut *conn, id).await;
        Self::after::<DB>(fault, CALL, conn).await?;
        outcome
    }

    async fn role_of(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        user: &UserId,
    ) -> Result<Option<Role>, sqlx::Error> {
        const CALL: &str = "role_of";
        let fault = self.plan.on_call(CALL);
        fail_before(fault, CALL).map_err(injected)?;
        let outcome = self.inner.role_of(&mut *conn, enterprise, user).await;
        Self::after::<DB>(fault, CALL, conn).await?;
        outcome
    }

    async fn has_member_with(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        contact: &Contact,
    ) -> Result<bool, sqlx::Error> {
        const CALL: &str = "has_member_with";
        let fault = self.plan.on_call(CALL);
        fail_before(fault, CALL).map_err(injected)?;
        let outcome = self.inner.has_member_with(&mut *conn, enterprise, contact).await;
        Self::after::<DB>(fault, CALL, conn).await?;
        outcome
    }

    async fn add_member(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        user: &User,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<MemberInsert, sqlx::Error> {
        const CALL: &str = "add_member";
        let fault = self.plan.on_call(CALL);
        fail_before(fault, CALL).map_err(injected)?;
        let outcome = self
            .inner
            .add_member(&mut *conn, enterprise, user, role, now)
            .await;
        Self::after::<DB>(fault, CALL, conn).await?;
        outcome
    }
}

/// How the membership table of a layout reads in raw SQL, for the invariant checks.
#[derive(Clone, Copy, Debug)]
pub struct Members {
    /// The table (aliased `m` in the checks).
    pub table: &'static str,
    /// SQL that is true when `m`'s enterprise is the one whose canonical text is `$t`.
    pub enterprise_is: &'static str,
    /// SQL that is true when `m`'s user is the one whose canonical text is `$t`.
    pub user_is: &'static str,
    /// The host's name of the super admin role (the seeded members).
    pub owner: &'static str,
}

impl Members {
    /// The self-contained layout on SQLite: UUIDs as 16-byte BLOBs.
    pub const SQLITE_SELF_CONTAINED: Members = Members {
        table: "members",
        enterprise_is: "lower(hex(m.enterprise_id)) = replace($t, '-', '')",
        user_is: "lower(hex(m.user_id)) = replace($t, '-', '')",
        owner: "super_admin",
    };
    /// The self-contained layout on PostgreSQL: `uuid` columns.
    pub const PG_SELF_CONTAINED: Members = Members {
        table: "members",
        enterprise_is: "m.enterprise_id::text = $t",
        user_is: "m.user_id::text = $t",
        owner: "super_admin",
    };
    /// The host-shaped schema on SQLite: integer keys.
    pub const SQLITE_HOST_SHAPED: Members = Members {
        table: "org_memberships",
        enterprise_is: "CAST(m.org_id AS TEXT) = $t",
        user_is: "CAST(m.account_id AS TEXT) = $t",
        owner: "owner",
    };
    /// The host-shaped schema on PostgreSQL: `bigint` keys.
    pub const PG_HOST_SHAPED: Members = Members {
        table: "org_memberships",
        enterprise_is: "m.org_id::text = $t",
        user_is: "m.account_id::text = $t",
        owner: "owner",
    };

    fn enterprise_is(&self, text: &str) -> String {
        self.enterprise_is.replace("$t", text)
    }

    fn user_is(&self, text: &str) -> String {
        self.user_is.replace("$t", text)
    }
}

/// A SQL backend of the sweep: one database for every run of a test (each run has its
/// own enterprise and people), the store over a [`FaultyHost`] of the layout's
/// directory, the host's side to seed it, and raw SQL to check the tables.
pub struct SqlFaults<DB: Backend, D> {
    store: Arc<SqlStore<DB, FaultyHost<D>>>,
    host: Arc<dyn HostFixture>,
    plan: Arc<FaultPlan>,
    raw: Arc<dyn Raw>,
    members: Members,
}

impl<DB: Backend, D: HostDirectory<DB>> SqlFaults<DB, D>
where
    FaultyHost<D>: HostDirectory<DB>,
{
    /// Over `case`'s database, with `directory` (the layout's) behind the fault layer.
    pub fn new<S>(case: Case<S>, pool: sqlx::Pool<DB>, directory: D, members: Members) -> Self {
        let plan = FaultPlan::new();
        let store = SqlStore::new(pool, FaultyHost::new(directory, plan.clone()));
        Self {
            store: Arc::new(store),
            host: case.subject.host,
            plan,
            raw: case.raw,
            members,
        }
    }
}

#[async_trait]
impl<DB, D> FaultBackend for SqlFaults<DB, D>
where
    DB: Backend,
    D: Send + Sync + 'static,
    SqlStore<DB, FaultyHost<D>>: InvitationStore + Directory,
{
    type Store = SqlStore<DB, FaultyHost<D>>;

    async fn arena(&self) -> Arena<Self::Store> {
        Arena {
            store: self.store.clone(),
            host: self.host.clone(),
            host_plan: Some(self.plan.clone()),
        }
    }

    async fn check(&self, _arena: &Arena<Self::Store>, cast: &Cast, phase: Phase) -> Vec<String> {
        let e = format!("'{}'", cast.enterprise.id.key().canonical());
        let m = self.members;
        let mut checks: Vec<(&str, String)> = vec![
            (
                "accepted invitations without their membership (rule A5)",
                format!(
                    "SELECT count(*) FROM invite_rs_invitations i WHERE i.enterprise_id = {e} \
                     AND i.status = 'accepted' AND NOT EXISTS (SELECT 1 FROM {} m WHERE {} AND {})",
                    m.table,
                    m.enterprise_is("i.enterprise_id"),
                    m.user_is("i.responded_by")
                ),
            ),
            (
                "memberships without their accepted invitation (rule A5)",
                format!(
                    "SELECT count(*) FROM {} m WHERE {} AND m.role <> '{}' AND NOT EXISTS \
                     (SELECT 1 FROM invite_rs_invitations i WHERE i.status = 'accepted' AND {} AND {})",
                    m.table,
                    m.enterprise_is(&e),
                    m.owner,
                    m.enterprise_is("i.enterprise_id"),
                    m.user_is("i.responded_by")
                ),
            ),
            (
                "contacts with more than one pending invitation (rule S7)",
                format!(
                    "SELECT count(*) FROM (SELECT contact_normalized FROM invite_rs_invitations \
                     WHERE enterprise_id = {e} AND status = 'pending' GROUP BY contact_normalized \
                     HAVING count(*) > 1) d"
                ),
            ),
            (
                "invitations without exactly one `sent` event (rule X5)",
                format!(
                    "SELECT count(*) FROM invite_rs_invitations i WHERE i.enterprise_id = {e} AND \
                     (SELECT count(*) FROM invite_rs_events e WHERE e.invitation_id = i.id \
                     AND e.kind = 'sent') <> 1"
                ),
            ),
            (
                "accepted, rejected or revoked invitations without exactly one event of it (rule X5)",
                format!(
                    "SELECT count(*) FROM invite_rs_invitations i WHERE i.enterprise_id = {e} \
                     AND i.status IN ('accepted', 'rejected', 'revoked') AND (SELECT count(*) \
                     FROM invite_rs_events e WHERE e.invitation_id = i.id AND e.kind = i.status) <> 1"
                ),
            ),
            (
                "decision events whose change is not there (rule X5)",
                format!(
                    "SELECT count(*) FROM invite_rs_events e JOIN invite_rs_invitations i \
                     ON i.id = e.invitation_id WHERE i.enterprise_id = {e} \
                     AND e.kind IN ('accepted', 'rejected', 'revoked') AND e.kind <> i.status"
                ),
            ),
            (
                "events of invitations that do not exist (rule X5)",
                format!(
                    "SELECT count(*) FROM invite_rs_events e WHERE e.enterprise_id = {e} AND NOT EXISTS \
                     (SELECT 1 FROM invite_rs_invitations i WHERE i.id = e.invitation_id)"
                ),
            ),
            (
                "outbox rows of invitations that do not exist (rule D1)",
                format!(
                    "SELECT count(*) FROM invite_rs_outbox o WHERE o.enterprise_id = {e} AND NOT EXISTS \
                     (SELECT 1 FROM invite_rs_invitations i WHERE i.id = o.invitation_id)"
                ),
            ),
            (
                "pending invitations whose current link has no outbox row (rule D1)",
                format!(
                    "SELECT count(*) FROM invite_rs_invitations i WHERE i.enterprise_id = {e} \
                     AND i.status = 'pending' AND NOT EXISTS (SELECT 1 FROM invite_rs_outbox o \
                     WHERE o.invitation_id = i.id AND o.token_digest = i.token_digest)"
                ),
            ),
        ];
        if phase == Phase::AfterDrain {
            checks.extend([
                (
                    "outbox rows still queued after the drain (rule D1)",
                    format!(
                        "SELECT count(*) FROM invite_rs_outbox WHERE enterprise_id = {e} AND state = 'queued'"
                    ),
                ),
                (
                    "pending invitations neither delivered nor failed after the drain (rule D1)",
                    format!(
                        "SELECT count(*) FROM invite_rs_invitations WHERE enterprise_id = {e} \
                         AND status = 'pending' AND delivery NOT IN ('delivered', 'failed')"
                    ),
                ),
                (
                    "pending invitations whose current link's row did not end as the invitation says (rule D1)",
                    format!(
                        "SELECT count(*) FROM invite_rs_invitations i WHERE i.enterprise_id = {e} \
                         AND i.status = 'pending' AND NOT EXISTS (SELECT 1 FROM invite_rs_outbox o \
                         WHERE o.invitation_id = i.id AND o.token_digest = i.token_digest \
                         AND o.state = i.delivery)"
                    ),
                ),
            ]);
        }
        let mut failures = Vec::new();
        for (what, sql) in checks {
            let n = self.raw.count(&sql).await;
            if n != 0 {
                failures.push(format!("raw SQL: {n} {what}"));
            }
        }
        failures
    }
}

/// Every fault a host directory on this backend can suffer.
pub fn host_faults(postgres: bool) -> Vec<Fault> {
    let mut faults = Fault::STORE.to_vec();
    if postgres {
        faults.push(Fault::DropConnection);
    }
    faults
}
