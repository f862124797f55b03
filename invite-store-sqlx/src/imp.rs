//! The store logic, written once for both backends.
//!
//! [`impl_store!`] implements [`invite_core::InvitationStore`] and
//! [`invite_core::Directory`] for a backend's store type from the SQL in [`crate::sql`]
//! and the row mapping in [`crate::row`]. A backend supplies three things, as inherent
//! methods of its store:
//!
//! - `begin_write(&self)`: a transaction that may write (SQLite: `BEGIN IMMEDIATE`, so the
//!   write lock is taken up front and concurrent writers queue on the busy timeout instead
//!   of failing on an upgrade; PostgreSQL: `BEGIN`);
//! - `lock_enterprise(tx, id)` and `lock_enterprise_of(tx, digest)`: serialize the
//!   decisions that read and write memberships of one enterprise (SQLite: nothing to do,
//!   its write lock is global; PostgreSQL: a transaction-scoped advisory lock), so that a
//!   send cannot slip past an accept of the same contact that commits a moment later.
//!
//! Every decision is a transaction whose refusals roll back, so an error between two
//! steps leaves nothing half made (SPEC X7).

use invite_core::StoreError;

use crate::sql;

/// Whether `err` is the unique index that keeps one pending invitation per contact.
pub(crate) fn is_pending_conflict(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                && (db.constraint() == Some(sql::PENDING_CONTACT_INDEX)
                    || db.message().contains(sql::PENDING_CONTACT_SQLITE_MESSAGE))
        }
        _ => false,
    }
}

/// A backend failure, cause kept as `source()`.
pub(crate) fn backend(err: sqlx::Error) -> StoreError {
    StoreError::backend(err)
}

/// `batch` as an SQL `LIMIT`.
pub(crate) fn limit(batch: usize) -> i64 {
    i64::try_from(batch).unwrap_or(i64::MAX)
}

