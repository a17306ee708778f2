INSERT INTO t VALUES (E'it\'s; ok');
INSERT INTO t VALUES (e'back\\slash;', E'tab\there');
SELECT U&'d\0061t\+000061; x', B'1010', X'1F', N'nat;ional';
SELECT E'\'' AS q, E'a''b;c' AS doubled;
SELECT name'C:\' AS n;
