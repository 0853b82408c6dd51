-- The event an announcement is about (the iCalendar feed). All-day events
-- store their first and last day at midnight with event_all_day set.
ALTER TABLE announcements ADD COLUMN event_start TIMESTAMP;
ALTER TABLE announcements ADD COLUMN event_end TIMESTAMP;
ALTER TABLE announcements ADD COLUMN event_all_day BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE announcements ADD COLUMN event_location TEXT;
-- The calendar feed lists announcements with an event by its date.
CREATE INDEX announcements_event ON announcements (event_start);
-- Part of the immutable content, like title and body.
CREATE TRIGGER announcements_event_immutable
BEFORE UPDATE OF event_start, event_end, event_all_day, event_location ON announcements
BEGIN
    SELECT RAISE(ABORT, 'announcement content is immutable; publish a correction instead');
END;
