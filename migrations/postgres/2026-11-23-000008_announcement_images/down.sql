CREATE OR REPLACE FUNCTION announcements_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM herold_reject('announcements are never deleted; cancel or correct them');
    END IF;
    IF (NEW.category_id, NEW.title, NEW.body, NEW.urgent, NEW.publish_at, NEW.created_at, NEW.corrects_id, NEW.author, NEW.event_start, NEW.event_end, NEW.event_all_day, NEW.event_location)
       IS DISTINCT FROM
       (OLD.category_id, OLD.title, OLD.body, OLD.urgent, OLD.publish_at, OLD.created_at, OLD.corrects_id, OLD.author, OLD.event_start, OLD.event_end, OLD.event_all_day, OLD.event_location) THEN
        PERFORM herold_reject('announcement content is immutable; publish a correction instead');
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP INDEX announcements_image;
ALTER TABLE announcements DROP COLUMN image_id;
DROP TRIGGER media_immutable ON media;
DROP FUNCTION media_immutable();
DROP TABLE media;
