//! [`SqlStore`]: the invitation store, written once as generic Rust over a [`Backend`]
//! (SQLite or PostgreSQL) and a [`HostDirectory`] (the host's tables, a
//! [`TableMapping`](crate::TableMapping), or the self-contained layout).
//!
//! Every decision is one transaction whose refusals roll back, so an error between two
//! steps leaves nothing half made (rule X7). The host's member check and membership insert
//! run on that transaction's connection (rule H2).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::TransitionError;
use invite_core::{
    Accepted, Answer, ClaimedDelivery, Clock, Contact, DeliveryId, DeliveryOutbox, DeliveryOutcome,
    DeliveryStatus, Directory, Enterprise, EnterpriseId, EventKind, Finished, Invitation, InvitationEvent,
    InvitationId, InvitationStatus, InvitationStore, KeyKinds, ListQuery, NewDelivery, NewInvitation, NewRow,
    OutboxEntry, Role, StoreError, Target, TokenDigest, UserId,
};
use sqlx::migrate::Migrate;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Pool, Transaction, Type};
use uuid::Uuid;

use crate::backend::{Backend, backend};
use crate::host::{HostDirectory, MemberInsert};
use crate::row::{self, ClaimRow, DbTime, EventRow, InvitationRow, OutboxRow};
use crate::{Error, sql};

/// Invitations and their events in the library's own tables (`invite_rs_*`, rule H5), and
/// the host's directory `D` read and written on the same transactions. Implements
/// [`InvitationStore`] and [`Directory`], as
/// [`Invitations::builder`](invite_core::Invitations::builder) wants.
///
/// Cheap to clone: it holds a connection pool and the directory in an `Arc`.
pub struct SqlStore<DB: Backend, D> {
    pool: Pool<DB>,
    directory: std::sync::Arc<D>,
    kinds: KeyKinds,
}

impl<DB: Backend, D> Clone for SqlStore<DB, D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            directory: self.directory.clone(),
            kinds: self.kinds,
        }
    }
}

impl<DB: Backend, D> std::fmt::Debug for SqlStore<DB, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &DB::NAME)
            .field("keys", &self.kinds)
            .finish_non_exhaustive()
    }
}

impl<DB: Backend, D: HostDirectory<DB>> SqlStore<DB, D> {
    /// A store over the host's `pool` and `directory`. Call [`SqlStore::migrate`] (or run
    /// [`SqlStore::migrator`] in your own pipeline) before use.
    pub fn new(pool: Pool<DB>, directory: D) -> Self {
        let kinds = directory.key_kinds();
        Self {
            pool,
            directory: std::sync::Arc::new(directory),
            kinds,
        }
    }

    /// The pool, e.g. for the host's own queries.
    #[must_use]
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The host's directory.
    #[must_use]
    pub fn directory(&self) -> &D {
        &self.directory
    }

    /// The library's migrations for this backend (`invite_rs_*` tables only), recorded in
    /// their own table `_invite_store_migrations` (rule H5), for hosts that run migrations
    /// in their own pipeline. It ignores versions it does not know in that table, so the
    /// self-contained layout's migrations can share it.
    #[must_use]
    pub fn migrator() -> sqlx::migrate::Migrator {
        let mut migrator = DB::library_migrations();
        migrator.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
        migrator.set_ignore_missing(true);
        migrator
    }

    async fn begin_write(&self) -> Result<Transaction<'static, DB>, StoreError> {
        self.pool
            .begin_with(sqlx::AssertSqlSafe(DB::BEGIN_WRITE))
            .await
            .map_err(backend)
    }
}

impl<DB: Backend, D: HostDirectory<DB>> SqlStore<DB, D>
where
    DB::Connection: Migrate,
{
    /// Creates or updates the library's tables, then those of the directory if it has
    /// any ([`HostDirectory::migrator`]: the self-contained layout does, a host's mapping
    /// does not). Safe to call at every start, also from several processes at once (sqlx
    /// locks the migrations).
    ///
    /// # Errors
    /// [`Error::Migrate`] if a migration fails or the database holds a newer one.
    pub async fn migrate(&self) -> Result<(), Error> {
        Self::migrator().run(&self.pool).await.map_err(Error::Migrate)?;
        if let Some(mut own) = self.directory.migrator() {
            own.dangerous_set_table_name(crate::MIGRATIONS_TABLE);
            own.set_ignore_missing(true);
            own.run(&self.pool).await.map_err(Error::Migrate)?;
        }
        Ok(())
    }
}

