//! The SQL both backends run on the library's own tables (`invite_rs_invitations`,
//! `invite_rs_events`, rule H5), written once. Placeholders are `$n`, which PostgreSQL and
//! SQLite both read as "the n-th bound value". The few differences between the backends
//! (how a write transaction begins, how a per-enterprise lock is taken) are the
//! [`Backend`](crate::Backend) trait's. Enterprise and user keys are bound as their
//! canonical text ([`invite_core::Key::canonical`]).
//!
//! Every `expires_at` comparison is the one of [`invite_core::is_expired`]: an invitation
//! is expired from the instant `expires_at <= now`, so "still pending" is
//! `status = 'pending' AND expires_at > now`.

/// The columns of an invitation, in the order of [`crate::row::InvitationRow`].
macro_rules! invitation_columns {
    () => {
        "id, enterprise_id, contact_kind, contact_entered, contact_normalized, role, status, \
         invited_by, invited_by_name, sent_at, last_sent_at, expires_at, responded_at, \
         responded_by, revoked_at, revoked_by, delivery, token_digest, delivery_attempts"
    };
}

/// The columns of an invitation, for callers that build SQL (the list query).
pub(crate) const INVITATION_COLUMNS: &str = invitation_columns!();

/// One invitation of one enterprise (rule X3).
pub(crate) const GET: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invite_rs_invitations WHERE enterprise_id = $1 AND id = $2"
);

/// The invitation whose current token has this digest (one unique-index probe).
pub(crate) const FIND_BY_DIGEST: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invite_rs_invitations WHERE token_digest = $1"
);

/// Writes down `expired` for the pending rows of a contact that are past their expiry, so
/// that they never block a new pending row in the unique index (rule S7).
pub(crate) const EXPIRE_STALE_FOR_CONTACT: &str = "UPDATE invite_rs_invitations SET status = 'expired' \
     WHERE enterprise_id = $1 AND contact_normalized = $2 AND status = 'pending' \
     AND expires_at <= $3 AND id <> $4 RETURNING id, enterprise_id";

/// A new invitation; no row when a pending one to the contact exists (rule S7). The
/// conflict is answered by the statement rather than raised, so a transaction that
/// decides many rows (rule B2) goes on after it, also on PostgreSQL.
pub(crate) const INSERT_INVITATION: &str = concat!(
    "INSERT INTO invite_rs_invitations (",
    invitation_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ",
    "ON CONFLICT (enterprise_id, contact_normalized) WHERE status = 'pending' DO NOTHING"
);

/// One event of the audit trail (rule X5).
pub(crate) const INSERT_EVENT: &str = "INSERT INTO invite_rs_events \
     (invitation_id, enterprise_id, kind, actor, at) VALUES ($1, $2, $3, $4, $5)";

/// The delivery status of the current link (rule S8), after `$3` (0 or 1) more attempts.
pub(crate) const SET_DELIVERY: &str = "UPDATE invite_rs_invitations SET delivery = $2, \
     delivery_attempts = delivery_attempts + $3 WHERE id = $1";

/// Accept as one conditional statement: only a stored-pending, unexpired row changes
/// (rule A5, A6). `$2` is now.
pub(crate) const ACCEPT: &str = concat!(
    "UPDATE invite_rs_invitations SET status = 'accepted', responded_at = $2, responded_by = $3 \
     WHERE token_digest = $1 AND status = 'pending' AND expires_at > $2 RETURNING ",
    invitation_columns!()
);

/// Reject as one conditional statement (rule A6, A7). `$2` is now.
pub(crate) const REJECT: &str = concat!(
    "UPDATE invite_rs_invitations SET status = 'rejected', responded_at = $2, responded_by = $3 \
     WHERE token_digest = $1 AND status = 'pending' AND expires_at > $2 RETURNING ",
    invitation_columns!()
);

/// [`ACCEPT`] of the invitation with id `$1` (rule B1).
pub(crate) const ACCEPT_BY_ID: &str = concat!(
    "UPDATE invite_rs_invitations SET status = 'accepted', responded_at = $2, responded_by = $3 \
     WHERE id = $1 AND status = 'pending' AND expires_at > $2 RETURNING ",
    invitation_columns!()
);

/// [`REJECT`] of the invitation with id `$1` (rule B1).
pub(crate) const REJECT_BY_ID: &str = concat!(
    "UPDATE invite_rs_invitations SET status = 'rejected', responded_at = $2, responded_by = $3 \
     WHERE id = $1 AND status = 'pending' AND expires_at > $2 RETURNING ",
    invitation_columns!()
);

