DROP INDEX subscribers_inactive;
