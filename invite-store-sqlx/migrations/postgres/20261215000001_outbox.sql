-- invite-store-sqlx, step 2 of the library's own tables on PostgreSQL: the delivery outbox
-- (rules D1–D4, H5). A delivery request is written in the same transaction as its
-- invitation; a worker claims due rows under a lease (`claim`, `due_at`), hands them to
-- the notifier and records the outcome. The link is kept only as an AEAD ciphertext
-- (`link_sealed`, XChaCha20-Poly1305 under the host's key) and set to NULL once the row is
-- finished; the CHECK below holds every store to that.

CREATE TABLE invite_rs_outbox (
    id             uuid PRIMARY KEY,
    invitation_id  uuid NOT NULL,
    enterprise_id  text NOT NULL,
    token_digest   bytea NOT NULL CHECK (octet_length(token_digest) = 32),
    link_sealed    bytea,
    state          text NOT NULL CHECK (state IN ('queued', 'delivered', 'failed', 'dropped')),
    attempts       bigint NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    due_at         timestamptz NOT NULL,
    claim          uuid,
    queued_at      timestamptz NOT NULL,
    finished_at    timestamptz,
    last_error     text CHECK (last_error IN ('transient', 'permanent')),
    CHECK ((state = 'queued') = (link_sealed IS NOT NULL)),
    CHECK ((state = 'queued') = (finished_at IS NULL))
);
-- The claim: queued rows by due time.
CREATE INDEX invite_rs_outbox_due ON invite_rs_outbox (due_at) WHERE state = 'queued';
-- A resend drops the queued rows of its invitation.
CREATE INDEX invite_rs_outbox_invitation ON invite_rs_outbox (invitation_id) WHERE state = 'queued';
-- Pruning finished rows after the host's retention.
CREATE INDEX invite_rs_outbox_finished ON invite_rs_outbox (finished_at) WHERE state <> 'queued';

-- Attempts made for the current link (a resend sets it back to 0); 'queued' after an
-- attempt reads as 'retrying'.
ALTER TABLE invite_rs_invitations
    ADD COLUMN delivery_attempts bigint NOT NULL DEFAULT 0 CHECK (delivery_attempts >= 0);

-- Each delivery outcome is an event (rule D1).
ALTER TABLE invite_rs_events DROP CONSTRAINT invite_rs_events_kind_check;
ALTER TABLE invite_rs_events ADD CONSTRAINT invite_rs_events_kind_check CHECK (kind IN (
    'sent', 'resent', 'revoked', 'accepted', 'rejected', 'expired',
    'delivered', 'delivery_deferred', 'delivery_failed'));
