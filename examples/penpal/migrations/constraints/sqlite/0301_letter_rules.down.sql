DROP TRIGGER letters_stamp_sent;
DROP TRIGGER letters_status_known_update;
DROP TRIGGER letters_status_known_insert;
