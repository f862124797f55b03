-- invite-store-sqlx, step 3 of the library's own tables on PostgreSQL: the invitee's own
-- invitations (rule B1). A signed-in user's pending invitations are found by their
-- verified contacts across all enterprises: one range of this index per contact, soonest
-- expiry first, unexpired rows only (`expires_at > now` is part of the range).
CREATE INDEX invite_rs_invitations_pending_by_contact
    ON invite_rs_invitations (contact_normalized, expires_at) WHERE status = 'pending';
