SELECT id FROM letters WHERE status = 'sent' AND recipient_id IS NULL;
