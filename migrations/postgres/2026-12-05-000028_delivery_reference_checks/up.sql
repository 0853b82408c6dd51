-- Delivery rows check their references once per statement instead of once
-- per row. A foreign key runs a trigger for every inserted row, which
-- probes the referenced row and locks it (FOR KEY SHARE). A batch of 1,000
-- deliveries locked 1,000 subscriber rows (a WAL record each) and the same
-- broadcast and announcement rows 1,000 times, from every worker at once,
-- so PostgreSQL turned those locks into shared multixacts: about 17 ms per
-- batch, and with two workers 44,000 deliveries/s instead of 90,000
-- (docs/benchmarks.md, "PostgreSQL scale-out").
--
-- The checks below keep the guarantees Herold relies on: no delivery row
-- names an announcement, broadcast or subscriber that does not exist;
-- deleting a subscriber clears their deliveries' reference (as ON DELETE
-- SET NULL did); deleting an announcement or broadcast that deliveries
-- name is refused. Unlike a foreign key they take no lock, so a row
-- deleted by a transaction running at the same moment as an insert could
-- slip through. Herold never deletes announcements or broadcasts, and
-- deletes only subscribers who never confirmed, to whom nothing is
-- delivered. SQLite keeps its foreign keys: one writer, no row locks.
ALTER TABLE deliveries
    DROP CONSTRAINT deliveries_announcement_id_fkey,
    DROP CONSTRAINT deliveries_broadcast_id_fkey,
    DROP CONSTRAINT deliveries_subscriber_id_fkey;

CREATE FUNCTION deliveries_check_references() RETURNS trigger AS $$
BEGIN
    -- A batch names one announcement and broadcast: each looked up once.
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT announcement_id FROM changed_deliveries) n
               WHERE NOT EXISTS (SELECT 1 FROM announcements a WHERE a.id = n.announcement_id)) THEN
        RAISE EXCEPTION 'a delivery names an announcement that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT broadcast_id FROM changed_deliveries) n
               WHERE n.broadcast_id IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = n.broadcast_id)) THEN
        RAISE EXCEPTION 'a delivery names a broadcast that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM changed_deliveries n
               WHERE n.subscriber_id IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.id = n.subscriber_id)) THEN
        RAISE EXCEPTION 'a delivery names a subscriber who does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER deliveries_references_inserted
    AFTER INSERT ON deliveries REFERENCING NEW TABLE AS changed_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_check_references();

-- Updates rarely change a reference (an erasure clears one): a row-level
-- check, only where one changes to a value, as a foreign key does, so the
-- state changes of receipts and retries pay nothing.
CREATE FUNCTION deliveries_check_changed_references() RETURNS trigger AS $$
BEGIN
    IF NEW.announcement_id IS DISTINCT FROM OLD.announcement_id
       AND NOT EXISTS (SELECT 1 FROM announcements a WHERE a.id = NEW.announcement_id) THEN
        RAISE EXCEPTION 'a delivery names an announcement that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF NEW.broadcast_id IS DISTINCT FROM OLD.broadcast_id AND NEW.broadcast_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM broadcasts b WHERE b.id = NEW.broadcast_id) THEN
        RAISE EXCEPTION 'a delivery names a broadcast that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF NEW.subscriber_id IS DISTINCT FROM OLD.subscriber_id AND NEW.subscriber_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.id = NEW.subscriber_id) THEN
        RAISE EXCEPTION 'a delivery names a subscriber who does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER deliveries_references_updated
    AFTER UPDATE OF announcement_id, broadcast_id, subscriber_id ON deliveries
    FOR EACH ROW
    WHEN (NEW.announcement_id IS DISTINCT FROM OLD.announcement_id
          OR (NEW.broadcast_id IS DISTINCT FROM OLD.broadcast_id AND NEW.broadcast_id IS NOT NULL)
          OR (NEW.subscriber_id IS DISTINCT FROM OLD.subscriber_id AND NEW.subscriber_id IS NOT NULL))
    EXECUTE FUNCTION deliveries_check_changed_references();

-- ON DELETE SET NULL for subscribers.
CREATE FUNCTION deliveries_forget_subscribers() RETURNS trigger AS $$
BEGIN
    UPDATE deliveries SET subscriber_id = NULL
        WHERE subscriber_id IN (SELECT id FROM deleted_subscribers);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER subscribers_deliveries_forgotten
    AFTER DELETE ON subscribers REFERENCING OLD TABLE AS deleted_subscribers
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_forget_subscribers();

-- NO ACTION for announcements and broadcasts.
CREATE FUNCTION deliveries_keep_announcements() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM deliveries d JOIN deleted_parents p ON p.id = d.announcement_id) THEN
        RAISE EXCEPTION 'deliveries still name this announcement'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION deliveries_keep_broadcasts() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM deliveries d JOIN deleted_parents p ON p.id = d.broadcast_id) THEN
        RAISE EXCEPTION 'deliveries still name this broadcast'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER announcements_deliveries_kept
    AFTER DELETE ON announcements REFERENCING OLD TABLE AS deleted_parents
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_keep_announcements();
CREATE TRIGGER broadcasts_deliveries_kept
    AFTER DELETE ON broadcasts REFERENCING OLD TABLE AS deleted_parents
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_keep_broadcasts();
