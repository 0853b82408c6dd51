DROP TRIGGER announcements_public_version ON announcements;
DROP TRIGGER categories_public_version ON categories;
DROP TRIGGER media_public_version ON media;
DROP FUNCTION bump_public_version();
DROP TABLE public_version;
