DROP TRIGGER announcements_image_immutable;
DROP INDEX announcements_image;
ALTER TABLE announcements DROP COLUMN image_id;
DROP TRIGGER media_no_delete;
DROP TRIGGER media_immutable;
DROP TABLE media;
