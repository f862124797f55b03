//! [`InvitationStore`] for [`SqlStore`]: each method one transaction of the steps.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::{
    Accepted, Answer, Clock, Contact, DeliveryStatus, EnterpriseId, Invitation, InvitationEvent,
    InvitationId, InvitationStatus, InvitationStore, ListQuery, NewInvitation, NewRow, StoreError, Target,
    TokenDigest, UserId,
};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use super::{SqlStore, at, limit, refuse, text};
use crate::backend::{Backend, backend};
use crate::host::HostDirectory;
use crate::row::{ClaimRow, EventRow, InvitationRow, OutboxRow};
use crate::sql;

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
        self.create_one(NewRow {
            invitation: new,
            delivery: None,
        })
        .await
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
