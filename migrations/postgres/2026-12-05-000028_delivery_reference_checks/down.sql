DROP TRIGGER broadcasts_deliveries_kept ON broadcasts;
DROP TRIGGER announcements_deliveries_kept ON announcements;
DROP FUNCTION deliveries_keep_broadcasts();
DROP FUNCTION deliveries_keep_announcements();
DROP TRIGGER subscribers_deliveries_forgotten ON subscribers;
DROP FUNCTION deliveries_forget_subscribers();
DROP TRIGGER deliveries_references_updated ON deliveries;
DROP FUNCTION deliveries_check_changed_references();
DROP TRIGGER deliveries_references_inserted ON deliveries;
DROP FUNCTION deliveries_check_references();
ALTER TABLE deliveries
    ADD CONSTRAINT deliveries_announcement_id_fkey
        FOREIGN KEY (announcement_id) REFERENCES announcements (id),
    ADD CONSTRAINT deliveries_broadcast_id_fkey
        FOREIGN KEY (broadcast_id) REFERENCES broadcasts (id),
    ADD CONSTRAINT deliveries_subscriber_id_fkey
        FOREIGN KEY (subscriber_id) REFERENCES subscribers (id) ON DELETE SET NULL;
