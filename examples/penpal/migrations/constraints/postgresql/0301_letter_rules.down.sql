DROP TRIGGER letters_stamp_sent ON letters;
DROP FUNCTION letters_stamp_sent();
ALTER TABLE letters DROP CONSTRAINT letters_status_known;