/// Rolls back and answers `err` (a refusal: nothing was changed).
async fn refuse<DB: Backend, T>(tx: Transaction<'static, DB>, err: StoreError) -> Result<T, StoreError> {
    tx.rollback().await.map_err(backend)?;
    Err(err)
}

/// A failure of the host's directory, cause kept.
fn host(err: sqlx::Error) -> StoreError {
    StoreError::backend(err)
}

/// Whether `err` is the unique index that keeps one pending invitation per contact.
fn is_pending_conflict(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                && (db.constraint() == Some(sql::PENDING_CONTACT_INDEX)
                    || db.message().contains(sql::PENDING_CONTACT_SQLITE_MESSAGE))
        }
        _ => false,
    }
}

/// Accept or reject: which conditional UPDATE moves the invitation out of `pending`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    Accept,
    Reject,
}

impl Decision {
    /// The conditional UPDATE of this decision on `target`.
    fn statement(self, target: Target<'_>) -> &'static str {
        match (target, self) {
            (Target::Token(_), Decision::Accept) => sql::ACCEPT,
            (Target::Token(_), Decision::Reject) => sql::REJECT,
            (Target::Mine(_), Decision::Accept) => sql::ACCEPT_BY_ID,
            (Target::Mine(_), Decision::Reject) => sql::REJECT_BY_ID,
        }
    }
}

/// `batch` as an SQL `LIMIT`.
fn limit(batch: usize) -> i64 {
    i64::try_from(batch).unwrap_or(i64::MAX)
}

fn text(key: &invite_core::Key) -> String {
    key.canonical().into_owned()
}

fn at<DB: Backend>(time: DateTime<Utc>) -> DB::Time {
    <DB::Time as DbTime>::encode(time)
}

impl<DB, D> SqlStore<DB, D>
where
    DB: Backend,
    D: HostDirectory<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> DB::Time: Encode<'q, DB> + Type<DB>,
    for<'q> Option<DB::Time>: Encode<'q, DB> + Type<DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> InvitationRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> EventRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> ClaimRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> OutboxRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> (Uuid, String): FromRow<'r, DB::Row>,
    for<'r> (Uuid,): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    async fn lock(
        conn: &mut DB::Connection,
        statement: Option<&'static str>,
        arg: Vec<u8>,
        key: Option<String>,
    ) -> Result<(), StoreError> {
        let Some(statement) = statement else {
            return Ok(());
        };
        let query = sqlx::query(statement);
        let query = match key {
            Some(key) => query.bind(key),
            None => query.bind(arg),
        };
        query.execute(&mut *conn).await.map_err(backend)?;
        Ok(())
    }

    /// Serializes the decisions that read and write memberships of one enterprise.
    async fn lock_enterprise(conn: &mut DB::Connection, id: &EnterpriseId) -> Result<(), StoreError> {
        Self::lock(conn, DB::LOCK_ENTERPRISE, Vec::new(), Some(text(id.key()))).await
    }

    /// As [`Self::lock_enterprise`], for the enterprise of the invitation `target`.
    async fn lock_enterprise_of(conn: &mut DB::Connection, target: Target<'_>) -> Result<(), StoreError> {
        match target {
            Target::Token(digest) => {
                Self::lock(conn, DB::LOCK_ENTERPRISE_OF, digest.as_bytes().to_vec(), None).await
            }
            Target::Mine(id) => {
                let Some(statement) = DB::LOCK_ENTERPRISE_OF_ID else {
                    return Ok(());
                };
                sqlx::query(statement)
                    .bind(id.as_uuid())
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                Ok(())
            }
        }
    }

    async fn event_for(
        conn: &mut DB::Connection,
        invitation: Uuid,
        enterprise: String,
        kind: EventKind,
        actor: Option<&UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(sql::INSERT_EVENT)
            .bind(invitation)
            .bind(enterprise)
            .bind(kind.as_str().to_owned())
            .bind(actor.map(|a| text(a.key())))
            .bind(at::<DB>(now))
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn event(
        conn: &mut DB::Connection,
        invitation: &Invitation,
        kind: EventKind,
        actor: Option<&UserId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let enterprise = text(invitation.enterprise_id.key());
        Self::event_for(conn, invitation.id.as_uuid(), enterprise, kind, actor, now).await
    }

    /// The `expired` events of rows just written down by one of the three statements
    /// that do it (per contact, per enterprise, the sweep), each of which returns
    /// `(id, enterprise_id)`: one place for what an expiry records.
    async fn record_expired(
        conn: &mut DB::Connection,
        expired: Vec<(Uuid, String)>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for (id, enterprise) in expired {
            Self::event_for(conn, id, enterprise, EventKind::Expired, None, now).await?;
        }
        Ok(())
    }

    /// One invitation of one enterprise.
    async fn fetch_by_id(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        let row = sqlx::query_as::<_, InvitationRow<DB::Time>>(sql::GET)
            .bind(text(enterprise.key()))
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
        row::invitation(row, self.kinds)
    }

    /// The invitation whose current token has `digest`.
    async fn fetch_by_digest(
        &self,
        conn: &mut DB::Connection,
        digest: &TokenDigest,
    ) -> Result<Option<Invitation>, StoreError> {
        let row = sqlx::query_as::<_, InvitationRow<DB::Time>>(sql::FIND_BY_DIGEST)
            .bind(digest.as_bytes().to_vec())
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
        row::invitation(row, self.kinds)
    }

    /// Why a conditional update of invitation `id` changed no row: it is not in
    /// `enterprise` (`NotFound`) or not in a status the update allows.
    async fn why_unchanged(
        &self,
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        id: InvitationId,
        now: DateTime<Utc>,
    ) -> Result<StoreError, StoreError> {
        Ok(match self.fetch_by_id(conn, enterprise, id).await? {
            Some(current) => StoreError::Transition(TransitionError::NotPending(current.status_at(now))),
            None => StoreError::NotFound,
        })
    }

    /// Writes down `expired` (with events) for the contact's pending rows past their
    /// expiry, except `keep`, so that they never block a pending row.
    async fn expire_stale(
        conn: &mut DB::Connection,
        enterprise: &EnterpriseId,
        contact: &Contact,
        keep: InvitationId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let expired = sqlx::query_as::<_, (Uuid, String)>(sql::EXPIRE_STALE_FOR_CONTACT)
            .bind(text(enterprise.key()))
            .bind(contact.normalized().to_owned())
            .bind(at::<DB>(now))
            .bind(keep.as_uuid())
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
        Self::record_expired(conn, expired, now).await
    }

    /// Writes down `expired`, with its event, for every overdue pending row of
    /// `enterprise` (see [`sql::EXPIRE_OVERDUE_OF_ENTERPRISE`]).
    async fn expire_overdue_of(
        &self,
        enterprise: &EnterpriseId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let expired = sqlx::query_as::<_, (Uuid, String)>(sql::EXPIRE_OVERDUE_OF_ENTERPRISE)
            .bind(text(enterprise.key()))
            .bind(at::<DB>(now))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        Self::record_expired(&mut tx, expired, now).await?;
        tx.commit().await.map_err(backend)
    }

    /// The invitation `target`, whatever its enterprise and addressee.
    async fn fetch_target(
        &self,
        conn: &mut DB::Connection,
        target: Target<'_>,
    ) -> Result<Option<Invitation>, StoreError> {
        match target {
            Target::Token(digest) => self.fetch_by_digest(conn, digest).await,
            Target::Mine(id) => {
                let row = sqlx::query_as::<_, InvitationRow<DB::Time>>(sql::GET_BY_ID)
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(backend)?;
                row::invitation(row, self.kinds)
            }
        }
    }

    /// The conditional UPDATE of `decision` on `answer`'s target, at `now`; when it
    /// changes nothing, the current row says why ([`Answer::unchanged`], rule A6).
    async fn decide(
        &self,
        conn: &mut DB::Connection,
        decision: Decision,
        answer: &Answer<'_>,
        now: DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        let query = sqlx::query_as::<_, InvitationRow<DB::Time>>(decision.statement(answer.target));
        let query = match answer.target {
            Target::Token(digest) => query.bind(digest.as_bytes().to_vec()),
            Target::Mine(id) => query.bind(id.as_uuid()),
        };
        let row = query
            .bind(at::<DB>(now))
            .bind(text(answer.user.id.key()))
            .fetch_optional(&mut *conn)
            .await
            .map_err(backend)?;
        match row {
            Some(row) => row.into_invitation(self.kinds),
            None => {
                let current = self.fetch_target(conn, answer.target).await?;
                Err(answer.unchanged(current.as_ref(), now))
            }
        }
    }

    /// Accept (rule A3–A9, H2, B1): the conditional UPDATE, the host's enterprise read
    /// under the same lock and [`Answer::vet_accept`], the host's membership insert and
    /// the `accepted` event, in one transaction, judged and recorded at an instant read
    /// from the clock once the lock is held (rules §1, "one instant").
    async fn accept_answer(&self, answer: &Answer<'_>) -> Result<Accepted, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_enterprise_of(&mut tx, answer.target).await?;
        let now = answer.clock.now_stored();
        let invitation = match self.decide(&mut tx, Decision::Accept, answer, now).await {
            Ok(invitation) => invitation,
            Err(err) => return refuse(tx, err).await,
        };
        // Rule A9, decided here rather than before the transaction: the host's
        // certified flag is read on the accept's own connection, under its lock.
        let enterprise = self
            .directory
            .enterprise(&mut tx, &invitation.enterprise_id)
            .await
            .map_err(host)?;
        let enterprise = match answer.vet_accept(&invitation, enterprise) {
            Ok(enterprise) => enterprise,
            Err(err) => return refuse(tx, err).await,
        };
        let user = answer.user;
        let added = self
            .directory
            .add_member(&mut tx, &invitation.enterprise_id, user, invitation.role, now)
            .await
            .map_err(host)?;
        if added == MemberInsert::AlreadyMember {
            // Rule A8: the invitation stays pending, the role unchanged.
            return refuse(tx, StoreError::AlreadyMember).await;
        }
        // The `accepted` event: written by the UPDATE (migration `decision_events`).
        tx.commit().await.map_err(backend)?;
        let role = invitation.role;
        Ok(Accepted {
            invitation,
            enterprise,
            role,
        })
    }

    /// Reject (rule A6, A7, B1): the conditional UPDATE, [`Answer::vet_reject`] and the
    /// `rejected` event in one transaction, under the lock the accept takes, at an instant
    /// read once it is held.
    async fn reject_answer(&self, answer: &Answer<'_>) -> Result<Invitation, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_enterprise_of(&mut tx, answer.target).await?;
        let now = answer.clock.now_stored();
        let invitation = match self.decide(&mut tx, Decision::Reject, answer, now).await {
            Ok(invitation) => invitation,
            Err(err) => return refuse(tx, err).await,
        };
        if let Err(err) = answer.vet_reject(&invitation) {
            return refuse(tx, err).await;
        }
        // The `rejected` event: written by the UPDATE (migration `decision_events`).
        tx.commit().await.map_err(backend)?;
        Ok(invitation)
    }

    /// Writes `invitation`; `false` when a pending invitation to its contact exists.
    async fn insert(conn: &mut DB::Connection, invitation: &Invitation) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::INSERT_INVITATION)
            .bind(invitation.id.as_uuid())
            .bind(text(invitation.enterprise_id.key()))
            .bind(invitation.contact.kind().as_str().to_owned())
            .bind(invitation.contact.entered().to_owned())
            .bind(invitation.contact.normalized().to_owned())
            .bind(invitation.role.as_str().to_owned())
            .bind(invitation.status.as_str().to_owned())
            .bind(text(invitation.invited_by.user_id.key()))
            .bind(invitation.invited_by.name.clone())
            .bind(at::<DB>(invitation.sent_at))
            .bind(at::<DB>(invitation.last_sent_at))
            .bind(at::<DB>(invitation.expires_at))
            .bind(invitation.responded_at.map(at::<DB>))
            .bind(invitation.responded_by.as_ref().map(|u| text(u.key())))
            .bind(invitation.revoked_at.map(at::<DB>))
            .bind(invitation.revoked_by.as_ref().map(|u| text(u.key())))
            .bind(invitation.delivery.stored().to_owned())
            .bind(invitation.token_digest.as_bytes().to_vec())
            .bind(i64::from(invitation.delivery_attempts))
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        Ok(DB::rows_affected(&done) == 1)
    }

    /// Queues `delivery` for `invitation` on the transaction's connection (rule D1).
    async fn enqueue(
        conn: &mut DB::Connection,
        invitation: &Invitation,
        delivery: &NewDelivery,
    ) -> Result<(), StoreError> {
        sqlx::query(sql::INSERT_DELIVERY)
            .bind(delivery.id.as_uuid())
            .bind(invitation.id.as_uuid())
            .bind(text(invitation.enterprise_id.key()))
            .bind(delivery.token_digest.as_bytes().to_vec())
            .bind(delivery.sealed_link.as_bytes().to_vec())
            .bind(at::<DB>(delivery.queued_at))
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// `create`, and the delivery request in the same transaction when there is one.
    async fn create_with(
        &self,
        new: NewInvitation,
        delivery: Option<&NewDelivery>,
    ) -> Result<Invitation, StoreError> {
        let invitation = new.into_invitation();
        let mut tx = self.begin_write().await?;
        Self::lock_enterprise(&mut tx, &invitation.enterprise_id).await?;
        if let Err(refusal) = self.create_in(&mut tx, &invitation, delivery).await? {
            return refuse(tx, refusal).await;
        }
        tx.commit().await.map_err(backend)?;
        Ok(invitation)
    }

    /// Decides one new invitation on the transaction's connection, which holds the lock
    /// of its enterprise (rule S7): the inner `Err` is a refusal, which has written
    /// nothing of the row (only the contact's overdue rows are written down `expired`,
    /// which is true whatever happens to the row); the outer `Err` a failure.
    async fn create_in(
        &self,
        conn: &mut DB::Connection,
        invitation: &Invitation,
        delivery: Option<&NewDelivery>,
    ) -> Result<Result<(), StoreError>, StoreError> {
        let member = self
            .directory
            .has_member_with(conn, &invitation.enterprise_id, &invitation.contact)
            .await
            .map_err(host)?;
        if member {
            return Ok(Err(StoreError::AlreadyMember));
        }
        Self::expire_stale(
            conn,
            &invitation.enterprise_id,
            &invitation.contact,
            invitation.id,
            invitation.sent_at,
        )
        .await?;
        if !Self::insert(conn, invitation).await? {
            return Ok(Err(StoreError::DuplicatePending));
        }
        let actor = &invitation.invited_by.user_id;
        Self::event(conn, invitation, EventKind::Sent, Some(actor), invitation.sent_at).await?;
        if let Some(delivery) = delivery {
            // rule D1: the request commits with the invitation, or neither does.
            Self::enqueue(conn, invitation, delivery).await?;
        }
        Ok(Ok(()))
    }

    /// `create_many`: every row in one transaction, under the locks of their enterprises
    /// (taken once, in key order, so two bulk sends never wait on each other in a circle).
    async fn create_all(&self, rows: Vec<NewRow>) -> Result<Vec<Result<Invitation, StoreError>>, StoreError> {
        let mut enterprises: Vec<&EnterpriseId> =
            rows.iter().map(|row| &row.invitation.enterprise_id).collect();
        enterprises.sort_by_key(|id| text(id.key()));
        enterprises.dedup();
        let mut tx = self.begin_write().await?;
        for enterprise in enterprises {
            Self::lock_enterprise(&mut tx, enterprise).await?;
        }
        let mut results = Vec::with_capacity(rows.len());
        for NewRow { invitation, delivery } in rows {
            let invitation = invitation.into_invitation();
            let decided = self.create_in(&mut tx, &invitation, delivery.as_ref()).await?;
            results.push(decided.map(|()| invitation));
        }
        tx.commit().await.map_err(backend)?;
        Ok(results)
    }

    /// `resend`, and (with a delivery) the old links' rows dropped and the new one queued,
    /// in the same transaction.
    #[allow(clippy::too_many_arguments)]
    async fn resend_with(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        digest: TokenDigest,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
        delivery: Option<&NewDelivery>,
    ) -> Result<Invitation, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_enterprise(&mut tx, enterprise).await?;
        let Some(current) = self.fetch_by_id(&mut tx, enterprise, id).await? else {
            return refuse(tx, StoreError::NotFound).await;
        };
        match current.status_at(now) {
            InvitationStatus::Pending | InvitationStatus::Expired => {}
            other => return refuse(tx, StoreError::Transition(TransitionError::NotPending(other))).await,
        }
        let member = self
            .directory
            .has_member_with(&mut tx, enterprise, &current.contact)
            .await
            .map_err(host)?;
        if member {
            return refuse(tx, StoreError::AlreadyMember).await;
        }
        Self::expire_stale(&mut tx, enterprise, &current.contact, id, now).await?;
        let updated = sqlx::query_as::<_, InvitationRow<DB::Time>>(sql::RESEND)
            .bind(text(enterprise.key()))
            .bind(id.as_uuid())
            .bind(digest.as_bytes().to_vec())
            .bind(at::<DB>(expires_at))
            .bind(at::<DB>(now))
            .fetch_optional(&mut *tx)
            .await;
        let row = match updated {
            Ok(Some(row)) => row,
            Ok(None) => {
                // Changed since it was read (a concurrent revoke, accept, reject).
                let err = self.why_unchanged(&mut tx, enterprise, id, now).await?;
                return refuse(tx, err).await;
            }
            Err(err) if is_pending_conflict(&err) => return refuse(tx, StoreError::DuplicatePending).await,
            Err(err) => return Err(backend(err)),
        };
        let invitation = row.into_invitation(self.kinds)?;
        Self::event(&mut tx, &invitation, EventKind::Resent, Some(by), now).await?;
        if let Some(delivery) = delivery {
            // rules D2, D4: the old links will never be delivered; erase them now.
            sqlx::query(sql::DROP_QUEUED_OF_INVITATION)
                .bind(id.as_uuid())
                .bind(at::<DB>(now))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            Self::enqueue(&mut tx, &invitation, delivery).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(invitation)
    }
}