/// The pending, unexpired invitations to one contact `$1` (normalized) at `$2`, across
/// enterprises, soonest expiry first (rule B1): one range of the
/// `invite_rs_invitations_pending_by_contact` index.
pub(crate) const PENDING_FOR_CONTACT: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invite_rs_invitations WHERE contact_normalized = $1 AND status = 'pending' \
     AND expires_at > $2 ORDER BY expires_at, id"
);

/// Revoke as one conditional statement (rule R2). `$3` is now.
pub(crate) const REVOKE: &str = concat!(
    "UPDATE invite_rs_invitations SET status = 'revoked', revoked_at = $3, revoked_by = $4 \
     WHERE enterprise_id = $1 AND id = $2 AND status = 'pending' AND expires_at > $3 RETURNING ",
    invitation_columns!()
);

/// Resend as one conditional statement (rule R3): a pending (expired or not) or
/// written-down expired row gets a new digest and expiry and is pending again.
pub(crate) const RESEND: &str = concat!(
    "UPDATE invite_rs_invitations SET status = 'pending', token_digest = $3, expires_at = $4, \
     last_sent_at = $5, delivery = 'queued', delivery_attempts = 0 \
     WHERE enterprise_id = $1 AND id = $2 AND status IN ('pending', 'expired') RETURNING ",
    invitation_columns!()
);

/// Writes down `expired` for at most `$2` pending rows past their expiry at `$1`. The outer
/// conditions are repeated so that a row changed meanwhile (e.g. resent) is left alone.
pub(crate) const SWEEP: &str = "UPDATE invite_rs_invitations SET status = 'expired' \
     WHERE id IN (SELECT id FROM invite_rs_invitations WHERE status = 'pending' AND expires_at <= $1 \
     ORDER BY expires_at LIMIT $2) \
     AND status = 'pending' AND expires_at <= $1 RETURNING id, enterprise_id";

/// Writes down `expired` for every pending row of enterprise `$1` past its expiry at `$2`:
/// what listing by `expired` does first, so that the page is one index range. Walks the
/// `(enterprise_id, expires_at)` index of pending rows, so it costs what it writes.
pub(crate) const EXPIRE_OVERDUE_OF_ENTERPRISE: &str = "UPDATE invite_rs_invitations SET status = 'expired' \
     WHERE enterprise_id = $1 AND status = 'pending' AND expires_at <= $2 RETURNING id, enterprise_id";

/// The events of one invitation of one enterprise, oldest first (rule X5).
pub(crate) const EVENTS: &str = "SELECT invitation_id, enterprise_id, kind, actor, at \
     FROM invite_rs_events WHERE enterprise_id = $1 AND invitation_id = $2 ORDER BY id";

/// Names of the unique index that keeps one pending invitation per contact (rule S7), as
/// PostgreSQL reports it and as SQLite words it.
pub(crate) const PENDING_CONTACT_INDEX: &str = "invite_rs_invitations_pending_contact";
/// SQLite names the columns rather than the index in its message.
pub(crate) const PENDING_CONTACT_SQLITE_MESSAGE: &str = "invite_rs_invitations.contact_normalized";

/// The records query (rule R1), assembled from fixed fragments: a status filter and a
/// keyset cursor. Binds, in order: the enterprise, `now` (when [`ListSql::binds_now`]),
/// the cursor's `sent_at` and id (when `cursor`), the limit.
///
/// Every branch is one range of an index in `(sent_at, id)` order, so a page costs the
/// same wherever the cursor is. `expired` is derived (a pending row past its expiry *is*
/// expired, rules §1) and no index can hold a derived status in `sent_at` order; so the
/// store first writes such rows down ([`EXPIRE_OVERDUE_OF_ENTERPRISE`], with their
/// `expired` events) and then reads the stored `expired` range like any other status.
pub(crate) fn list(status: Option<invite_core::InvitationStatus>, cursor: bool) -> ListSql {
    use invite_core::InvitationStatus as S;
    let select = format!("SELECT {INVITATION_COLUMNS} FROM invite_rs_invitations WHERE enterprise_id = $1");
    let binds_now = status == Some(S::Pending);
    let first_cursor = if binds_now { 3 } else { 2 };
    let keyset = if cursor {
        format!(" AND (sent_at, id) < (${first_cursor}, ${})", first_cursor + 1)
    } else {
        String::new()
    };
    let limit = if cursor { first_cursor + 2 } else { first_cursor };
    let order = format!(" ORDER BY sent_at DESC, id DESC LIMIT ${limit}");
    let sql = match status {
        None => format!("{select}{keyset}{order}"),
        Some(S::Pending) => format!("{select} AND status = 'pending' AND expires_at > $2{keyset}{order}"),
        // A fixed name from `InvitationStatus::as_str`, never client text.
        Some(other) => format!("{select} AND status = '{}'{keyset}{order}", other.as_str()),
    };
    ListSql { sql, binds_now }
}

