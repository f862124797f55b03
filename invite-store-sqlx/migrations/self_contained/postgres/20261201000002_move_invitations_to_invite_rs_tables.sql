-- The self-contained layout, step 2: invitations and events move from the tables of the
-- first layout (`invitations`, `invitation_events`, uuid keys) into the library's own
-- tables (`invite_rs_*`, created by the library's migrations first, keys as canonical
-- text). A database of the first layout upgrades in place; a new one copies nothing. The
-- same transaction drops the old tables.

INSERT INTO invite_rs_invitations
    (id, enterprise_id, contact_kind, contact_entered, contact_normalized, role, status,
     invited_by, invited_by_name, sent_at, last_sent_at, expires_at, responded_at,
     responded_by, revoked_at, revoked_by, delivery, token_digest)
SELECT id, enterprise_id::text, contact_kind, contact_entered, contact_normalized, role, status,
       invited_by::text, invited_by_name, sent_at, last_sent_at, expires_at, responded_at,
       responded_by::text, revoked_at, revoked_by::text, delivery, token_digest
FROM invitations;

INSERT INTO invite_rs_events (invitation_id, enterprise_id, kind, actor, at)
SELECT invitation_id, enterprise_id::text, kind, actor::text, at
FROM invitation_events ORDER BY id;

DROP TABLE invitation_events;
DROP TABLE invitations;
