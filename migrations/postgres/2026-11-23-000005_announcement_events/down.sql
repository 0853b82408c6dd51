CREATE OR REPLACE FUNCTION announcements_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM herold_reject('announcements are never deleted; cancel or correct them');
    END IF;
    IF (NEW.category_id, NEW.title, NEW.body, NEW.urgent, NEW.publish_at, NEW.created_at, NEW.corrects_id, NEW.author)
       IS DISTINCT FROM
       (OLD.category_id, OLD.title, OLD.body, OLD.urgent, OLD.publish_at, OLD.created_at, OLD.corrects_id, OLD.author) THEN
        PERFORM herold_reject('announcement content is immutable; publish a correction instead');
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP INDEX announcements_event;
ALTER TABLE announcements DROP COLUMN event_location;
ALTER TABLE announcements DROP COLUMN event_all_day;
ALTER TABLE announcements DROP COLUMN event_end;
ALTER TABLE announcements DROP COLUMN event_start;
