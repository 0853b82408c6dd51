-- A counter of changes to what the public documents (feeds, calendars,
-- pages) show. Triggers bump it on every write to announcements,
-- categories and media, whichever process makes it (the CLI, another
-- server), so a server's cache of rendered documents notices by reading
-- one row (src/web/public_cache.rs).
CREATE TABLE public_version (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO public_version (id, version) VALUES (1, 0);

CREATE TRIGGER announcements_insert_public_version AFTER INSERT ON announcements
BEGIN UPDATE public_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER announcements_update_public_version AFTER UPDATE ON announcements
BEGIN UPDATE public_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER announcements_delete_public_version AFTER DELETE ON announcements
BEGIN UPDATE public_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER categories_insert_public_version AFTER INSERT ON categories
BEGIN UPDATE public_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER categories_update_public_version AFTER UPDATE ON categories
BEGIN UPDATE public_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER categories_delete_public_version AFTER DELETE ON categories
BEGIN UPDATE public_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER media_insert_public_version AFTER INSERT ON media
BEGIN UPDATE public_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER media_update_public_version AFTER UPDATE ON media
BEGIN UPDATE public_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER media_delete_public_version AFTER DELETE ON media
BEGIN UPDATE public_version SET version = version + 1 WHERE id = 1; END;
