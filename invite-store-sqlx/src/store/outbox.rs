//! [`DeliveryOutbox`] for [`SqlStore`] (rules D1–D4): queued with the invitation, claimed
//! under a lease, finished, pruned.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use invite_core::{
    ClaimedDelivery, DeliveryId, DeliveryOutbox, DeliveryOutcome, DeliveryStatus, EnterpriseId, EventKind,
    Finished, Invitation, InvitationEvent, InvitationId, NewDelivery, NewInvitation, NewRow, OutboxEntry,
    StoreError, UserId,
};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use super::{SqlStore, at, limit, text};
use crate::backend::{Backend, backend};
use crate::host::HostDirectory;
use crate::row::{self, ClaimRow, EventRow, InvitationRow, OutboxRow};
use crate::sql;

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
        self.create_one(NewRow {
            invitation: new,
            delivery: Some(delivery),
        })
        .await
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
