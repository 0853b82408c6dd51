-- A counter of changes to what the public documents (feeds, calendars,
-- pages) show. Triggers bump it on every write to announcements,
-- categories and media, whichever process makes it (the CLI, another
-- server or worker), so a server's cache of rendered documents notices by
-- reading one row (src/web/public_cache.rs). Statement-level: a statement
-- that changes many rows bumps it once.
CREATE TABLE public_version (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO public_version (id, version) VALUES (1, 0);

CREATE FUNCTION bump_public_version() RETURNS trigger AS $$
BEGIN
    UPDATE public_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER announcements_public_version
    AFTER INSERT OR UPDATE OR DELETE ON announcements
    FOR EACH STATEMENT EXECUTE FUNCTION bump_public_version();
CREATE TRIGGER categories_public_version
    AFTER INSERT OR UPDATE OR DELETE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION bump_public_version();
CREATE TRIGGER media_public_version
    AFTER INSERT OR UPDATE OR DELETE ON media
    FOR EACH STATEMENT EXECUTE FUNCTION bump_public_version();
