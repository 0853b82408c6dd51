-- When the resident last wrote to Herold on their channel: WhatsApp allows
-- free text only within 24 hours of it (the customer-service window) and a
-- template otherwise. Updated by the inbound processor; NULL: never.
ALTER TABLE subscribers ADD COLUMN last_inbound_at TIMESTAMP;
