-- SQLite cannot add a CHECK to an existing table; triggers keep the same rules.
CREATE TRIGGER letters_status_known_insert BEFORE INSERT ON letters
WHEN NEW.status NOT IN ('draft', 'sent', 'archived')
BEGIN
    SELECT RAISE(ABORT, 'letters.status must be draft, sent or archived');
END;

CREATE TRIGGER letters_status_known_update BEFORE UPDATE OF status ON letters
WHEN NEW.status NOT IN ('draft', 'sent', 'archived')
BEGIN
    SELECT RAISE(ABORT, 'letters.status must be draft, sent or archived');
END;

-- Sending a letter stamps it.
CREATE TRIGGER letters_stamp_sent AFTER UPDATE OF status ON letters
WHEN NEW.status = 'sent' AND OLD.status <> 'sent' AND NEW.sent_at IS NULL
BEGIN
    UPDATE letters SET sent_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;
