-- On PostgreSQL this migration replaces the foreign keys of `deliveries`
-- with statement-level checks (see migrations/postgres, same name): there,
-- each checked row locked its parent rows. SQLite keeps its foreign keys:
-- it has one writer and no row locks, and a check is one index lookup.
SELECT 1;
