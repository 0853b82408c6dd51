DROP TABLE inbound_cursors;
