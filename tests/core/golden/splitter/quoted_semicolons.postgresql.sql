INSERT INTO notes (body) VALUES ('it''s; fine');
SELECT "a;b""" FROM "we;ird" WHERE path = 'C:\';
SELECT 'multi
line; string' AS s, "col;" FROM t;
SELECT '' AS empty, '''' AS quote;
