-- The self-contained layout, step 2: invitations and events move from the tables of the
-- first layout (`invitations`, `invitation_events`, UUID BLOB keys) into the library's
-- own tables (`invite_rs_*`, created by the library's migrations first, keys as canonical
-- TEXT). A database of the first layout upgrades in place; a new one copies nothing.
-- The same transaction drops the old tables.

INSERT INTO invite_rs_invitations
    (id, enterprise_id, contact_kind, contact_entered, contact_normalized, role, status,
     invited_by, invited_by_name, sent_at, last_sent_at, expires_at, responded_at,
     responded_by, revoked_at, revoked_by, delivery, token_digest)
SELECT id,
       lower(substr(hex(enterprise_id), 1, 8) || '-' || substr(hex(enterprise_id), 9, 4) || '-' ||
             substr(hex(enterprise_id), 13, 4) || '-' || substr(hex(enterprise_id), 17, 4) || '-' ||
             substr(hex(enterprise_id), 21, 12)),
       contact_kind, contact_entered, contact_normalized, role, status,
       lower(substr(hex(invited_by), 1, 8) || '-' || substr(hex(invited_by), 9, 4) || '-' ||
             substr(hex(invited_by), 13, 4) || '-' || substr(hex(invited_by), 17, 4) || '-' ||
             substr(hex(invited_by), 21, 12)),
       invited_by_name, sent_at, last_sent_at, expires_at, responded_at,
       CASE WHEN responded_by IS NULL THEN NULL ELSE
       lower(substr(hex(responded_by), 1, 8) || '-' || substr(hex(responded_by), 9, 4) || '-' ||
             substr(hex(responded_by), 13, 4) || '-' || substr(hex(responded_by), 17, 4) || '-' ||
             substr(hex(responded_by), 21, 12)) END,
       revoked_at,
       CASE WHEN revoked_by IS NULL THEN NULL ELSE
       lower(substr(hex(revoked_by), 1, 8) || '-' || substr(hex(revoked_by), 9, 4) || '-' ||
             substr(hex(revoked_by), 13, 4) || '-' || substr(hex(revoked_by), 17, 4) || '-' ||
             substr(hex(revoked_by), 21, 12)) END,
       delivery, token_digest
FROM invitations;

INSERT INTO invite_rs_events (invitation_id, enterprise_id, kind, actor, at)
SELECT invitation_id,
       lower(substr(hex(enterprise_id), 1, 8) || '-' || substr(hex(enterprise_id), 9, 4) || '-' ||
             substr(hex(enterprise_id), 13, 4) || '-' || substr(hex(enterprise_id), 17, 4) || '-' ||
             substr(hex(enterprise_id), 21, 12)),
       kind,
       CASE WHEN actor IS NULL THEN NULL ELSE
       lower(substr(hex(actor), 1, 8) || '-' || substr(hex(actor), 9, 4) || '-' ||
             substr(hex(actor), 13, 4) || '-' || substr(hex(actor), 17, 4) || '-' ||
             substr(hex(actor), 21, 12)) END,
       at
FROM invitation_events ORDER BY id;

DROP TABLE invitation_events;
DROP TABLE invitations;
