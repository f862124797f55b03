-- invite-store-sqlx, SQLite schema. Times are INTEGER unix microseconds (UTC), so that
-- comparisons and ORDER BY are numeric and round trips are exact; ids are 16-byte UUID
-- BLOBs; token digests are 32-byte SHA-256 BLOBs (the raw token is never stored, SPEC X1).

CREATE TABLE enterprises (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    certified   INTEGER NOT NULL CHECK (certified IN (0, 1))
);

CREATE TABLE users (
    id                BLOB PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    email             TEXT,
    email_normalized  TEXT,
    phone             TEXT,
    phone_normalized  TEXT,
    CHECK ((email IS NULL) = (email_normalized IS NULL)),
    CHECK ((phone IS NULL) = (phone_normalized IS NULL))
);
CREATE INDEX users_email_normalized ON users (email_normalized) WHERE email_normalized IS NOT NULL;
CREATE INDEX users_phone_normalized ON users (phone_normalized) WHERE phone_normalized IS NOT NULL;

CREATE TABLE members (
    enterprise_id  BLOB NOT NULL REFERENCES enterprises (id),
    user_id        BLOB NOT NULL REFERENCES users (id),
    role           TEXT NOT NULL CHECK (role IN ('super_admin', 'finance_admin', 'dev_admin', 'member')),
    PRIMARY KEY (enterprise_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE invitations (
    id                  BLOB PRIMARY KEY NOT NULL,
    enterprise_id       BLOB NOT NULL,
    contact_kind        TEXT NOT NULL CHECK (contact_kind IN ('email', 'phone')),
    contact_entered     TEXT NOT NULL,
    contact_normalized  TEXT NOT NULL,
    role                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'expired', 'revoked')),
    invited_by          BLOB NOT NULL,
    invited_by_name     TEXT NOT NULL,
    sent_at             INTEGER NOT NULL,
    last_sent_at        INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    responded_at        INTEGER,
    responded_by        BLOB,
    revoked_at          INTEGER,
    revoked_by          BLOB,
    delivery            TEXT NOT NULL CHECK (delivery IN ('queued', 'delivered', 'failed')),
    token_digest        BLOB NOT NULL
);
-- Token lookups (view/accept/reject) by digest: one index probe at any table size.
CREATE UNIQUE INDEX invitations_token_digest ON invitations (token_digest);
-- At most one stored-pending invitation per contact and enterprise (SPEC S7), also across
-- processes. Expired-but-unswept rows are written 'expired' before a new one is inserted.
CREATE UNIQUE INDEX invitations_pending_contact ON invitations (enterprise_id, contact_normalized)
    WHERE status = 'pending';
-- The records table, newest first, keyset-paginated (SPEC R1).
CREATE INDEX invitations_records ON invitations (enterprise_id, sent_at, id);
CREATE INDEX invitations_records_status ON invitations (enterprise_id, status, sent_at, id);
-- The sweep.
CREATE INDEX invitations_pending_expiry ON invitations (expires_at) WHERE status = 'pending';
-- Writing down the overdue rows of one enterprise before an `expired` page.
CREATE INDEX invitations_pending_expiry_of_enterprise ON invitations (enterprise_id, expires_at)
    WHERE status = 'pending';

-- The audit trail (SPEC X5), written in the same transaction as each change.
CREATE TABLE invitation_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    invitation_id  BLOB NOT NULL,
    enterprise_id  BLOB NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('sent', 'resent', 'revoked', 'accepted', 'rejected', 'expired')),
    actor          BLOB,
    at             INTEGER NOT NULL
);
CREATE INDEX invitation_events_invitation ON invitation_events (invitation_id, id);
