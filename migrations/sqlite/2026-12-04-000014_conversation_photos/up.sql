-- Photos residents send with their messages (SQLite). Kept column-for-column
-- in step with migrations/postgres.
--
-- One photo per message, stored as staff see it: a JPEG, PNG or WebP
-- checked by its content and stripped of metadata (EXIF with GPS, XMP,
-- comments), then encrypted with the storage key like message text.
-- mime_type, byte_length, sha256 (hex, of the stripped bytes), width and
-- height describe it without decrypting. Deleting the message — staff
-- deleting an abusive one, the retention purge of a closed conversation,
-- the resident's erasure — deletes the photo with it.
CREATE TABLE conversation_photos (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    message_id BIGINT NOT NULL UNIQUE REFERENCES messages (id) ON DELETE CASCADE,
    mime_type TEXT NOT NULL CHECK (mime_type IN ('image/jpeg', 'image/png', 'image/webp')),
    byte_length BIGINT NOT NULL CHECK (byte_length > 0),
    sha256 TEXT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL
);
