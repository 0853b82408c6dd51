DROP TRIGGER subscriber_tokens_on_leave;
DROP TRIGGER subscriber_tokens_on_erase;
DROP TABLE subscriber_tokens;
