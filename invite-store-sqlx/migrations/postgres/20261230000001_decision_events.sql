-- invite-store-sqlx, step 4 of the library's own tables on PostgreSQL: the event of an
-- accept, a reject or a revoke (rule X5) is written by the very statement that decides
-- it, so a decision costs one statement less (issue #11). The row carries the event's
-- actor and time (`responded_by`/`responded_at`, `revoked_by`/`revoked_at`); the trigger
-- fires only when a pending row changes status, and rolls back with it. `sent`, `resent`
-- and `expired` stay written by the store: their actor or time is not on the row, or
-- (`sent`) an INSERT trigger would also fire for rows moved in by the self-contained
-- layout's upgrade from its first tables, which carry their own events.
CREATE FUNCTION invite_rs_decision_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'revoked' THEN
        INSERT INTO invite_rs_events (invitation_id, enterprise_id, kind, actor, at)
        VALUES (NEW.id, NEW.enterprise_id, 'revoked', NEW.revoked_by, NEW.revoked_at);
    ELSE
        INSERT INTO invite_rs_events (invitation_id, enterprise_id, kind, actor, at)
        VALUES (NEW.id, NEW.enterprise_id, NEW.status, NEW.responded_by, NEW.responded_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER invite_rs_decision_event AFTER UPDATE OF status ON invite_rs_invitations
FOR EACH ROW
WHEN (OLD.status = 'pending' AND NEW.status IN ('accepted', 'rejected', 'revoked'))
EXECUTE FUNCTION invite_rs_decision_event();
