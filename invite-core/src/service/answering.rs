//! The invitee's side (rules A1–A9, B1): the invitee page's model, accept and reject by
//! token, and the signed-in user's own invitations answered by id.

use super::*;

impl Invitations {
    /// The invitee page's model (rule A1–A4). Changes nothing (rule A9), so a mail scanner
    /// that opens the link cannot use it up.
    ///
    /// # Errors
    /// `internal` only: an unknown token is a state, not an error.
    pub async fn view(&self, token: &str, viewer: Option<&User>) -> Result<InvitationView, InviteError> {
        let Some(invitation) = self.find(token).await? else {
            return Ok(InvitationView::invalid(viewer));
        };
        let Some(enterprise) = self.directory.enterprise(&invitation.enterprise_id).await? else {
            return Ok(InvitationView::invalid(viewer));
        };
        Ok(InvitationView::of(&invitation, &enterprise, viewer, self.now()))
    }

    /// Accepts an invitation for the signed-in `user` (rule A3–A9): the user becomes a
    /// member with the invited role, atomically with the invitation turning `accepted`.
    ///
    /// # Errors
    /// `invalid_or_expired`, `already_accepted`, `already_rejected`, `account_mismatch`,
    /// `enterprise_not_certified`, `role_not_assignable`, `already_member`, `internal`.
    pub async fn accept(&self, token: &str, user: &User) -> Result<Accepted, InviteError> {
        let invitation = self.answerable(token, user, self.now()).await?;
        let enterprise = self.recheck(&invitation).await?;
        let accepted = self
            .store
            .accept(&invitation.token_digest, user, &*self.clock)
            .await?;
        self.accepted(accepted, enterprise, user).await
    }

    /// Rejects an invitation for the signed-in `user` (rule A7); no membership is made.
    ///
    /// # Errors
    /// `invalid_or_expired`, `already_accepted`, `already_rejected`, `account_mismatch`,
    /// `internal`.
    pub async fn reject(&self, token: &str, user: &User) -> Result<Invitation, InviteError> {
        let invitation = self.answerable(token, user, self.now()).await?;
        let rejected = self
            .store
            .reject(&invitation.token_digest, &user.id, &*self.clock)
            .await?;
        self.rejected(rejected, user).await
    }

    /// The signed-in user's own invitations (rule B1): pending and unexpired, addressed to
    /// the user's verified email or phone ([`User::verified_contacts`]), across
    /// enterprises, soonest expiry first. An invitation whose enterprise the directory no
    /// longer knows is left out.
    ///
    /// # Errors
    /// `internal`.
    pub async fn mine(&self, user: &User) -> Result<Vec<MyInvitation>, InviteError> {
        let contacts = user.verified_contacts();
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let pending = self.store.pending_for(&contacts, self.now()).await?;
        let mut names: Vec<(EnterpriseId, Option<String>)> = Vec::new();
        let mut mine = Vec::with_capacity(pending.len());
        for invitation in pending {
            let known = names.iter().find(|(id, _)| *id == invitation.enterprise_id);
            let name = match known {
                Some((_, name)) => name.clone(),
                None => {
                    let name = self
                        .directory
                        .enterprise(&invitation.enterprise_id)
                        .await?
                        .map(|e| e.name);
                    names.push((invitation.enterprise_id.clone(), name.clone()));
                    name
                }
            };
            let Some(enterprise_name) = name else {
                continue;
            };
            mine.push(MyInvitation {
                id: invitation.id,
                enterprise_id: invitation.enterprise_id,
                enterprise_name,
                inviter_name: invitation.invited_by.name,
                role: invitation.role,
                expires_at: invitation.expires_at,
            });
        }
        Ok(mine)
    }

