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
    /// The store decides it all in one transaction ([`InvitationStore::accept`]); nothing
    /// is read before.
    ///
    /// # Errors
    /// `invalid_or_expired`, `already_accepted`, `already_rejected`, `account_mismatch`,
    /// `enterprise_not_certified`, `role_not_assignable`, `already_member`, `internal`.
    pub async fn accept(&self, token: &str, user: &User) -> Result<Accepted, InviteError> {
        let digest = Self::digest(token)?;
        self.accept_target(Target::Token(&digest), user).await
    }

    /// Rejects an invitation for the signed-in `user` (rule A7); no membership is made.
    ///
    /// # Errors
    /// `invalid_or_expired`, `already_accepted`, `already_rejected`, `account_mismatch`,
    /// `internal`.
    pub async fn reject(&self, token: &str, user: &User) -> Result<Invitation, InviteError> {
        let digest = Self::digest(token)?;
        self.reject_target(Target::Token(&digest), user).await
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
        self.accept_target(Target::Mine(id), user).await
    }

    /// Rejects the user's own invitation `id` without its token (rule B1, rule A7); an id
    /// not addressed to the user is `not_found`.
    ///
    /// # Errors
    /// `not_found`, `invalid_or_expired`, `already_accepted`, `already_rejected`,
    /// `internal`.
    pub async fn reject_mine(&self, user: &User, id: InvitationId) -> Result<Invitation, InviteError> {
        self.reject_target(Target::Mine(id), user).await
    }

    /// Has the store decide an accept, then publishes it at the instant the store decided
    /// and recorded it.
    async fn accept_target(&self, target: Target<'_>, user: &User) -> Result<Accepted, InviteError> {
        let answer = Answer::new(target, user, &*self.clock).roles(&self.config.roles);
        let accepted = self.store.accept(&answer).await?;
        let at = accepted.invitation.responded_at.unwrap_or_else(|| self.now());
        self.publish(&accepted.invitation, EventKind::Accepted, Some(&user.id), at)
            .await;
        Ok(accepted)
    }

    /// Has the store decide a reject, then publishes it at the instant the store decided
    /// and recorded it.
    async fn reject_target(&self, target: Target<'_>, user: &User) -> Result<Invitation, InviteError> {
        let rejected = self
            .store
            .reject(&Answer::new(target, user, &*self.clock))
            .await?;
        let at = rejected.responded_at.unwrap_or_else(|| self.now());
        self.publish(&rejected, EventKind::Rejected, Some(&user.id), at)
            .await;
        Ok(rejected)
    }

    /// The digest of `token`; a string that is no token of ours is `invalid_or_expired`
    /// (rule A1) without a lookup.
    fn digest(token: &str) -> Result<TokenDigest, InviteError> {
        InviteToken::parse(token)
            .map(|token| token.digest())
            .ok_or(InviteError::InvalidOrExpired)
    }

    async fn find(&self, token: &str) -> Result<Option<Invitation>, InviteError> {
        let Ok(digest) = Self::digest(token) else {
            return Ok(None);
        };
        Ok(self.store.find_by_digest(&digest).await?)
    }
}
