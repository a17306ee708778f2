ALTER TABLE letters DROP COLUMN reply_to;