    /// Accepts the user's own invitation `id` without its token (rule B1): every rule of
    /// [`Invitations::accept`] (rule A5–A9, H2) and the same refusals, except that an id
    /// not addressed to one of the user's verified contacts is `not_found`, exactly like
    /// an id that does not exist.
    ///
    /// # Errors
    /// `not_found`, `invalid_or_expired`, `already_accepted`, `already_rejected`,
    /// `enterprise_not_certified`, `role_not_assignable`, `already_member`, `internal`.
    pub async fn accept_mine(&self, user: &User, id: InvitationId) -> Result<Accepted, InviteError> {
        let invitation = self.answerable_mine(user, id, self.now()).await?;
        let enterprise = self.recheck(&invitation).await?;
        let accepted = self.store.accept_by_id(id, user, &*self.clock).await?;
        self.accepted(accepted, enterprise, user).await
    }

    /// Rejects the user's own invitation `id` without its token (rule B1, rule A7); an id
    /// not addressed to the user is `not_found`.
    ///
    /// # Errors
    /// `not_found`, `invalid_or_expired`, `already_accepted`, `already_rejected`,
    /// `internal`.
    pub async fn reject_mine(&self, user: &User, id: InvitationId) -> Result<Invitation, InviteError> {
        self.answerable_mine(user, id, self.now()).await?;
        let rejected = self.store.reject_by_id(id, &user.id, &*self.clock).await?;
        self.rejected(rejected, user).await
    }

    /// rule A9: the role is still one the service assigns (its own settings), and the
    /// enterprise for the answer. Whether the enterprise is still certified is the store's
    /// to decide, inside the accept's transaction (`StoreError::EnterpriseNotCertified`).
    async fn recheck(&self, invitation: &Invitation) -> Result<Enterprise, InviteError> {
        let enterprise = self
            .directory
            .enterprise(&invitation.enterprise_id)
            .await?
            .ok_or(InviteError::InvalidOrExpired)?;
        self.config.roles.check(invitation.role)?;
        Ok(enterprise)
    }

    /// Publishes an accept, at the instant the store decided and recorded it, and makes
    /// its answer.
    async fn accepted(
        &self,
        accepted: Invitation,
        enterprise: Enterprise,
        user: &User,
    ) -> Result<Accepted, InviteError> {
        let at = accepted.responded_at.unwrap_or_else(|| self.now());
        self.publish(&accepted, EventKind::Accepted, Some(&user.id), at)
            .await;
        let role = accepted.role;
        Ok(Accepted {
            invitation: accepted,
            enterprise,
            role,
        })
    }

    /// Publishes a reject at the instant the store decided and recorded it.
    async fn rejected(&self, rejected: Invitation, user: &User) -> Result<Invitation, InviteError> {
        let at = rejected.responded_at.unwrap_or_else(|| self.now());
        self.publish(&rejected, EventKind::Rejected, Some(&user.id), at)
            .await;
        Ok(rejected)
    }

    /// The invitation `id` if it is addressed to `user`'s verified contacts and may be
    /// answered now (rule B1). Not addressed to the user: `not_found`, before anything
    /// about its state is said.
    async fn answerable_mine(
        &self,
        user: &User,
        id: InvitationId,
        now: DateTime<Utc>,
    ) -> Result<Invitation, InviteError> {
        let invitation = self
            .store
            .find_by_id(id)
            .await?
            .filter(|invitation| user.is_reached_by(&invitation.contact))
            .ok_or(InviteError::NotFound)?;
        invitation.check_answerable(now)?;
        Ok(invitation)
    }

    async fn find(&self, token: &str) -> Result<Option<Invitation>, InviteError> {
        match InviteToken::parse(token) {
            Some(token) => Ok(self.store.find_by_digest(&token.digest()).await?),
            None => Ok(None),
        }
    }

    /// The invitation behind `token`, if `user` may answer it now (rule A4, A6). The store
    /// decides again atomically; this only picks the right refusal early.
    async fn answerable(
        &self,
        token: &str,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<Invitation, InviteError> {
        let invitation = self.find(token).await?.ok_or(InviteError::InvalidOrExpired)?;
        invitation.check_answerable(now)?;
        if !user.is_reached_by(&invitation.contact) {
            return Err(InviteError::AccountMismatch);
        }
        Ok(invitation)
    }
}