/// Implements `InvitationStore` and `Directory` for `$store` over database `$db`, whose
/// times are stored as `$time` (see the module docs for what `$store` must provide).
macro_rules! impl_store {
    ($store:ty, $db:ty, $time:ty) => {
        type Tx = ::sqlx::Transaction<'static, $db>;

        fn at(time: ::chrono::DateTime<::chrono::Utc>) -> $time {
            <$time as $crate::row::DbTime>::encode(time)
        }

        impl $store {
            /// Rolls back and answers `err` (a refusal: nothing was changed).
            async fn refuse<T>(
                tx: Tx,
                err: ::invite_core::StoreError,
            ) -> Result<T, ::invite_core::StoreError> {
                tx.rollback().await.map_err($crate::imp::backend)?;
                Err(err)
            }

            async fn event(
                tx: &mut Tx,
                invitation: &::invite_core::Invitation,
                kind: ::invite_core::EventKind,
                actor: Option<::invite_core::UserId>,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<(), ::invite_core::StoreError> {
                Self::event_for(
                    tx,
                    invitation.id.as_uuid(),
                    invitation.enterprise_id.as_uuid(),
                    kind,
                    actor,
                    now,
                )
                .await
            }

            /// Why a conditional update of invitation `id` changed no row: it is not in
            /// `enterprise` (`NotFound`) or not in a status the update allows.
            async fn why_unchanged(
                tx: &mut Tx,
                enterprise: ::invite_core::EnterpriseId,
                id: ::invite_core::InvitationId,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<::invite_core::StoreError, ::invite_core::StoreError> {
                Ok(match Self::fetch_by_id(&mut **tx, enterprise, id).await? {
                    Some(current) => ::invite_core::StoreError::NotPending(current.status_at(now)),
                    None => ::invite_core::StoreError::NotFound,
                })
            }

            /// Writes down `expired`, with its event, for every overdue pending row of
            /// `enterprise` (see [`crate::sql::EXPIRE_OVERDUE_OF_ENTERPRISE`]).
            async fn expire_overdue_of(
                &self,
                enterprise: ::invite_core::EnterpriseId,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<(), ::invite_core::StoreError> {
                let mut tx = self.begin_write().await.map_err($crate::imp::backend)?;
                let expired = ::sqlx::query_as::<_, (::uuid::Uuid, ::uuid::Uuid)>(
                    $crate::sql::EXPIRE_OVERDUE_OF_ENTERPRISE,
                )
                .bind(enterprise.as_uuid())
                .bind(at(now))
                .fetch_all(&mut *tx)
                .await
                .map_err($crate::imp::backend)?;
                Self::record_expired(&mut tx, &expired, now).await?;
                tx.commit().await.map_err($crate::imp::backend)
            }

            /// The `expired` events of rows just written down by one of the three
            /// statements that do it (per contact, per enterprise, the sweep), each of
            /// which returns `(id, enterprise_id)`: one place for what an expiry records.
            async fn record_expired(
                tx: &mut Tx,
                expired: &[(::uuid::Uuid, ::uuid::Uuid)],
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<(), ::invite_core::StoreError> {
                for (id, enterprise) in expired {
                    Self::event_for(
                        tx,
                        *id,
                        *enterprise,
                        ::invite_core::EventKind::Expired,
                        None,
                        now,
                    )
                    .await?;
                }
                Ok(())
            }

            async fn event_for(
                tx: &mut Tx,
                invitation: ::uuid::Uuid,
                enterprise: ::uuid::Uuid,
                kind: ::invite_core::EventKind,
                actor: Option<::invite_core::UserId>,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<(), ::invite_core::StoreError> {
                ::sqlx::query($crate::sql::INSERT_EVENT)
                    .bind(invitation)
                    .bind(enterprise)
                    .bind(kind.as_str())
                    .bind(actor.map(|a| a.as_uuid()))
                    .bind(at(now))
                    .execute(&mut **tx)
                    .await
                    .map_err($crate::imp::backend)?;
                Ok(())
            }

            /// One invitation of one enterprise, through the pool or a transaction.
            async fn fetch_by_id<'e, E>(
                executor: E,
                enterprise: ::invite_core::EnterpriseId,
                id: ::invite_core::InvitationId,
            ) -> Result<Option<::invite_core::Invitation>, ::invite_core::StoreError>
            where
                E: ::sqlx::Executor<'e, Database = $db>,
            {
                let row = ::sqlx::query_as::<_, $crate::row::InvitationRow<$time>>($crate::sql::GET)
                    .bind(enterprise.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(executor)
                    .await
                    .map_err($crate::imp::backend)?;
                $crate::row::invitation(row)
            }

            /// The invitation whose current token has `digest`, through the pool or a
            /// transaction.
            async fn fetch_by_digest<'e, E>(
                executor: E,
                digest: &::invite_core::TokenDigest,
            ) -> Result<Option<::invite_core::Invitation>, ::invite_core::StoreError>
            where
                E: ::sqlx::Executor<'e, Database = $db>,
            {
                let row =
                    ::sqlx::query_as::<_, $crate::row::InvitationRow<$time>>($crate::sql::FIND_BY_DIGEST)
                        .bind(digest.as_bytes().as_slice())
                        .fetch_optional(executor)
                        .await
                        .map_err($crate::imp::backend)?;
                $crate::row::invitation(row)
            }

            async fn has_member_with(
                tx: &mut Tx,
                enterprise: ::invite_core::EnterpriseId,
                contact: &::invite_core::Contact,
            ) -> Result<bool, ::invite_core::StoreError> {
                let found = ::sqlx::query_scalar::<_, ::uuid::Uuid>($crate::sql::MEMBER_WITH_CONTACT)
                    .bind(enterprise.as_uuid())
                    .bind(contact.normalized())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::imp::backend)?;
                Ok(found.is_some())
            }

            /// Writes down `expired` (with events) for the contact's pending rows past
            /// their expiry, except `keep`, so that they never block a pending row.
            async fn expire_stale(
                tx: &mut Tx,
                enterprise: ::invite_core::EnterpriseId,
                contact: &::invite_core::Contact,
                keep: ::invite_core::InvitationId,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<(), ::invite_core::StoreError> {
                let expired = ::sqlx::query_as::<_, (::uuid::Uuid, ::uuid::Uuid)>(
                    $crate::sql::EXPIRE_STALE_FOR_CONTACT,
                )
                .bind(enterprise.as_uuid())
                .bind(contact.normalized())
                .bind(at(now))
                .bind(keep.as_uuid())
                .fetch_all(&mut **tx)
                .await
                .map_err($crate::imp::backend)?;
                Self::record_expired(tx, &expired, now).await
            }

            /// Accept or reject: one conditional UPDATE; when it changes nothing, the
            /// current row says why (SPEC A6).
            async fn answer(
                tx: &mut Tx,
                statement: &'static str,
                digest: &::invite_core::TokenDigest,
                by: ::invite_core::UserId,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<::invite_core::Invitation, ::invite_core::StoreError> {
                let row = ::sqlx::query_as::<_, $crate::row::InvitationRow<$time>>(statement)
                    .bind(digest.as_bytes().as_slice())
                    .bind(at(now))
                    .bind(by.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err($crate::imp::backend)?;
                match row {
                    Some(row) => row.into_invitation(),
                    None => Err(match Self::fetch_by_digest(&mut **tx, digest).await? {
                        Some(current) => current
                            .check_answerable(now)
                            .err()
                            .unwrap_or(::invite_core::StoreError::InvalidOrExpired),
                        None => ::invite_core::StoreError::InvalidOrExpired,
                    }),
                }
            }
        }

        #[::async_trait::async_trait]
        impl ::invite_core::InvitationStore for $store {
            async fn create(
                &self,
                new: ::invite_core::NewInvitation,
            ) -> Result<::invite_core::Invitation, ::invite_core::StoreError> {
                let invitation = new.into_invitation();
                let mut tx = self.begin_write().await.map_err($crate::imp::backend)?;
                Self::lock_enterprise(&mut tx, invitation.enterprise_id).await?;
                if Self::has_member_with(&mut tx, invitation.enterprise_id, &invitation.contact).await? {
                    return Self::refuse(tx, ::invite_core::StoreError::AlreadyMember).await;
                }
                Self::expire_stale(
                    &mut tx,
                    invitation.enterprise_id,
                    &invitation.contact,
                    invitation.id,
                    invitation.sent_at,
                )
                .await?;
                let inserted = ::sqlx::query($crate::sql::INSERT_INVITATION)
                    .bind(invitation.id.as_uuid())
                    .bind(invitation.enterprise_id.as_uuid())
                    .bind(invitation.contact.kind().as_str())
                    .bind(invitation.contact.entered())
                    .bind(invitation.contact.normalized())
                    .bind(invitation.role.as_str())
                    .bind(invitation.status.as_str())
                    .bind(invitation.invited_by.user_id.as_uuid())
                    .bind(invitation.invited_by.name.as_str())
                    .bind(at(invitation.sent_at))
                    .bind(at(invitation.last_sent_at))
                    .bind(at(invitation.expires_at))
                    .bind(invitation.responded_at.map(at))
                    .bind(invitation.responded_by.map(|u| u.as_uuid()))
                    .bind(invitation.revoked_at.map(at))
                    .bind(invitation.revoked_by.map(|u| u.as_uuid()))
                    .bind(invitation.delivery.as_str())
                    .bind(invitation.token_digest.as_bytes().as_slice())
                    .execute(&mut *tx)
                    .await;
                match inserted {
                    Ok(_) => {}
                    Err(err) if $crate::imp::is_pending_conflict(&err) => {
                        return Self::refuse(tx, ::invite_core::StoreError::DuplicatePending).await;
                    }
                    Err(err) => return Err($crate::imp::backend(err)),
                }
                Self::event(
                    &mut tx,
                    &invitation,
                    ::invite_core::EventKind::Sent,
                    Some(invitation.invited_by.user_id),
                    invitation.sent_at,
                )
                .await?;
                tx.commit().await.map_err($crate::imp::backend)?;
                Ok(invitation)
            }

            async fn set_delivery(
                &self,
                id: ::invite_core::InvitationId,
                delivery: ::invite_core::DeliveryStatus,
            ) -> Result<(), ::invite_core::StoreError> {
                let done = ::sqlx::query($crate::sql::SET_DELIVERY)
                    .bind(id.as_uuid())
                    .bind(delivery.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                if done.rows_affected() == 0 {
                    return Err(::invite_core::StoreError::NotFound);
                }
                Ok(())
            }

            async fn get(
                &self,
                enterprise: ::invite_core::EnterpriseId,
                id: ::invite_core::InvitationId,
            ) -> Result<Option<::invite_core::Invitation>, ::invite_core::StoreError> {
                Self::fetch_by_id(&self.pool, enterprise, id).await
            }

            async fn find_by_digest(
                &self,
                digest: &::invite_core::TokenDigest,
            ) -> Result<Option<::invite_core::Invitation>, ::invite_core::StoreError> {
                Self::fetch_by_digest(&self.pool, digest).await
            }

            async fn list(
                &self,
                enterprise: ::invite_core::EnterpriseId,
                query: &::invite_core::ListQuery,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<Vec<::invite_core::Invitation>, ::invite_core::StoreError> {
                if query.status == Some(::invite_core::InvitationStatus::Expired) {
                    self.expire_overdue_of(enterprise, now).await?;
                }
                let list = $crate::sql::list(query.status, query.after.is_some());
                let mut q =
                    ::sqlx::query_as::<_, $crate::row::InvitationRow<$time>>(::sqlx::AssertSqlSafe(list.sql))
                        .bind(enterprise.as_uuid());
                if list.binds_now {
                    q = q.bind(at(now));
                }
                if let Some(cursor) = query.after {
                    q = q.bind(at(cursor.sent_at)).bind(cursor.id.as_uuid());
                }
                let rows = q
                    .bind($crate::imp::limit(query.limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                rows.into_iter()
                    .map($crate::row::InvitationRow::into_invitation)
                    .collect()
            }

            async fn revoke(
                &self,
                enterprise: ::invite_core::EnterpriseId,
                id: ::invite_core::InvitationId,
                by: ::invite_core::UserId,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<::invite_core::Invitation, ::invite_core::StoreError> {
                let mut tx = self.begin_write().await.map_err($crate::imp::backend)?;
                let row = ::sqlx::query_as::<_, $crate::row::InvitationRow<$time>>($crate::sql::REVOKE)
                    .bind(enterprise.as_uuid())
                    .bind(id.as_uuid())
                    .bind(at(now))
                    .bind(by.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err($crate::imp::backend)?;
                let Some(row) = row else {
                    let err = Self::why_unchanged(&mut tx, enterprise, id, now).await?;
                    return Self::refuse(tx, err).await;
                };
                let invitation = row.into_invitation()?;
                Self::event(
                    &mut tx,
                    &invitation,
                    ::invite_core::EventKind::Revoked,
                    Some(by),
                    now,
                )
                .await?;
                tx.commit().await.map_err($crate::imp::backend)?;
                Ok(invitation)
            }

            async fn resend(
                &self,
                enterprise: ::invite_core::EnterpriseId,
                id: ::invite_core::InvitationId,
                by: ::invite_core::UserId,
                digest: ::invite_core::TokenDigest,
                expires_at: ::chrono::DateTime<::chrono::Utc>,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<::invite_core::Invitation, ::invite_core::StoreError> {
                let mut tx = self.begin_write().await.map_err($crate::imp::backend)?;
                Self::lock_enterprise(&mut tx, enterprise).await?;
                let Some(current) = Self::fetch_by_id(&mut *tx, enterprise, id).await? else {
                    return Self::refuse(tx, ::invite_core::StoreError::NotFound).await;
                };
                match current.status_at(now) {
                    ::invite_core::InvitationStatus::Pending | ::invite_core::InvitationStatus::Expired => {}
                    other => return Self::refuse(tx, ::invite_core::StoreError::NotPending(other)).await,
                }
                if Self::has_member_with(&mut tx, enterprise, &current.contact).await? {
                    return Self::refuse(tx, ::invite_core::StoreError::AlreadyMember).await;
                }
                Self::expire_stale(&mut tx, enterprise, &current.contact, id, now).await?;
                let updated = ::sqlx::query_as::<_, $crate::row::InvitationRow<$time>>($crate::sql::RESEND)
                    .bind(enterprise.as_uuid())
                    .bind(id.as_uuid())
                    .bind(digest.as_bytes().as_slice())
                    .bind(at(expires_at))
                    .bind(at(now))
                    .fetch_optional(&mut *tx)
                    .await;
                let row = match updated {
                    Ok(Some(row)) => row,
                    Ok(None) => {
                        // Changed since it was read (a concurrent revoke, accept, reject).
                        let err = Self::why_unchanged(&mut tx, enterprise, id, now).await?;
                        return Self::refuse(tx, err).await;
                    }
                    Err(err) if $crate::imp::is_pending_conflict(&err) => {
                        return Self::refuse(tx, ::invite_core::StoreError::DuplicatePending).await;
                    }
                    Err(err) => return Err($crate::imp::backend(err)),
                };
                let invitation = row.into_invitation()?;
                Self::event(
                    &mut tx,
                    &invitation,
                    ::invite_core::EventKind::Resent,
                    Some(by),
                    now,
                )
                .await?;
                tx.commit().await.map_err($crate::imp::backend)?;
                Ok(invitation)
            }

            async fn accept(
                &self,
                digest: &::invite_core::TokenDigest,
                user: &::invite_core::User,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<::invite_core::Invitation, ::invite_core::StoreError> {
                let mut tx = self.begin_write().await.map_err($crate::imp::backend)?;
                Self::lock_enterprise_of(&mut tx, digest).await?;
                let invitation = match Self::answer(&mut tx, $crate::sql::ACCEPT, digest, user.id, now).await
                {
                    Ok(invitation) => invitation,
                    Err(err) => return Self::refuse(tx, err).await,
                };
                let parts = $crate::row::UserParts::of(user);
                ::sqlx::query($crate::sql::UPSERT_USER)
                    .bind(parts.id)
                    .bind(parts.name)
                    .bind(parts.email)
                    .bind(parts.email_normalized)
                    .bind(parts.phone)
                    .bind(parts.phone_normalized)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::imp::backend)?;
                let added = ::sqlx::query($crate::sql::INSERT_MEMBER)
                    .bind(invitation.enterprise_id.as_uuid())
                    .bind(user.id.as_uuid())
                    .bind(invitation.role.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::imp::backend)?;
                if added.rows_affected() == 0 {
                    // SPEC A8: the invitation stays pending, the role unchanged.
                    return Self::refuse(tx, ::invite_core::StoreError::AlreadyMember).await;
                }
                Self::event(
                    &mut tx,
                    &invitation,
                    ::invite_core::EventKind::Accepted,
                    Some(user.id),
                    now,
                )
                .await?;
                tx.commit().await.map_err($crate::imp::backend)?;
                Ok(invitation)
            }

            async fn reject(
                &self,
                digest: &::invite_core::TokenDigest,
                by: ::invite_core::UserId,
                now: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<::invite_core::Invitation, ::invite_core::StoreError> {
                let mut tx = self.begin_write().await.map_err($crate::imp::backend)?;
                let invitation = match Self::answer(&mut tx, $crate::sql::REJECT, digest, by, now).await {
                    Ok(invitation) => invitation,
                    Err(err) => return Self::refuse(tx, err).await,
                };
                Self::event(
                    &mut tx,
                    &invitation,
                    ::invite_core::EventKind::Rejected,
                    Some(by),
                    now,
                )
                .await?;
                tx.commit().await.map_err($crate::imp::backend)?;
                Ok(invitation)
            }

            async fn sweep_expired(
                &self,
                now: ::chrono::DateTime<::chrono::Utc>,
                batch: usize,
            ) -> Result<usize, ::invite_core::StoreError> {
                if batch == 0 {
                    return Ok(0);
                }
                let mut tx = self.begin_write().await.map_err($crate::imp::backend)?;
                let rows = ::sqlx::query_as::<_, (::uuid::Uuid, ::uuid::Uuid)>($crate::sql::SWEEP)
                    .bind(at(now))
                    .bind($crate::imp::limit(batch))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err($crate::imp::backend)?;
                Self::record_expired(&mut tx, &rows, now).await?;
                tx.commit().await.map_err($crate::imp::backend)?;
                Ok(rows.len())
            }

            async fn events(
                &self,
                enterprise: ::invite_core::EnterpriseId,
                id: ::invite_core::InvitationId,
            ) -> Result<Vec<::invite_core::InvitationEvent>, ::invite_core::StoreError> {
                let rows = ::sqlx::query_as::<_, $crate::row::EventRow<$time>>($crate::sql::EVENTS)
                    .bind(enterprise.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                rows.into_iter()
                    .map($crate::row::EventRow::into_event)
                    .collect()
            }
        }

        #[::async_trait::async_trait]
        impl ::invite_core::Directory for $store {
            async fn enterprise(
                &self,
                id: ::invite_core::EnterpriseId,
            ) -> Result<Option<::invite_core::Enterprise>, ::invite_core::StoreError> {
                let row = ::sqlx::query_as::<_, $crate::row::EnterpriseRow>($crate::sql::ENTERPRISE)
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                Ok(row.map(Into::into))
            }

            async fn role_of(
                &self,
                enterprise: ::invite_core::EnterpriseId,
                user: ::invite_core::UserId,
            ) -> Result<Option<::invite_core::Role>, ::invite_core::StoreError> {
                let role = ::sqlx::query_scalar::<_, String>($crate::sql::ROLE_OF)
                    .bind(enterprise.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                role.as_deref().map($crate::row::role).transpose()
            }

            async fn user(
                &self,
                id: ::invite_core::UserId,
            ) -> Result<Option<::invite_core::User>, ::invite_core::StoreError> {
                let row = ::sqlx::query_as::<_, $crate::row::UserRow>($crate::sql::USER)
                    .bind(id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                row.map($crate::row::UserRow::into_user).transpose()
            }

            async fn find_user(
                &self,
                contact: &::invite_core::Contact,
            ) -> Result<Option<::invite_core::User>, ::invite_core::StoreError> {
                let statement = match contact.kind() {
                    ::invite_core::ContactKind::Email => $crate::sql::USER_BY_EMAIL,
                    ::invite_core::ContactKind::Phone => $crate::sql::USER_BY_PHONE,
                };
                let row = ::sqlx::query_as::<_, $crate::row::UserRow>(statement)
                    .bind(contact.normalized())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                row.map($crate::row::UserRow::into_user).transpose()
            }

            async fn members(
                &self,
                enterprise: ::invite_core::EnterpriseId,
            ) -> Result<Vec<::invite_core::Member>, ::invite_core::StoreError> {
                let rows = ::sqlx::query_as::<_, $crate::row::MemberRow>($crate::sql::MEMBERS)
                    .bind(enterprise.as_uuid())
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                rows.into_iter()
                    .map(|row| {
                        Ok(::invite_core::Member {
                            role: $crate::row::role(&row.role)?,
                            user: row.user.into_user()?,
                        })
                    })
                    .collect()
            }

            async fn memberships(
                &self,
                user: ::invite_core::UserId,
            ) -> Result<Vec<::invite_core::Membership>, ::invite_core::StoreError> {
                let rows = ::sqlx::query_as::<_, $crate::row::MembershipRow>($crate::sql::MEMBERSHIPS)
                    .bind(user.as_uuid())
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                rows.into_iter()
                    .map(|row| {
                        Ok(::invite_core::Membership {
                            role: $crate::row::role(&row.role)?,
                            enterprise: row.enterprise.into(),
                        })
                    })
                    .collect()
            }

            async fn save_enterprise(
                &self,
                enterprise: &::invite_core::Enterprise,
            ) -> Result<(), ::invite_core::StoreError> {
                ::sqlx::query($crate::sql::UPSERT_ENTERPRISE)
                    .bind(enterprise.id.as_uuid())
                    .bind(enterprise.name.as_str())
                    .bind(enterprise.certified)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                Ok(())
            }

            async fn save_user(&self, user: &::invite_core::User) -> Result<(), ::invite_core::StoreError> {
                let parts = $crate::row::UserParts::of(user);
                ::sqlx::query($crate::sql::UPSERT_USER)
                    .bind(parts.id)
                    .bind(parts.name)
                    .bind(parts.email)
                    .bind(parts.email_normalized)
                    .bind(parts.phone)
                    .bind(parts.phone_normalized)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::imp::backend)?;
                Ok(())
            }

            async fn add_member(
                &self,
                enterprise: ::invite_core::EnterpriseId,
                user: ::invite_core::UserId,
                role: ::invite_core::Role,
            ) -> Result<(), ::invite_core::StoreError> {
                let mut tx = self.begin_write().await.map_err($crate::imp::backend)?;
                Self::lock_enterprise(&mut tx, enterprise).await?;
                let added = ::sqlx::query($crate::sql::INSERT_MEMBER)
                    .bind(enterprise.as_uuid())
                    .bind(user.as_uuid())
                    .bind(role.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::imp::backend)?;
                if added.rows_affected() == 0 {
                    return Self::refuse(tx, ::invite_core::StoreError::AlreadyMember).await;
                }
                tx.commit().await.map_err($crate::imp::backend)?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_store;
