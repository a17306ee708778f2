CREATE RULE log_update AS ON UPDATE TO accounts DO ALSO (
    INSERT INTO audit VALUES (old.id, 'update;');
    NOTIFY accounts_changed
);
CREATE OR REPLACE RULE noop AS ON DELETE TO accounts DO INSTEAD NOTHING;
SELECT 1;
