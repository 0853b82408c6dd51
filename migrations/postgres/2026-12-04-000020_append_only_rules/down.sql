CREATE OR REPLACE FUNCTION consent_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM herold_reject('the consent ledger is append-only');
    END IF;
    IF (NEW.channel, NEW.kind, NEW.categories, NEW.wording_version, NEW.occurred_at)
       IS DISTINCT FROM
       (OLD.channel, OLD.kind, OLD.categories, OLD.wording_version, OLD.occurred_at) THEN
        PERFORM herold_reject('the consent ledger is append-only');
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    PERFORM herold_reject('the audit log is append-only');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
