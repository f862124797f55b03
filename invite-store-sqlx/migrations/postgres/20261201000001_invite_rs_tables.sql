-- invite-store-sqlx, the library's own tables on PostgreSQL (rule H5): only these are ever
-- created in a host's database, under a prefix no host table has. Times are timestamptz
-- (microsecond precision); invitation ids are uuid; enterprise and user keys are the
-- host's, kept as their canonical text (decimal, hyphenated UUID, or the string); token
-- digests are 32-byte SHA-256 values (the raw token is never stored, rule X1).

CREATE TABLE invite_rs_invitations (
    id                  uuid PRIMARY KEY,
    enterprise_id       text NOT NULL,
    contact_kind        text NOT NULL CHECK (contact_kind IN ('email', 'phone')),
    contact_entered     text NOT NULL,
    contact_normalized  text NOT NULL,
    role                text NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'expired', 'revoked')),
    invited_by          text NOT NULL,
    invited_by_name     text NOT NULL,
    sent_at             timestamptz NOT NULL,
    last_sent_at        timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    responded_at        timestamptz,
    responded_by        text,
    revoked_at          timestamptz,
    revoked_by          text,
    delivery            text NOT NULL CHECK (delivery IN ('queued', 'delivered', 'failed')),
    token_digest        bytea NOT NULL CHECK (octet_length(token_digest) = 32)
);
-- Token lookups (view/accept/reject) by digest: one index probe at any table size.
CREATE UNIQUE INDEX invite_rs_invitations_token_digest ON invite_rs_invitations (token_digest);
-- At most one stored-pending invitation per contact and enterprise (rule S7), also across
-- processes. Expired-but-unswept rows are written 'expired' before a new one is inserted.
CREATE UNIQUE INDEX invite_rs_invitations_pending_contact
    ON invite_rs_invitations (enterprise_id, contact_normalized) WHERE status = 'pending';
-- The records table, newest first, keyset-paginated (rule R1).
CREATE INDEX invite_rs_invitations_records ON invite_rs_invitations (enterprise_id, sent_at, id);
CREATE INDEX invite_rs_invitations_records_status
    ON invite_rs_invitations (enterprise_id, status, sent_at, id);
-- The sweep.
CREATE INDEX invite_rs_invitations_pending_expiry
    ON invite_rs_invitations (expires_at) WHERE status = 'pending';
-- Writing down the overdue rows of one enterprise before an `expired` page.
CREATE INDEX invite_rs_invitations_pending_expiry_of_enterprise
    ON invite_rs_invitations (enterprise_id, expires_at) WHERE status = 'pending';

-- The audit trail (rule X5), written in the same transaction as each change.
CREATE TABLE invite_rs_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invitation_id  uuid NOT NULL,
    enterprise_id  text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('sent', 'resent', 'revoked', 'accepted', 'rejected', 'expired')),
    actor          text,
    at             timestamptz NOT NULL
);
CREATE INDEX invite_rs_events_invitation ON invite_rs_events (invitation_id, id);
