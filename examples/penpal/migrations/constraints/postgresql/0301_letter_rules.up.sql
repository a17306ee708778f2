-- A letter's status is one of three; the constraints phase adds the CHECK NOT VALID
-- and then validates it, so that the table stays writable meanwhile.
ALTER TABLE letters ADD CONSTRAINT letters_status_known
    CHECK (status IN ('draft', 'sent', 'archived'));

-- Sending a letter stamps it.
CREATE FUNCTION letters_stamp_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'sent' AND OLD.status <> 'sent' AND NEW.sent_at IS NULL THEN
        NEW.sent_at := now();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER letters_stamp_sent BEFORE UPDATE OF status ON letters
    FOR EACH ROW EXECUTE FUNCTION letters_stamp_sent();
