DROP TRIGGER announcements_event_immutable;
DROP INDEX announcements_event;
ALTER TABLE announcements DROP COLUMN event_location;
ALTER TABLE announcements DROP COLUMN event_all_day;
ALTER TABLE announcements DROP COLUMN event_end;
ALTER TABLE announcements DROP COLUMN event_start;
