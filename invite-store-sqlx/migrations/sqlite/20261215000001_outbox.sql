-- invite-store-sqlx, step 2 of the library's own tables on SQLite: the delivery outbox
-- (rules D1–D4, H5). A delivery request is written in the same transaction as its
-- invitation; a worker claims due rows under a lease (`claim`, `due_at`), hands them to
-- the notifier and records the outcome. The link is kept only as an AEAD ciphertext
-- (`link_sealed`, XChaCha20-Poly1305 under the host's key) and set to NULL once the row is
-- finished (the store's connections run with `secure_delete`, so the freed bytes are
-- overwritten); the CHECK below holds every store to that. Times are INTEGER unix
-- microseconds, ids 16-byte UUID BLOBs.

CREATE TABLE invite_rs_outbox (
    id             BLOB PRIMARY KEY NOT NULL,
    invitation_id  BLOB NOT NULL,
    enterprise_id  TEXT NOT NULL,
    token_digest   BLOB NOT NULL CHECK (length(token_digest) = 32),
    link_sealed    BLOB,
    state          TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'failed', 'dropped')),
    attempts       INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    due_at         INTEGER NOT NULL,
    claim          BLOB,
    queued_at      INTEGER NOT NULL,
    finished_at    INTEGER,
    last_error     TEXT CHECK (last_error IN ('transient', 'permanent')),
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
    ADD COLUMN delivery_attempts INTEGER NOT NULL DEFAULT 0 CHECK (delivery_attempts >= 0);

-- Each delivery outcome is an event (rule D1). SQLite cannot change a CHECK in place: the
-- events table is rebuilt with the new kinds, ids kept (AUTOINCREMENT continues after
-- the highest), and its index made again.
CREATE TABLE invite_rs_events_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    invitation_id  BLOB NOT NULL,
    enterprise_id  TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN (
        'sent', 'resent', 'revoked', 'accepted', 'rejected', 'expired',
        'delivered', 'delivery_deferred', 'delivery_failed')),
    actor          TEXT,
    at             INTEGER NOT NULL
);
INSERT INTO invite_rs_events_new (id, invitation_id, enterprise_id, kind, actor, at)
    SELECT id, invitation_id, enterprise_id, kind, actor, at FROM invite_rs_events ORDER BY id;
DROP TABLE invite_rs_events;
ALTER TABLE invite_rs_events_new RENAME TO invite_rs_events;
CREATE INDEX invite_rs_events_invitation ON invite_rs_events (invitation_id, id);
