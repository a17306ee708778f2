-- header
CREATE TABLE c (
    id int
);

INSERT INTO c VALUES (1); -- one
SELECT 'two
lines';
