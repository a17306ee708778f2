CREATE TABLE events (begin_date date, ended boolean, "begin" int, case_no int);
CREATE FUNCTION begin_end() RETURNS int LANGUAGE sql AS 'SELECT 1; SELECT 2';
SELECT begin_date, ended FROM events;
