-- The consent ledger was append-only for what happened (kind, channel,
-- topics, wording, time); now also for who and how: the subscriber
-- reference, the pseudonym and the evidence may only be cleared (the
-- anonymisation of an erasure or of a deleted sign-up), never set or
-- changed. Rows are never deleted.
DROP TRIGGER consent_events_append_only;
DROP TRIGGER consent_events_no_delete;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only: rows cannot be deleted');
END;
CREATE TRIGGER consent_events_only_anonymise BEFORE UPDATE ON consent_events
WHEN NEW.id IS NOT OLD.id
  OR NEW.channel IS NOT OLD.channel
  OR NEW.kind IS NOT OLD.kind
  OR NEW.categories IS NOT OLD.categories
  OR NEW.wording_version IS NOT OLD.wording_version
  OR NEW.occurred_at IS NOT OLD.occurred_at
  OR (NEW.subscriber_id IS NOT NULL AND NEW.subscriber_id IS NOT OLD.subscriber_id)
  OR (NEW.pseudonym IS NOT NULL AND NEW.pseudonym IS NOT OLD.pseudonym)
  OR (NEW.evidence IS NOT NULL AND NEW.evidence IS NOT OLD.evidence)
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only: only the anonymisation of an erasure is allowed');
END;

-- The audit log stays append-only, but entries older than 30 days (the
-- shortest retention.audit_days allowed) may be deleted by the retention
-- job: nobody can remove a recent entry to hide an action.
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete
BEFORE DELETE ON audit_events
WHEN OLD.occurred_at >= datetime('now', '-30 days')
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries younger than 30 days cannot be deleted');
END;
