/* outer /* inner; */ SELECT 1;
-- line; comment
SELECT 2 /* trailing; */;
SELECT /* inside; */ 3;
