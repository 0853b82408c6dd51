DROP TABLE manual_posts;
