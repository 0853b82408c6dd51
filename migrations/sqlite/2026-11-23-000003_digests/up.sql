-- Recurring digests (SQLite): a category whose announcements go out as one
-- message at a fixed local time, e.g. the daily "Veranstaltungstipps" at 07:00.
CREATE TABLE digests (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    category_id BIGINT NOT NULL UNIQUE REFERENCES categories (id),
    local_time TEXT NOT NULL,
    timezone TEXT NOT NULL,
    title TEXT NOT NULL,
    next_run_at TIMESTAMP NOT NULL,
    last_run_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
-- Set on the announcement a digest run produced (no foreign key: a digest
-- may be removed while its past messages stay).
ALTER TABLE announcements ADD COLUMN digest_id BIGINT;
