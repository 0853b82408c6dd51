DROP TABLE conversation_photos;
