CREATE TABLE t (id INTEGER);
INSERT INTO t VALUES (1) -- no semicolon follows
/* and the file ends here */