CREATE FUNCTION add_one(i integer) RETURNS integer AS $$
    SELECT i + 1; -- not the end
$$ LANGUAGE sql;
CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $fn$
BEGIN
    NEW.note := 'it''s $$ fine; really';
    RETURN NEW;
END;
$fn$ LANGUAGE plpgsql;
SELECT $tag$ $other$ ; $other$ $TAG$ ; $tag$ AS nested;
SELECT $_x1$a;b$_x1$, $$$$;
