//! Sending (rules S1–S8, B2) and resending (rule R3): the invitation, its link and its
//! delivery, inline or through the outbox (rules D1–D4).

use super::*;

impl Invitations {
    /// Sends an invitation (rule S1–S8): checks the inviter and the enterprise, parses the
    /// contact and role, stores a pending invitation, and hands the link to the notifier —
    /// through the outbox, in the same transaction (rule D1, delivery `queued`), or inline.
    /// An inline notifier failure is recorded as delivery `failed`; the invitation stays
    /// and can be resent (rule S8).
    ///
    /// # Errors
    /// `forbidden`, `enterprise_not_certified`, `invalid_contact`, `role_not_assignable`,
    /// `invalid_request` (expiry out of bounds), `already_member`, `duplicate_pending`,
    /// `internal`.
    pub async fn send(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        request: SendInvitation,
    ) -> Result<SentInvitation, InviteError> {
        let enterprise = self.authorize_inviting(actor, enterprise_id).await?;
        let contact = self.config.contacts.parse(&request.contact)?;
        self.send_authorized(actor, &enterprise, contact, request).await
    }

    /// Sends many invitations in one request (rule B2): S1 and S2 are checked once and
    /// refuse the whole request; then every row goes through the rules of
    /// [`Invitations::send`] (S3–S8) on its own, so a bad row never stops the good ones.
    /// A row whose contact (normalized) appeared in an earlier row of the request is
    /// `duplicate_pending`. Each created invitation is delivered as a single send's is
    /// (through the outbox when configured, rule D1). The answer has one result per row,
    /// in order.
    ///
    /// The rows that pass the checks are handed to the store in one call
    /// ([`InvitationStore::create_many`]): the SQL stores decide them in one transaction,
    /// so a bulk send costs one commit, not one per row.
    ///
    /// A row the adapter could not read (a body row of the wrong shape) arrives as its
    /// error and comes back unchanged in its place, after the S1/S2 check.
    ///
    /// # Errors
    /// The whole request: `forbidden` (S1), `enterprise_not_certified` (S2),
    /// `invalid_request` when there are no rows or more than [`MAX_BULK_ROWS`], `internal`
    /// when the directory fails or when a store that decides the rows together fails
    /// (then none is stored). Each row: the errors of [`Invitations::send`].
    pub async fn send_many(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        rows: Vec<Result<SendInvitation, InviteError>>,
    ) -> Result<Vec<BulkRowResult>, InviteError> {
        // rule S1 decision: authorization before the input is looked at.
        let enterprise = self.authorize_inviting(actor, enterprise_id).await?;
        if rows.is_empty() || rows.len() > MAX_BULK_ROWS {
            return Err(InviteError::InvalidRequest(format!(
                "a bulk invite takes 1 to {MAX_BULK_ROWS} rows"
            )));
        }
        let mut seen: Vec<String> = Vec::with_capacity(rows.len());
        // Per row: its refusal, or `None` for a row handed to the store (in `ready`).
        let mut refused: Vec<Option<InviteError>> = Vec::with_capacity(rows.len());
        let mut ready: Vec<Ready> = Vec::with_capacity(rows.len());
        for row in rows {
            let prepared = row.and_then(|request| {
                let contact = self.config.contacts.parse(&request.contact)?;
                let normalized = contact.normalized().to_owned();
                if seen.contains(&normalized) {
                    // rule B2: the same contact twice in one request.
                    return Err(InviteError::DuplicatePending);
                }
                // rule B2: the second row of a contact is refused whatever the first's fate.
                seen.push(normalized);
                self.prepare(actor, enterprise_id, contact, request)
            });
            match prepared {
                Ok(prepared) => {
                    refused.push(None);
                    ready.push(prepared);
                }
                Err(err) => refused.push(Some(err)),
            }
        }
        let (rows, links): (Vec<NewRow>, Vec<Link>) = ready.into_iter().map(|r| (r.row, r.link)).unzip();
        let count = rows.len();
        let stored = if rows.is_empty() {
            Vec::new()
        } else {
            self.store.create_many(rows).await?
        };
        if stored.len() != count {
            return Err(miscounted(stored.len(), count));
        }
        let mut answers = stored.into_iter().zip(links);
        let mut results = Vec::with_capacity(refused.len());
        for refusal in refused {
            let answer = match refusal {
                Some(err) => Err(err),
                // `stored` has one answer per row handed over (checked above).
                None => match answers.next() {
                    Some((Ok(invitation), link)) => self.sent(actor, &enterprise, invitation, link).await,
                    Some((Err(err), _)) => Err(err.into()),
                    None => Err(miscounted(0, 1)),
                },
            };
            results.push(answer);
        }
        Ok(results)
    }

    /// The part of a send after S1 and S2 (and after the contact has been parsed): S4–S8.
    async fn send_authorized(
        &self,
        actor: &User,
        enterprise: &Enterprise,
        contact: crate::contact::Contact,
        request: SendInvitation,
    ) -> Result<SentInvitation, InviteError> {
        let Ready { row, link } = self.prepare(actor, &enterprise.id, contact, request)?;
        let invitation = row.create_in(&*self.store).await?;
        self.sent(actor, enterprise, invitation, link).await
    }

