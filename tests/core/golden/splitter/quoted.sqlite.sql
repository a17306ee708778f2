CREATE TABLE t ("dq;ident" TEXT, [odd;name] TEXT, `back;tick` TEXT, "with""quote;" TEXT);
INSERT INTO t VALUES ('it''s; fine', 'C:\', x'00ff', 'multi
line;');
SELECT [odd;name], `back;tick`, "with""quote;", "dq;ident" FROM t;
