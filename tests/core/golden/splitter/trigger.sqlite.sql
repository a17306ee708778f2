CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER, updated_at TEXT);
CREATE TABLE log (msg TEXT);
CREATE TRIGGER items_touch AFTER UPDATE ON items
FOR EACH ROW
BEGIN
    UPDATE items SET updated_at = datetime('now') WHERE id = NEW.id;
    INSERT INTO log VALUES ('touched; ' || NEW.id);
END;
INSERT INTO items (qty) VALUES (1);
