DELETE FROM subscriber_tokens WHERE purpose = 'export';
ALTER TABLE subscriber_tokens DROP CONSTRAINT subscriber_tokens_purpose_check;
ALTER TABLE subscriber_tokens ADD CONSTRAINT subscriber_tokens_purpose_check
    CHECK (purpose IN ('confirm', 'manage'));
CREATE OR REPLACE FUNCTION subscriber_tokens_on_status() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'erased' THEN
        DELETE FROM subscriber_tokens WHERE subscriber_id = NEW.id;
    ELSIF NEW.status = 'unsubscribed' THEN
        DELETE FROM subscriber_tokens WHERE subscriber_id = NEW.id AND purpose = 'confirm';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