/// The records query and whether it takes `now` after the enterprise id.
pub(crate) struct ListSql {
    /// The SQL text.
    pub(crate) sql: String,
    /// Whether `now` is bound second.
    pub(crate) binds_now: bool,
}

// --- the delivery outbox (rules D1–D4) ---------------------------------------------------

/// A delivery request, queued and due at `$6` (rule D1).
pub(crate) const INSERT_DELIVERY: &str = "INSERT INTO invite_rs_outbox \
     (id, invitation_id, enterprise_id, token_digest, link_sealed, state, attempts, due_at, queued_at) \
     VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $6)";

/// Drops the queued rows of invitation `$1` at `$2`, erasing their links (a resend, rules
/// D2, D4).
pub(crate) const DROP_QUEUED_OF_INVITATION: &str = "UPDATE invite_rs_outbox SET state = 'dropped', \
     link_sealed = NULL, claim = NULL, finished_at = $2 WHERE invitation_id = $1 AND state = 'queued'";

/// The claim on SQLite: up to `$4` queued rows due at `$1`, oldest due first, leased
/// until `$2` to claim `$3`, an attempt counted on each. `BEGIN IMMEDIATE` already makes
/// it the only writer.
#[cfg(feature = "sqlite")]
pub(crate) const CLAIM_DELIVERIES_SQLITE: &str = "UPDATE invite_rs_outbox \
     SET attempts = attempts + 1, due_at = $2, claim = $3 \
     WHERE id IN (SELECT id FROM invite_rs_outbox WHERE state = 'queued' AND due_at <= $1 \
     ORDER BY due_at, id LIMIT $4) \
     RETURNING id, invitation_id, enterprise_id, token_digest, link_sealed, attempts, queued_at";

/// The claim on PostgreSQL, as on SQLite, but rows another worker has locked are skipped,
/// not waited for, so several processes share the work (rule D3). The locked rows are
/// picked once, in a materialized CTE: as an `IN (…)` subquery the planner may run a
/// `SKIP LOCKED … LIMIT` more than once and lease more rows than asked.
#[cfg(feature = "postgres")]
pub(crate) const CLAIM_DELIVERIES_POSTGRES: &str = "WITH due AS MATERIALIZED \
     (SELECT id FROM invite_rs_outbox WHERE state = 'queued' AND due_at <= $1 \
     ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
     UPDATE invite_rs_outbox o SET attempts = o.attempts + 1, due_at = $2, claim = $3 \
     FROM due WHERE o.id = due.id \
     RETURNING o.id, o.invitation_id, o.enterprise_id, o.token_digest, o.link_sealed, o.attempts, o.queued_at";

/// Ends the attempt of claim `$2` on row `$1` as `$3` at `$4` (last error kind `$5`),
/// erasing the link (rule D4). Returns the attempts made; no row when the lease is gone.
pub(crate) const FINISH_DELIVERY: &str = "UPDATE invite_rs_outbox SET state = $3, link_sealed = NULL, \
     claim = NULL, finished_at = $4, last_error = $5 \
     WHERE id = $1 AND claim = $2 AND state = 'queued' RETURNING attempts";

/// Puts row `$1` of claim `$2` back in the queue, due at `$3`, after a transient failure.
pub(crate) const DEFER_DELIVERY: &str = "UPDATE invite_rs_outbox SET due_at = $3, claim = NULL, \
     last_error = 'transient' WHERE id = $1 AND claim = $2 AND state = 'queued' RETURNING attempts";

/// The delivery status `$3` after `$4` attempts, of invitation `$1` if its link is still
/// the one with digest `$2`.
pub(crate) const SET_DELIVERY_OF_LINK: &str = "UPDATE invite_rs_invitations SET delivery = $3, \
     delivery_attempts = $4 WHERE id = $1 AND token_digest = $2 RETURNING id";

/// Deletes at most `$2` finished rows that finished at or before `$1`.
pub(crate) const PRUNE_DELIVERIES: &str = "DELETE FROM invite_rs_outbox WHERE id IN \
     (SELECT id FROM invite_rs_outbox WHERE state <> 'queued' AND finished_at <= $1 \
     ORDER BY finished_at LIMIT $2)";

/// One outbox row.
pub(crate) const GET_DELIVERY: &str = "SELECT id, invitation_id, enterprise_id, token_digest, state, \
     attempts, due_at, link_sealed, queued_at, finished_at, last_error FROM invite_rs_outbox WHERE id = $1";

/// One invitation by id alone, for the claim (the outbox row names its enterprise too).
pub(crate) const GET_BY_ID: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invite_rs_invitations WHERE id = $1"
);
