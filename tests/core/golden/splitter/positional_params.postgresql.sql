PREPARE find_user(int) AS SELECT * FROM users WHERE id = $1;
PREPARE pair(int, int) AS SELECT $1 + $2; SELECT price$ FROM a$b;
SELECT a$$b, c$d$e FROM t$$;
SELECT $2;
SELECT x$y$z FROM w$$;
SELECT 1;