#[async_trait]
impl<DB, D> InvitationStore for SqlStore<DB, D>
where
    DB: Backend,
    D: HostDirectory<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> DB::Time: Encode<'q, DB> + Type<DB>,
    for<'q> Option<DB::Time>: Encode<'q, DB> + Type<DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> InvitationRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> EventRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> ClaimRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> OutboxRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> (Uuid, String): FromRow<'r, DB::Row>,
    for<'r> (Uuid,): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    async fn create(&self, new: NewInvitation) -> Result<Invitation, StoreError> {
        self.create_with(new, None).await
    }

    async fn create_many(
        &self,
        rows: Vec<NewRow>,
    ) -> Result<Vec<Result<Invitation, StoreError>>, StoreError> {
        self.create_all(rows).await
    }

    async fn set_delivery(&self, id: InvitationId, delivery: DeliveryStatus) -> Result<(), StoreError> {
        let attempted = matches!(delivery, DeliveryStatus::Delivered | DeliveryStatus::Failed);
        let done = sqlx::query(sql::SET_DELIVERY)
            .bind(id.as_uuid())
            .bind(delivery.stored().to_owned())
            .bind(i64::from(attempted))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if DB::rows_affected(&done) == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn get(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        self.fetch_by_id(&mut conn, enterprise, id).await
    }

    async fn find_by_digest(&self, digest: &TokenDigest) -> Result<Option<Invitation>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        self.fetch_by_digest(&mut conn, digest).await
    }

    async fn list(
        &self,
        enterprise: &EnterpriseId,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        if query.status == Some(InvitationStatus::Expired) {
            self.expire_overdue_of(enterprise, now).await?;
        }
        let list = sql::list(query.status, query.after.is_some());
        let mut statement =
            sqlx::query_as::<_, InvitationRow<DB::Time>>(sqlx::AssertSqlSafe(list.sql.as_str()))
                .bind(text(enterprise.key()));
        if list.binds_now {
            statement = statement.bind(at::<DB>(now));
        }
        if let Some(cursor) = &query.after {
            statement = statement.bind(at::<DB>(cursor.sent_at)).bind(cursor.id.as_uuid());
        }
        let rows = statement
            .bind(limit(query.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.into_iter()
            .map(|row| row.into_invitation(self.kinds))
            .collect()
    }

    async fn revoke(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        clock: &dyn Clock,
    ) -> Result<Invitation, StoreError> {
        let mut tx = self.begin_write().await?;
        Self::lock_enterprise(&mut tx, enterprise).await?;
        // Read once the lock is held: the instant judged is the instant recorded.
        let now = clock.now_stored();
        let row = sqlx::query_as::<_, InvitationRow<DB::Time>>(sql::REVOKE)
            .bind(text(enterprise.key()))
            .bind(id.as_uuid())
            .bind(at::<DB>(now))
            .bind(text(by.key()))
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            let err = self.why_unchanged(&mut tx, enterprise, id, now).await?;
            return refuse(tx, err).await;
        };
        let invitation = row.into_invitation(self.kinds)?;
        // The `revoked` event: written by the UPDATE (migration `decision_events`).
        tx.commit().await.map_err(backend)?;
        Ok(invitation)
    }

    async fn resend(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        digest: TokenDigest,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Invitation, StoreError> {
        self.resend_with(enterprise, id, by, digest, expires_at, now, None)
            .await
    }

    async fn accept(&self, answer: &Answer<'_>) -> Result<Accepted, StoreError> {
        self.accept_answer(answer).await
    }

    async fn reject(&self, answer: &Answer<'_>) -> Result<Invitation, StoreError> {
        self.reject_answer(answer).await
    }

    async fn find_by_id(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        self.fetch_target(&mut conn, Target::Mine(id)).await
    }

    async fn pending_for(
        &self,
        contacts: &[Contact],
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        let mut found = Vec::new();
        for contact in contacts {
            // One range of the pending-by-contact index per contact (rule B1).
            let rows = sqlx::query_as::<_, InvitationRow<DB::Time>>(sql::PENDING_FOR_CONTACT)
                .bind(contact.normalized().to_owned())
                .bind(at::<DB>(now))
                .fetch_all(&mut *conn)
                .await
                .map_err(backend)?;
            for row in rows {
                found.push(row.into_invitation(self.kinds)?);
            }
        }
        found.sort_by_key(|i| (i.expires_at, i.id));
        found.dedup_by_key(|i| i.id);
        Ok(found)
    }

    async fn sweep_expired(&self, now: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        if batch == 0 {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query_as::<_, (Uuid, String)>(sql::SWEEP)
            .bind(at::<DB>(now))
            .bind(limit(batch))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let count = rows.len();
        Self::record_expired(&mut tx, rows, now).await?;
        tx.commit().await.map_err(backend)?;
        Ok(count)
    }

    async fn events(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Vec<InvitationEvent>, StoreError> {
        let rows = sqlx::query_as::<_, EventRow<DB::Time>>(sql::EVENTS)
            .bind(text(enterprise.key()))
            .bind(id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.into_iter().map(|row| row.into_event(self.kinds)).collect()
    }
}

#[async_trait]
impl<DB, D> DeliveryOutbox for SqlStore<DB, D>
where
    DB: Backend,
    D: HostDirectory<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> DB::Time: Encode<'q, DB> + Type<DB>,
    for<'q> Option<DB::Time>: Encode<'q, DB> + Type<DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> InvitationRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> EventRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> ClaimRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> OutboxRow<DB::Time>: FromRow<'r, DB::Row>,
    for<'r> (Uuid, String): FromRow<'r, DB::Row>,
    for<'r> (Uuid,): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
{
    async fn create_queued(
        &self,
        new: NewInvitation,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError> {
        self.create_with(new, Some(&delivery)).await
    }

    async fn resend_queued(
        &self,
        enterprise: &EnterpriseId,
        id: InvitationId,
        by: &UserId,
        expires_at: DateTime<Utc>,
        delivery: NewDelivery,
    ) -> Result<Invitation, StoreError> {
        let (digest, now) = (delivery.token_digest, delivery.queued_at);
        self.resend_with(enterprise, id, by, digest, expires_at, now, Some(&delivery))
            .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: std::time::Duration,
        batch: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        if batch == 0 {
            return Ok(Vec::new());
        }
        let until = now + chrono::TimeDelta::from_std(lease).map_err(StoreError::backend)?;
        let claim = Uuid::new_v4();
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query_as::<_, ClaimRow<DB::Time>>(DB::CLAIM_DELIVERIES)
            .bind(at::<DB>(now))
            .bind(at::<DB>(until))
            .bind(claim)
            .bind(limit(batch))
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let (invitation_id, _) = row.invitation();
            let invitation = sqlx::query_as::<_, InvitationRow<DB::Time>>(sql::GET_BY_ID)
                .bind(invitation_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            let invitation = row::invitation(invitation, self.kinds)?;
            claimed.push(row.into_claimed(claim, self.kinds, invitation)?);
        }
        tx.commit().await.map_err(backend)?;
        Ok(claimed)
    }

    async fn finish_delivery(
        &self,
        claimed: &ClaimedDelivery,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<Finished, StoreError> {
        let mut tx = self.begin_write().await?;
        // What the row becomes, and what the invitation and its event say (none for a
        // dropped row: the invitation has moved on).
        let (statement, state, error, delivery, kind) = match outcome {
            DeliveryOutcome::Delivered => (
                sql::FINISH_DELIVERY,
                "delivered",
                None,
                DeliveryStatus::Delivered,
                EventKind::Delivered,
            ),
            DeliveryOutcome::Retry { .. } => (
                sql::DEFER_DELIVERY,
                "queued",
                None,
                DeliveryStatus::Retrying,
                EventKind::DeliveryDeferred,
            ),
            DeliveryOutcome::Failed { error } => (
                sql::FINISH_DELIVERY,
                "failed",
                Some(invite_core::outbox::error_kind_name(error)),
                DeliveryStatus::Failed,
                EventKind::DeliveryFailed,
            ),
            DeliveryOutcome::Dropped => (
                sql::FINISH_DELIVERY,
                "dropped",
                None,
                DeliveryStatus::Queued,
                EventKind::Delivered,
            ),
        };
        let query = sqlx::query_scalar::<_, i64>(statement)
            .bind(claimed.id.as_uuid())
            .bind(claimed.claim);
        let query = match outcome {
            DeliveryOutcome::Retry { at: due } => query.bind(at::<DB>(due)),
            _ => query
                .bind(state.to_owned())
                .bind(at::<DB>(now))
                .bind(error.map(str::to_owned)),
        };
        let Some(attempts) = query.fetch_optional(&mut *tx).await.map_err(backend)? else {
            tx.rollback().await.map_err(backend)?;
            return Ok(Finished::LeaseLost);
        };
        if outcome == DeliveryOutcome::Dropped {
            tx.commit().await.map_err(backend)?;
            return Ok(Finished::Recorded(None));
        }
        // The invitation's status is its current link's: only if the link is still this one.
        let changed = sqlx::query_scalar::<_, Uuid>(sql::SET_DELIVERY_OF_LINK)
            .bind(claimed.invitation_id.as_uuid())
            .bind(claimed.token_digest.as_bytes().to_vec())
            .bind(delivery.stored().to_owned())
            .bind(attempts)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let event = match changed {
            Some(_) => {
                let enterprise = text(claimed.enterprise_id.key());
                Self::event_for(
                    &mut tx,
                    claimed.invitation_id.as_uuid(),
                    enterprise,
                    kind,
                    None,
                    now,
                )
                .await?;
                Some(InvitationEvent {
                    invitation_id: claimed.invitation_id,
                    enterprise_id: claimed.enterprise_id.clone(),
                    kind,
                    actor: None,
                    at: now,
                })
            }
            None => None,
        };
        tx.commit().await.map_err(backend)?;
        Ok(Finished::Recorded(event))
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>, batch: usize) -> Result<usize, StoreError> {
        if batch == 0 {
            return Ok(0);
        }
        let done = sqlx::query(sql::PRUNE_DELIVERIES)
            .bind(at::<DB>(before))
            .bind(limit(batch))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(usize::try_from(DB::rows_affected(&done)).unwrap_or(usize::MAX))
    }

    async fn delivery(&self, id: DeliveryId) -> Result<Option<OutboxEntry>, StoreError> {
        let row = sqlx::query_as::<_, OutboxRow<DB::Time>>(sql::GET_DELIVERY)
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|row| row.into_entry(self.kinds)).transpose()
    }
}

#[async_trait]
impl<DB, D> Directory for SqlStore<DB, D>
where
    DB: Backend,
    D: HostDirectory<DB>,
{
    fn key_kinds(&self) -> KeyKinds {
        self.kinds
    }

    async fn enterprise(&self, id: &EnterpriseId) -> Result<Option<Enterprise>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        self.directory.enterprise(&mut conn, id).await.map_err(host)
    }

    async fn role_of(&self, enterprise: &EnterpriseId, user: &UserId) -> Result<Option<Role>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        self.directory
            .role_of(&mut conn, enterprise, user)
            .await
            .map_err(host)
    }
}
