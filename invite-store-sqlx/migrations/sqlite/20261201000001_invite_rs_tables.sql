-- invite-store-sqlx, the library's own tables on SQLite (rule H5): only these are ever
-- created in a host's database, under a prefix no host table has. Times are INTEGER unix
-- microseconds (UTC); invitation ids are 16-byte UUID BLOBs; enterprise and user keys are
-- the host's, kept as their canonical TEXT (decimal, hyphenated UUID, or the string);
-- token digests are 32-byte SHA-256 BLOBs (the raw token is never stored, rule X1).

CREATE TABLE invite_rs_invitations (
    id                  BLOB PRIMARY KEY NOT NULL,
    enterprise_id       TEXT NOT NULL,
    contact_kind        TEXT NOT NULL CHECK (contact_kind IN ('email', 'phone')),
    contact_entered     TEXT NOT NULL,
    contact_normalized  TEXT NOT NULL,
    role                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'expired', 'revoked')),
    invited_by          TEXT NOT NULL,
    invited_by_name     TEXT NOT NULL,
    sent_at             INTEGER NOT NULL,
    last_sent_at        INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    responded_at        INTEGER,
    responded_by        TEXT,
    revoked_at          INTEGER,
    revoked_by          TEXT,
    delivery            TEXT NOT NULL CHECK (delivery IN ('queued', 'delivered', 'failed')),
    token_digest        BLOB NOT NULL
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
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    invitation_id  BLOB NOT NULL,
    enterprise_id  TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('sent', 'resent', 'revoked', 'accepted', 'rejected', 'expired')),
    actor          TEXT,
    at             INTEGER NOT NULL
);
CREATE INDEX invite_rs_events_invitation ON invite_rs_events (invitation_id, id);
