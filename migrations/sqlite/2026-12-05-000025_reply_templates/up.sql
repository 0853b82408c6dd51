-- Reply templates for staff answers in the inbox (qualified interim
-- replies such as "forwarded to the building yard"), kept by
-- administrators. {case} in a body stands for the case number.
CREATE TABLE reply_templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
