//! The records table and what a super admin does from it (rules R1, R2, X3, X5): list,
//! get, revoke, the events of one invitation, and the expiry sweep.

use super::*;

impl Invitations {
    /// One page of the records table, newest first (rule R1).
    ///
    /// # Errors
    /// `forbidden`, `invalid_request` (bad cursor or limit), `internal`.
    pub async fn list(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        request: ListInvitations,
    ) -> Result<Page, InviteError> {
        self.authorize(actor, enterprise_id).await?;
        let limit = request.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if limit == 0 || limit > MAX_PAGE_SIZE {
            return Err(InviteError::InvalidRequest(format!(
                "limit must be between 1 and {MAX_PAGE_SIZE}"
            )));
        }
        let after = request.cursor.as_deref().map(Cursor::decode).transpose()?;
        let query = ListQuery {
            status: request.status,
            limit: limit + 1,
            after,
        };
        // One instant for the filter and for every status the page shows (rules §1).
        let as_of = self.now();
        let mut items = self.store.list(enterprise_id, &query, as_of).await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| Cursor::after(last).encode())
        } else {
            None
        };
        Ok(Page {
            items,
            next_cursor,
            as_of,
        })
    }

    /// One invitation of the enterprise (rule X3: a foreign id is `not_found`).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `internal`.
    pub async fn get(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Invitation, InviteError> {
        self.authorize(actor, enterprise_id).await?;
        self.store
            .get(enterprise_id, id)
            .await?
            .ok_or(InviteError::NotFound)
    }

    /// Revokes a pending invitation; its link stops working at once (rule R2).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `invitation_not_pending`, `internal`.
    pub async fn revoke(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Invitation, InviteError> {
        self.authorize(actor, enterprise_id).await?;
        let invitation = self
            .store
            .revoke(enterprise_id, id, &actor.id, &*self.clock)
            .await?;
        let at = invitation.revoked_at.unwrap_or_else(|| self.now());
        self.publish(&invitation, EventKind::Revoked, Some(&actor.id), at)
            .await;
        Ok(invitation)
    }

    /// The audit trail of one invitation (rule X5).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `internal`.
    pub async fn events(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        id: InvitationId,
    ) -> Result<Vec<InvitationEvent>, InviteError> {
        self.get(actor, enterprise_id, id).await?;
        Ok(self.store.events(enterprise_id, id).await?)
    }

    /// Writes down `expired` for up to `batch` overdue invitations; returns how many.
    ///
    /// # Errors
    /// `internal`.
    pub async fn sweep_expired(&self, batch: usize) -> Result<usize, InviteError> {
        Ok(self.store.sweep_expired(self.now(), batch).await?)
    }
}
