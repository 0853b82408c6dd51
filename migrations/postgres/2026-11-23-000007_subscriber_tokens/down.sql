DROP TRIGGER subscriber_tokens_on_status ON subscribers;
DROP FUNCTION subscriber_tokens_on_status();
DROP TABLE subscriber_tokens;
