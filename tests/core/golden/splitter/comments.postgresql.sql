-- Leading comment; with a semicolon
/* Block comment; also
   leading */
CREATE TABLE t (
    id int, -- inline; comment
    /* inner; block */ name text
);
SELECT 1 /* trailing; */ ;
SELECT 2 -- comment before the semicolon
;
-- a comment between statements
SELECT 3;-- same-line comment; belongs to nothing
SELECT 4 - -1, 6/2, 1--2
;
