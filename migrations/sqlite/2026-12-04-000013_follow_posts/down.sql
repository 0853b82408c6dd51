DROP INDEX deliveries_follow_queued;
DROP INDEX deliveries_follow_once;
