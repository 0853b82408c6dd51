-- Staff sign-in. A session is found by the keyed hash of its cookie's
-- random token; it carries the CSRF token of its forms. Sign-in failures
-- are counted per client, per account and per trusted device (the device
-- token a browser gets at its first successful sign-in), so guessing is
-- throttled without letting an attacker lock the town hall out.
CREATE TABLE staff_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    staff_user_id BIGINT NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE TABLE staff_devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    staff_user_id BIGINT NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    scope TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_scope ON login_failures (scope, occurred_at);
