-- The consent ledger was append-only for what happened (kind, channel,
-- topics, wording, time); now also for who and how: the subscriber
-- reference, the pseudonym and the evidence may only be cleared (the
-- anonymisation of an erasure or of a deleted sign-up), never set or
-- changed. Rows are never deleted.
CREATE OR REPLACE FUNCTION consent_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM herold_reject('the consent ledger is append-only: rows cannot be deleted');
    END IF;
    IF (NEW.id, NEW.channel, NEW.kind, NEW.categories, NEW.wording_version, NEW.occurred_at)
       IS DISTINCT FROM
       (OLD.id, OLD.channel, OLD.kind, OLD.categories, OLD.wording_version, OLD.occurred_at)
       OR (NEW.subscriber_id IS NOT NULL AND NEW.subscriber_id IS DISTINCT FROM OLD.subscriber_id)
       OR (NEW.pseudonym IS NOT NULL AND NEW.pseudonym IS DISTINCT FROM OLD.pseudonym)
       OR (NEW.evidence IS NOT NULL AND NEW.evidence IS DISTINCT FROM OLD.evidence) THEN
        PERFORM herold_reject('the consent ledger is append-only: only the anonymisation of an erasure is allowed');
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- The audit log stays append-only, but entries older than 30 days (the
-- shortest retention.audit_days allowed) may be deleted by the retention
-- job: nobody can remove a recent entry to hide an action.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND OLD.occurred_at < (now() AT TIME ZONE 'UTC') - interval '30 days' THEN
        RETURN OLD;
    END IF;
    PERFORM herold_reject('the audit log is append-only: entries younger than 30 days cannot be deleted');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
