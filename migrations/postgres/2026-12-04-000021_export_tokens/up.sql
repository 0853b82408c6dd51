-- Tokens of a third purpose, 'export': a single-use link, valid for an
-- hour, with which a resident downloads their own data (asked for with
-- "Daten" on a messenger). Leaving ends outstanding download links too.
ALTER TABLE subscriber_tokens DROP CONSTRAINT subscriber_tokens_purpose_check;
ALTER TABLE subscriber_tokens ADD CONSTRAINT subscriber_tokens_purpose_check
    CHECK (purpose IN ('confirm', 'manage', 'export'));
CREATE OR REPLACE FUNCTION subscriber_tokens_on_status() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'erased' THEN
        DELETE FROM subscriber_tokens WHERE subscriber_id = NEW.id;
    ELSIF NEW.status = 'unsubscribed' THEN
        DELETE FROM subscriber_tokens
        WHERE subscriber_id = NEW.id AND purpose IN ('confirm', 'export');
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
