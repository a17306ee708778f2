-- Threads: a letter may answer another one.
ALTER TABLE letters ADD COLUMN reply_to INTEGER;
UPDATE letters SET reply_to = 1 WHERE id = 2;
