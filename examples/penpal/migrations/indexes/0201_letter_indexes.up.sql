-- Plain CREATE INDEX: on PostgreSQL the indexes phase builds them CONCURRENTLY, outside
-- a transaction, so that letters can still be written while they build.
CREATE INDEX letters_recipient ON letters (recipient_id);
CREATE INDEX letters_status_sent ON letters (status, sent_at);
CREATE INDEX museum_items_letter ON museum_items (letter_id);
CREATE INDEX museum_items_exhibition ON museum_items (exhibition_id);
