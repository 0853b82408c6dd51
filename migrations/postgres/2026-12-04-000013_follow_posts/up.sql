-- Follow mode: an announcement is also posted once to each public place a
-- channel follows (a Telegram channel, a Matrix room). Such a post is a
-- delivery row without a subscriber, naming its place in `target`; it is
-- written with the broadcast and claimed ahead of the subscribers.
-- Each place gets an announcement once.
CREATE UNIQUE INDEX deliveries_follow_once ON deliveries (broadcast_id, target) WHERE target IS NOT NULL;
-- What workers claim first: queued follow posts per channel.
CREATE INDEX deliveries_follow_queued ON deliveries (channel, next_attempt_at, id) WHERE state = 'queued' AND target IS NOT NULL;
