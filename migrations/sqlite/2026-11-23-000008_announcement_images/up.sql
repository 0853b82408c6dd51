-- Images of announcements (SQLite). Kept column-for-column in step with
-- migrations/postgres.
--
-- The bytes live in the database, so a backup of the one database holds
-- everything. They are stored as served: metadata (EXIF, XMP, comments)
-- already stripped. sha256 is the hex digest of bytes (the HTTP ETag);
-- alt_text describes the picture for residents who cannot see it.
CREATE TABLE media (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    mime_type TEXT NOT NULL CHECK (mime_type IN ('image/jpeg', 'image/png', 'image/webp')),
    byte_length BIGINT NOT NULL CHECK (byte_length > 0),
    sha256 TEXT NOT NULL,
    bytes BLOB NOT NULL,
    alt_text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
-- Published images never change and are never deleted, like the
-- announcements that show them.
CREATE TRIGGER media_immutable
BEFORE UPDATE ON media
BEGIN
    SELECT RAISE(ABORT, 'media content is immutable; publish a correction with a new image instead');
END;
CREATE TRIGGER media_no_delete
BEFORE DELETE ON media
BEGIN
    SELECT RAISE(ABORT, 'media are never deleted; cancel or correct the announcement');
END;

-- An announcement shows at most one image; a correction carries its own
-- (or none).
ALTER TABLE announcements ADD COLUMN image_id BIGINT REFERENCES media (id);
CREATE INDEX announcements_image ON announcements (image_id);
-- Part of the immutable content, like title and body.
CREATE TRIGGER announcements_image_immutable
BEFORE UPDATE OF image_id ON announcements
BEGIN
    SELECT RAISE(ABORT, 'announcement content is immutable; publish a correction instead');
END;
