-- The event an announcement is about (the iCalendar feed). All-day events
-- store their first and last day at midnight with event_all_day set.
ALTER TABLE announcements ADD COLUMN event_start TIMESTAMP;
ALTER TABLE announcements ADD COLUMN event_end TIMESTAMP;
ALTER TABLE announcements ADD COLUMN event_all_day BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE announcements ADD COLUMN event_location TEXT;
-- The calendar feed lists announcements with an event by its date.
CREATE INDEX announcements_event ON announcements (event_start);
-- Part of the immutable content, like title and body.
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
