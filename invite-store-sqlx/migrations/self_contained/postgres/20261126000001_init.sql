-- invite-store-sqlx, PostgreSQL schema. Times are timestamptz (microsecond precision);
-- token digests are 32-byte SHA-256 values (the raw token is never stored, SPEC X1).

CREATE TABLE enterprises (
    id          uuid PRIMARY KEY,
    name        text COLLATE "C" NOT NULL,
    certified   boolean NOT NULL
);

CREATE TABLE users (
    id                uuid PRIMARY KEY,
    name              text COLLATE "C" NOT NULL,
    email             text,
    email_normalized  text,
    phone             text,
    phone_normalized  text,
    CHECK ((email IS NULL) = (email_normalized IS NULL)),
    CHECK ((phone IS NULL) = (phone_normalized IS NULL))
);
CREATE INDEX users_email_normalized ON users (email_normalized) WHERE email_normalized IS NOT NULL;
CREATE INDEX users_phone_normalized ON users (phone_normalized) WHERE phone_normalized IS NOT NULL;

CREATE TABLE members (
    enterprise_id  uuid NOT NULL REFERENCES enterprises (id),
    user_id        uuid NOT NULL REFERENCES users (id),
    role           text NOT NULL CHECK (role IN ('super_admin', 'finance_admin', 'dev_admin', 'member')),
    PRIMARY KEY (enterprise_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE invitations (
    id                  uuid PRIMARY KEY,
    enterprise_id       uuid NOT NULL,
    contact_kind        text NOT NULL CHECK (contact_kind IN ('email', 'phone')),
    contact_entered     text NOT NULL,
    contact_normalized  text NOT NULL,
    role                text NOT NULL,
    status              text NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'expired', 'revoked')),
    invited_by          uuid NOT NULL,
    invited_by_name     text NOT NULL,
    sent_at             timestamptz NOT NULL,
    last_sent_at        timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    responded_at        timestamptz,
    responded_by        uuid,
    revoked_at          timestamptz,
    revoked_by          uuid,
    delivery            text NOT NULL CHECK (delivery IN ('queued', 'delivered', 'failed')),
    token_digest        bytea NOT NULL CHECK (octet_length(token_digest) = 32)
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
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invitation_id  uuid NOT NULL,
    enterprise_id  uuid NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('sent', 'resent', 'revoked', 'accepted', 'rejected', 'expired')),
    actor          uuid,
    at             timestamptz NOT NULL
);
CREATE INDEX invitation_events_invitation ON invitation_events (invitation_id, id);