    /// S4–S6 for one parsed contact: the role, the expiry, a new token and the row the
    /// store is to write (with its delivery request in outbox mode).
    fn prepare(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        contact: crate::contact::Contact,
        request: SendInvitation,
    ) -> Result<Ready, InviteError> {
        let role = self.config.roles.parse_assignable(&request.role)?;
        let now = self.now();
        let expires_at = self.config.ttl.expires_at(now, request.expires_in)?;
        let token = InviteToken::generate();
        let id = InvitationId::new();
        let invitation = NewInvitation {
            id,
            enterprise_id: enterprise_id.clone(),
            contact,
            role,
            invited_by: Inviter {
                user_id: actor.id.clone(),
                name: actor.name.clone(),
            },
            token_digest: token.digest(),
            sent_at: now,
            expires_at,
        };
        Ok(match self.queue(id, &token, now)? {
            Some(queued) => Ready {
                row: NewRow {
                    invitation,
                    delivery: Some(queued.delivery),
                },
                link: Link::Queued(queued.link),
            },
            None => Ready {
                row: NewRow {
                    invitation,
                    delivery: None,
                },
                link: Link::Inline(token),
            },
        })
    }

    /// After the store took a new invitation: its `sent` event, then the worker woken
    /// (outbox) or the notifier called (inline).
    async fn sent(
        &self,
        actor: &User,
        enterprise: &Enterprise,
        invitation: Invitation,
        link: Link,
    ) -> Result<SentInvitation, InviteError> {
        self.publish(&invitation, EventKind::Sent, Some(&actor.id), invitation.sent_at)
            .await;
        match link {
            Link::Queued(link) => {
                self.wake.wake();
                Ok(SentInvitation { invitation, link })
            }
            Link::Inline(token) => self.deliver(invitation, enterprise, &token).await,
        }
    }

    /// In outbox mode, the link and the delivery request of a new token (rule D1, D4).
    fn queue(
        &self,
        id: InvitationId,
        token: &InviteToken,
        now: DateTime<Utc>,
    ) -> Result<Option<Queued>, InviteError> {
        let Some(key) = &self.outbox else {
            return Ok(None);
        };
        let link = InviteLink::new(&self.config.base_url, token);
        let digest: TokenDigest = token.digest();
        let sealed_link = key
            .seal(&link, id, &digest)
            .map_err(|err| InviteError::Internal(StoreError::backend(err)))?;
        Ok(Some(Queued {
            link,
            delivery: NewDelivery {
                id: DeliveryId::new(),
                token_digest: digest,
                sealed_link,
                queued_at: now,
            },
        }))
    }

    /// Resends a pending or expired invitation: a new token (the old link stops working),
    /// the default expiry from now, and a new delivery (rule R3).
    ///
    /// # Errors
    /// `forbidden`, `not_found`, `invitation_not_pending`, `duplicate_pending`,
    /// `already_member`, `enterprise_not_certified`, `internal`.
    pub async fn resend(
        &self,
        actor: &User,
        enterprise_id: &EnterpriseId,
        id: InvitationId,
    ) -> Result<SentInvitation, InviteError> {
        let enterprise = self.authorize_inviting(actor, enterprise_id).await?;
        let now = self.now();
        let expires_at = self.config.ttl.expires_at(now, None)?;
        let token = InviteToken::generate();
        if let Some(queued) = self.queue(id, &token, now)? {
            let invitation = self
                .store
                .resend_queued(enterprise_id, id, &actor.id, expires_at, queued.delivery)
                .await?;
            self.publish(&invitation, EventKind::Resent, Some(&actor.id), now)
                .await;
            self.wake.wake();
            return Ok(SentInvitation {
                invitation,
                link: queued.link,
            });
        }
        let invitation = self
            .store
            .resend(enterprise_id, id, &actor.id, token.digest(), expires_at, now)
            .await?;
        self.publish(&invitation, EventKind::Resent, Some(&actor.id), now)
            .await;
        self.deliver(invitation, &enterprise, &token).await
    }

    async fn deliver(
        &self,
        mut invitation: Invitation,
        enterprise: &Enterprise,
        token: &InviteToken,
    ) -> Result<SentInvitation, InviteError> {
        let link = InviteLink::new(&self.config.base_url, token);
        let delivery = Delivery::of(&invitation, &enterprise.name, link.clone());
        let outcome = match &self.notifier {
            Some(notifier) => notifier.deliver(&delivery).await,
            None => Err(crate::ports::NotifyError::permanent("no notifier configured")),
        };
        invitation.delivery_attempts += 1;
        invitation.delivery = match outcome {
            Ok(()) => DeliveryStatus::Delivered,
            Err(err) => {
                // Only the kind: a notifier's error chain may quote the link (rule D4).
                tracing::warn!(invitation_id = %invitation.id, error = %err, "invitation delivery failed; it can be resent");
                DeliveryStatus::Failed
            }
        };
        // The invitation and its link exist whatever this write does: a failure here leaves
        // delivery `queued`, which is true and resendable (rule S8, X7).
        if let Err(err) = self.store.set_delivery(invitation.id, invitation.delivery).await {
            tracing::error!(invitation_id = %invitation.id, error = ?err, "could not record delivery status");
            invitation.delivery = DeliveryStatus::Queued;
            invitation.delivery_attempts -= 1;
        }
        Ok(SentInvitation { invitation, link })
    }
}

/// A store that broke [`InvitationStore::create_many`]'s promise of one answer per row.
fn miscounted(got: usize, asked: usize) -> InviteError {
    InviteError::Internal(StoreError::backend(std::io::Error::other(format!(
        "create_many answered {got} rows for {asked}"
    ))))
}

/// A send made ready for the store: the row to write and how its link goes out.
struct Ready {
    row: NewRow,
    link: Link,
}

/// How a new invitation's link goes out once the store has it.
enum Link {
    /// Queued in the outbox with the row (rule D1): the link, for the inviter.
    Queued(InviteLink),
    /// Delivered inline after the commit: the token it is made from.
    Inline(InviteToken),
}

/// A link and its delivery request, made before the transaction that stores both.
struct Queued {
    link: InviteLink,
    delivery: NewDelivery,
}
