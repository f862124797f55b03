//! The steps the decisions are made of, on a transaction's connection: locks, events,
//! expiry, reads, the answer's conditional update, the new invitation and its delivery.

use chrono::{DateTime, Utc};
use invite_core::TransitionError;
use invite_core::{
    Accepted, Answer, Contact, EnterpriseId, EventKind, Invitation, InvitationId, InvitationStatus,
    NewDelivery, NewRow, StoreError, Target, TokenDigest, UserId,
};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use super::{Decision, SqlStore, at, host, is_pending_conflict, refuse, text};
use crate::backend::{Backend, backend};
use crate::host::{HostDirectory, MemberInsert};
use crate::row::{self, ClaimRow, EventRow, InvitationRow, OutboxRow};
use crate::sql;

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
    pub(super) async fn lock(
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
    pub(super) async fn lock_enterprise(
        conn: &mut DB::Connection,
        id: &EnterpriseId,
    ) -> Result<(), StoreError> {
        Self::lock(conn, DB::LOCK_ENTERPRISE, Vec::new(), Some(text(id.key()))).await
    }

    /// As [`Self::lock_enterprise`], for the enterprise of the invitation `target`.
    pub(super) async fn lock_enterprise_of(
        conn: &mut DB::Connection,
        target: Target<'_>,
    ) -> Result<(), StoreError> {
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

    pub(super) async fn event_for(
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

    pub(super) async fn event(
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
    pub(super) async fn record_expired(
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
    pub(super) async fn fetch_by_id(
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
    pub(super) async fn fetch_by_digest(
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
    pub(super) async fn why_unchanged(
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
    pub(super) async fn expire_stale(
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
    pub(super) async fn expire_overdue_of(
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
    pub(super) async fn fetch_target(
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
    pub(super) async fn decide(
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
    pub(super) async fn accept_answer(&self, answer: &Answer<'_>) -> Result<Accepted, StoreError> {
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
    pub(super) async fn reject_answer(&self, answer: &Answer<'_>) -> Result<Invitation, StoreError> {
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
    pub(super) async fn insert(
        conn: &mut DB::Connection,
        invitation: &Invitation,
    ) -> Result<bool, StoreError> {
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
    pub(super) async fn enqueue(
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

    /// `create` and `create_queued`: [`Self::create_all`] of the one row. A refused row
    /// has written nothing (see [`Self::create_in`]), so its transaction commits empty.
    pub(super) async fn create_one(&self, row: NewRow) -> Result<Invitation, StoreError> {
        self.create_all(vec![row]).await?.pop().unwrap_or_else(|| {
            Err(StoreError::backend(std::io::Error::other(
                "create_all answered no row for one",
            )))
        })
    }

    /// Decides one new invitation on the transaction's connection, which holds the lock
    /// of its enterprise (rule S7): the inner `Err` is a refusal, which has written
    /// nothing (the member check comes before any write, and a pending invitation that
    /// refuses the insert is unexpired, so the overdue-row update before it changed no
    /// row: the unique index allows one pending row per contact); the outer `Err` a
    /// failure.
    pub(super) async fn create_in(
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
    pub(super) async fn create_all(
        &self,
        rows: Vec<NewRow>,
    ) -> Result<Vec<Result<Invitation, StoreError>>, StoreError> {
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
    pub(super) async fn resend_with(
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
