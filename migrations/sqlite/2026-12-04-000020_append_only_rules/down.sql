DROP TRIGGER consent_events_only_anonymise;
DROP TRIGGER consent_events_no_delete;
CREATE TRIGGER consent_events_append_only
BEFORE UPDATE OF channel, kind, categories, wording_version, occurred_at ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;
CREATE TRIGGER consent_events_no_delete
BEFORE DELETE ON consent_events
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only');
END;
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete
BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
