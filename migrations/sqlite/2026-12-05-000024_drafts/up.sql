-- The staff application's composer. A draft keeps what an editor typed,
-- as typed (times as entered in the town's time zone), so nothing is lost
-- when a field is wrong; it is checked when previewed and when published.
-- Its picture is stored already stripped of metadata. A category can ask
-- for four-eyes approval: a second editor releases its drafts.
ALTER TABLE categories ADD COLUMN requires_approval BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE drafts (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    author TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    urgent BOOLEAN NOT NULL,
    schedule TEXT NOT NULL,
    event_start TEXT NOT NULL,
    event_end TEXT NOT NULL,
    event_location TEXT NOT NULL,
    corrects_id BIGINT NULL,
    replaces_id BIGINT NULL,
    image_mime TEXT NULL,
    image_data BLOB NULL,
    image_alt TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('editing', 'awaiting_approval')),
    submitted_by TEXT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX drafts_updated ON drafts (updated_at);
